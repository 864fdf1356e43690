"""Facts -> fired rules, inside durable-rules, one isolated engine session per evaluation.

We talk to durable-rules' C core (``durable_rules_engine``) directly instead of through its
global ``Host``: each compiled ruleset owns its engine handles, every evaluation runs in a
session (``sid``) that no other evaluation uses at the same time, its facts are retracted in
``finally``, and a lock per handle serialises calls into the C core (which is not
thread-safe). Nothing is registered globally, so a failing or concurrent call cannot leave
state behind for the next one.

Sessions are reused from a pool rather than deleted: durable-rules' ``delete_state``
corrupts the heap once a ruleset has a few dozen rules and a second ruleset exists in the
process (reproduced in tests/test_engine.py's notes), while retracting the facts leaves the
session empty and is safe. The pool is as large as the highest number of concurrent calls.

Everything is asserted as a *fact*, never posted as an event: a fact stays visible to every
rule (each fires once per fact), whereas an event is consumed by the first rule it matches.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import durable_rules_engine as _drl

from .compiler import STAGE_TAG, CompiledRuleset, EngineRule, Shard
from .errors import EngineError, RulesetError
from .ruleset import Ruleset

_sids = itertools.count(1)
_names = itertools.count(1)


@dataclass(frozen=True)
class Firing:
    """What durable-rules concluded for one state: situations derived, rules matched, rules blocked."""

    situations: frozenset[str]
    matched: frozenset[str]
    blocked: frozenset[str]


def _delete_ruleset(handle: int) -> None:
    with contextlib.suppress(Exception):
        _drl.delete_ruleset(handle)


class _ShardEngine:
    """One durable-rules ruleset (a shard) and the lock that serialises calls into it."""

    def __init__(self, shard: Shard) -> None:
        self.levels = shard.levels
        self.lock = threading.Lock()
        self.handle: int = _drl.create_ruleset(f"negotiation_rules_{next(_names)}", json.dumps(shard.definition()))
        weakref.finalize(self, _delete_ruleset, self.handle)

    def run(self, stage: str) -> list[str]:
        """Assert one stage fact and return the names of the rules that fired on it, in order."""
        names: list[str] = []
        code, state_handle = _drl.assert_fact(self.handle, stage)
        if code != 0:
            return names
        message: Any = _drl.start_action_for_state(self.handle, state_handle)
        message = message[1] if message else None
        while message:
            names.append(message[2 : message.index('"', 2)])
            message = _drl.complete_and_start_action(self.handle, state_handle)
        return names

    def retract(self, stage: str) -> None:
        """Take one stage fact back out of its session, leaving the session empty for reuse."""
        _drl.retract_fact(self.handle, stage)


class Engine:
    """A compiled ruleset loaded into durable-rules; ``evaluate`` is safe from many threads."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.compiled: CompiledRuleset = ruleset.compiled()
        self.shards = [engine for shard in self.compiled.shards for engine in self._load(shard)]
        self.by_level: dict[int, list[_ShardEngine]] = {}
        for engine in self.shards:
            for level in sorted(engine.levels):
                self.by_level.setdefault(level, []).append(engine)
        self.situation_ids = self.compiled.situation_ids
        self._sessions: list[str] = []  # idle session ids, empty of facts; list.pop/append are atomic

    def _load(self, shard: Shard) -> list[_ShardEngine]:
        """Create the shard in durable-rules; if it refuses, split to find and name the bad rule."""
        try:
            return [_ShardEngine(shard)]
        except _drl.error as exc:
            if len(shard.rules) == 1:
                raise self._refused(shard.rules[0], exc) from None
            half = len(shard.rules) // 2
            return self._load(Shard(shard.rules[:half])) + self._load(Shard(shard.rules[half:]))

    def _refused(self, rule: EngineRule, exc: Exception) -> RulesetError:
        kind, _, ident = rule.name.partition(":")
        ident = ident.rpartition("#")[0]
        where: Any = (
            next(s for s in self.ruleset.situations if s.id == ident) if kind == "s" else self.ruleset.rule(ident)
        )
        return RulesetError(f"durable-rules refused this rule: {exc}", file=where.file, line=where.line, rule_id=ident)

    def evaluate(self, fact: dict[str, Any]) -> Firing:
        """Run the stages for one flat fact in a fresh session; the session is deleted afterwards."""
        sid = self._sessions.pop() if self._sessions else f"nr{next(_sids)}"
        situations: set[str] = set()
        matched: set[str] = set()
        blocked: set[str] = set()
        asserted: list[tuple[_ShardEngine, str]] = []
        clean = True
        try:
            for level in range(self.compiled.tactic_level + 1):
                stage = dict(fact)
                for name in self.situation_ids:
                    stage[f"situation__{name}"] = name in situations
                stage.update(sid=sid, id=f"stage{level}", t=STAGE_TAG, level=level)
                text = json.dumps(stage)
                derived: list[str] = []
                for engine in self.by_level.get(level, ()):
                    with engine.lock:
                        asserted.append((engine, text))
                        derived.extend(engine.run(text))
                for name in derived:
                    kind, _, ident = name.partition(":")
                    {"s": situations, "r": matched, "u": blocked}[kind].add(ident.rpartition("#")[0])
        except _drl.error as exc:
            clean = False
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        finally:
            for engine, text in asserted:
                with engine.lock:
                    try:
                        engine.retract(text)
                    except _drl.error:
                        clean = False
            if clean:
                self._sessions.append(sid)
        result = Firing(frozenset(situations), frozenset(matched), frozenset(blocked))
        for observer in list(_observers):
            with contextlib.suppress(Exception):  # an observer must never break advice
                observer(self.ruleset, result)
        return result


_engines: weakref.WeakKeyDictionary[Ruleset, Engine] = weakref.WeakKeyDictionary()
_engines_lock = threading.Lock()
_observers: list[Callable[[Ruleset, Firing], None]] = []


def engine_for(ruleset: Ruleset) -> Engine:
    """The engine of a ruleset, created on first use and kept as long as the ruleset lives."""
    engine = _engines.get(ruleset)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(ruleset)
            if engine is None:
                engine = Engine(ruleset)
                _engines[ruleset] = engine
    return engine
