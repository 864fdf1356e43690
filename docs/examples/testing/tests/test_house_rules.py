# tests/test_house_rules.py
"""Acme's rules as Python tests: the helpers, and a property that must hold for every state."""

from pathlib import Path

from hypothesis import given

from negotiation_rules import NegotiationState
from negotiation_rules.testing import Advisor, assert_recommends
from negotiation_rules.testing.strategies import states

PLAYBOOK = Path(__file__).parent.parent / "playbook.yaml"


@given(states(relationship="long_term"))
def test_our_playbook_never_recommends_an_ultimatum_to_a_long_term_partner(
    advisor: Advisor, state: NegotiationState
) -> None:
    advisor.assert_not_recommends(state, "pressure.ultimatum", playbook=PLAYBOOK)


def test_the_final_offer_comes_from_our_managing_director(advisor: Advisor) -> None:
    stuck = {"phase": "closing", "deadlock": True, "relationship": "one_off", "top_leader_available": True}
    advice = assert_recommends(stuck, "pressure.ultimatum", top=1, ruleset=advisor.ruleset, playbook=PLAYBOOK)
    assert "managing director" in advice.recommendations[0].move
