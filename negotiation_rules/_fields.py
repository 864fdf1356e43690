"""The paths a rule condition may name, read off the state model so the two never drift apart."""

from __future__ import annotations

import types
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from ._state import Event, Issue, NegotiationState

Kind = Literal["enum", "bool", "int", "float", "str", "list"]

#: How enums spell "not known"; booleans and counts use ``None``.
UNKNOWN = "unknown"

#: Conditions name derived situations as ``situation.<id>``.
SITUATION_PREFIX = "situation."


@dataclass(frozen=True)
class FieldSpec:
    """One condition path: its kind, its allowed values (enums), whether it may be missing."""

    path: str
    kind: Kind
    choices: tuple[str, ...] = ()
    optional: bool = False
    item_model: type[BaseModel] | None = None

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


def _spec(path: str, annotation: Any) -> FieldSpec:
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
    return FieldSpec(path, kind, optional=optional)


def _walk(model: type[BaseModel], prefix: str) -> dict[str, FieldSpec]:
    out: dict[str, FieldSpec] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_walk(annotation, f"{path}."))
        else:
            out[path] = _spec(path, annotation)
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
