"""What ranking remembers and shares between calls changes nothing: no list is shared between two Advice, the
basis is exactly what ``facts_of`` makes of the supporting tests, and a playbook's scoring follows its content."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from negotiation_rules import Advice, NegotiationState, Playbook, advise
from negotiation_rules._basis import FACT_LIMIT, facts_of, shared_fact, support, unknown_fields
from negotiation_rules._conditions import Test, negate
from negotiation_rules._engine import engine_for
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._facts import derived_paths
from negotiation_rules._fields import SITUATION_PREFIX
from negotiation_rules._pipeline import facts_for
from negotiation_rules._ranking import unknown_reason
from negotiation_rules._ruleset import builtin_ruleset
from negotiation_rules.testing.strategies import states

EXAMPLE_STATES = [state for _, state in EXAMPLES.values()]
#: A state with a history (derived facts), a blocked and a waiting tactic, cautions and several rules per tactic.
BUSY = NegotiationState.model_validate(
    {
        "phase": "bargaining",
        "our_side": "buyer",
        "deadlock": True,
        "alternatives": 0,
        "counterpart": {"experience": "experienced"},
        "issues": [{"name": "price", "our_target": 100.0, "our_limit": 120.0}],
        "history": [
            {"kind": "authority_claimed", "by": "them"},
            {"kind": "concession", "by": "us", "issue": "price", "value": 2.0},
            {"kind": "concession", "by": "us", "issue": "price", "value": 3.0},
        ],
    }
)
PLAYBOOK = {"weights": {"pressure": 1.3}, "disabled": {"trust": "Not today."}, "min_score": 0.55}


def _lists(advice: Advice) -> list[list[Any]]:
    """Every list an Advice holds, at every level."""
    out: list[list[Any]] = [advice.recommendations, advice.set_aside, advice.questions, advice.situations]
    for rec in advice.recommendations:
        out += [rec.basis, rec.sources, rec.cautions, rec.other_rules]
    for aside in advice.set_aside:
        out.append(aside.basis)
    for question in advice.questions:
        out.append(question.answers)
    return out


@pytest.mark.parametrize("engine", ["durable", "compiled"])
@pytest.mark.parametrize("playbook", [None, PLAYBOOK])
def test_changing_the_lists_of_one_advice_changes_nothing_in_another_call(engine: str, playbook: Any) -> None:
    for state in [*EXAMPLE_STATES, BUSY]:
        expected = advise(state, engine=engine, playbook=playbook).model_dump_json()
        first = advise(state, engine=engine, playbook=playbook)
        second = advise(state, engine=engine, playbook=playbook)
        assert not {id(x) for x in _lists(first)} & {id(x) for x in _lists(second)}
        assert first.model_dump_json() == expected
        for held in _lists(first):  # what a caller may do with its own advice
            if held:
                held.append(held[0])
                held.reverse()
        for held in _lists(first):
            held.clear()
        assert second.model_dump_json() == expected
        assert advise(state, engine=engine, playbook=playbook).model_dump_json() == expected
    assert any(rec.basis and rec.cautions and rec.other_rules for rec in advise(BUSY).recommendations)
    assert {a.by for a in advise(BUSY).set_aside} >= {"rule", "unknown"}


def test_a_shared_fact_cannot_be_changed_and_the_pool_stays_bounded() -> None:
    fact = shared_fact("phase", "bargaining", True)
    assert shared_fact("phase", "bargaining", True) is fact
    assert shared_fact("deadlock", True, True) is not shared_fact("deadlock", 1, True)  # true is not 1
    assert shared_fact("deadlock", True, True).value is True
    with pytest.raises(ValidationError):  # frozen
        fact.value = "closing"  # type: ignore[misc]
    for i in range(FACT_LIMIT * 2):
        shared_fact("alternatives", i, True)
    from negotiation_rules import _basis

    assert len(getattr(_basis, "_shared")) <= FACT_LIMIT  # noqa: B009 - the pool itself, on purpose


def test_a_playbook_changed_in_place_or_loaded_again_is_scored_by_its_content() -> None:
    state = EXAMPLE_STATES[1]
    book = Playbook(weights={"authority": 1.0})
    before = advise(state, playbook=book)
    assert before == advise(state, playbook=Playbook(weights={"authority": 1.0})) == advise(state)
    book.weights["authority"] = 0.5  # a frozen model's dict can still be changed in place
    after = advise(state, playbook=book)
    assert after == advise(state, playbook={"weights": {"authority": 0.5}})
    assert [r.score for r in after.recommendations] != [r.score for r in before.recommendations]


@st.composite
def partial_states(draw: st.DrawFn) -> NegotiationState:
    """A valid state in which the user set only some fields (the others left to their defaults)."""
    full = draw(states()).model_dump(exclude_none=True)
    counterpart = full.pop("counterpart")
    keep = draw(st.sets(st.sampled_from(sorted(full))))
    data = {key: full[key] for key in keep}
    if draw(st.booleans()):
        data["counterpart"] = {k: v for k, v in counterpart.items() if draw(st.booleans())}
    return NegotiationState.model_validate(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(partial_states(), st.sampled_from([None, "relationship_first", "hard_bargainer"]))
def test_every_basis_and_waiting_reason_is_what_the_plain_functions_give(
    state: NegotiationState, playbook: str | None
) -> None:
    rules = builtin_ruleset()
    situations = {s.id: s.when for s in rules.situations}
    effective, fact = facts_for(state, rules)
    firing = engine_for(rules).evaluate(fact)
    stage = dict(fact)
    for sid in situations:
        stage[Test(f"{SITUATION_PREFIX}{sid}", "eq", True).key] = sid in firing.situations
    derived = derived_paths(state, effective)
    advice = advise(state, playbook=playbook, questions=0)
    for rec in advice.recommendations:
        rule = rules.rule(rec.rule_id)
        tests = support(rule.when, stage, situations)
        if rule.unless is not None:
            tests += support(negate(rule.unless), stage, situations)
        assert rec.basis == facts_of(tests, state, effective, derived, stage)
    for aside in advice.set_aside:
        rule = rules.rule(aside.rule_id)
        if aside.by == "rule":
            assert rule.unless is not None
            assert aside.basis == facts_of(support(rule.unless, stage, situations), state, effective, derived, stage)
        else:
            assert aside.basis == facts_of(support(rule.when, stage, situations), state, effective, derived, stage)
        if aside.by == "unknown":
            assert rule.unless is not None
            assert aside.reason == unknown_reason(rule, unknown_fields(rule.unless, stage, situations))
