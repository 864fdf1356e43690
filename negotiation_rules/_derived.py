"""Everything worked out from a ruleset, kept in one place and dropped together with the ruleset.

A ruleset is immutable once loaded, so what is derived from it (the compiled plan, the engine
loaded into durable-rules, the ranking plan, the explain and what-if indexes) is built once, on
first use, and shared by every call. ``derived(ruleset, build)`` is the one cache for all of
them: keyed weakly by the ruleset, so a dropped ruleset frees everything derived from it (and
the engine's C handles). A ``build`` must therefore never keep a strong reference to the
ruleset in what it returns (the engine keeps a weak one).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["derived", "derived_names"]

T = TypeVar("T")
R = TypeVar("R")


class _Entry:
    """What is derived from one ruleset: values by their builder, built under the entry's own lock."""

    __slots__ = ("lock", "values")

    def __init__(self) -> None:
        # reentrant: building one value may need another of the same ruleset (the engine needs the plan)
        self.lock = threading.RLock()
        self.values: dict[Callable[[Any], Any], Any] = {}


_entries: weakref.WeakKeyDictionary[Any, _Entry] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _entry(ruleset: object) -> _Entry:
    """The ruleset's entry, created on first use (under the global lock, held only that long)."""
    entry = _entries.get(ruleset)
    if entry is None:
        with _lock:
            entry = _entries.get(ruleset)
            if entry is None:
                entry = _entries[ruleset] = _Entry()
    return entry


def derived(ruleset: R, build: Callable[[R], T]) -> T:
    """``build(ruleset)``, computed once per ruleset (even under concurrent calls) and kept while it lives."""
    entry = _entry(ruleset)
    try:
        return entry.values[build]  # type: ignore[no-any-return]
    except KeyError:
        pass
    with entry.lock:
        if build not in entry.values:
            entry.values[build] = build(ruleset)
        return entry.values[build]  # type: ignore[no-any-return]


def derived_names(ruleset: object) -> list[str]:
    """The builders whose results are kept for ``ruleset`` (``module.name``), for tests and diagnostics."""
    entry = _entries.get(ruleset)
    values = list(entry.values) if entry is not None else []
    return sorted(f"{b.__module__}.{b.__qualname__}" for b in values)


def _after_fork_in_child() -> None:
    """A forked child has only the forking thread: locks another thread held are made anew."""
    global _lock
    _lock = threading.Lock()
    for entry in list(_entries.values()):
        entry.lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
