"""Scenarios from the source on pressing the other side step by step (001).

Advance and retreat, adding pressure gradually: a strong posture, third parties, an ultimatum from
the top leader, emotional pressure when we know their weakness, conditional concessions, and time.
Its tip binds every move: pressure speeds a decision, it does not force one, and the deal stays
profitable for them.
"""

from __future__ import annotations

from negotiation_rules import Advice, advise

PRESSURE_DOC = "001_b456b039e9603b86.txt"
PRESSURE = {
    "pressure.gradual_escalation",
    "pressure.strong_posture",
    "pressure.third_party",
    "pressure.ultimatum",
    "pressure.emotional",
    "pressure.conditional_concession",
    "pressure.use_deadline",
}


def state(**kw: object) -> dict[str, object]:
    return {**kw}


def stalemate(**kw: object) -> dict[str, object]:
    """We buy; talks with a supplier are stuck, other suppliers wait, they are in a hurry, our boss can step in."""
    base = state(
        phase="bargaining",
        our_side="buyer",
        deadlock=True,
        alternatives=2,
        top_leader_available=True,
        their_time_pressure="high",
        our_time_pressure="low",
        counterpart={"known_weakness": True},
    )
    return {**base, **kw}


def assert_set_aside(advice: Advice, tactic: str) -> None:
    assert tactic not in advice.tactics
    aside = advice.set_aside_for(tactic)
    assert aside is not None and aside.reason


def test_in_a_stalemate_with_suppliers_waiting_and_a_weakness_known_every_pressure_move_is_available() -> None:
    assert set(advise(stalemate()).tactics) >= PRESSURE


def test_while_bargaining_pressure_is_added_a_step_at_a_time() -> None:
    rec = advise(state(phase="bargaining")).get("pressure.gradual_escalation")
    assert rec is not None and "bargaining" in rec.rationale


def test_other_suppliers_waiting_let_us_take_a_strong_posture_to_lower_their_expectations() -> None:
    rec = advise(state(phase="bargaining", alternatives=2)).get("pressure.strong_posture")
    assert rec is not None and "2 credible alternative" in rec.rationale


def test_a_strong_posture_without_any_alternative_is_a_bluff_and_set_aside() -> None:
    assert_set_aside(advise(state(phase="bargaining", alternatives=0)), "pressure.strong_posture")


def test_stuck_on_an_issue_with_another_supplier_at_hand_we_bring_in_third_parties() -> None:
    """The "hero invitation" to other suppliers, or a changed need, while cooperation can still proceed."""
    rec = advise(state(phase="bargaining", deadlock=True, alternatives=1)).get("pressure.third_party")
    assert rec is not None and "1 credible alternative" in rec.rationale
    assert "pressure.third_party" not in advise(state(phase="bargaining", deadlock=True, alternatives=0)).tactics


def test_in_a_stalemate_our_top_leader_can_issue_an_ultimatum() -> None:
    assert "pressure.ultimatum" in advise(stalemate()).tactics


def test_an_ultimatum_our_top_leader_cannot_deliver_is_set_aside() -> None:
    """The source: "The person who puts pressure on suppliers with ultimatums must be the top leader"."""
    assert_set_aside(advise(stalemate(top_leader_available=False)), "pressure.ultimatum")


def test_an_ultimatum_to_a_long_term_partner_we_distrust_is_set_aside() -> None:
    assert_set_aside(advise(stalemate(trust="low", relationship="long_term")), "pressure.ultimatum")


def test_knowing_a_mistake_of_theirs_in_a_tense_deadlock_allows_a_display_of_determination() -> None:
    assert "pressure.emotional" in advise(stalemate()).tactics
    tense_before = state(
        phase="bargaining", counterpart={"known_weakness": True}, history=[{"kind": "deadlock", "by": "them"}]
    )
    assert "pressure.emotional" in advise(tense_before).tactics


def test_walking_out_angrily_without_knowing_a_weakness_of_theirs_is_set_aside() -> None:
    """The source: "The premise is that the e-commerce company must know a mistake or weakness of the supplier"."""
    assert_set_aside(advise(stalemate(counterpart={"known_weakness": False})), "pressure.emotional")


def test_concessions_are_conditional_and_fit_a_long_term_partner_best() -> None:
    long_term = advise(state(phase="bargaining", relationship="long_term")).get("pressure.conditional_concession")
    one_off = advise(state(phase="bargaining", relationship="one_off")).get("pressure.conditional_concession")
    assert long_term is not None and one_off is not None
    assert "long_term" in long_term.rationale
    assert long_term.score > one_off.score


def test_a_supplier_in_a_hurry_while_we_are_not_lets_us_use_the_clock() -> None:
    rec = advise(state(phase="bargaining", their_time_pressure="high", our_time_pressure="low")).get(
        "pressure.use_deadline"
    )
    assert rec is not None
    assert "Their time pressure is high while ours is low" in rec.rationale


def test_when_we_are_the_ones_short_of_time_we_do_not_point_to_the_clock() -> None:
    advice = advise(state(phase="bargaining", our_time_pressure="high", their_time_pressure="low"))
    assert "pressure.use_deadline" not in advice.tactics


def test_when_we_are_the_ones_short_of_time_the_clock_is_reported_as_set_aside() -> None:
    advice = advise(state(phase="bargaining", our_time_pressure="high", their_time_pressure="low"))
    assert_set_aside(advice, "pressure.use_deadline")


def test_in_a_stalemate_gradual_moves_rank_above_the_most_forceful_ones() -> None:
    """Direct, forceful pressure "will easily lead to the breakdown": third parties come before an
    ultimatum or an angry display."""
    advice = advise(stalemate())
    assert advice.rank_of("pressure.third_party") < advice.rank_of("pressure.ultimatum")
    assert advice.rank_of("pressure.third_party") < advice.rank_of("pressure.emotional")


def test_every_pressure_move_carries_the_tip_to_speed_a_decision_not_force_one_and_keep_it_profitable() -> None:
    moves = [r for r in advise(stalemate()).recommendations if r.tactic in PRESSURE]
    assert len(moves) == len(PRESSURE)
    for rec in moves:
        tip = " ".join(rec.cautions).lower()
        assert "not force" in tip and "profitable" in tip, rec.tactic


def test_every_pressure_move_cites_the_pressure_document() -> None:
    moves = [r for r in advise(stalemate()).recommendations if r.tactic in PRESSURE]
    assert moves and all(s.document == PRESSURE_DOC for r in moves for s in r.sources)
