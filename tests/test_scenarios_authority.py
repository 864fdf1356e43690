"""Scenarios from the source on "imaginary authority" (000), plus verifying authority (004).

The other side says a superior must approve. The source: confirm at the opening whether they can
decide; an early claim invites us to go to the decision maker; against experienced opponents who
keep the claim, provoke, ask them to recommend, set easy premises, and answer repeated claims in kind.
"""

from __future__ import annotations

import pytest

from negotiation_rules import advise

AUTHORITY_DOC = "000_b924a11848c92eba.txt"
TRUST_DOC = "004_8875d33a9d272d34.txt"


def state(**kw: object) -> dict[str, object]:
    return {**kw}


def claims(n: int) -> list[dict[str, str]]:
    """A history in which they invoked a superior ``n`` times."""
    return [{"kind": "authority_claimed", "by": "them"}] * n


def test_at_the_opening_we_ask_whether_they_can_decide_today_if_the_terms_suit_them() -> None:
    """The furniture dealer's question: "if the conditions are suitable, can you decide today?"."""
    advice = advise(state(phase="opening"))
    rec = advice.get("authority.confirm_at_opening")
    assert rec is not None
    assert "opening" in rec.rationale and "nobody has confirmed that they can decide" in rec.rationale
    # Their authority is unknown: the advice says so in words and never lists it as a fact.
    assert "counterpart.authority" not in {fact.path for fact in rec.basis}
    assert [s.document for s in rec.sources] == [AUTHORITY_DOC]


def test_the_opening_question_fits_best_at_the_beginning_and_less_once_bargaining_has_started() -> None:
    """The source asks the question "at the beginning of the negotiation"; later it weighs less."""
    at_opening = advise(state(phase="opening")).get("authority.confirm_at_opening")
    in_bargaining = advise(state(phase="bargaining")).get("authority.confirm_at_opening")
    assert at_opening is not None and in_bargaining is not None
    assert at_opening.score > in_bargaining.score


@pytest.mark.parametrize("phase", ["opening", "bargaining"])
def test_when_their_full_authority_is_already_confirmed_the_opening_question_is_set_aside(phase: str) -> None:
    advice = advise(state(phase=phase, counterpart={"authority": "full"}))
    assert "authority.confirm_at_opening" not in advice.tactics
    aside = advice.set_aside_for("authority.confirm_at_opening")
    assert aside is not None and aside.reason


def test_a_superior_invoked_at_the_opening_answers_the_opening_question_so_it_is_not_asked() -> None:
    """Catalog 0.2: the opening question fits while "their authority is not yet known"; once they
    claim a superior, the early claim is met by going to the decision maker instead."""
    unknown = advise(state(phase="opening"))
    claimed = advise(state(phase="opening", counterpart={"authority": "claimed_higher", "authority_claims": 1}))
    assert "authority.confirm_at_opening" in unknown.tactics
    assert "authority.confirm_at_opening" not in claimed.tactics
    assert claimed.rank_of("authority.engage_decision_maker") == 1


def test_the_opening_question_belongs_to_the_opening_and_the_start_of_bargaining_only() -> None:
    """Catalog 0.2: "Opening phase (or start of bargaining)": not after a concession, a deadlock, or at the close."""
    assert "authority.confirm_at_opening" in advise(state(phase="bargaining")).tactics
    later = [
        state(phase="bargaining", history=[{"kind": "concession", "by": "them"}]),
        state(phase="bargaining", deadlock=True),
        state(phase="closing"),
        state(phase="preparation"),
    ]
    for situation in later:
        assert "authority.confirm_at_opening" not in advise(situation).tactics, situation


def test_a_superior_invoked_early_lets_us_ask_for_the_decision_maker_and_keep_a_wider_margin() -> None:
    """Mentioned "in the middle of the negotiation or earlier", the claim invites us to talk to the
    claimed authority directly; that countermeasure outranks the slower persuasion moves."""
    advice = advise(state(phase="opening", counterpart={"authority": "claimed_higher", "authority_claims": 1}))
    rec = advice.get("authority.engage_decision_maker")
    assert rec is not None and "opening" in rec.rationale
    assert advice.rank_of("authority.engage_decision_maker") < advice.rank_of("authority.ask_to_recommend")
    assert advice.rank_of("authority.engage_decision_maker") < advice.rank_of("authority.set_easy_premises")


