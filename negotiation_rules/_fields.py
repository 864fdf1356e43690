"""The paths a rule condition may name, read off the state model so the two never drift apart."""

from __future__ import annotations

import itertools
import math
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from ._state import Event, Issue, NegotiationState

Kind = Literal["enum", "bool", "int", "float", "str", "list"]

#: How enums spell "not known"; booleans and counts use ``None``.
UNKNOWN = "unknown"

#: Conditions name derived situations as ``situation.<id>``.
SITUATION_PREFIX = "situation."

#: ``{field}`` in a rationale: the state's value is put there when the advice is worded.
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

#: In a text field's domain: a value equal to none of the texts the rules compare it with.
OTHER_TEXT = "\x00other"


#: How an error names what a number field takes.
NUMBER_WORDS = {"int": "a whole number", "float": "a number"}


@dataclass(frozen=True)
class FieldSpec:
    """One condition path: its kind, its allowed values (enums), whether it may be missing."""

    path: str
    kind: Kind
    choices: tuple[str, ...] = ()
    optional: bool = False
    item_model: type[BaseModel] | None = None
    #: The bounds the state model sets on a number (``ge``/``le``), if any.
    low: float | None = None
    high: float | None = None

    @property
    def can_be_unknown(self) -> bool:
        """Whether the user may leave it unknown (``"unknown"`` enum value or ``None``)."""
        return self.optional or UNKNOWN in self.choices

    @property
    def known_choices(self) -> tuple[str, ...]:
        """The enum values that state something (every choice but ``"unknown"``)."""
        return tuple(c for c in self.choices if c != UNKNOWN)

    def is_unknown(self, value: Any) -> bool:
        """Whether ``value`` means "not known" for this field."""
        return value is None or (value == UNKNOWN and self.kind == "enum")

    @property
    def fact_key(self) -> str:
        """The flat key this path has in an engine fact (durable-rules matches flat names best)."""
        return self.path.replace(".", "__")

    # -- the values it can take ------------------------------------------------------------------

    @cached_property
    def closed_values(self) -> tuple[Any, ...] | None:
        """Every known value of an enum or a boolean (``(False, True)``); None for numbers and text."""
        if self.kind == "enum":
            return self.known_choices
        if self.kind == "bool":
            return (False, True)
        return None

    @property
    def domain_size(self) -> int | None:
        """How many values the compiler counts for the field: an enum's choices as written, 2 for a boolean."""
        if self.kind == "enum":
            return len(self.choices)
        return 2 if self.kind == "bool" else None

    def allows(self, value: float) -> bool:
        """Whether a number lies within the field's bounds (``ge``/``le`` of the state model)."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def values(self, constants: Iterable[Any] = (), *, unknown: bool = True) -> tuple[Any, ...]:
        """Values that together give every test comparing this field with ``constants`` each outcome it can have.

        Enums and booleans: every known value. Numbers: the cut points around and between the
        constants, within the field's bounds. Text: the constants and one other text
        (``OTHER_TEXT``). ``None`` (unknown: absent from the fact) comes last when the field
        may be unknown and ``unknown`` is True.
        """
        none = (None,) if unknown and self.can_be_unknown else ()
        if self.closed_values is not None:
            return (*self.closed_values, *none)
        if self.kind in ("int", "float"):
            numbers = [c for c in constants if _is_number(c)]
            return (*cut_points(numbers, integer=self.kind == "int", low=self.low), *none)
        texts = dict.fromkeys(c for c in constants if isinstance(c, str))
        return (*texts, OTHER_TEXT, *none)


def _is_number(value: Any) -> bool:
    """A number a comparison can use: not a boolean, not NaN."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def cut_points(constants: Iterable[float], *, integer: bool, low: float | None = None) -> list[float]:
    """Points around and between the constants: enough to give every comparison with them each outcome.

    Whole numbers get c-1, c, c+1 around each (floored and ceiled); other numbers c-1, c, c+1 and
    the midpoints between neighbours. With a lower bound, points below it give way to the bound.
    """
    points: set[float] = set()
    values = sorted(set(constants))
    for c in values:
        if integer:
            points |= {math.floor(c) - 1, math.floor(c), math.ceil(c), math.ceil(c) + 1}
        else:
            points |= {c - 1, c, c + 1}
    if not integer:
        points |= {(a + b) / 2 for a, b in itertools.pairwise(values)}
    if low is not None:
        points = {p for p in points if p >= low} | {low}
    elif not points:
        points = {0}
    return sorted(points)


def _spec(path: str, annotation: Any, metadata: Iterable[Any] = ()) -> FieldSpec:
    optional = False
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        annotation = args[0]
        origin = get_origin(annotation)
    if origin is Literal:
        return FieldSpec(path, "enum", tuple(str(a) for a in get_args(annotation)), optional)
    if origin is list:
        (item,) = get_args(annotation)
        return FieldSpec(path, "list", optional=optional, item_model=item)
    kind: Kind = {bool: "bool", int: "int", float: "float"}.get(annotation, "str")  # type: ignore[assignment]
    low, high = _bound(metadata, "ge"), _bound(metadata, "le")
    return FieldSpec(path, kind, optional=optional, low=low, high=high)


def _bound(metadata: Iterable[Any], name: str) -> float | None:
    """A field's ``ge`` or ``le`` from its pydantic metadata, if it has one."""
    for meta in metadata:
        value = getattr(meta, name, None)
        if value is not None:
            return float(value)
    return None


def _walk(model: type[BaseModel], prefix: str) -> dict[str, FieldSpec]:
    out: dict[str, FieldSpec] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_walk(annotation, f"{path}."))
        else:
            out[path] = _spec(path, annotation, field.metadata)
    return out


@cache
def state_fields() -> dict[str, FieldSpec]:
    """Every dotted path of NegotiationState a condition may name (nested models flattened)."""
    return _walk(NegotiationState, "")


@cache
def item_fields(model: type[BaseModel]) -> dict[str, FieldSpec]:
    """The fields of one list item (an Issue or an Event), for ``count: {where: ...}``."""
    if model not in (Issue, Event):
        raise KeyError(model)
    return _walk(model, "")


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted path of a model (``counterpart.authority``)."""
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
