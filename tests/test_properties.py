"""Properties that hold for any valid state: no crash, deterministic, sorted, unique, explained, and the
engine agreeing with the Python explanation of the same conditions."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation_rules import NegotiationState, advise
from negotiation_rules._explain import explain, python_firing
from negotiation_rules._pipeline import facts_for, fire
from negotiation_rules._ruleset import builtin_ruleset
from negotiation_rules.testing.strategies import states

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(states())
def test_any_valid_state_gets_sorted_unique_explained_sourced_advice(state: NegotiationState) -> None:
    advice = advise(state)
    tactics = advice.tactics
    assert len(tactics) == len(set(tactics))
    # best first: score, then the closer fit (specificity), and only last the tactic id
    rules = builtin_ruleset()
    keys = [(-r.score, -rules.specificity(rules.rule(r.rule_id)), r.tactic) for r in advice.recommendations]
    assert keys == sorted(keys)
    for rec in advice.recommendations:
        assert rec.rationale.strip() and rec.move.strip() and rec.sources
        assert "{" not in rec.rationale
        assert 0 < rec.score <= 1
    assert not set(tactics) & {s.tactic for s in advice.set_aside}


@FAST
@given(states())
def test_advice_is_deterministic_and_the_same_for_dict_json_and_model(state: NegotiationState) -> None:
    first = advise(state)
    assert advise(state) == first
    assert advise(state.model_dump()) == first
    assert advise(state.model_dump_json()) == first


@FAST
@given(states(), st.integers(0, 6))
def test_top_n_is_a_prefix_of_the_full_ranking(state: NegotiationState, n: int) -> None:
    assert advise(state, top=n).recommendations == advise(state).recommendations[:n]


@FAST
@given(st.from_type(NegotiationState))
def test_the_engine_and_the_python_explanation_agree(state: NegotiationState) -> None:
    rules = builtin_ruleset()
    _, firing = fire(state, rules)
    _, fact = facts_for(state, rules)
    assert firing == python_firing(rules, fact)


@settings(max_examples=40, deadline=None)
@given(states(), st.sampled_from(sorted(builtin_ruleset().tactics)))
def test_explain_gives_the_same_verdict_as_advise(state: NegotiationState, tactic: str) -> None:
    advice = advise(state)
    expl = explain(state, tactic)
    if tactic in advice.tactics:
        assert expl.verdict == "recommended" and expl.rank == advice.rank_of(tactic)
    elif advice.set_aside_for(tactic):
        assert expl.verdict == "set_aside"
    else:
        assert expl.verdict == "not_matched"
        assert all(not r.matched for r in expl.rules)
        assert expl.failing_conditions()


def test_strategies_pin_fixed_fields() -> None:
    @settings(max_examples=20)
    @given(states(phase="bargaining", trust="low"))
    def check(state: NegotiationState) -> None:
        assert state.phase == "bargaining" and state.trust == "low"

    check()
