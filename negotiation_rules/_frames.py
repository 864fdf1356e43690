"""Advice for a table of negotiations: ``advise_frame(df)`` (pandas; optional extra ``dataframe``).

A row is one negotiation. Its cells are put into a state dict through a mapping from column
names to state paths (``counterpart.authority``), validated one row at a time (a bad row gets an
``error`` cell, the batch goes on), and the valid states are advised together by
``advise_many`` (which evaluates each distinct fact once). The result is a DataFrame on the
input's index: the top-N tactics with their scores, moves and rationales (and the first
question, when the advice has questions), or one JSON column with the whole Advice.

How cells become state values (see docs/batch.md):

- an empty cell (None, NaN, pd.NA, NaT) is *absent*: the field keeps the state's default
  ("unknown"), unless ``defaults`` names a value for that path;
- numbers pandas changed are changed back: a whole float (2.0) in an int field of a float
  column is the int 2 (pandas turns an int column with an empty cell into floats); nothing
  else is converted (a text "2" stays text and the row's error says so);
- ``issues``, ``history`` and ``counterpart`` cells hold JSON text, or the lists and dicts a
  Parquet file gives back (where an Arrow struct's empty fields are dropped, as absent).

This module imports pandas; ``import negotiation_rules`` does not (the names here are loaded on
first use, see ``negotiation_rules.__getattr__``).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from ._advice import Advice
from ._batch import advise_many, collector_paused
from ._errors import StateError, did_you_mean
from ._fields import state_fields
from ._pipeline import PlaybookArg, RulesetArg
from ._state import NegotiationState, parse_state

__all__ = [
    "Output",
    "Plan",
    "advise_frame",
    "advise_planned",
    "check_output",
    "empty_result",
    "frame_states",
    "plan_columns",
    "result_dtypes",
]

Output = Literal["columns", "json"]
#: The kind of each path a column may fill: the scalar fields of the state, and JSON for the structured ones.
Kind = Literal["enum", "bool", "int", "float", "str", "json"]

#: The nullable text dtype of the result columns (the same in pandas 2 and 3, and in Parquet).
TEXT = "string"

_MISSING = object()
#: ``progress(done, total)``, as advise_many calls it.
Report = Callable[[int, int], object]


def target_kinds() -> dict[str, Kind]:
    """Every state path a column may fill, with how its cells are read."""
    kinds: dict[str, Kind] = {}
    for path, spec in state_fields().items():
        kinds[path] = "json" if spec.kind == "list" else spec.kind
    for name, field in NegotiationState.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and annotation is not NegotiationState and hasattr(annotation, "model_fields"):
            kinds[name] = "json"  # counterpart as one JSON object; its leaf columns override its keys
    return kinds


@dataclass(frozen=True)
class Plan:
    """Which column fills which state path, and the defaults for rows where the table says nothing."""

    columns: tuple[tuple[str, str, Kind], ...]  # (column, path, kind)
    defaults: tuple[tuple[str, Any], ...]  # (path, value)


def plan_columns(
    names: Iterable[Hashable],
    columns: Mapping[str, str] | Sequence[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Plan:
    """Check a column mapping against a frame's column names and the state model; ValueError on any mistake.

    ``columns`` maps column name -> state path; a list of names maps each to the path of the same
    name; None maps every column whose name is a state path (others, such as ids, are not read,
    but a dotted name that is no state path is an error).
    """
    kinds = target_kinds()
    present = [str(n) for n in names]
    if columns is None:
        for name in present:
            if "." in name and name not in kinds:
                raise ValueError(f"column '{name}' is not a state path{did_you_mean(name, kinds)}")
        mapping = {name: name for name in present if name in kinds}
    elif isinstance(columns, Mapping):
        mapping = dict(columns)
    elif isinstance(columns, (str, bytes)):
        raise TypeError("columns is a mapping {column: state path} or a list of column names, not a string")
    else:
        mapping = {str(name): str(name) for name in columns}
    seen: dict[str, str] = {}
    planned: list[tuple[str, str, Kind]] = []
    for column, path in mapping.items():
        if not isinstance(column, str) or not isinstance(path, str):
            raise TypeError(f"columns: names and paths are strings, got {column!r}: {path!r}")
        if column not in present:
            raise ValueError(f"columns: no column '{column}' in the frame{did_you_mean(column, present)}")
        if present.count(column) > 1:
            raise ValueError(f"columns: the frame has more than one column named '{column}'")
        if path not in kinds:
            hint = did_you_mean(path, kinds)
            raise ValueError(f"columns: '{column}' maps to '{path}', which is not a state path{hint}")
        if path in seen:
            raise ValueError(f"columns: '{seen[path]}' and '{column}' both map to '{path}'")
        seen[path] = column
        planned.append((column, path, kinds[path]))
    planned.sort(key=lambda item: item[2] != "json")  # whole objects first, so leaf columns override their keys
    fixed: list[tuple[str, Any]] = []
    for path, value in (defaults or {}).items():
        if path not in kinds:
            raise ValueError(f"defaults: '{path}' is not a state path{did_you_mean(path, kinds)}")
        fixed.append((path, value))
    if fixed:
        try:
            parse_state(_nest(fixed))
        except StateError as exc:
            raise StateError(exc.reason, f"defaults.{exc.path}") from None
    return Plan(tuple(planned), tuple(fixed))


def _nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in pairs:
        _put(out, path, value)
    return out


def _put(row: dict[str, Any], path: str, value: Any) -> None:
    head, dot, leaf = path.partition(".")
    if not dot:
        before = row.get(head)  # a counterpart object over defaults for some of its fields: both hold
        row[head] = {**before, **value} if isinstance(before, dict) and isinstance(value, dict) else value
        return
    inner = row.get(head)
    # a copy: the object may be a default or a cell that other rows share, never changed in place
    row[head] = {**inner, leaf: value} if isinstance(inner, dict) else {leaf: value}


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    """A structured cell from Arrow/NumPy as lists, dicts and scalars; an empty struct field is absent."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not _missing(v)}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return [_plain(v) for v in value]
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    return value


