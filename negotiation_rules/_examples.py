"""Built-in example states, one per source situation, for the demo and for trying things out.

They are constants, made with pydantic's ``model_construct`` rather than validated on every
start (validating them would make pydantic build the state models and scan the installed
packages for its plugins before the demo can print anything): each value is written as
validation returns it (``5000.0`` for a number), and tests/test_state.py checks that every
example is exactly its validated copy.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from ._state import Counterpart, Event, Issue, NegotiationState

M = TypeVar("M", bound=BaseModel)


def _made(model: type[M], **given: Any) -> M:
    """An example part from values already in their validated form (the fields given are its fields set).

    Every field is passed, in the model's order (so its dump reads as a validated one's on every
    pydantic version); a nested model left out gets its default made the same way (its default
    factory would validate).
    """
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        factory = info.default_factory
        if name in given:
            values[name] = given[name]
        elif isinstance(factory, type) and issubclass(factory, BaseModel):
            values[name] = factory.model_construct()
        else:
            values[name] = info.get_default(call_default_factory=True)
    return model.model_construct(set(given), **values)


EXAMPLES: dict[str, tuple[str, NegotiationState]] = {
    "preparation": (
        "Before the first meeting with a new distributor: three issues on the table, nothing researched yet.",
        _made(
            NegotiationState,
            phase="preparation",
            issues=[
                _made(Issue, name="price", our_target=120.0, our_limit=105.0, unit="EUR/unit"),
                _made(Issue, name="volume", our_target=5000.0, unit="units/year"),
                _made(Issue, name="payment_terms", our_target=30.0, our_limit=60.0, unit="days"),
            ],
        ),
    ),
    "imaginary_authority": (
        "An experienced buyer keeps saying their general manager must approve the price.",
        _made(
            NegotiationState,
            phase="bargaining",
            counterpart=_made(Counterpart, authority="claimed_higher", experience="experienced"),
            bottom_line_set=True,
            history=[
                _made(Event, kind="offer", by="us", issue="price", value=118.0),
                _made(Event, kind="authority_claimed", by="them", note="Our GM has to sign off on this."),
                _made(Event, kind="authority_claimed", by="them", note="I'll need to check with the GM again."),
            ],
        ),
    ),
    "stuck_with_supplier": (
        "We buy; talks with a supplier are deadlocked, we have other suppliers and they need the order soon.",
        _made(
            NegotiationState,
            phase="bargaining",
            our_side="buyer",
            relationship="one_off",
            deadlock=True,
            alternatives=2,
            their_time_pressure="high",
            our_time_pressure="low",
            top_leader_available=True,
            bottom_line_set=True,
            counterpart=_made(Counterpart, known_weakness=True, authority="full"),
        ),
    ),
    "losing_the_rebate": (
        "Annual contract renewal: the dealer insists on a 2% rebate and a loss on it is all but certain.",
        _made(
            NegotiationState,
            phase="closing",
            outlook="losing",
            relationship="long_term",
            deadlock=True,
            bottom_line_set=True,
            issues=[_made(Issue, name="sales_rebate", our_target=1.0, our_limit=2.0, their_position=2.0, unit="%")],
        ),
    ),
    "winning_the_close": (
        "We are closing a deal that went our way with a customer we want to keep.",
        _made(
            NegotiationState,
            phase="closing",
            outlook="winning",
            relationship="long_term",
            bottom_line_set=True,
            counterpart=_made(Counterpart, authority="full"),
        ),
    ),
    "untrusted_partner": (
        "Agreement is near with a party we do not trust to deliver; nobody has confirmed their mandate.",
        _made(NegotiationState, phase="closing", trust="low", relationship="one_off", bottom_line_set=True),
    ),
}


def example(name: str) -> NegotiationState:
    """One example state by name (KeyError lists the names)."""
    try:
        return EXAMPLES[name][1]
    except KeyError:
        raise KeyError(f"no example '{name}'; choose one of: {', '.join(EXAMPLES)}") from None
