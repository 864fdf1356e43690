"""The input contract: NegotiationState, defaults, and StateError naming the field path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from negotiation_rules import Counterpart, Event, NegotiationState, StateError, advise
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._facts import effective_state
from negotiation_rules._state import MAX_HISTORY, parse_event, parse_state


def test_an_empty_state_means_nothing_known_yet() -> None:
    s = NegotiationState()
    assert (s.phase, s.our_side, s.trust, s.relationship, s.outlook) == (
        "preparation",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
    )
    assert (s.deadlock, s.alternatives, s.bottom_line_set, s.top_leader_available) == (False, None, None, None)
    assert s.our_time_pressure == s.their_time_pressure == "unknown"
    assert s.counterpart == Counterpart()
    assert s.counterpart.authority == "unknown" and s.counterpart.authority_claims == 0
    assert s.issues == [] and s.history == []


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_built_in_example_is_exactly_its_validated_copy(name: str) -> None:
    """The examples are made without validation (start-up): the same values, types and fields set as validated."""
    state = EXAMPLES[name][1]
    validated = NegotiationState.model_validate_json(state.model_dump_json(exclude_unset=True))
    assert repr(validated) == repr(state)  # 5000.0, not 5000: the types too
    assert validated.model_dump_json(exclude_unset=True) == state.model_dump_json(exclude_unset=True)
    assert validated.model_dump_json() == state.model_dump_json() and validated == state


def test_a_dict_and_json_text_are_validated_like_the_model() -> None:
    data = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}
    assert parse_state(data) == parse_state(json.dumps(data)) == NegotiationState.model_validate(data)


def test_a_state_is_immutable() -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        NegotiationState().phase = "closing"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({"phase": "bargainin"}, "phase", "did you mean 'bargaining'"),
        ({"trsut": "low"}, "trsut", "did you mean 'trust'"),
        ({"counterpart": {"authority": "boss"}}, "counterpart.authority", "not one of"),
        ({"counterpart": {"autority": "full"}}, "counterpart.autority", "did you mean 'authority'"),
        ({"alternatives": -1}, "alternatives", "must be 0 or more"),
        ({"alternatives": "many"}, "alternatives", "whole number"),
        ({"history": [{"kind": "offer", "by": "me"}]}, "history[0].by", "not one of 'us' or 'them'"),
        ({"history": [{"kind": "offer"}]}, "history[0].by", "required"),
        ({"issues": [{"name": "price", "our_target": "cheap"}]}, "issues[0].our_target", "number"),
        ({"issues": [{"name": "price", "our_target": float("nan")}]}, "issues[0].our_target", "finite"),
        ({"deadlock": "maybe"}, "deadlock", "true or false"),
    ],
)
def test_a_bad_state_raises_state_error_naming_the_field(data: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(StateError) as info:
        advise(data)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", "42", 42, None, ["phase"], b"{", "{" * 100_000])
def test_input_that_is_not_an_object_is_a_state_error(bad: object) -> None:
    with pytest.raises(StateError):
        advise(bad)  # type: ignore[arg-type]


def test_a_history_longer_than_the_bound_is_refused_not_slow() -> None:
    history = [{"kind": "offer", "by": "us"}] * (MAX_HISTORY + 1)
    with pytest.raises(StateError, match="history"):
        advise({"history": history})


def test_events_are_validated_on_their_own() -> None:
    assert parse_event({"kind": "concession", "by": "us", "value": 2.0}) == Event(kind="concession", by="us", value=2.0)
    with pytest.raises(StateError) as info:
        parse_event({"kind": "concession", "by": "both"})
    assert info.value.path == "event.by"


def test_authority_claims_in_the_history_count_into_the_counterpart() -> None:
    state = NegotiationState(history=[Event(kind="authority_claimed", by="them")] * 3)
    eff = effective_state(state)
    assert eff.counterpart.authority_claims == 3
    assert eff.counterpart.authority == "claimed_higher"


def test_the_history_never_lowers_what_the_state_says() -> None:
    state = NegotiationState(
        counterpart=Counterpart(authority="limited", authority_claims=5),
        history=[Event(kind="authority_claimed", by="them")],
    )
    eff = effective_state(state)
    assert eff.counterpart.authority_claims == 5 and eff.counterpart.authority == "limited"


def test_a_claim_by_us_is_not_counted_as_theirs() -> None:
    eff = effective_state(NegotiationState(history=[Event(kind="authority_claimed", by="us")]))
    assert eff.counterpart.authority_claims == 0 and eff.counterpart.authority == "unknown"


def test_the_latest_deadlock_or_agreement_event_sets_deadlock() -> None:
    stuck = NegotiationState(history=[Event(kind="agreement", by="them"), Event(kind="deadlock", by="them")])
    settled = NegotiationState(history=[Event(kind="deadlock", by="them"), Event(kind="agreement", by="us")])
    assert effective_state(stuck).deadlock is True
    assert effective_state(settled).deadlock is False


@pytest.mark.parametrize(
    ("state", "path", "message"),
    [
        ({"alternatives": -1}, "alternatives", "must be 0 or more, got -1"),
        ({"issues": [{}]}, "issues[0].name", "required: this field must be given"),
        ({"issues": [{"name": "a"}] * 1001}, "issues", "at most 1,000 items, got 1,001"),
    ],
)
def test_a_bound_or_a_missing_field_is_worded_by_the_library_not_by_pydantic(
    state: dict[str, Any], path: str, message: str
) -> None:
    """From the newcomer review: these read 'Input should be greater than or equal to 0' and 'Field required'."""
    with pytest.raises(StateError) as info:
        advise(state)
    assert info.value.path == path and info.value.reason == message
