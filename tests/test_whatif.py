"""what_if: the smallest changes to a state that reach the goal, each one verified by re-running advise().

The search is pruned (only fields the rules can see, integer values grouped by effect); a
brute-force search over every searchable field and value checks that the pruning never
loses a minimal solution nor invents one. The last section pairs it with explain(): "why was X
not recommended?" names the failing condition and its value, and the minimal change fixes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation_rules import NegotiationState, Ruleset, UnknownTacticError, advise
from negotiation_rules._explain import explain
from negotiation_rules._facts import effective_state
from negotiation_rules._fields import value_at
from negotiation_rules._ruleset import builtin_ruleset
from negotiation_rules._whatif import SMALL_INTS, Solution, WhatIf, searchable_fields, what_if
from negotiation_rules.testing.strategies import events, states
from tests.conftest import rule_yaml


def changed(state: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The state dict with dotted paths set, built independently of whatif.py."""
    data = NegotiationState.model_validate(state).model_dump(mode="json")
    for path, value in changes.items():
        node = data
        *heads, last = path.split(".")
        for head in heads:
            node = node[head]
        node[last] = value
    return data


def reaches(state: dict[str, Any], tactic: str, goal: str, **kw: Any) -> bool:
    advice = advise(state, **kw)
    rank = advice.rank_of(tactic)
    return rank is not None and (goal == "recommended" or rank == 1)


def assert_verified(state: dict[str, Any], answer: WhatIf, **kw: Any) -> None:
    """Every solution, applied by hand and run through advise(), reaches the goal with the ranking it claims."""
    assert answer.solutions
    for sol in answer.solutions:
        assert sol.verified
        assert len(sol.changes) == answer.changes_needed
        data = changed(state, {c.path: c.to for c in sol.changes})
        advice = advise(data, **kw)
        assert advice.rank_of(answer.tactic) == sol.after.rank
        rec = advice.get(answer.tactic)
        assert rec is not None and rec.score == sol.after.score
        if answer.goal == "first":
            assert sol.after.rank == 1
        for change in sol.changes:
            assert change.from_ == value_at(NegotiationState.model_validate(state), change.path)
            assert change.to != change.from_


def assert_minimal(state: dict[str, Any], sol: Solution, tactic: str, goal: str, **kw: Any) -> None:
    """No proper subset of a solution's changes reaches the goal."""
    changes = {c.path: c.to for c in sol.changes}
    for k in range(len(changes)):
        for subset in itertools.combinations(changes, k):
            assert not reaches(changed(state, {p: changes[p] for p in subset}), tactic, goal, **kw), subset


# -- the answers -------------------------------------------------------------------------------


def test_one_missing_fact_is_the_one_change_and_equivalent_counts_are_grouped() -> None:
    state = {"phase": "bargaining"}  # strong posture waits: whether we have alternatives is unknown
    answer = what_if(state, "pressure.strong_posture")
    assert answer.status == "found" and answer.changes_needed == 1 and answer.found == 2
    by_value = {sol.changes[0].to: sol for sol in answer.solutions}
    assert set(by_value) == {1, 2}  # one alternative, or several (the textbook case, a higher score)
    several = by_value[2].changes[0]
    assert (several.path, several.from_) == ("alternatives", None)
    assert several.same_effect == [3, 4, 5]
    assert by_value[1].changes[0].same_effect == []
    for sol in answer.solutions:
        assert sol.before.status == "set_aside" and sol.after.status == "recommended"
        assert "pressure.strong_posture" in sol.entered
    assert_verified(state, answer)
    for other in several.same_effect:  # "same effect" is true: each gives the same ranking
        assert (
            advise(changed(state, {"alternatives": other})).rank_of("pressure.strong_posture") == by_value[2].after.rank
        )


