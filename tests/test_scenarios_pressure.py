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
    """We buy; talks with a long-standing supplier we trust are stuck, other suppliers wait, they are
    in a hurry, our boss can step in, and we know a weak spot of theirs. (The relationship and the
    trust are said: 0.1 took them from its defaults, long term and medium.)"""
    base = state(
        phase="bargaining",
        our_side="buyer",
        deadlock=True,
        alternatives=2,
        top_leader_available=True,
        their_time_pressure="high",
        our_time_pressure="low",
        relationship="long_term",
        trust="medium",
        counterpart={"known_weakness": True},
    )
    return {**base, **kw}


def one_off_stalemate(**kw: object) -> dict[str, object]:
    """The textbook stalemate of 001 (3): a one-off purchase, our top leader can deliver a final offer,
    other suppliers can take the order and no deadline presses us."""
    base = state(
        phase="bargaining",
        our_side="buyer",
        deadlock=True,
        alternatives=2,
        top_leader_available=True,
        our_time_pressure="low",
        relationship="one_off",
        trust="medium",
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
    """The "hero invitation" to other suppliers, while cooperation can still proceed."""
    rec = advise(state(phase="bargaining", our_side="buyer", deadlock=True, alternatives=1)).get("pressure.third_party")
    assert rec is not None and "1 credible alternative supplier" in rec.rationale
    assert "other suppliers" in rec.move


def test_stuck_without_an_alternative_partner_the_third_party_is_our_changed_need() -> None:
    """Catalog 0.2: "without one, point to how our own need could change" (001 (2): new processes,
    "the demand for goods is no longer strong"). 0.1 offered no third party here."""
    rec = advise(state(phase="bargaining", deadlock=True, alternatives=0)).get("pressure.third_party")
    assert rec is not None and "need could change" in rec.move
    assert "competitor" not in rec.move and "other partners" not in rec.move
    assert rec.sources[0].section == "the demand for goods is no longer strong"


def test_in_a_one_off_stalemate_a_credible_ultimatum_from_our_top_leader_leads() -> None:
    """001 (3): at a stalemate, an ultimatum from the top leader, backed by real action."""
    advice = advise(one_off_stalemate())
    assert advice.rank_of("pressure.ultimatum") == 1
    assert advice.rank_of("pressure.ultimatum") < advice.rank_of("pressure.third_party")


def test_with_a_long_term_partner_the_ultimatum_is_a_last_resort() -> None:
    """Catalog 0.2: "A long-term relationship makes it a last resort"."""
    long_term = advise(stalemate())
    rec = long_term.get("pressure.ultimatum")
    assert rec is not None and rec.move.startswith("As a last resort")
    assert rec.score < advise(one_off_stalemate()).get("pressure.ultimatum").score
    for softer in ("pressure.third_party", "pressure.conditional_concession"):
        assert long_term.rank_of(softer) < long_term.rank_of("pressure.ultimatum"), softer


def test_an_ultimatum_we_could_not_carry_out_is_set_aside() -> None:
    """Catalog 0.2, never when: "we could not carry it out": nowhere to walk to, or our own deadline pressing."""
    for blocked in (one_off_stalemate(alternatives=0), one_off_stalemate(our_time_pressure="high")):
        advice = advise(blocked)
        assert_set_aside(advice, "pressure.ultimatum")
        assert advice.set_aside_for("pressure.ultimatum").by == "rule"


def test_an_ultimatum_whose_premises_are_unknown_waits_for_them() -> None:
    """Catalog 0.2 / contract 0.2: unknown top leader, alternatives or deadline: set aside "by: unknown"."""
    for field in ("top_leader_available", "alternatives", "our_time_pressure"):
        situation = one_off_stalemate()
        del situation[field]
        advice = advise(situation)
        assert_set_aside(advice, "pressure.ultimatum")
        aside = advice.set_aside_for("pressure.ultimatum")
        assert aside.by == "unknown" and "Not known yet" in aside.reason, field
        assert field not in {fact.path for fact in aside.basis}, field


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
    assert "long-term partner" in long_term.rationale
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


def test_in_a_stalemate_with_a_long_term_supplier_gradual_moves_rank_above_the_most_forceful_ones() -> None:
    """Direct, forceful pressure "will easily lead to the breakdown": with a partner we keep, third
    parties come before an ultimatum or an angry display (catalog 0.2: the ultimatum a last resort)."""
    advice = advise(stalemate())
    assert advice.rank_of("pressure.third_party") < advice.rank_of("pressure.ultimatum")
    assert advice.rank_of("pressure.third_party") < advice.rank_of("pressure.emotional")


def test_a_strong_posture_is_worded_for_our_side() -> None:
    """Catalog 0.2: "a buyer: a firm budget and other suppliers; a seller: firm prices and other buyers"."""
    moves = {
        side: advise(state(phase="bargaining", our_side=side, alternatives=2)).get("pressure.strong_posture")
        for side in ("buyer", "seller", "unknown")
    }
    assert moves["buyer"] is not None and "budget" in moves["buyer"].move and "suppliers" in moves["buyer"].move
    assert moves["seller"] is not None and "firm prices" in moves["seller"].move and "buyers" in moves["seller"].move
    assert "supplier" not in moves["seller"].move and "budget" not in moves["seller"].move
    neutral = moves["unknown"]
    assert neutral is not None and "supplier" not in neutral.move and "buyer" not in neutral.move


def test_a_strong_posture_with_our_alternatives_unknown_waits_for_them() -> None:
    advice = advise(state(phase="bargaining"))
    assert_set_aside(advice, "pressure.strong_posture")
    assert advice.set_aside_for("pressure.strong_posture").by == "unknown"


def test_a_display_of_determination_waits_until_we_know_a_weakness_of_theirs() -> None:
    """Catalog 0.2: emotional pressure is set aside unless a weakness of theirs is known."""
    unknown = advise(stalemate(counterpart={}))
    assert_set_aside(unknown, "pressure.emotional")
    assert unknown.set_aside_for("pressure.emotional").by == "unknown"
    known_none = advise(stalemate(counterpart={"known_weakness": False}))
    assert known_none.set_aside_for("pressure.emotional").by == "rule"


def test_every_pressure_move_carries_the_tip_to_speed_a_decision_not_force_one_and_keep_it_profitable() -> None:
    moves = [r for r in advise(stalemate()).recommendations if r.tactic in PRESSURE]
    assert len(moves) == len(PRESSURE)
    for rec in moves:
        tip = " ".join(rec.cautions).lower()
        assert "not force" in tip and "profitable" in tip, rec.tactic


def test_every_pressure_move_cites_the_pressure_document() -> None:
    moves = [r for r in advise(stalemate()).recommendations if r.tactic in PRESSURE]
    assert moves and all(s.document == PRESSURE_DOC for r in moves for s in r.sources)
