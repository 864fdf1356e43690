"""Watch every rule evaluation in this process: ``subscribe(callback)`` returns a function that unsubscribes.

The engine calls each subscriber after every evaluation, wherever it came from (``advise()``,
``explain()``, the CLI, a test helper), with the ruleset and what durable-rules concluded:

    from negotiation_rules.observe import subscribe

    fired: set[str] = set()
    unsubscribe = subscribe(lambda ruleset, firing: fired.update(firing.matched - firing.blocked))
    ...
    unsubscribe()

This is what ``pytest --rules-coverage`` is built on. A subscriber runs on the thread that
evaluated, possibly on several threads at once, so it must be thread-safe and quick; an
exception it raises is swallowed by the engine (an observer can never break advice).
Subscriptions are per process: under pytest-xdist each worker sees only its own evaluations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from .engine import Firing, _observers
from .ruleset import Ruleset

__all__ = ["Firing", "Observer", "subscribe"]

Observer = Callable[[Ruleset, Firing], None]
"""``callback(ruleset, firing)``: ``firing.situations``, ``.matched`` and ``.blocked`` are frozensets of ids."""


def subscribe(callback: Observer) -> Callable[[], None]:
    """Call ``callback(ruleset, firing)`` after every engine evaluation until the returned function is called.

    Subscribing the same callback twice calls it twice; each returned function removes one
    subscription and may safely be called more than once.
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
