"""The words of the state, read from ``rulesets/vocabulary/``: value labels, questions, source titles.

Advice must read as plain words (``a long-term partner``, never ``long_term``) and must never
render an unknown as a value, so every rendering of a state value goes through ``label()``.
The texts are data (YAML next to the rules), so they can be reviewed and translated without
touching code.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from ._fields import FieldSpec, state_fields
from ._packaged import builtin_ruleset_dir

#: How an unknown value reads wherever a text would otherwise show it.
UNKNOWN_TEXT = "not known yet"

_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child has only the forking thread: the lock another thread held at the fork is made anew."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class FieldWords:
    """The words for one state field."""

    path: str
    about: str
    question: str | None
    values: dict[Any, str]
    answers: tuple[Any, ...]


def _load(name: str) -> dict[str, Any]:
    path = builtin_ruleset_dir() / "vocabulary" / name
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with _lock:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def _answers(spec: FieldSpec, raw: Any) -> tuple[Any, ...]:
    if raw is not None:
        return tuple(raw)
    if spec.kind == "enum":
        return spec.known_choices
    if spec.kind == "bool":
        return (True, False)
    return ()


@cache
def words() -> dict[str, FieldWords]:
    """Per scalar state path, its words (loaded once per process)."""
    raw = _load("fields.yaml")["fields"]
    out: dict[str, FieldWords] = {}
    for path, spec in state_fields().items():
        if spec.kind == "list":
            continue
        entry = raw.get(path, {})
        out[path] = FieldWords(
            path=path,
            about=str(entry.get("about", path.replace("_", " "))),
            question=entry.get("question"),
            values=dict(entry.get("values", {})),
            answers=_answers(spec, entry.get("answers")),
        )
    return out


@cache
def source_titles() -> dict[str, str]:
    """Document file name -> its readable title."""
    return {str(k): str(v) for k, v in _load("sources.yaml")["documents"].items()}


def label(path: str, value: Any) -> str:
    """``value`` of ``path`` in plain words; an unknown reads ``not known yet``."""
    spec = state_fields().get(path)
    if value is None or (spec is not None and spec.is_unknown(value)):
        return UNKNOWN_TEXT
    entry = words().get(path)
    if entry is not None and value in entry.values and not (isinstance(value, int) and not isinstance(value, bool)):
        return entry.values[value]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ")


def about(path: str) -> str:
    """What knowing ``path`` tells us, as a clause: ``whether our top leader can step in``."""
    entry = words().get(path)
    return entry.about if entry is not None else path.replace("_", " ").replace(".", " ")


def source_title(document: str) -> str:
    """The readable title of a source document (empty when it is not one of ours)."""
    return source_titles().get(document, "")
