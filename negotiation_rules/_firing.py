"""What one evaluation concluded (``Firing``) and who is told about it: a leaf both the engines and the tools import."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._ruleset import Ruleset

__all__ = ["Firing", "Observer", "notify", "observed", "subscribe"]


@dataclass(frozen=True)
class Firing:
    """What durable-rules concluded for one state: situations derived, rules matched, rules blocked.

    ``doubtful``: rules (with ``unless_unknown: set_aside``) whose unless could still hold once
    the unknown facts it reads are known.
    """

    situations: frozenset[str]
    matched: frozenset[str]
    blocked: frozenset[str]
    doubtful: frozenset[str] = frozenset()


Observer = Callable[["Ruleset", Firing], None]
"""``callback(ruleset, firing)``: ``firing.situations``, ``.matched`` and ``.blocked`` are frozensets of ids."""

_observers: list[Observer] = []


def observed() -> bool:
    """Whether anyone subscribed: the engines skip building what only subscribers read."""
    return bool(_observers)


def notify(ruleset: Any, firing: Firing) -> None:
    """Tell every subscriber about one evaluation; a subscriber's exception never reaches advice."""
    for observer in list(_observers):
        with contextlib.suppress(Exception):
            observer(ruleset, firing)


def subscribe(callback: Observer) -> Callable[[], None]:
    """Call ``callback(ruleset, firing)`` after every engine evaluation until the returned function is called.

    The engine calls each subscriber after every evaluation, wherever it came from (``advise()``,
    ``explain()``, the CLI, a test helper); hypothetical states (questions, what-if searches) are
    not reported. A subscriber runs on the thread that evaluated, possibly on several at once, so
    it must be thread-safe and quick; an exception it raises is swallowed. Subscriptions are per
    process (under pytest-xdist each worker sees only its own evaluations). Subscribing the same
    callback twice calls it twice; each returned function removes one subscription and may
    safely be called more than once. This is what ``pytest --rules-coverage`` is built on.
    """
    _observers.append(callback)
    done = False

    def unsubscribe() -> None:
        nonlocal done
        if not done:
            done = True
            with contextlib.suppress(ValueError):
                _observers.remove(callback)

    return unsubscribe
