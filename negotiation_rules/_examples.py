"""Built-in example states, one per source situation, for the demo and for trying things out."""

from __future__ import annotations

from ._state import Counterpart, Event, Issue, NegotiationState

EXAMPLES: dict[str, tuple[str, NegotiationState]] = {
    "preparation": (
        "Before the first meeting with a new distributor: three issues on the table, nothing researched yet.",
        NegotiationState(
            phase="preparation",
            issues=[
                Issue(name="price", our_target=120.0, our_limit=105.0, unit="EUR/unit"),
                Issue(name="volume", our_target=5000, unit="units/year"),
                Issue(name="payment_terms", our_target=30, our_limit=60, unit="days"),
            ],
        ),
    ),
    "imaginary_authority": (
        "An experienced buyer keeps saying their general manager must approve the price.",
        NegotiationState(
            phase="bargaining",
            counterpart=Counterpart(authority="claimed_higher", experience="experienced"),
            bottom_line_set=True,
            history=[
                Event(kind="offer", by="us", issue="price", value=118.0),
                Event(kind="authority_claimed", by="them", note="Our GM has to sign off on this."),
                Event(kind="authority_claimed", by="them", note="I'll need to check with the GM again."),
            ],
        ),
    ),
    "stuck_with_supplier": (
        "We buy; talks with a supplier are deadlocked, we have other suppliers and they need the order soon.",
        NegotiationState(
            phase="bargaining",
            our_side="buyer",
            relationship="one_off",
            deadlock=True,
            alternatives=2,
            their_time_pressure="high",
            our_time_pressure="low",
            top_leader_available=True,
            bottom_line_set=True,
            counterpart=Counterpart(known_weakness=True, authority="full"),
        ),
    ),
    "losing_the_rebate": (
        "Annual contract renewal: the dealer insists on a 2% rebate and a loss on it is all but certain.",
        NegotiationState(
            phase="closing",
            outlook="losing",
            relationship="long_term",
            deadlock=True,
            bottom_line_set=True,
            issues=[Issue(name="sales_rebate", our_target=1.0, our_limit=2.0, their_position=2.0, unit="%")],
        ),
    ),
    "winning_the_close": (
        "We are closing a deal that went our way with a customer we want to keep.",
        NegotiationState(
            phase="closing",
            outlook="winning",
            relationship="long_term",
            bottom_line_set=True,
            counterpart=Counterpart(authority="full"),
        ),
    ),
    "untrusted_partner": (
        "Agreement is near with a party we do not trust to deliver; nobody has confirmed their mandate.",
        NegotiationState(phase="closing", trust="low", relationship="one_off", bottom_line_set=True),
    ),
}


def example(name: str) -> NegotiationState:
    """One example state by name (KeyError lists the names)."""
    try:
        return EXAMPLES[name][1]
    except KeyError:
        raise KeyError(f"no example '{name}'; choose one of: {', '.join(EXAMPLES)}") from None
