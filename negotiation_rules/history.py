"""Trends over time: durable-rules correlates the concession events of a history.

Some tactics depend on the order of moves, not just on counts: two of our concessions with
none from them since, our concessions that stop getting smaller, theirs that shrink step by
step. These are join patterns over events ("a concession by us, then another one later, and
no concession by them after the first"), which is what a Rete engine does well. The
concession events are asserted as facts into a durable-rules session; a *probe* fact asserted
at query time lets the correlation rules fire on the events present at that moment (their
``none`` conditions are judged then), after which the probe is retracted again.

The trends are offered to rule files as ``trend.<name>`` (all booleans):

- ``trend.concessions_unanswered``: we made two or more concessions since their last one;
- ``trend.our_concessions_not_shrinking``: our latest concession is not smaller than the one
  before it (both with a ``value``, the amount conceded);
- ``trend.their_concessions_shrinking``: their last three concessions got smaller each time.

Only the latest ``WINDOW`` concessions of each side are kept in the engine (older ones cannot
change a trend), so a session's joins stay small however long the negotiation runs.

A durable-rules ruleset holds at most 1024 sessions (``MAX_STATE_INDEX_LENGTH``) and its
``delete_state`` is unsafe (see engine.py), so sessions are emptied and reused, and a new
copy of the correlation rules is loaded for every ``SESSIONS_PER_ENGINE`` live sessions.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import struct
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import durable_rules_engine as _drl

from .errors import EngineError
from .state import Event

WINDOW = 20
TREND_PREFIX = "trend."
SESSIONS_PER_ENGINE = 1000


@dataclass(frozen=True)
class Trend:
    """One trend a rule can test as ``trend.<name>``."""

    name: str
    description: str


TRENDS: dict[str, Trend] = {
    t.name: t
    for t in (
        Trend("concessions_unanswered", "we made two or more concessions since their last concession"),
        Trend("our_concessions_not_shrinking", "our latest concession is not smaller than the one before it"),
        Trend("their_concessions_shrinking", "their last three concessions got smaller each time"),
    )
}


def _ev(by: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {"$and": [{"t": "ev"}, {"by": by}, *extra]}


def _after(name: str) -> dict[str, Any]:
    return {"$gt": {"seq": {name: "seq"}}}


def _before(name: str) -> dict[str, Any]:
    return {"$lt": {"seq": {name: "seq"}}}


_HAS_VALUE = {"$ex": {"value": 1}}
_PROBE = {"p": {"t": "probe"}}

#: The correlation rules, in durable-rules' JSON form (``x$not`` is "no such fact").
DEFINITION: dict[str, Any] = {
    "concessions_unanswered": {
        "all": [
            _PROBE,
            {"a": _ev("us")},
            {"b": _ev("us", _after("a"))},
            {"n1$not": _ev("them", _after("a"))},
        ]
    },
    "our_concessions_not_shrinking": {
        "all": [
            _PROBE,
            {"a": _ev("us", _HAS_VALUE)},
            {"b": _ev("us", _after("a"), {"$gte": {"value": {"a": "value"}}})},
            {"n1$not": _ev("us", _after("a"), _before("b"))},
            {"n2$not": _ev("us", _after("b"))},
        ]
    },
    "their_concessions_shrinking": {
        "all": [
            _PROBE,
            {"a": _ev("them", _HAS_VALUE)},
            {"b": _ev("them", _after("a"), {"$lt": {"value": {"a": "value"}}})},
            {"c": _ev("them", _after("b"), {"$lt": {"value": {"b": "value"}}})},
            {"n1$not": _ev("them", _after("a"), _before("b"))},
            {"n2$not": _ev("them", _after("b"), _before("c"))},
            {"n3$not": _ev("them", _after("c"))},
        ]
    },
}


def order_key(value: float) -> int:
    """An integer that sorts like ``value``: the trends only compare values, and durable-rules'
    JSON parser refuses exponent notation (``1e+16``, ``5e-324``: error 204), which ``json.dumps``
    writes for very large or small floats."""
    bits: int = struct.unpack(">q", struct.pack(">d", value))[0]
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def event_fact(seq: int, event: Event) -> dict[str, Any] | None:
    """The engine fact for one event, or None when no trend looks at it (only concessions count)."""
    if event.kind != "concession":
        return None
    fact: dict[str, Any] = {"t": "ev", "id": f"e{seq}", "seq": seq, "by": event.by}
    if event.value is not None:
        fact["value"] = order_key(event.value)
    return fact


def window(history: Sequence[Event]) -> list[tuple[int, Event]]:
    """The concession events that can still change a trend: the latest WINDOW of each side."""
    kept: list[tuple[int, Event]] = []
    seen = {"us": 0, "them": 0}
    for seq in range(len(history) - 1, -1, -1):
        event = history[seq]
        if event.kind == "concession" and seen[event.by] < WINDOW:
            seen[event.by] += 1
            kept.append((seq, event))
    kept.reverse()
    return kept


class HistoryEngine:
    """The correlation rules loaded once into durable-rules, with a pool of empty sessions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handle: int = _drl.create_ruleset(f"negotiation_rules_history_{next(_names)}", json.dumps(DEFINITION))
        self._sids = itertools.count(1)
        self._free: list[str] = []
        self.created = 0
        self.in_use = 0
        weakref.finalize(self, _delete, self.handle)

    def try_acquire(self) -> str | None:
        """A session id no one else is using (its session holds no facts), or None when full."""
        with self.lock:
            if self._free:
                sid = self._free.pop()
            elif self.created < SESSIONS_PER_ENGINE:
                self.created += 1
                sid = f"h{next(self._sids)}"
            else:
                return None
            self.in_use += 1
            return sid

    def release(self, sid: str, facts: Iterable[dict[str, Any]]) -> None:
        """Retract ``facts`` from the session and put it back in the pool (dropped if that fails)."""
        with self.lock:
            self.in_use -= 1
            try:
                for fact in facts:
                    _drl.retract_fact(self.handle, json.dumps({**fact, "sid": sid}))
            except _drl.error:
                return
            self._free.append(sid)

    def add(self, sid: str, fact: dict[str, Any]) -> None:
        """Assert one event fact into a session (no rule fires without the probe)."""
        try:
            with self.lock:
                _drl.assert_fact(self.handle, json.dumps({**fact, "sid": sid}))
        except _drl.error as exc:
            raise EngineError(f"durable-rules refused a history event: {exc}") from None

    def remove(self, sid: str, fact: dict[str, Any]) -> None:
        """Retract one event fact from a session."""
        try:
            with self.lock:
                _drl.retract_fact(self.handle, json.dumps({**fact, "sid": sid}))
        except _drl.error as exc:
            raise EngineError(f"durable-rules could not retract a history event: {exc}") from None

    def probe(self, sid: str) -> dict[str, bool]:
        """Which trends hold over the events now in the session."""
        probe = json.dumps({"sid": sid, "id": "probe", "t": "probe"})
        held: set[str] = set()
        try:
            with self.lock:
                try:
                    code, state = _drl.assert_fact(self.handle, probe)
                    message: Any = _drl.start_action_for_state(self.handle, state) if code == 0 else None
                    message = message[1] if message else None
                    while message:
                        held.add(message[2 : message.index('"', 2)])
                        message = _drl.complete_and_start_action(self.handle, state)
                finally:
                    _drl.retract_fact(self.handle, probe)
        except _drl.error as exc:
            raise EngineError(f"durable-rules failed on the history: {exc}") from None
        return {name: name in held for name in TRENDS}


