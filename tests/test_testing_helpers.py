"""The toolkit for rule authors, used from Python: assertion helpers, the Advisor, observing evaluations and
counting rule coverage. A failed expectation must tell the whole story: the ranked advice and why (not)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from negotiation_rules import Advice, Playbook, Ruleset, advise
from negotiation_rules._explain import explain
from negotiation_rules._firing import Firing, subscribe
from negotiation_rules.testing import (
    Advisor,
    Expectation,
    UnknownTacticError,
    assert_not_recommends,
    assert_ranks_before,
    assert_recommends,
    assert_set_aside,
)
from negotiation_rules.testing._coverage import RuleCoverage

CLAIMED = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}
EXPERIENCED = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher", "experience": "experienced"}}
DISTRUSTED = {**EXPERIENCED, "trust": "low", "relationship": "long_term"}

HOUSE = """
ruleset: house
rules:
  - id: house.hold_price
    tactic: pressure.strong_posture
    move: Hold the list price.
    rationale: We have {alternatives} other buyers.
    when: {phase: bargaining, alternatives: {gte: 2}}
    weight: 0.8
    sources: [{document: handbook.pdf, section: Pricing}]
  - id: house.trade
    tactic: pressure.conditional_concession
    move: Trade a small concession.
    rationale: Every concession buys one.
    when: {phase: bargaining}
    weight: 0.6
    sources: [{document: handbook.pdf, section: Trading}]
  - id: house.final_offer
    tactic: pressure.ultimatum
    move: Final offer from the top.
    rationale: Stuck, and our director can step in.
    when: {deadlock: true}
    unless: {relationship: long_term}
    unless_reason: Never an ultimatum to a long-term partner.
    weight: 0.9
    sources: [{document: handbook.pdf, section: Stuck}]
