"""The input: a validated, immutable negotiation state (pydantic v2), exactly as the contract (0.2) says.

Unknown is not false: every field a user may not know defaults to unknown (``"unknown"`` for
enums, ``None`` for booleans and counts), and no rule reads an unknown as a known value.
Types are strict: ``"2"`` is not a number and ``"yes"`` is not a boolean.
"""

# No ``from __future__ import annotations`` here: pydantic would have to evaluate every field's
# annotation from its text when the class is made, which costs start-up time.

import json
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._deferred import build_before_fork
from ._errors import StateError, did_you_mean

Phase = Literal["preparation", "opening", "bargaining", "closing", "post_agreement"]
Side = Literal["buyer", "seller", "unknown"]
Level = Literal["low", "medium", "high", "unknown"]
Relationship = Literal["one_off", "long_term", "unknown"]
Outlook = Literal["winning", "even", "losing", "unknown"]
Authority = Literal["unknown", "full", "limited", "claimed_higher"]
Experience = Literal["novice", "experienced", "unknown"]
Party = Literal["us", "them"]
#: The closed vocabulary of history events (docs/concepts.md says what each one derives).
EventKind = Literal["authority_claimed", "offer", "concession", "deadlock", "agreement", "deadline_set", "note"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)

#: Unknown field names whose closest spelling means something else: point to the right fields instead.
MISLEADING_NAMES = {
    "deadline": "a deadline is time pressure: use 'our_time_pressure' / 'their_time_pressure',"
    " or a 'deadline_set' event in the history",
    "deadlines": "a deadline is time pressure: use 'our_time_pressure' / 'their_time_pressure',"
    " or a 'deadline_set' event in the history",
    "time_pressure": "say whose: 'our_time_pressure' or 'their_time_pressure'",
}

#: Bounds that keep one call cheap; larger inputs are refused with a StateError, never slowed down.
MAX_HISTORY = 10_000
MAX_ISSUES = 1_000
MAX_TEXT = 2_000
MAX_INPUT_BYTES = 5_000_000


class _Model(BaseModel):
    # defer_build: pydantic builds the validators on the first state validated, not at import
    # (the first model built also makes pydantic scan the installed packages for its plugins)
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, str_max_length=MAX_TEXT, defer_build=True
    )


class Counterpart(_Model):
    """What we know about the other side and their negotiator."""

    authority: Authority = "unknown"
    authority_verified: bool | None = None
    authority_claims: int = Field(default=0, ge=0, le=1_000_000)
    experience: Experience = "unknown"
    known_weakness: bool | None = None
    researched: bool | None = None
    style_known: bool | None = None


class Issue(_Model):
    """One point under negotiation (price, rebate, volume, payment terms ...)."""

    name: str = Field(min_length=1)
    our_target: float | None = None
    our_limit: float | None = None
    their_position: float | None = None
    unit: str | None = None


class Event(_Model):
    """One thing that happened in the negotiation, by us or by them."""

    kind: EventKind
    by: Party
    phase: Phase | None = None
    issue: str | None = None
    value: float | None = None
    note: str | None = None


class NegotiationState(_Model):
    """The current state of a negotiation; ``NegotiationState()`` means "nothing known yet"."""

    phase: Phase = "preparation"
    our_side: Side = "unknown"
    trust: Level = "unknown"
    relationship: Relationship = "unknown"
    outlook: Outlook = "unknown"
    deadlock: bool = False
    alternatives: int | None = Field(default=None, ge=0, le=1_000_000)
    our_time_pressure: Level = "unknown"
    their_time_pressure: Level = "unknown"
    bottom_line_set: bool | None = None
    top_leader_available: bool | None = None
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


#: Strict type errors, in the words of the contract (``"2"`` is not a number, ``"yes"`` not a boolean).
_TYPE_ERRORS = {
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "string_type": "expected text",
    "list_type": "expected a list",
    "model_type": "expected an object",
    "dict_type": "expected an object",
    "model_attributes_type": "expected an object",
}


def _shown(value: object) -> str:
    """A short, bounded rendering of a rejected input value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def error_message(err: Mapping[str, Any], model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    """One pydantic error in the library's words: did-you-mean, strict types, the hint for misleading names."""
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc) if model is not None else None
        name = str(loc[-1]) if loc else ""
        if name in MISLEADING_NAMES:
            hint = f" ({MISLEADING_NAMES[name]})"
        else:
            hint = did_you_mean(name, owner.model_fields) if owner else ""
        return f"unknown field{hint}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",")]
        shown = _shown(err.get("input"))
        return f"{shown} is not one of {expected}{did_you_mean(str(err.get('input'))[:200], choices)}"
    if kind in _TYPE_ERRORS:
        return f"{_TYPE_ERRORS[kind]}, got {_shown(err.get('input'))} (values are not converted between types)"
    ctx = err.get("ctx", {})
    if kind in _BOUND_ERRORS:
        words, key = _BOUND_ERRORS[kind]
        got = f"{ctx['actual_length']:,}" if "actual_length" in ctx else _shown(err.get("input"))
        return f"{words.format(ctx.get(key, '?'))}, got {got}"
    if kind == "missing":
        return "required: this field must be given"
    return str(err["msg"])


#: pydantic's bound errors in the library's words (``{}`` is the bound) and the context key of the bound.
_BOUND_ERRORS = {
    "greater_than_equal": ("must be {} or more", "ge"),
    "greater_than": ("must be more than {}", "gt"),
    "less_than_equal": ("must be {} or less", "le"),
    "less_than": ("must be less than {}", "lt"),
    "string_too_long": ("at most {:,} characters", "max_length"),
    "too_long": ("at most {:,} items", "max_length"),
}


def state_error_from(exc: ValidationError, model: type[BaseModel]) -> StateError:
    """Turn pydantic's error into one StateError naming the first bad field and the fix."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    path = _path(loc) or "state"
    message = error_message(err, model, loc)
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
        try:  # valid text in one step, without building the dict first
            return NegotiationState.model_validate_json(state)
        except (ValueError, RecursionError):
            pass  # invalid: the two-step path below words the error exactly as it always has
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


build_before_fork(Counterpart, Issue, Event, NegotiationState)
