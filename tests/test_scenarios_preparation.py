"""Scenarios from the source on preparing a negotiation (002).

Questions to consider in advance (the client, how to open, their key questions, our evidence,
likely deadlocks, their negotiator, alternatives), then the process (agenda) and the bottom line.
The catalog names no "never when" for this family: nothing of it is ever set aside.
"""

from __future__ import annotations

from negotiation_rules import advise

PREP_DOC = "002_0c5247c3135714f9.txt"
CHECKLIST = {
    "prep.plan_opening",
    "prep.anticipate_questions",
    "prep.gather_evidence",
    "prep.anticipate_deadlocks",
}
PREP = CHECKLIST | {
    "prep.research_counterpart",
    "prep.profile_negotiator",
    "prep.prepare_alternatives",
    "prep.set_bottom_line",
    "prep.plan_agenda",
}
ISSUES = [{"name": "price"}, {"name": "volume"}, {"name": "payment_terms"}]
# A new client and nothing prepared: said explicitly (contract 0.2 reads an omitted field as unknown).
NOTHING_PREPARED: dict[str, object] = {
    "bottom_line_set": False,
    "alternatives": 0,
    "counterpart": {"researched": False, "style_known": False},
}


def state(**kw: object) -> dict[str, object]:
    return {**kw}


def test_before_meeting_a_new_client_with_nothing_researched_every_question_in_advance_comes_up() -> None:
    advice = advise(state(phase="preparation", issues=ISSUES, **NOTHING_PREPARED))
    assert set(advice.tactics) >= PREP
    assert not [s for s in advice.set_aside if s.tactic.startswith("prep.")]


def test_a_client_already_studied_and_a_negotiator_already_known_need_no_more_homework() -> None:
    known = {"researched": True, "style_known": True}
    tactics = advise(state(phase="preparation", counterpart=known)).tactics
    assert "prep.research_counterpart" not in tactics
    assert "prep.profile_negotiator" not in tactics
    assert set(tactics) >= CHECKLIST


def test_the_agenda_is_ordered_when_several_topics_are_on_the_table() -> None:
    rec = advise(state(phase="preparation", issues=ISSUES)).get("prep.plan_agenda")
    assert rec is not None and "preparing" in rec.rationale
    assert rec.sources[0].section == "When drawing up the process, pay attention to the following principles"
    assert "prep.plan_agenda" not in advise(state(phase="preparation", issues=ISSUES[:1])).tactics


def test_fixing_the_bottom_line_ranks_above_the_routine_questions_in_preparation() -> None:
    """The bottom line is "another very important thing": it tells us when to say yes, no, or stop."""
    advice = advise(state(phase="preparation", bottom_line_set=False))
    for tactic in CHECKLIST:
        assert advice.rank_of("prep.set_bottom_line") < advice.rank_of(tactic), tactic


def test_a_bottom_line_only_unknown_is_a_check_ranked_below_the_known_gap() -> None:
    """Catalog 0.2: "when it is only unknown, a lower-ranked check ("if it is not settled yet ...")"."""
    for phase in ("preparation", "opening", "bargaining", "closing"):
        known = advise(state(phase=phase, bottom_line_set=False)).get("prep.set_bottom_line")
        check = advise(state(phase=phase)).get("prep.set_bottom_line")
        assert known is not None and check is not None, phase
        assert check.score < known.score, phase
        assert check.move.startswith("If the bottom line is not settled yet"), phase
        assert not known.move.startswith("If"), phase
        assert "bottom_line_set" not in {fact.path for fact in check.basis}, phase


def test_at_the_table_without_a_bottom_line_we_still_fix_it_but_not_after_the_agreement() -> None:
    rec = advise(state(phase="bargaining", bottom_line_set=False)).get("prep.set_bottom_line")
    assert rec is not None and "bargaining" in rec.rationale
    assert rec.sources[0].section == "determine your bottom line in the negotiation"
    assert "prep.set_bottom_line" not in advise(state(phase="bargaining", bottom_line_set=True)).tactics
    assert "prep.set_bottom_line" not in advise(state(phase="post_agreement", bottom_line_set=False)).tactics


def test_an_issue_carrying_our_limit_counts_as_a_bottom_line_set() -> None:
    """Catalog 0.2, never when: "It is set, or an issue carries our limit"."""
    with_limit = state(phase="bargaining", issues=[{"name": "price", "our_limit": 9.5}])
    assert "prep.set_bottom_line" not in advise(with_limit).tactics


def test_with_no_substitute_for_our_first_plan_at_the_table_we_prepare_alternatives() -> None:
    """The source: "If the other party does not agree with our first plan, what other alternatives are there?"."""
    rec = advise(state(phase="bargaining", alternatives=0)).get("prep.prepare_alternatives")
    assert rec is not None and "no alternative to fall back on" in rec.rationale
    assert ("alternatives", 0) in {(fact.path, fact.value) for fact in rec.basis}
    assert "prep.prepare_alternatives" not in advise(state(phase="bargaining", alternatives=1)).tactics
    assert "prep.prepare_alternatives" not in advise(state(phase="bargaining")).tactics


def test_the_questions_in_advance_belong_to_preparation_not_to_the_table() -> None:
    tactics = set(advise(state(phase="opening", counterpart={"researched": False})).tactics)
    assert not tactics & (CHECKLIST | {"prep.research_counterpart", "prep.profile_negotiator", "prep.plan_agenda"})


def test_every_preparation_move_names_the_phase_and_cites_the_preparation_document() -> None:
    advice = advise(state(phase="preparation", issues=ISSUES, **NOTHING_PREPARED))
    moves = [r for r in advice.recommendations if r.tactic in PREP]
    assert len(moves) == len(PREP)
    for rec in moves:
        assert "preparing" in rec.rationale, rec.tactic
        assert [s.document for s in rec.sources] == [PREP_DOC], rec.tactic
