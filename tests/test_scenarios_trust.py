"""Scenarios from the source on negotiating with somebody you don't trust (004).

Move slowly in small increments; at the agreement, control the notes and the recap, put a name
against every item, and sequence "if you will, then I will"; before negotiating, verify through
someone else that the person can actually commit.
"""

from __future__ import annotations

import pytest

from negotiation_rules import advise

TRUST_DOC = "004_8875d33a9d272d34.txt"
AGREEMENT = {"trust.control_documentation", "trust.assign_owners", "trust.reciprocal_sequencing"}
TRUST = AGREEMENT | {"trust.small_increments", "trust.verify_authority"}


def state(**kw: object) -> dict[str, object]:
    return {**kw}


@pytest.mark.parametrize("phase", ["opening", "bargaining"])
def test_with_someone_we_do_not_trust_we_move_slowly_in_small_increments(phase: str) -> None:
    rec = advise(state(phase=phase, trust="low")).get("trust.small_increments")
    assert rec is not None
    assert rec.rationale.startswith("We do not trust them")
    assert ("trust", "low") in {(fact.path, fact.value) for fact in rec.basis}


@pytest.mark.parametrize("phase", ["closing", "post_agreement"])
def test_reaching_an_agreement_with_someone_we_do_not_trust_we_hold_the_pen_name_owners_and_sequence_steps(
    phase: str,
) -> None:
    advice = advise(state(phase=phase, trust="low"))
    assert set(advice.tactics) >= AGREEMENT
    for tactic in AGREEMENT:
        rec = advice.get(tactic)
        assert "do not trust them" in rec.rationale, tactic
        assert {("trust", "low"), ("phase", phase)} <= {(fact.path, fact.value) for fact in rec.basis}, tactic


def test_at_the_agreement_we_first_hold_the_pen_then_name_owners_then_sequence_the_steps() -> None:
    """004: "First is to make sure you control the note taking process", then a name on every item,
    then "if you will, then I will"."""
    advice = advise(state(phase="closing", trust="low"))
    ranks = [
        advice.rank_of(t) for t in ("trust.control_documentation", "trust.assign_owners", "trust.reciprocal_sequencing")
    ]
    assert ranks == sorted(ranks) and ranks[0] == 1


@pytest.mark.parametrize("authority", ["unknown", "claimed_higher"])
def test_before_negotiating_with_someone_we_do_not_trust_we_verify_they_are_empowered(authority: str) -> None:
    rec = advise(state(phase="opening", trust="low", counterpart={"authority": authority})).get(
        "trust.verify_authority"
    )
    assert rec is not None and "unless someone else has confirmed that they can decide" in rec.rationale
    # The basis names the authority only when it is known (a claim), never the unknown.
    authority_facts = [fact.value for fact in rec.basis if fact.path == "counterpart.authority"]
    assert authority_facts == ([] if authority == "unknown" else [authority])


def test_verifying_authority_weighs_most_before_the_talks_and_less_once_they_are_under_way() -> None:
    """004: verify "before you begin negotiating"; finding out "during or after" is the risk, so the
    check stays, at a lower rank, once bargaining has started (their own "full" included)."""
    early = advise(state(phase="opening", trust="low", counterpart={"authority": "full"})).get("trust.verify_authority")
    late = advise(state(phase="bargaining", trust="low", counterpart={"authority": "full"})).get(
        "trust.verify_authority"
    )
    assert early is not None and late is not None
    assert early.score > late.score


def test_verification_is_set_aside_once_someone_else_has_confirmed_their_authority() -> None:
    advice = advise(state(phase="opening", trust="low", counterpart={"authority_verified": True}))
    assert "trust.verify_authority" not in advice.tactics
    aside = advice.set_aside_for("trust.verify_authority")
    assert aside is not None and aside.reason


def test_verifying_their_power_comes_before_our_first_small_step() -> None:
    """The source: "Before you begin negotiating with this person you don't trust you must be able to verify"."""
    advice = advise(state(phase="opening", trust="low"))
    assert advice.rank_of("trust.verify_authority") < advice.rank_of("trust.small_increments")


def test_with_a_party_we_trust_none_of_the_distrust_precautions_apply() -> None:
    for phase in ("opening", "bargaining", "closing", "post_agreement"):
        assert not TRUST & set(advise(state(phase=phase, trust="medium")).tactics), phase


def test_with_trust_unknown_none_of_the_distrust_precautions_apply() -> None:
    """Contract 0.2: an unknown trust is never read as low."""
    for phase in ("preparation", "opening", "bargaining", "closing", "post_agreement"):
        assert not TRUST & set(advise(state(phase=phase)).tactics), phase


def test_every_trust_move_cites_the_sales_hunter_document_and_its_section() -> None:
    moves = [
        r
        for phase in ("opening", "closing")
        for r in advise(state(phase=phase, trust="low")).recommendations
        if r.tactic in TRUST
    ]
    assert {r.tactic for r in moves} == TRUST
    sections = {r.tactic: r.sources[0].section for r in moves}
    assert sections["trust.reciprocal_sequencing"] == "if you will, then I will"
    assert sections["trust.verify_authority"] == "you must be able to verify with another person"
    assert all(r.sources[0].document == TRUST_DOC for r in moves)
