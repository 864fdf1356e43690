"""The facade: a state (validated) -> its facts -> the engine -> ranking -> Advice; the steps are in _pipeline.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._advice import Advice
from ._evaluator import check_engine, evaluator_for
from ._pipeline import PlaybookArg, RulesetArg, check_top, facts_for, policy_of
from ._questions import TOP, ask
from ._ranking import rank, ranked_tactics
from ._ruleset import Ruleset, resolve_ruleset
from ._state import NegotiationState, parse_state

if TYPE_CHECKING:
    from ._playbook import Playbook

__all__ = ["advice_for", "advise"]


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
    policy = policy_of(playbook)
    return advice_for(parsed, rules, policy, limit, asked, engine=engine)