def test_an_experienced_opponent_still_hiding_behind_the_general_manager_is_politely_provoked() -> None:
    """The source: "Will the general manager of your company listen to your recommendation?"."""
    advice = advise(state(phase="bargaining", counterpart={"authority": "claimed_higher", "experience": "experienced"}))
    rec = advice.get("authority.provoke")
    assert rec is not None
    assert "experienced" in rec.rationale and "bargaining" in rec.rationale
    assert advice.rank_of("authority.provoke") < advice.rank_of("authority.set_easy_premises")


def test_provoking_a_long_term_partner_we_already_distrust_is_set_aside() -> None:
    advice = advise(
        state(
            phase="bargaining",
            trust="low",
            relationship="long_term",
            counterpart={"authority": "claimed_higher", "experience": "experienced"},
        )
    )
    assert "authority.provoke" not in advice.tactics
    aside = advice.set_aside_for("authority.provoke")
    assert aside is not None and aside.reason


def test_a_claimed_superior_gets_asked_for_a_recommendation_and_a_chain_of_easy_premises() -> None:
    advice = advise(state(phase="bargaining", counterpart={"authority": "claimed_higher", "authority_claims": 1}))
    assert {"authority.ask_to_recommend", "authority.set_easy_premises"} <= set(advice.tactics)
    rec = advice.get("authority.ask_to_recommend")
    assert rec is not None and "a superior must approve" in rec.rationale
    assert ("counterpart.authority", "claimed_higher") in {(f.path, f.value) for f in rec.basis}


def test_a_negotiator_who_hesitates_within_limited_authority_gets_easy_premises() -> None:
    advice = advise(state(phase="bargaining", counterpart={"authority": "limited"}))
    rec = advice.get("authority.set_easy_premises")
    assert rec is not None and "limited" in rec.rationale


def test_an_experienced_buyer_who_keeps_invoking_the_general_manager_gets_tit_for_tat() -> None:
    """The source: "If the other party keeps using this tactic, we can indicate that we also need to ask
    our superiors"."""
    advice = advise(
        state(
            phase="bargaining",
            counterpart={"authority": "claimed_higher", "authority_claims": 3, "experience": "experienced"},
        )
    )
    rec = advice.get("authority.tit_for_tat")
    assert rec is not None and "3 times" in rec.rationale
    assert advice.rank_of("authority.tit_for_tat") < advice.rank_of("authority.set_easy_premises")


def test_two_authority_claims_in_the_history_count_as_repeated_invocation() -> None:
    advice = advise(state(phase="bargaining", history=claims(2)))
    rec = advice.get("authority.tit_for_tat")
    assert rec is not None and "2 times" in rec.rationale
    assert "authority.ask_to_recommend" in advice.tactics  # the claim itself is derived too


def test_a_single_claim_or_claims_made_by_us_are_not_answered_in_kind() -> None:
    assert "authority.tit_for_tat" not in advise(state(phase="bargaining", history=claims(1))).tactics
    ours = [{"kind": "authority_claimed", "by": "us"}] * 2
    assert "authority.tit_for_tat" not in advise(state(phase="bargaining", history=ours)).tactics


def test_with_a_party_we_do_not_trust_a_claimed_superior_is_verified_through_someone_else() -> None:
    """004: verify with another person in the customer's company or a third party."""
    advice = advise(state(phase="opening", trust="low", counterpart={"authority": "claimed_higher"}))
    rec = advice.get("trust.verify_authority")
    assert rec is not None
    assert "do not trust them" in rec.rationale and "unless someone else has confirmed" in rec.rationale
    facts = {(fact.path, fact.value) for fact in rec.basis}
    assert {("trust", "low"), ("counterpart.authority", "claimed_higher")} <= facts
    assert TRUST_DOC in {s.document for s in rec.sources}


def test_verifying_authority_already_confirmed_through_someone_else_is_set_aside() -> None:
    advice = advise(
        state(phase="opening", trust="low", counterpart={"authority": "claimed_higher", "authority_verified": True})
    )
    assert "trust.verify_authority" not in advice.tactics
    aside = advice.set_aside_for("trust.verify_authority")
    assert aside is not None and aside.reason


def test_every_authority_move_cites_the_imaginary_authority_document() -> None:
    advice = advise(
        state(
            phase="bargaining",
            counterpart={"authority": "claimed_higher", "authority_claims": 2, "experience": "experienced"},
        )
    )
    moves = [r for r in advice.recommendations if r.tactic.startswith("authority.")]
    assert len(moves) >= 5
    assert all(s.document == AUTHORITY_DOC for r in moves for s in r.sources)
