"""The steps below the facade: a validated state -> its flat fact -> the engine's Firing.

``advise`` (_advisor.py) and everything that needs one step of it (explain, the batch, the
sessions, the tables) share these, so the facade imports nothing it would also be imported by.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ._deferred import import_before_fork
from ._engine import engine_for
from ._facts import effective_state
from ._firing import Firing
from ._history import summary
from ._ruleset import Ruleset
from ._state import NegotiationState

if TYPE_CHECKING:
    from ._playbook import Playbook

__all__ = ["PlaybookArg", "RulesetArg", "check_top", "facts_for", "fire", "policy_of"]

#: A Ruleset, a rule file or folder, a list of them (``"builtin"`` stands for the built-in rules), or None.
RulesetArg = Ruleset | str | Path | list[str | Path] | tuple[str | Path, ...] | None
#: A Playbook, a dict of one, a playbook file or a built-in playbook's name, or None (``_playbook`` loads on first use).
PlaybookArg = Union["Playbook", str, Path, dict[str, Any], None]  # Playbook: a name, not imported here

import_before_fork(f"{__package__}._playbook")  # never half-imported in a forked child (see _deferred)


def policy_of(playbook: PlaybookArg) -> Playbook | None:
    """The playbook a call was given, resolved; None needs no playbook machinery, so it is imported only for one."""
    if playbook is None:
        return None
    from ._playbook import resolve_playbook

    return resolve_playbook(playbook)


def check_top(top: int | None, name: str = "top") -> int | None:
    """``top`` (or ``questions``) is None or a whole number >= 0."""
    if top is None:
        return None
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise ValueError(f"{name} must be a whole number >= 0 or None, got {top!r}")
    return top


def facts_for(
    state: NegotiationState, ruleset: Ruleset, trends: Mapping[str, bool] | None = None
) -> tuple[NegotiationState, dict[str, Any]]:
    """The effective state and the flat fact the engine receives for it (trends included)."""
    read = summary(state.history) if state.history else None  # read once: what it implies, its trends
    effective = effective_state(state, read)
    engine = engine_for(ruleset)
    if trends is None and read is not None and engine.compiled.uses_trends:
        trends = read.trends  # (no history: no trend holds, as the fact says without any)
    return effective, engine.facts(effective, trends)


def fire(
    state: NegotiationState, ruleset: Ruleset, trends: Mapping[str, bool] | None = None
) -> tuple[NegotiationState, Firing]:
    """Derive the effective state and run it through durable-rules.

    ``trends`` are the history's trends when the caller already has them (a Negotiation
    session keeps them up to date); otherwise they are computed from ``state.history``.
    """
    effective, fact = facts_for(state, ruleset, trends)
    return effective, engine_for(ruleset).evaluate(fact)