def _delete(handle: int) -> None:
    with contextlib.suppress(Exception):
        _drl.delete_ruleset(handle)


_names = itertools.count(1)
_engines: list[HistoryEngine] = []
_engines_lock = threading.Lock()


def acquire_session() -> tuple[HistoryEngine, str]:
    """An empty correlation session, from the first engine with room (a new engine when all are full)."""
    with _engines_lock:
        for engine in _engines:
            sid = engine.try_acquire()
            if sid is not None:
                return engine, sid
        engine = HistoryEngine()
        _engines.append(engine)
        sid = engine.try_acquire()
        assert sid is not None
        return engine, sid


def live_sessions() -> int:
    """How many correlation sessions are in use right now (for tests: a closed session frees its own)."""
    return sum(engine.in_use for engine in _engines)


def trends(history: Sequence[Event]) -> dict[str, bool]:
    """The trends of a whole history, computed in a pooled session that is emptied afterwards."""
    facts = [f for seq, e in window(history) if (f := event_fact(seq, e)) is not None]
    if not facts:
        return dict.fromkeys(TRENDS, False)
    engine, sid = acquire_session()
    added: list[dict[str, Any]] = []
    try:
        for fact in facts:
            engine.add(sid, fact)
            added.append(fact)
        return engine.probe(sid)
    finally:
        engine.release(sid, added)


def trends_in_python(history: Sequence[Event]) -> dict[str, bool]:
    """The same trends computed directly in Python: the reference the engine is tested against."""
    ours = [e for e in history if e.kind == "concession" and e.by == "us"]
    theirs = [e for e in history if e.kind == "concession" and e.by == "them"]
    last_theirs = max((i for i, e in enumerate(history) if e.kind == "concession" and e.by == "them"), default=-1)
    since = sum(1 for e in history[last_theirs + 1 :] if e.kind == "concession" and e.by == "us")
    a, b = (ours[-2], ours[-1]) if len(ours) >= 2 else (None, None)
    not_shrinking = bool(a and b and a.value is not None and b.value is not None and b.value >= a.value)
    values = [e.value for e in theirs[-3:]]
    shrinking = (
        len(values) == 3 and all(v is not None for v in values) and values[0] > values[1] > values[2]  # type: ignore[operator]
    )
    return {
        "concessions_unanswered": since >= 2,
        "our_concessions_not_shrinking": not_shrinking,
        "their_concessions_shrinking": shrinking,
    }