class _CellError(Exception):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason


def _read_json(cell: Any, path: str) -> Any:
    """A ``history``/``issues``/``counterpart`` cell: JSON text parsed, lists and structs made plain."""
    if isinstance(cell, (str, bytes, bytearray)):
        try:
            return json.loads(cell)
        except (ValueError, RecursionError) as exc:
            raise _CellError(path, f"not valid JSON: {exc}") from None
    return _plain(cell)


#: What str() made of a boolean: Dask (dataframe.convert-string) turns an object column of
#: booleans and empty cells into a string column, so these two texts are the booleans it had.
_BOOL_TEXT = {"True": True, "False": False}


def _reader(kind: Kind, path: str, upcast: bool, texts: bool = False) -> Callable[[Any], Any]:
    """How one column's cells (already Python objects, via ``Series.tolist()``) become state values."""
    if kind == "json":
        return lambda cell: cell  # read per distinct row, in _state: JSON text is a cheap key, its parse is not
    if kind == "bool" and texts:

        def read_bool(cell: Any) -> Any:
            return _BOOL_TEXT.get(cell, cell) if isinstance(cell, str) else _plain(cell)

        return read_bool
    if kind == "int" and upcast:

        def read_int(cell: Any) -> Any:
            return int(cell) if isinstance(cell, float) and cell.is_integer() else cell

        return read_int
    return _plain


def _column_values(series: pd.Series, kind: Kind, path: str) -> list[Any]:
    """The column's cells as state values (JSON still as text), ``_MISSING`` for an empty cell."""
    upcast = pd.api.types.is_float_dtype(series.dtype)  # pandas turned ints into floats to hold an empty cell
    texts = isinstance(series.dtype, pd.StringDtype)  # a string dtype (not object): Dask converted the column
    read = _reader(kind, path, upcast, texts)
    return [_MISSING if _missing(cell) else read(cell) for cell in series.tolist()]


