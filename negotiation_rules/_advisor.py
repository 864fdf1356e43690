"""The facade: state (validated) -> facts -> engine -> fired rules -> ranking -> Advice."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._advice import Advice
from ._compiled import check_engine, evaluator_for
from ._engine import engine_for
from ._facts import effective_state
from ._firing import Firing
from ._history import trends as history_trends
from ._playbook import Playbook, resolve_playbook
from ._questions import TOP, ask
from ._ranking import rank, ranked_tactics
from ._ruleset import Ruleset, resolve_ruleset
from ._state import NegotiationState, parse_state

#: A Ruleset, a rule file or folder, a list of them (``"builtin"`` stands for the built-in rules), or None.
RulesetArg = Ruleset | str | Path | list[str | Path] | tuple[str | Path, ...] | None
PlaybookArg = Playbook | str | Path | dict[str, Any] | None


def check_top(top: int | None, name: str = "top") -> int | None:
    """``top`` (or ``questions``) is None or a whole number >= 0."""
    if top is None:
        return None
    if not isinstance(top, int) or isinstance(top, bool) or top < 0:
        raise ValueError(f"{name} must be a whole number >= 0 or None, got {top!r}")
    return top


def advice_for(
    state: NegotiationState,
    rules: Ruleset,
    policy: Playbook | None,
    top: int | None,
    questions: int,
    trends: Mapping[str, bool] | None = None,
    engine: str = "durable",
) -> Advice:
    """The whole pipeline for a validated state: facts, engine, ranking, then the questions worth asking.

    ``engine`` names the evaluator (``durable`` or ``compiled``); both fire the same rules.
    """
    effective, fact = facts_for(state, rules, trends)
    firing = evaluator_for(rules, engine).evaluate(fact)
    advice = rank(rules, effective, firing, policy, top, given=state, fact=fact)
    if questions:
        before = ranked_tactics(rules, firing, policy, TOP)
        asked = ask(state, rules, policy, before, questions, trends, engine=engine)
        advice = advice.model_copy(update={"questions": asked})
    return advice


def fire(
    state: NegotiationState, ruleset: Ruleset, trends: Mapping[str, bool] | None = None
) -> tuple[NegotiationState, Firing]:
    """Derive the effective state and run it through durable-rules.

    ``trends`` are the history's trends when the caller already has them (a Negotiation
    session keeps them up to date); otherwise they are computed from ``state.history``.
    """
    effective, fact = facts_for(state, ruleset, trends)
    return effective, engine_for(ruleset).evaluate(fact)


def facts_for(
    state: NegotiationState, ruleset: Ruleset, trends: Mapping[str, bool] | None = None
) -> tuple[NegotiationState, dict[str, Any]]:
    """The effective state and the flat fact the engine receives for it (trends included)."""
    effective = effective_state(state)
    engine = engine_for(ruleset)
    if trends is None and engine.compiled.uses_trends:
        trends = history_trends(state.history)
    return effective, engine.facts(effective, trends)


def advise(
    state: NegotiationState | dict[str, Any] | str | bytes,
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    top: int | None = None,
    questions: int | None = 3,
    engine: str = "durable",
) -> Advice:
    """Ranked, explained, sourced recommended moves for this negotiation state.

    ``state`` is a NegotiationState, a dict or JSON text (invalid input raises StateError);
    ``ruleset`` defaults to the built-in rulesets; ``top`` keeps the N best; ``questions``
    (default 3, 0 or None to skip) asks what unknown facts would change the top of the advice most.
    ``engine``: ``"durable"`` (durable-rules, the default) or ``"compiled"`` (the ruleset compiled to
    Python: the same advice, proven by tests, faster; see docs/performance.md "Choosing an engine").
    """
    limit = check_top(top)
    asked = check_top(questions, "questions") or 0
    check_engine(engine)
    parsed = parse_state(state)
    rules = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    return advice_for(parsed, rules, policy, limit, asked, engine=engine)