"""


@pytest.fixture(scope="module")
def house() -> Ruleset:
    return Ruleset.from_text(HOUSE, file="house.yaml")


def failure(excinfo: pytest.ExceptionInfo[AssertionError]) -> str:
    return str(excinfo.value)


# -- passing: each helper returns the Advice ---------------------------------------------------


def test_each_helper_returns_the_advice_so_a_test_can_go_on_checking_it() -> None:
    advice = assert_recommends(EXPERIENCED, "authority.provoke", top=3)
    # the helpers check moves, not questions: they return the advice without them (cheaper, same moves)
    assert isinstance(advice, Advice) and advice == advise(EXPERIENCED, questions=0)
    assert assert_not_recommends(EXPERIENCED, "pressure.ultimatum") == advice
    assert assert_ranks_before(EXPERIENCED, "authority.provoke", "authority.set_easy_premises") == advice
    assert assert_set_aside(DISTRUSTED, "authority.provoke", "long-term partner") == advise(DISTRUSTED, questions=0)


def test_states_may_be_models_dicts_or_json_text() -> None:
    from negotiation_rules import NegotiationState

    model = NegotiationState.model_validate(EXPERIENCED)
    json_text = model.model_dump_json()
    for state in (model, EXPERIENCED, json_text):
        assert_recommends(state, "authority.provoke")


def test_the_reason_of_a_set_aside_is_matched_as_a_part_ignoring_case() -> None:
    assert_set_aside(DISTRUSTED, "authority.provoke", reason_contains="LONG-TERM PARTNER")
    assert_set_aside(DISTRUSTED, "authority.provoke")


def test_top_one_means_first_and_not_recommends_with_top_allows_a_lower_rank() -> None:
    advice = advise(EXPERIENCED)
    first, second = advice.tactics[:2]
    assert_recommends(EXPERIENCED, first, top=1)
    assert_not_recommends(EXPERIENCED, second, top=1)
    with pytest.raises(AssertionError, match=rf"expected '{second}' first, but it is ranked 2 of"):
        assert_recommends(EXPERIENCED, second, top=1)


# -- failing: the message tells the whole story --------------------------------------------------


def test_a_tactic_that_did_not_match_shows_the_ranked_advice_and_the_failing_condition() -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_recommends(CLAIMED, "authority.provoke")
    text = failure(excinfo)
    first_line = text.splitlines()[0]
    assert first_line == "expected 'authority.provoke' to be recommended, but no rule for it matched"
    assert 'state (fields that differ from the defaults): {"phase": "bargaining"' in text
    assert "ranked advice (ruleset 'builtin'):" in text
    advice = advise(CLAIMED)
    for rank, rec in enumerate(advice.recommendations, 1):  # every row: rank, score, tactic, rule
        assert any(
            line.split() == [str(rank), f"{rec.score:.4f}", rec.tactic, rec.rule_id] for line in text.splitlines()
        )
    aside = advice.set_aside[0]
    assert f"{aside.tactic}  {aside.rule_id}: {aside.reason}" in text
    assert "why not 'authority.provoke':" in text
    assert "[ ] counterpart.experience = experienced   (actual: unknown)" in text
    assert str(explain(CLAIMED, "authority.provoke")) in text


def test_a_tactic_below_the_top_says_where_it_ranked_and_why_it_scored_so() -> None:
    advice = advise(CLAIMED)
    last = advice.recommendations[-1]
    with pytest.raises(AssertionError) as excinfo:
        assert_recommends(CLAIMED, last.tactic, top=2)
    text = failure(excinfo)
    rank, total = len(advice.recommendations), len(advice.recommendations)
    assert text.startswith(
        f"expected '{last.tactic}' within the top 2, but it is ranked {rank} of {total} "
        f"(score {last.score}, rule '{last.rule_id}')"
    )
    assert f"why '{last.tactic}':" in text and "score: " in text


def test_an_unexpected_recommendation_shows_why_it_was_recommended() -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_not_recommends(EXPERIENCED, "authority.provoke")
    text = failure(excinfo)
    assert text.startswith("expected 'authority.provoke' not to be recommended, but it is ranked")
    assert "why 'authority.provoke':" in text
    assert "[x] counterpart.experience = experienced   (actual: experienced)" in text


def test_a_set_aside_that_did_not_happen_says_what_happened_instead() -> None:
    with pytest.raises(AssertionError, match=r"expected 'authority.provoke' to be set aside, but it is ranked 2"):
        assert_set_aside(EXPERIENCED, "authority.provoke")
    with pytest.raises(AssertionError, match=r"to be set aside, but no rule for it matched"):
        assert_set_aside(CLAIMED, "authority.provoke")


def test_a_set_aside_for_another_reason_quotes_the_reason_given() -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_set_aside(DISTRUSTED, "authority.provoke", reason_contains="no alternative")
    assert failure(excinfo).startswith(
        "expected 'authority.provoke' to be set aside with a reason containing 'no alternative', "
        "but the reason is 'Needling the standing"
    )


def test_a_wrong_order_names_both_ranks_and_explains_both_tactics() -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_ranks_before(EXPERIENCED, "authority.set_easy_premises", "authority.provoke")
    text = failure(excinfo)
    assert "but 'authority.set_easy_premises' is ranked" in text and "and 'authority.provoke' is ranked 2" in text
    assert "why 'authority.set_easy_premises':" in text and "why 'authority.provoke':" in text


def test_ranks_before_needs_both_tactics_recommended() -> None:
    with pytest.raises(AssertionError, match=r"\(both recommended\), but no rule for 'authority.provoke' matched"):
        assert_ranks_before(CLAIMED, "authority.engage_decision_maker", "authority.provoke")
    with pytest.raises(AssertionError, match=r"but 'authority.provoke' was set aside by rule"):
        assert_ranks_before(DISTRUSTED, "authority.provoke", "authority.ask_to_recommend")


def test_a_tactic_the_ruleset_does_not_know_is_a_mistake_in_the_test_not_a_pass() -> None:
    with pytest.raises(UnknownTacticError, match=r"no tactic 'authority.provok' in ruleset 'builtin' \(did you mean"):
        assert_not_recommends(CLAIMED, "authority.provok")
    with pytest.raises(UnknownTacticError, match=r"'authority.provoke.experienced' is a rule id; its tactic is"):
        assert_not_recommends(CLAIMED, "authority.provoke.experienced")
    assert issubclass(UnknownTacticError, ValueError)


def test_an_expectation_that_could_never_pass_is_refused() -> None:
    with pytest.raises(ValueError, match="top must be a whole number >= 1"):
        assert_recommends(CLAIMED, "authority.engage_decision_maker", top=0)
    with pytest.raises(ValueError, match="ranks_before takes 2 tactic"):
        Expectation("ranks_before", ("authority.provoke",))


# -- own rulesets and playbooks ------------------------------------------------------------------


def test_helpers_take_a_custom_ruleset_and_a_playbook(house: Ruleset) -> None:
    busy = {"phase": "bargaining", "alternatives": 3}
    assert_ranks_before(busy, "pressure.strong_posture", "pressure.conditional_concession", ruleset=house)
    trade_first = Playbook(name="acme", weights={"pressure.conditional_concession": 1.5})
    advice = assert_ranks_before(
        busy, "pressure.conditional_concession", "pressure.strong_posture", ruleset=house, playbook=trade_first
    )
    assert advice.ruleset == "house"
    no_posture = {"disabled": {"pressure.strong_posture": "Acme never postures."}}
    assert_set_aside(busy, "pressure.strong_posture", "never postures", ruleset=house, playbook=no_posture)


def test_a_failure_with_a_playbook_names_it(house: Ruleset) -> None:
    playbook = Playbook(name="acme", disabled={"pressure": "No pressure at Acme."})
    with pytest.raises(AssertionError) as excinfo:
        assert_recommends({"phase": "bargaining"}, "pressure.conditional_concession", ruleset=house, playbook=playbook)
    text = failure(excinfo)
    assert "but it was set aside by the playbook: No pressure at Acme." in text
    assert "ranked advice (ruleset 'house', playbook 'acme'):\n  (nothing recommended)" in text


def test_the_advisor_is_advise_bound_to_a_ruleset_and_playbook(house: Ruleset) -> None:
    advisor = Advisor(house, playbook={"name": "acme", "weights": {"pressure.conditional_concession": 1.5}})
    busy = {"phase": "bargaining", "alternatives": 3}
    assert advisor.ruleset is house
    assert advisor(busy) == advise(busy, ruleset=house, playbook=advisor.playbook)
    assert advisor(busy, playbook={}).tactics == ["pressure.strong_posture", "pressure.conditional_concession"]
    assert advisor(busy, top=1).tactics == ["pressure.conditional_concession"]
    assert advisor.explain(busy, "pressure.strong_posture").verdict == "recommended"
    advisor.assert_recommends(busy, "pressure.conditional_concession", top=1)
    advisor.assert_not_recommends(busy, "pressure.ultimatum")
    advisor.assert_set_aside({"deadlock": True, "relationship": "long_term"}, "pressure.ultimatum", "long-term partner")
    advisor.assert_ranks_before(busy, "pressure.conditional_concession", "pressure.strong_posture")
    assert repr(advisor) == "<Advisor 'house': 3 rules, playbook 'acme'>"


def test_the_advisor_defaults_to_the_built_in_rulesets_and_loads_a_path(tmp_path: Path) -> None:
    assert Advisor().ruleset.name == "builtin"
    (tmp_path / "house.yaml").write_text(HOUSE, encoding="utf-8")
    assert [r.id for r in Advisor(tmp_path).ruleset] == ["house.hold_price", "house.trade", "house.final_offer"]


def test_importing_the_helpers_and_the_plugin_does_not_need_hypothesis_and_the_strategies_still_work() -> None:
    code = (
        "import sys; import negotiation_rules.testing, _negotiation_rules_pytestplugin; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'; "
        "import negotiation_rules.testing.strategies as s; from hypothesis import strategies as st; "
        "from negotiation_rules import NegotiationState; st.from_type(NegotiationState).example(); "
        "print(s.states.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "negotiation_rules.testing.strategies"


# -- observing every evaluation ------------------------------------------------------------------


def test_a_subscriber_sees_every_evaluation_until_it_unsubscribes(house: Ruleset) -> None:
    seen: list[tuple[Ruleset, Firing]] = []
    unsubscribe = subscribe(lambda ruleset, firing: seen.append((ruleset, firing)))
    try:
        advise({"phase": "bargaining", "alternatives": 3, "relationship": "long_term"}, ruleset=house)
        explain({"deadlock": True, "relationship": "long_term"}, "pressure.ultimatum", ruleset=house)
    finally:
        unsubscribe()
    unsubscribe()  # a second call is harmless
    advise({"phase": "bargaining"}, ruleset=house)
    assert [r for r, _ in seen] == [house, house]
    assert seen[0][1].matched == {"house.hold_price", "house.trade"}
    assert seen[0][1].blocked == {"house.final_offer"}  # its unless held (a long-term partner); its when did not
    assert seen[1][1].matched == {"house.final_offer"} == seen[1][1].blocked  # matched and blocked: set aside


def test_a_failing_subscriber_never_breaks_advice(house: Ruleset) -> None:
    def broken(ruleset: Ruleset, firing: Firing) -> None:
        raise RuntimeError("observer bug")

    unsubscribe = subscribe(broken)
    try:
        assert advise({"phase": "bargaining"}, ruleset=house).tactics == ["pressure.conditional_concession"]
    finally:
        unsubscribe()


# -- rule coverage -------------------------------------------------------------------------------


def test_coverage_counts_fired_set_aside_and_never_matched_per_rule(house: Ruleset) -> None:
    with RuleCoverage() as coverage:
        advise(
            {"phase": "bargaining", "alternatives": 3, "relationship": "long_term"}, ruleset=house
        )  # hold_price, trade fire
        advise({"phase": "bargaining", "deadlock": True, "relationship": "one_off"}, ruleset=house)  # all but hold
        advise({"deadlock": True, "relationship": "long_term"}, ruleset=house)  # final_offer set aside
    advise({"phase": "bargaining"}, ruleset=house)  # after stop(): not counted
    report = coverage.report()
    rows = {r.id: (r.evaluated, r.fired, r.set_aside, r.status) for r in report.rules}
    assert rows == {
        "house.hold_price": (3, 1, 0, "fired"),
        "house.trade": (3, 2, 0, "fired"),
        "house.final_offer": (3, 1, 1, "fired"),
    }
    assert report.evaluations == 3 and report.share == 100.0 and report.never_fired == []


def test_coverage_lists_rules_never_fired_and_unless_never_blocked(house: Ruleset) -> None:
    with RuleCoverage() as coverage:
        advise({"phase": "bargaining"}, ruleset=house)
        advise({"deadlock": True, "relationship": "long_term"}, ruleset=house)
    report = coverage.report()
    assert report.never_fired == ["house.hold_price", "house.final_offer"]
    assert report.unless_never_blocked == []
    assert [r.status for r in report.rules] == ["never matched", "fired", "only set aside"]
    assert round(report.share or 0, 1) == 33.3 and report.below(50) and not report.below(33)
    counted = coverage.report(count_unless=True)
    assert counted.share == 50.0  # trade fired, final_offer's unless blocked: 2 of 3 rules + 1 unless
    text = report.format()
    assert "never fired: house.hold_price, house.final_offer" in text
    assert text.endswith("rules fired: 1 of 3 (33.3%)")
    assert counted.summary() == "rules fired: 1 of 3, unless blocked: 1 of 1 (50.0%)"


def test_coverage_of_a_scope_counts_rules_never_evaluated_and_summarises_the_rest(
    tmp_path: Path, house: Ruleset
) -> None:
    (tmp_path / "house.yaml").write_text(HOUSE, encoding="utf-8")
    with RuleCoverage() as coverage:
        advise({"phase": "bargaining"})  # the built-in rulesets: outside the scope
        advise({"phase": "bargaining"}, ruleset=house)  # same ids, but not the scope's file
    report = coverage.report([tmp_path])
    assert [(r.id, r.status) for r in report.rules] == [
        ("house.hold_price", "never evaluated"),
        ("house.trade", "never evaluated"),
        ("house.final_offer", "never evaluated"),
    ]
    assert report.share == 0.0 and report.rulesets == 0 and report.other_rulesets == 2
    assert "not in scope: " in report.format() and "2 other rulesets evaluated" in report.format()


def test_the_same_rule_files_loaded_twice_count_as_one_set_of_rules(tmp_path: Path) -> None:
    (tmp_path / "house.yaml").write_text(HOUSE, encoding="utf-8")
    from negotiation_rules import load_ruleset

    with RuleCoverage() as coverage:
        advise({"phase": "bargaining", "alternatives": 2, "relationship": "long_term"}, ruleset=load_ruleset(tmp_path))
        advise({"deadlock": True, "relationship": "long_term"}, ruleset=load_ruleset(tmp_path / "house.yaml"))
    report = coverage.report([tmp_path])
    assert report.rulesets == 2 and len(report.rules) == 3
    assert [(r.evaluated, r.fired, r.set_aside) for r in report.rules] == [(2, 1, 0), (2, 1, 0), (2, 0, 1)]


def test_coverage_counts_evaluations_from_many_threads_exactly(house: Ruleset) -> None:
    def work() -> None:
        for _ in range(25):
            advise({"phase": "bargaining", "alternatives": 3}, ruleset=house)

    with RuleCoverage() as coverage:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    stats = {r.id: r for r in coverage.report().rules}
    assert stats["house.hold_price"].fired == stats["house.trade"].fired == stats["house.trade"].evaluated == 200
