"""Scenarios from the source on the art of "losing" (and of winning) (003).

When a loss is a foregone conclusion near the end, do not let them see they reached our limit,
ask for a condition they can easily meet, and (with a partner we keep) frame the concession as
support. When we win, stay modest and let them feel they won. Catalog 0.2 sets the timing: giving
the main point away (the compensating condition, support) is set aside at preparation or the
opening, where it only relaxes them; the winning moves start in late bargaining.
"""

from __future__ import annotations

from negotiation_rules import advise

OUTCOME_DOC = "003_3cedbf76b167ba9a.txt"
LOSING = {"outcome.ask_compensating_condition", "outcome.conceal_bottom_line", "outcome.frame_as_support"}
WINNING = {"outcome.stay_modest", "outcome.let_them_feel_they_won"}


def state(**kw: object) -> dict[str, object]:
    return {**kw}


def rebate_renewal(**kw: object) -> dict[str, object]:
    """The annual renewal: a strong dealer insists on a 2% rebate, the talks are stuck, and we will lose."""
    base = state(
        phase="closing",
        outlook="losing",
        deadlock=True,
        relationship="long_term",
        issues=[{"name": "sales_rebate", "our_target": 1.0, "their_position": 2.0, "unit": "%"}],
    )
    return {**base, **kw}


def test_losing_the_rebate_to_a_strong_dealer_we_hide_our_limit_ask_an_easy_condition_and_offer_support() -> None:
    advice = advise(rebate_renewal())
    assert set(advice.tactics) >= LOSING
    assert not WINNING & set(advice.tactics)
    assert not [s for s in advice.set_aside if s.tactic.startswith("outcome.")]


def test_the_concession_is_framed_as_support_only_for_a_partner_we_keep() -> None:
    assert "outcome.frame_as_support" not in advise(rebate_renewal(relationship="one_off")).tactics
    rec = advise(rebate_renewal()).get("outcome.frame_as_support")
    assert rec is not None and "going against us" in rec.rationale and "long-term partner" in rec.rationale
    facts = {(fact.path, fact.value) for fact in rec.basis}
    assert {("outlook", "losing"), ("relationship", "long_term")} <= facts
    assert "outcome.frame_as_support" not in advise(rebate_renewal(relationship="unknown")).tactics


def test_near_the_end_of_a_lost_negotiation_hiding_our_limit_matters_most() -> None:
    """The source: "The losers are nearing the end ... they must not let the opponents find" that they
    touched our bottom line, and "At this time, you must propose a condition as compensation".
    Both weigh more at the close than mid-talks; catalog 0.2 leads with the condition at the close."""
    at_close = advise(rebate_renewal())
    mid_talks = advise(rebate_renewal(phase="bargaining"))
    for tactic in ("outcome.conceal_bottom_line", "outcome.ask_compensating_condition"):
        assert at_close.get(tactic).score > mid_talks.get(tactic).score, tactic
    assert at_close.rank_of("outcome.ask_compensating_condition") == 1
    assert at_close.rank_of("outcome.conceal_bottom_line") <= 3
    assert "closing" in at_close.get("outcome.conceal_bottom_line").rationale


def test_the_compensating_condition_is_asked_at_the_table_while_the_loss_is_certain() -> None:
    rec = advise(rebate_renewal(phase="bargaining")).get("outcome.ask_compensating_condition")
    assert rec is not None and "as good as lost" in rec.rationale and "bargaining" in rec.rationale


def test_giving_up_the_main_point_at_the_opening_is_set_aside_as_too_early() -> None:
    """Catalog 0.2, never when: "Early (preparation or opening): conceding the main point then only relaxes them"."""
    advice = advise(rebate_renewal(phase="opening", deadlock=False))
    for tactic in ("outcome.ask_compensating_condition", "outcome.frame_as_support"):
        assert tactic not in advice.tactics, tactic
        aside = advice.set_aside_for(tactic)
        assert aside is not None and aside.by == "rule" and "too early" in aside.reason, tactic
    assert "outcome.conceal_bottom_line" in advice.tactics


def test_closing_a_deal_that_went_our_way_we_stay_modest_and_let_them_feel_they_won() -> None:
    """The small trader's reluctant face at the "base price": maybe he is the real winner."""
    advice = advise(state(phase="closing", outlook="winning"))
    assert set(advice.tactics) >= WINNING
    assert not LOSING & set(advice.tactics)
    assert "winning" in advice.get("outcome.let_them_feel_they_won").rationale


def test_after_the_agreement_a_winner_stays_low_key_but_no_final_concession_is_left_to_stage() -> None:
    advice = advise(state(phase="post_agreement", outlook="winning"))
    rec = advice.get("outcome.stay_modest")
    assert rec is not None and "already agreed" in rec.rationale
    assert ("phase", "post_agreement") in {(fact.path, fact.value) for fact in rec.basis}
    assert "outcome.let_them_feel_they_won" not in advice.tactics


def test_winning_moves_start_in_late_bargaining_not_at_the_opening() -> None:
    """Catalog 0.2: stay modest and let them feel they won fit "late bargaining" or later."""
    assert set(advise(state(phase="bargaining", outlook="winning")).tactics) >= WINNING
    assert not WINNING & set(advise(state(phase="opening", outlook="winning")).tactics)


def test_with_the_outcome_still_open_neither_the_art_of_losing_nor_of_winning_applies() -> None:
    for outlook in ("even", "unknown"):
        tactics = set(advise(state(phase="closing", outlook=outlook)).tactics)
        assert not tactics & (LOSING | WINNING), outlook


def test_every_outcome_move_cites_the_art_of_losing_document() -> None:
    moves = [
        r
        for advice in (advise(rebate_renewal()), advise(state(phase="closing", outlook="winning")))
        for r in advice.recommendations
        if r.tactic in LOSING | WINNING
    ]
    assert len(moves) == len(LOSING | WINNING)
    assert all(s.document == OUTCOME_DOC for r in moves for s in r.sources)
