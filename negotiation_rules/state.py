"""The input: a validated, immutable negotiation state (pydantic v2), exactly as the contract says."""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import StateError, did_you_mean

Phase = Literal["preparation", "opening", "bargaining", "closing", "post_agreement"]
Side = Literal["buyer", "seller"]
Level = Literal["low", "medium", "high"]
Relationship = Literal["one_off", "long_term"]
Outlook = Literal["winning", "even", "losing", "unknown"]
Authority = Literal["unknown", "full", "limited", "claimed_higher"]
Experience = Literal["novice", "experienced", "unknown"]
Party = Literal["us", "them"]

#: Bounds that keep one call cheap; larger inputs are refused with a StateError, never slowed down.
MAX_HISTORY = 10_000
MAX_ISSUES = 1_000
MAX_TEXT = 2_000
MAX_INPUT_BYTES = 5_000_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_max_length=MAX_TEXT)


class Counterpart(_Model):
    """What we know about the other side and their negotiator."""

    authority: Authority = "unknown"
    authority_verified: bool = False
    authority_claims: int = Field(default=0, ge=0, le=1_000_000)
    experience: Experience = "unknown"
    known_weakness: bool = False
    researched: bool = False
    style_known: bool = False


class Issue(_Model):
    """One point under negotiation (price, rebate, volume, payment terms ...)."""

    name: str = Field(min_length=1)
    our_target: float | None = None
    our_limit: float | None = None
    their_position: float | None = None
    unit: str | None = None


class Event(_Model):
    """One thing that happened in the negotiation, by us or by them."""

    kind: str = Field(min_length=1, max_length=100)
    by: Party
    phase: Phase | None = None
    issue: str | None = None
    value: float | None = None
    note: str | None = None


class NegotiationState(_Model):
    """The current state of a negotiation; ``NegotiationState()`` means "nothing known yet"."""

    phase: Phase = "preparation"
    our_side: Side = "seller"
    trust: Level = "medium"
    relationship: Relationship = "long_term"
    outlook: Outlook = "unknown"
    deadlock: bool = False
    alternatives: int = Field(default=0, ge=0, le=1_000_000)
    our_time_pressure: Level = "medium"
    their_time_pressure: Level = "medium"
    bottom_line_set: bool = False
    top_leader_available: bool = False
    counterpart: Counterpart = Field(default_factory=Counterpart)
    issues: list[Issue] = Field(default_factory=list, max_length=MAX_ISSUES)
    history: list[Event] = Field(default_factory=list, max_length=MAX_HISTORY)


def _path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as ``history[3].kind``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of ``loc`` (for "did you mean" on unknown keys)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        nxt: type[BaseModel] | None = None
        for arg in (field.annotation, *get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                nxt = arg
        current = nxt
    return current


def state_error_from(exc: ValidationError, model: type[BaseModel]) -> StateError:
    """Turn pydantic's error into one StateError naming the first bad field and the fix."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    path = _path(loc) or "state"
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        hint = did_you_mean(str(loc[-1]), owner.model_fields) if owner else ""
        message = f"unknown field{hint}"
    elif kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",")]
        message = f"{err['input']!r} is not one of {expected}{did_you_mean(str(err['input']), choices)}"
    else:
        message = err["msg"]
    extra = len(exc.errors()) - 1
    if extra:
        message += f" (and {extra} more error{'s' if extra > 1 else ''})"
    return StateError(message, path)


def parse_state(state: object) -> NegotiationState:
    """Accept a NegotiationState, a dict or JSON text; anything invalid raises StateError."""
    if isinstance(state, NegotiationState):
        return state
    data: Any = state
    if isinstance(state, (bytes, bytearray, str)):
        if len(state) > MAX_INPUT_BYTES:
            raise StateError(f"input is larger than {MAX_INPUT_BYTES} bytes", "state")
        try:
            data = json.loads(state)
        except (ValueError, RecursionError) as exc:
            raise StateError(f"not valid JSON: {exc}", "state") from None
    if not isinstance(data, dict):
        raise StateError(f"expected an object (dict or JSON object), got {type(data).__name__}", "state")
    try:
        return NegotiationState.model_validate(data)
    except ValidationError as exc:
        raise state_error_from(exc, NegotiationState) from None
    except RecursionError:
        raise StateError("input nested too deeply", "state") from None


def parse_event(event: object) -> Event:
    """Accept an Event or a dict of one; anything invalid raises StateError."""
    if isinstance(event, Event):
        return event
    if not isinstance(event, dict):
        raise StateError(f"expected an event object, got {type(event).__name__}", "event")
    try:
        return Event.model_validate(event)
    except ValidationError as exc:
        err = state_error_from(exc, Event)
        raise StateError(err.reason, f"event.{err.path}") from None