def frame_states(
    df: pd.DataFrame,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> list[NegotiationState | StateError]:
    """The state each row gives (or the StateError of its row): what ``advise_frame`` advises, to inspect a mapping."""
    return _states(df, plan_columns(df.columns, columns, defaults))


def _states(df: pd.DataFrame, plan: Plan) -> list[NegotiationState | StateError]:
    """One validated state (or the StateError of its row) per row; identical rows are validated once."""
    position = {str(label): i for i, label in enumerate(df.columns)}  # labels need not be strings
    columns = [_column_values(df.iloc[:, position[column]], kind, path) for column, path, kind in plan.columns]
    paths = [path for _, path, _ in plan.columns]
    structured = [kind == "json" for _, _, kind in plan.columns]
    where = {path: column for column, path, _ in plan.columns}
    cache: dict[tuple[Any, ...], NegotiationState | StateError] = {}
    out: list[NegotiationState | StateError] = []
    for cells in zip(*columns, strict=True) if columns else ((),) * len(df):
        key: tuple[Any, ...] | None = (*cells, *map(type, cells))  # with the types: 1, 1.0 and True are equal keys
        try:
            hit = cache.get(key) if key is not None else None
        except TypeError:  # a list or dict cell: not hashable, validated on its own
            key, hit = None, None
        if hit is None:
            hit = _state(paths, structured, cells, plan.defaults, where)
            if key is not None:
                cache[key] = hit
        out.append(hit)
    return out


def _state(
    paths: Sequence[str],
    structured: Sequence[bool],
    cells: Sequence[Any],
    defaults: Sequence[tuple[str, Any]],
    where: Mapping[str, str],
) -> NegotiationState | StateError:
    row: dict[str, Any] = {}
    for path, value in defaults:
        _put(row, path, value)
    try:
        for path, is_json, cell in zip(paths, structured, cells, strict=True):
            if cell is _MISSING:
                continue
            _put(row, path, _read_json(cell, path) if is_json else cell)
        return parse_state(row)
    except _CellError as exc:
        return _located(StateError(exc.reason, exc.path), where)
    except StateError as exc:
        return _located(exc, where)


def _located(exc: StateError, where: Mapping[str, str]) -> StateError:
    """The error with the column it came from: the column of the longest mapped path that contains its path."""
    best = ""
    for path in where:
        if (exc.path == path or exc.path.startswith((f"{path}.", f"{path}["))) and len(path) > len(best):
            best = path
    named = best and where[best] != best  # the column's name is worth saying when it is not the path
    reason = f"{exc.reason} (column '{where[best]}')" if named else exc.reason
    return StateError(reason, exc.path)


def result_dtypes(top: int | None, output: Output) -> dict[str, str]:
    """The result's columns and dtypes (also the ``meta`` of the Dask helper)."""
    if output == "json":
        return {"advice": TEXT, "error": TEXT}
    if top is None:
        raise ValueError("output='columns' needs a whole number top (the number of tactic columns)")
    dtypes: dict[str, str] = {}
    for i in range(1, top + 1):
        dtypes |= {f"tactic_{i}": TEXT, f"score_{i}": "float64", f"move_{i}": TEXT, f"rationale_{i}": TEXT}
    if "questions" in Advice.model_fields:
        dtypes["question"] = TEXT
    dtypes["error"] = TEXT
    return dtypes


def check_output(top: int | None, output: str) -> None:
    """``output`` is "columns" (which needs a whole number ``top`` >= 1) or "json"."""
    if output not in ("columns", "json"):
        raise ValueError(f"output must be 'columns' or 'json', got {output!r}")
    if output == "columns" and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
        raise ValueError(f"output='columns' needs top to be a whole number >= 1, got {top!r}")


def _row(advice: Advice, top: int, questions: bool) -> list[Any]:
    cells: list[Any] = []
    recs = advice.recommendations
    for i in range(top):
        if i < len(recs):
            rec = recs[i]
            cells += [rec.tactic, rec.score, rec.move, rec.rationale]
        else:
            cells += [None, math.nan, None, None]
    if questions:
        asked = getattr(advice, "questions", None) or []
        cells.append(getattr(asked[0], "question", None) if asked else None)
    return cells


def empty_result(top: int | None, output: Output, index: Any = None) -> pd.DataFrame:
    """A result frame with no rows (and the right dtypes)."""
    dtypes = result_dtypes(top, output)
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()}, index=index)


