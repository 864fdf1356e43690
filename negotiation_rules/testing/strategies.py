"""Hypothesis strategies for valid negotiation states (needs the ``test`` extra: hypothesis).

``states(**fixed)`` draws any valid NegotiationState; keyword arguments pin fields, e.g.
``states(phase="bargaining", trust="low")`` or ``states(counterpart=Counterpart(...))``.
Every field a user may leave unknown is drawn unknown too (``"unknown"`` or ``None``), so
properties are checked on the partial states real users send.
"""

from __future__ import annotations

from typing import Any, get_args

from hypothesis import strategies as st

from .._state import EVENT_KINDS, Counterpart, Event, Issue, NegotiationState, Phase

maybe_bool = st.none() | st.booleans()


def _literal(model: type[Any], name: str) -> st.SearchStrategy[Any]:
    return st.sampled_from(get_args(model.model_fields[name].annotation))


def counterparts(**fixed: Any) -> st.SearchStrategy[Counterpart]:
    """Any valid Counterpart, with ``fixed`` fields pinned."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "authority": _literal(Counterpart, "authority"),
        "authority_verified": maybe_bool,
        "authority_claims": st.integers(0, 5),
        "experience": _literal(Counterpart, "experience"),
        "known_weakness": maybe_bool,
        "researched": maybe_bool,
        "style_known": maybe_bool,
    }
    fields.update({k: st.just(v) for k, v in fixed.items()})
    return st.builds(Counterpart, **fields)


numbers = st.none() | st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
names = st.sampled_from(["price", "rebate", "volume", "payment_terms", "delivery"])

issues = st.builds(
    Issue, name=names, our_target=numbers, our_limit=numbers, their_position=numbers, unit=st.none() | st.just("EUR")
)

events = st.builds(
    Event,
    kind=st.sampled_from(EVENT_KINDS),
    by=st.sampled_from(["us", "them"]),
    phase=st.none() | st.sampled_from(get_args(Phase)),
    issue=st.none() | names,
    value=numbers,
    note=st.none() | st.text(max_size=20),
)


def states(**fixed: Any) -> st.SearchStrategy[NegotiationState]:
    """Any valid NegotiationState; ``fixed`` pins fields (values, or strategies for them)."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "phase": _literal(NegotiationState, "phase"),
        "our_side": _literal(NegotiationState, "our_side"),
        "trust": _literal(NegotiationState, "trust"),
        "relationship": _literal(NegotiationState, "relationship"),
        "outlook": _literal(NegotiationState, "outlook"),
        "deadlock": st.booleans(),
        "alternatives": st.none() | st.integers(0, 4),
        "our_time_pressure": _literal(NegotiationState, "our_time_pressure"),
        "their_time_pressure": _literal(NegotiationState, "their_time_pressure"),
        "bottom_line_set": maybe_bool,
        "top_leader_available": maybe_bool,
        "counterpart": counterparts(),
        "issues": st.lists(issues, max_size=4),
        "history": st.lists(events, max_size=6),
    }
    for key, value in fixed.items():
        if key not in fields:
            raise TypeError(f"NegotiationState has no field '{key}'")
        fields[key] = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.builds(NegotiationState, **fields)


st.register_type_strategy(NegotiationState, states())