CASES = [
    ({}, "authority.provoke", "recommended", 3),
    ({"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}, "authority.provoke", "recommended", 1),
    ({"phase": "bargaining", "trust": "low"}, "trust.control_documentation", "first", 1),
    (
        {
            "phase": "bargaining",
            "deadlock": True,
            "alternatives": 1,
            "top_leader_available": True,
            "our_time_pressure": "low",
            "relationship": "one_off",
        },
        "pressure.third_party",
        "first",
        1,
    ),
    ({"phase": "opening"}, "trust.small_increments", "recommended", 1),
    (
        {
            "phase": "bargaining",
            "deadlock": True,
            "relationship": "one_off",
            "alternatives": 1,
            "our_time_pressure": "low",
        },
        "pressure.ultimatum",
        "recommended",
        1,
    ),
    ({"phase": "bargaining"}, "outcome.frame_as_support", "recommended", 2),
    (
        {"phase": "bargaining", "counterpart": {"authority": "claimed_higher", "experience": "experienced"}},
        "authority.provoke",
        "first",
        1,
    ),
]


@pytest.mark.parametrize(("state", "tactic", "goal", "size"), CASES)
def test_solutions_reach_the_goal_when_advise_is_re_run_and_are_minimal(
    state: dict[str, Any], tactic: str, goal: str, size: int
) -> None:
    answer = what_if(state, tactic, goal=goal)  # type: ignore[arg-type]
    assert answer.status == "found" and answer.changes_needed == size
    assert_verified(state, answer)
    for sol in answer.solutions:
        assert_minimal(state, sol, tactic, goal)


def test_a_blocked_tactic_is_unblocked_by_changing_what_its_unless_reads() -> None:
    state = {
        "phase": "bargaining",
        "trust": "low",
        "relationship": "long_term",
        "counterpart": {"authority": "claimed_higher", "experience": "experienced"},
    }
    answer = what_if(state, "authority.provoke")
    assert answer.before.status == "set_aside" and answer.changes_needed == 1
    found = {(c.path, c.to) for sol in answer.solutions for c in sol.changes}
    assert found == {("trust", "medium"), ("trust", "high"), ("relationship", "one_off")}
    assert_verified(state, answer)


def test_none_within_the_limit_is_said_honestly_and_found_with_a_higher_limit() -> None:
    short = what_if({}, "authority.provoke", max_changes=2)
    assert short.status == "none" and not short.solutions and short.complete
    assert short.summary.startswith("no change within 2 steps gets authority.provoke recommended")
    assert what_if({}, "authority.provoke", max_changes=3).changes_needed == 3


def test_a_tactic_that_depends_on_the_issues_cannot_be_reached_by_changing_fields() -> None:
    answer = what_if({}, "prep.plan_agenda")  # needs two issues on the table
    assert answer.status == "none" and answer.complete
    assert "no change within 3 steps" in answer.summary
    assert any("issues" in note for note in answer.notes)


def test_already_reached_needs_no_change() -> None:
    answer = what_if({}, "prep.research_counterpart", goal="first")
    assert answer.status == "already" and answer.solutions == [] and answer.before.rank == 1
    assert "already ranked first" in answer.summary


def test_a_tactic_the_playbook_disables_cannot_be_reached() -> None:
    playbook = {"disabled": {"pressure": "We never use pressure tactics."}}
    answer = what_if({"phase": "bargaining"}, "pressure.strong_posture", playbook=playbook)
    assert answer.status == "none" and "playbook disables it" in answer.summary
    assert "We never use pressure tactics." in answer.summary


def test_the_history_counts_toward_authority_claims_and_the_answer_says_so() -> None:
    state = {"phase": "bargaining", "history": [{"kind": "authority_claimed", "by": "them"}]}
    answer = what_if(state, "authority.tit_for_tat")
    assert answer.changes_needed == 1
    assert [(c.path, c.to) for c in answer.solutions[0].changes] == [("counterpart.authority_claims", 2)]
    assert any("counterpart.authority_claims is 1 in effect" in note for note in answer.notes)
    assert_verified(state, answer)


def test_an_authority_claim_count_can_stand_for_the_claimed_authority() -> None:
    # effective_state turns an unknown authority into claimed_higher once they claimed a superior:
    # setting authority_claims is a second one-change way, found although no rule names the field.
    answer = what_if({"phase": "opening"}, "authority.ask_to_recommend")
    changes = {(c.path, c.to) for sol in answer.solutions for c in sol.changes}
    assert ("counterpart.authority", "claimed_higher") in changes
    assert ("counterpart.authority_claims", 1) in changes


def test_a_rule_id_stands_for_its_tactic_and_unknown_ids_are_refused_with_a_suggestion() -> None:
    assert what_if({"phase": "bargaining"}, "pressure.strong_posture.bargaining").tactic == "pressure.strong_posture"
    with pytest.raises(UnknownTacticError, match=r"did you mean 'authority\.provoke'"):
        what_if({}, "authority.provok")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goal": "best"}, "goal must be one of"),
        ({"max_changes": 9}, "max_changes must be a whole number in 0..5"),
        ({"max_changes": -1}, "max_changes"),
        ({"budget": 0}, "budget"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        what_if({}, "authority.provoke", **kwargs)


def test_a_spent_budget_is_reported_not_passed_off_as_no_solution() -> None:
    answer = what_if({}, "authority.provoke", budget=5)
    assert answer.status == "none" and not answer.complete and answer.evaluated == 5
    assert answer.summary.startswith("search stopped after 5 states")


def test_max_solutions_keeps_the_best_and_counts_them_all() -> None:
    full = what_if({}, "authority.provoke")
    top = what_if({}, "authority.provoke", max_solutions=2)
    assert top.found == full.found > 2
    assert top.solutions == full.solutions[:2]
    ranks = [s.after.rank for s in full.solutions]
    assert ranks == sorted(ranks)


def test_a_custom_ruleset_is_searched_over_its_own_fields(ruleset_from: Callable[..., Ruleset]) -> None:
    rules = ruleset_from(
        house=rule_yaml(id="house.firm", tactic="house.firm", when="phase: closing\nour_time_pressure: low")
    )
    answer = what_if({}, "house.firm", ruleset=rules)
    assert answer.changes_needed == 2
    (sol,) = answer.solutions
    assert {(c.path, c.to) for c in sol.changes} == {("phase", "closing"), ("our_time_pressure", "low")}
    assert set(answer.searched) == {"phase", "our_time_pressure"}
    assert_verified({}, answer, ruleset=rules)


def test_json_output_names_the_old_value_from() -> None:
    data = what_if({"phase": "bargaining", "alternatives": 0}, "pressure.strong_posture").model_dump(
        mode="json", by_alias=True
    )
    changes = [sol["changes"][0] for sol in data["solutions"]]
    assert {(c["from"], c["to"]) for c in changes} == {(0, 1), (0, 2)}


# -- the pruning loses nothing: a brute-force search over every field and value agrees -----------


def brute_force(state: NegotiationState, tactic: str, goal: str, max_changes: int) -> set[frozenset[tuple[str, Any]]]:
    """Every minimal set of changes, trying every searchable field over every known value (a change never
    turns a fact back into an unknown)."""
    fields = searchable_fields()
    domain = {
        p: [v for v in (s.known_choices if s.kind == "enum" else (False, True) if s.kind == "bool" else SMALL_INTS)]
        for p, s in fields.items()
    }
    data = state.model_dump(mode="json")
    for size in range(1, max_changes + 1):
        found: set[frozenset[tuple[str, Any]]] = set()
        for paths in itertools.combinations(fields, size):
            options = [[v for v in domain[p] if v != value_at(state, p)] for p in paths]
            for values in itertools.product(*options):
                changes = dict(zip(paths, values, strict=True))
                if reaches(changed(data, changes), tactic, goal):
                    found.add(frozenset(changes.items()))
        if found:
            return found
    return set()


def expanded(answer: WhatIf) -> set[frozenset[tuple[str, Any]]]:
    """The answer's solutions with each grouped integer value spelled out."""
    out: set[frozenset[tuple[str, Any]]] = set()
    for sol in answer.solutions:
        options = [[(c.path, v) for v in (c.to, *c.same_effect)] for c in sol.changes]
        out |= {frozenset(combo) for combo in itertools.product(*options)}
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    states(history=st.just([]), issues=st.just([])),
    st.sampled_from(sorted(builtin_ruleset().tactics)),
    st.sampled_from(["recommended", "first"]),
)
def test_the_pruned_search_finds_exactly_what_brute_force_finds(
    state: NegotiationState, tactic: str, goal: str
) -> None:
    answer = what_if(state, tactic, goal=goal, max_changes=1, max_solutions=10**6)  # type: ignore[arg-type]
    truth = brute_force(state, tactic, goal, max_changes=1)
    if answer.status == "already":
        assert reaches(state.model_dump(mode="json"), tactic, goal)
        return
    # Brute force also finds changes the engine cannot tell from the current value (the field
    # stays equivalent); those never reach a goal the current state misses, so both must agree.
    assert expanded(answer) == truth


@pytest.mark.parametrize(
    ("state", "tactic", "goal"),
    [
        ({"phase": "preparation"}, "trust.reciprocal_sequencing", "recommended"),
        ({"phase": "bargaining", "relationship": "one_off"}, "pressure.ultimatum", "recommended"),
        ({"phase": "opening", "trust": "low"}, "authority.tit_for_tat", "first"),
    ],
)
def test_two_change_answers_agree_with_brute_force(state: dict[str, Any], tactic: str, goal: str) -> None:
    parsed = NegotiationState.model_validate(state)
    answer = what_if(parsed, tactic, goal=goal, max_changes=2, max_solutions=10**6)  # type: ignore[arg-type]
    assert expanded(answer) == brute_force(parsed, tactic, goal, max_changes=2)


# -- why not, then what if: explain names the failing fact, what_if changes it ---------------------

WHY_NOT = [
    # state, tactic, the failing condition explain must name, its actual value
    ({"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}, "authority.provoke",
     "counterpart.experience = experienced", None),
    ({"phase": "bargaining", "counterpart": {"authority_claims": 1}}, "authority.tit_for_tat",
     "counterpart.authority_claims ≥ 2", 1),
    ({"phase": "preparation"}, "pressure.strong_posture", "phase = bargaining", "preparation"),
    ({"phase": "closing", "trust": "medium"}, "trust.control_documentation", "trust = low", "medium"),
    ({"phase": "bargaining", "relationship": "one_off", "alternatives": 1, "top_leader_available": True,
      "our_time_pressure": "low"}, "pressure.ultimatum", "deadlock = true", False),
]  # fmt: skip


@pytest.mark.parametrize(("state", "tactic", "condition", "actual"), WHY_NOT)
def test_why_not_names_the_failing_condition_and_its_actual_value(
    state: dict[str, Any], tactic: str, condition: str, actual: Any
) -> None:
    expl = explain(state, tactic)
    assert expl.verdict == "not_matched"
    reasons = [(r.text, r.actual) for r in expl.reasons()]
    assert (condition, actual) in reasons
    assert condition in expl.summary and "does not hold" in expl.summary


@pytest.mark.parametrize(("state", "tactic", "condition", "actual"), WHY_NOT)
def test_what_if_changes_a_field_that_explain_blamed(
    state: dict[str, Any], tactic: str, condition: str, actual: Any
) -> None:
    blamed = {r.path for r in explain(state, tactic).reasons()}
    answer = what_if(state, tactic)
    assert answer.status == "found"
    assert_verified(state, answer)
    for sol in answer.solutions:
        # every minimal fix touches what explain blamed (or a field that feeds it, like authority_claims)
        touched = {c.path for c in sol.changes}
        assert touched & blamed or touched & {"counterpart.authority_claims", "counterpart.authority"}


def test_set_aside_explains_the_unless_conditions_that_held() -> None:
    expl = explain({"phase": "bargaining", "alternatives": 0}, "pressure.strong_posture")
    assert expl.verdict == "set_aside"
    assert [(r.text, r.held, r.actual, r.via) for r in expl.reasons() if r.via] == [
        ("alternatives = 0", True, 0, "no_alternatives")
    ]
    assert "because alternatives = 0 holds (actual: 0) in situation 'no_alternatives'" in expl.summary


# Concession events feed the trends (history.py), which what_if does not change; they are left out so
# that this property is about explanations only.
NO_CONCESSIONS = st.lists(events.filter(lambda e: e.kind != "concession"), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(history=NO_CONCESSIONS), st.sampled_from(sorted(builtin_ruleset().tactics)))
def test_every_reason_reports_the_value_the_engine_saw(state: NegotiationState, tactic: str) -> None:
    expl = explain(state, tactic)
    effective = effective_state(state)
    fields = searchable_fields()
    for rule in expl.rules:
        assert bool(rule.because) == (not rule.matched or rule.blocked)
        for reason in rule.because:
            if reason.path in fields:
                value = value_at(effective, reason.path)
                assert reason.actual == (None if fields[reason.path].is_unknown(value) else value)