def advise_frame(
    df: Any,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    top: int | None = 3,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    output: Output = "columns",
    processes: int | None = None,
    progress: Report | bool | None = None,
    questions: int = 0,
) -> Any:
    """Advice for every row of a pandas DataFrame (or pyarrow Table): a result frame on the same index.

    ``columns`` maps column names to state paths (default: the columns named as state paths),
    ``defaults`` gives values for paths a row leaves empty. A row whose state is invalid gets
    ``error`` = ``"<field path>: <message> (column '<name>')"`` and empty advice columns; the
    others are advised together by ``advise_many`` (``processes`` and ``progress`` are passed on;
    ``progress=True`` shows a progress bar on stderr).
    ``output="columns"``: ``tactic_i``, ``score_i``, ``move_i``, ``rationale_i`` for i = 1..top
    and ``question`` (the first question worth asking; empty unless ``questions`` >= 1, which costs
    about six evaluations a row); ``output="json"``: one
    ``advice`` column holding ``Advice.model_dump_json()``. A mapping mistake raises ValueError.
    """
    check_output(top, output)
    arrow = type(df).__module__.split(".")[0] == "pyarrow"
    if arrow:
        df = df.to_pandas()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"advise_frame() takes a pandas DataFrame or a pyarrow Table, not {type(df).__name__}")
    plan = plan_columns(df.columns, columns, defaults)
    with _progress_bar(progress) as report:
        result = advise_planned(
            df,
            plan,
            top=top,
            ruleset=ruleset,
            playbook=playbook,
            output=output,
            processes=processes,
            progress=report,
            questions=questions,
        )
    if arrow:
        import pyarrow as pa

        return pa.Table.from_pandas(result, preserve_index=False)
    return result


@contextlib.contextmanager
def _progress_bar(progress: Report | bool | None) -> Iterator[Report | None]:
    """``progress=True``: a rich progress bar on stderr, fed by advise_many's ``progress(done, total)``."""
    if progress is not True:
        yield progress or None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("advising"), BarColumn(), MofNCompleteColumn(), TextColumn("states"), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=sys.stderr)) as bar:
        task = bar.add_task("advise", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


def advise_planned(
    df: pd.DataFrame,
    plan: Plan,
    *,
    top: int | None,
    ruleset: RulesetArg,
    playbook: PlaybookArg,
    output: Output,
    processes: int | None = None,
    progress: Callable[[int, int], object] | None = None,
    questions: int = 0,
) -> pd.DataFrame:
    """``advise_frame`` with the mapping already checked (the Dask helper checks it once, not per partition).

    The cyclic garbage collector is paused throughout, as in ``advise_many``: with tens of thousands of
    states and Advice objects alive, its full collections took most of the time of building the result.
    """
    with collector_paused():
        return _advise_planned(df, plan, top, ruleset, playbook, output, processes, progress, questions)


def _advise_planned(
    df: pd.DataFrame,
    plan: Plan,
    top: int | None,
    ruleset: RulesetArg,
    playbook: PlaybookArg,
    output: Output,
    processes: int | None,
    progress: Callable[[int, int], object] | None,
    questions: int = 0,
) -> pd.DataFrame:
    states = _states(df, plan)
    distinct: dict[int, int] = {}  # id(state) -> position among the distinct valid states
    unique: list[NegotiationState] = []
    for state in states:
        if isinstance(state, NegotiationState) and id(state) not in distinct:
            distinct[id(state)] = len(unique)
            unique.append(state)
    advice = advise_many(
        unique, ruleset=ruleset, playbook=playbook, top=top, processes=processes, progress=progress, questions=questions
    )
    result = _result(states, distinct, advice, top, output)
    result.index = df.index
    return result


def _result(
    states: Sequence[NegotiationState | StateError],
    distinct: Mapping[int, int],
    advice: Sequence[Advice],
    top: int | None,
    output: Output,
) -> pd.DataFrame:
    dtypes = result_dtypes(top, output)
    names = list(dtypes)
    rows: list[list[Any]]
    if output == "json":
        texts = [a.model_dump_json() for a in advice]
        rows = [[None, str(s)] if isinstance(s, StateError) else [texts[distinct[id(s)]], None] for s in states]
    else:
        assert top is not None
        questions = "question" in dtypes
        blank = [None, math.nan, None, None] * top + ([None] if questions else [])
        cells = [_row(a, top, questions) for a in advice]
        rows = [[*blank, str(s)] if isinstance(s, StateError) else [*cells[distinct[id(s)]], None] for s in states]
    if not rows:
        return empty_result(top, output)
    return pd.DataFrame({name: pd.Series([row[i] for row in rows], dtype=dtypes[name]) for i, name in enumerate(names)})
