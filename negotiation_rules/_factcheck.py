"""A last check of each value that reaches durable-rules, whatever built the state.

pydantic validates a state when it is made, but ``state.model_copy(update=...)`` skips
validation, so a NaN, a huge number, an object or a word outside an enum can reach the
engine, where it used to fail inside durable-rules (an ``EngineError``) or worse. The engine
calls ``FactCheck`` on each value it encodes (booleans, the common case, are let through
before it is called); a bad value is a ``StateError`` naming the field, like any bad input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ._conditions import Count
from ._errors import StateError
from ._fields import state_fields
from ._history import TRENDS

#: Whole numbers beyond this are not compared exactly by durable-rules (it reads numbers as doubles).
MAX_NUMBER = 2**53
#: Longest text value the engine is given.
MAX_TEXT = 10_000


def excerpt(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of any value for an error message (never the whole of a huge input)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"a whole number of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails is still named by its type
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class FactCheck:
    """``check(key, value)`` for the flat fact keys of the state, its counts and trends."""

    def __init__(self, counts: Iterable[Count] = ()) -> None:
        self._specs: dict[str, tuple[str, str, frozenset[str]]] = {
            spec.fact_key: (spec.path, spec.kind, frozenset(spec.choices)) for spec in state_fields().values()
        }
        for name in TRENDS:
            self._specs[f"trend__{name}"] = ("history", "bool", frozenset())
        for count in counts:
            self._specs[count.key] = (count.path, "count", frozenset())

    def __call__(self, key: str, value: Any) -> None:
        """Raise StateError (naming the field) unless ``value`` is one the field can hold."""
        if value is None:
            return
        path, kind, choices = self._specs.get(key, (key.replace("__", "."), "", frozenset()))
        kind_of = type(value)
        if kind == "enum":
            ok = kind_of is str and value in choices
        elif kind == "bool":
            ok = kind_of is bool
        elif kind in ("int", "count"):
            ok = kind_of is int and -MAX_NUMBER < value < MAX_NUMBER
        elif kind == "float":
            ok = kind_of in (int, float) and math.isfinite(value) and -MAX_NUMBER < value < MAX_NUMBER
        elif kind == "str":
            ok = kind_of is str and len(value) <= MAX_TEXT
        else:  # a key no field describes: a plain, bounded scalar
            ok = (
                (kind_of is str and len(value) <= MAX_TEXT)
                or kind_of is bool
                or (kind_of in (int, float) and math.isfinite(value) and -MAX_NUMBER < value < MAX_NUMBER)
            )
        if not ok:
            raise StateError(
                f"{excerpt(value)} is not a valid {kind or 'value'} for this field"
                " (was the state changed without validation, e.g. model_copy(update=...)?)",
                path,
            )
