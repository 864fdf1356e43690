"""Ranking: the score formula, one entry per tactic, ties, top=N, "never when" and the playbook."""

from __future__ import annotations

import pytest

from negotiation_rules import Playbook, Ruleset, RulesetError, advise, load_playbook
from negotiation_rules._ranking import fit_factor

TWO_RULES = """
situations:
  - id: stuck_with_options
    when: {deadlock: true, alternatives: {gte: 1}}
rules:
  - id: t.loose
    tactic: fam.one
    move: Move one
    rationale: Loose fit in {phase}.
    when: {deadlock: true}
    weight: 0.8
    sources: [{document: d.txt, section: s}]
  - id: t.tight
    tactic: fam.one
    move: Move one, tighter
    rationale: Tight fit with {alternatives} alternatives.
    when: {situation.stuck_with_options: true, phase: bargaining}
    weight: 0.8
    sources: [{document: d.txt, section: s}]
  - id: t.other
    tactic: fam.two
    move: Move two
    rationale: Other.
    when: {deadlock: true}
    unless: {trust: low}
    unless_reason: Not with people we do not trust.
    weight: 0.8
    sources: [{document: d.txt, section: s}]
  - id: t.third
    tactic: other.three
    move: Move three
    rationale: Third.
    when: {deadlock: true}
    weight: 0.8
    sources: [{document: d.txt, section: s}]
"""


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    return Ruleset.from_text(TWO_RULES)


def test_the_fit_factor_grows_with_specificity_and_stays_below_one() -> None:
    factors = [fit_factor(s) for s in range(1, 10)]
    assert factors == sorted(factors) and factors[0] == pytest.approx(0.7333, abs=1e-4) and factors[-1] < 1


def test_a_tactic_appears_once_from_its_most_specific_rule(rules: Ruleset) -> None:
    advice = advise({"deadlock": True, "alternatives": 2, "phase": "bargaining"}, ruleset=rules)
    rec = advice.get("fam.one")
    assert rec is not None and rec.rule_id == "t.tight" and rec.other_rules == ["t.loose"]
    # situation (2 facts) + phase = 3 facts
    assert rec.score == round(0.8 * fit_factor(3), 4)
    assert rec.rationale == "Tight fit with 2 alternatives."
    assert advice.tactics.count("fam.one") == 1


def test_equal_scores_break_ties_by_tactic_id(rules: Ruleset) -> None:
    advice = advise({"deadlock": True}, ruleset=rules)
    assert advice.tactics == ["fam.one", "fam.two", "other.three"]
    assert len({r.score for r in advice.recommendations}) == 1


def test_never_when_sets_the_tactic_aside_with_its_reason(rules: Ruleset) -> None:
    advice = advise({"deadlock": True, "trust": "low"}, ruleset=rules)
    assert "fam.two" not in advice.tactics
    aside = advice.set_aside_for("fam.two")
    assert aside is not None and aside.reason == "Not with people we do not trust." and aside.by == "rule"
    assert advise({"trust": "low"}, ruleset=rules).set_aside == []  # only tactics that fitted are reported


def test_top_keeps_the_best(rules: Ruleset) -> None:
    assert advise({"deadlock": True}, ruleset=rules, top=1).tactics == ["fam.one"]
    assert advise({"deadlock": True}, ruleset=rules, top=0).tactics == []
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match="top"):
            advise({}, ruleset=rules, top=bad)  # type: ignore[arg-type]


def test_a_playbook_weighs_disables_with_a_reason_and_cuts_low_scores(rules: Ruleset) -> None:
    state = {"deadlock": True}
    playbook = Playbook(
        weights={"other": 1.2, "fam.two": 0.5},
        disabled={"fam.one": "Our policy: never move one."},
        min_score=0.3,
    )
    advice = advise(state, ruleset=rules, playbook=playbook)
    assert advice.tactics == ["other.three"]
    assert advice.get("other.three").score == round(0.8 * 1.2 * fit_factor(1), 4)  # type: ignore[union-attr]
    reasons = {s.tactic: (s.by, s.reason) for s in advice.set_aside}
    assert reasons["fam.one"] == ("playbook", "Our policy: never move one.")
    assert reasons["fam.two"][0] == "playbook" and "below the playbook's minimum" in reasons["fam.two"][1]


def test_a_whole_family_can_be_disabled(rules: Ruleset) -> None:
    advice = advise({"deadlock": True}, ruleset=rules, playbook={"disabled": {"fam": "Not this family."}})
    assert advice.tactics == ["other.three"]


def test_a_playbook_file_loads_and_bad_ones_name_file_and_line(tmp_path: pytest.TempPathFactory) -> None:
    good = tmp_path / "relationship.yaml"  # type: ignore[operator]
    good.write_text("weights: {pressure: 0.5}\ndisabled:\n  pressure.ultimatum: We keep partners.\n", encoding="utf-8")
    playbook = load_playbook(good)
    assert playbook.name == "relationship" and playbook.multiplier("pressure.emotional") == 0.5
    bad = tmp_path / "bad.yaml"  # type: ignore[operator]
    bad.write_text("weights: {pressure: 0.5}\ndisabeld: {}\n", encoding="utf-8")
    with pytest.raises(RulesetError, match="did you mean 'disabled'") as info:
        load_playbook(bad)
    assert info.value.line == 2
    bad.write_text("weights: {pressure: lots}\n", encoding="utf-8")
    with pytest.raises(RulesetError, match=r"weights\.pressure"):
        load_playbook(bad)
