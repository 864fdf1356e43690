"""A stateful property test: random event sequences never break a negotiation, restoring it gives the
same advice, and its advice always equals a fresh advise() on the equivalent state."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from negotiation_rules import Event, Negotiation, StateError, advise
from negotiation_rules._history import trends
from negotiation_rules.testing.strategies import events

fields = st.sampled_from(
    [
        ("phase", ["opening", "bargaining", "closing"]),
        ("trust", ["low", "medium", "high"]),
        ("relationship", ["one_off", "long_term"]),
        ("alternatives", [0, 1, 3]),
        ("top_leader_available", [True, False]),
        ("outlook", ["winning", "losing", "unknown"]),
    ]
)


class NegotiationMachine(RuleBasedStateMachine):
    """Drive one Negotiation with random moves and compare it with stateless advice after each."""

    def __init__(self) -> None:
        super().__init__()
        self.n = Negotiation({"phase": "bargaining"})
        self.recorded: list[Event] = []

    @rule(event=events)
    def record(self, event: Event) -> None:
        self.n.record(event)
        self.recorded.append(event)

    @rule(
        kind=st.sampled_from(["concession", "deadlock", "authority_claimed"]),
        by=st.sampled_from(["us", "them"]),
        value=st.none() | st.sampled_from([1.0, 2.0, 3.0, 5.0]),
    )
    def record_common(self, kind: str, by: str, value: float | None) -> None:
        self.n.record(kind=kind, by=by, value=value)
        self.recorded.append(Event(kind=kind, by=by, value=value))  # type: ignore[arg-type]

    @rule(bad=st.sampled_from([{"kind": "offer", "by": "nobody"}, {"kind": "", "by": "us"}, {"by": "them"}]))
    def reject(self, bad: dict[str, Any]) -> None:
        before = self.n.to_json()
        try:
            self.n.record(bad)
        except StateError:
            pass
        else:  # pragma: no cover - must not happen
            raise AssertionError("an invalid event was accepted")
        assert self.n.to_json() == before

    @rule(change=fields, data=st.data())
    def update(self, change: tuple[str, list[Any]], data: st.DataObject) -> None:
        name, values = change
        self.n.update(**{name: data.draw(st.sampled_from(values))})

    @precondition(lambda self: len(self.recorded) % 3 == 0)
    @rule()
    def restore(self) -> None:
        restored = Negotiation.from_json(self.n.to_json())
        assert restored.advise() == self.n.advise()
        self.n.close()
        self.n = restored

    @invariant()
    def history_is_what_was_recorded(self) -> None:
        assert self.n.history == self.recorded

    @invariant()
    def advice_equals_a_fresh_advise_of_the_same_state(self) -> None:
        assert self.n.advise() == advise(self.n.state)

    @invariant()
    def trends_are_those_of_the_recorded_history(self) -> None:
        assert self.n.trends() == trends(self.recorded)

    def teardown(self) -> None:
        self.n.close()


NegotiationMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestNegotiationMachine = NegotiationMachine.TestCase
