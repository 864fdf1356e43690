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

What one evaluation costs, and what we do about it (figures in docs/performance.md):

- durable-rules parses the JSON of every fact it is given, once per shard, so each shard gets
  a stage fact holding only the keys its rules read (``Shard.keys``), written from fragments
  encoded once per evaluation (``"phase":"bargaining"``) instead of ``json.dumps`` per stage;
- a fact is retracted by its session and id alone (durable-rules looks the stored fact up by
  id), so the retraction text is a few bytes;
- a shard whose guard (``Shard.guard``: values its rules need) the stage fact does not meet
  is not asked at all; for large rulebooks the compiler groups rules so most shards can be
  skipped that way, and an index on each shard's most selective guard key finds the others;
- optionally (``set_result_cache_size``), what a ruleset concluded for a fact is kept in a
  bounded LRU cache keyed by the encoded fact, which is everything the rules can read.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import durable_rules_engine as _drl

from .compiler import STAGE_TAG, CompiledRuleset, EngineRule, Pins, Shard
from .errors import EngineError, RulesetError
from .facts import FactBuilder
from .ruleset import Ruleset

_sids = itertools.count(1)
_names = itertools.count(1)
_MISSING: Any = object()
#: ``evaluate_many`` asserts the stage facts of up to this many states into one shard at once.
BATCH_CHUNK = 32
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:\- ]*\Z").match
SITUATION_KEY = "situation__"


@dataclass(frozen=True)
class Firing:
    """What durable-rules concluded for one state: situations derived, rules matched, rules blocked.

    ``doubtful``: rules (with ``unless_unknown: set_aside``) whose unless could still hold once
    the unknown facts it reads are known.
    """

    situations: frozenset[str]
    matched: frozenset[str]
    blocked: frozenset[str]
    doubtful: frozenset[str] = frozenset()


def encode_value(value: Any) -> str:
    """The JSON text of one fact value, as ``json.dumps`` writes it (plain words and numbers without it)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str and _PLAIN_TEXT(value):
        return f'"{value}"'
    text = json.dumps(value)
    if kind is float and "e" in text and "." not in text:
        # durable-rules' parser refuses an exponent without a decimal point (``1e-05``: error 204)
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _delete_ruleset(handle: int) -> None:
    with contextlib.suppress(Exception):
        _drl.delete_ruleset(handle)


def _verdict(name: str) -> tuple[int, str]:
    """``s:<id>#k`` -> (0, id) a situation, ``r:`` -> (1, id) a match, ``u:`` -> (2, id) a block, ``p:`` -> (3, id)."""
    kind, _, ident = name.partition(":")
    return {"s": 0, "r": 1, "p": 3}.get(kind, 2), ident.rpartition("#")[0]


def _admits(guard: Pins, values: Mapping[str, Any]) -> bool:
    """Whether the stage values meet a shard guard (an unhashable value is let through)."""
    for key, allowed in guard:
        try:
            if values.get(key, _MISSING) not in allowed:
                return False
        except TypeError:
            continue
    return True


class _ShardEngine:
    """One durable-rules ruleset (a shard) and the lock that serialises calls into it."""

    def __init__(self, shard: Shard) -> None:
        self.levels = shard.levels
        self.keys = shard.keys
        self.guard = shard.guard
        self.rest_guard = shard.guard[1:]  # the first key is looked up in the stage index
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
        """Take one stage fact back out of its session (by sid and id), leaving the session empty for reuse."""
        _drl.retract_fact(self.handle, stage)

    def run_many(self, stages: str) -> list[str]:
        """Assert several stage facts (a JSON array) in one call; the action messages, each naming its rule and fact."""
        messages: list[str] = []
        _, state_handle = _drl.assert_facts(self.handle, stages)  # code 1 when some fact matched nothing
        message: Any = _drl.start_action_for_state(self.handle, state_handle)
        message = message[1] if message else None
        while message:
            messages.append(message)
            message = _drl.complete_and_start_action(self.handle, state_handle)
        return messages

    def retract_many(self, stages: str) -> None:
        """Retract several stage facts (a JSON array of ``{"sid", "id"}``) in one call."""
        _drl.retract_facts(self.handle, stages)


class _StagePlan(NamedTuple):
    """Which shards to ask at one stage: ``always`` ones, and ``indexed`` ones (key -> value -> shards)."""

    always: tuple[_ShardEngine, ...]
    indexed: tuple[tuple[str, dict[Any, tuple[_ShardEngine, ...]], tuple[_ShardEngine, ...]], ...]


def _stage_plan(engines: list[_ShardEngine]) -> _StagePlan:
    """Index the shards of one stage by the first (most selective) key of their guards."""
    always: list[_ShardEngine] = []
    tables: dict[str, dict[Any, list[_ShardEngine]]] = {}
    for engine in engines:
        if not engine.guard:
            always.append(engine)
            continue
        key, values = engine.guard[0]
        table = tables.setdefault(key, {})
        for value in values:
            table.setdefault(value, []).append(engine)
    index = tuple(
        (
            key,
            {value: tuple(found) for value, found in table.items()},
            tuple(dict.fromkeys(e for found in table.values() for e in found)),
        )
        for key, table in sorted(tables.items())
    )
    return _StagePlan(tuple(always), index)


class _ResultCache:
    """A bounded, thread-safe LRU map from an encoded fact to what the ruleset concluded for it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[str, Firing] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Firing | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._data.move_to_end(key)
            return found

    def put(self, key: str, firing: Firing) -> None:
        with self._lock:
            self._data[key] = firing
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def resize(self, size: int) -> None:
        with self._lock:
            self.size = size
            while len(self._data) > size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class Engine:
    """A compiled ruleset loaded into durable-rules; ``evaluate`` is safe from many threads."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.compiled: CompiledRuleset = ruleset.compiled()
        #: ``build_fact`` planned for this ruleset's counts: ``engine.facts(effective_state, trends)``.
        self.facts = FactBuilder(self.compiled.counts)
        self.shards = [engine for shard in self.compiled.shards for engine in self._load(shard)]
        self.by_level: dict[int, list[_ShardEngine]] = {}
        for engine in self.shards:
            for level in sorted(engine.levels):
                self.by_level.setdefault(level, []).append(engine)
        self._plans = {level: _stage_plan(engines) for level, engines in self.by_level.items()}
        self._guarded = any(plan.indexed for plan in self._plans.values())
        self.situation_ids = self.compiled.situation_ids
        self._situation_keys = {name: f"{SITUATION_KEY}{name}" for name in self.situation_ids}
        read = {key for engine in self.shards for key in engine.keys}
        situation_keys = set(self._situation_keys.values())
        #: The keys of a fact the rules can read, each with its JSON prefix, in a fixed order.
        self._fact_keys = tuple((key, json.dumps(key) + ":") for key in sorted(read - situation_keys))
        self._situation_frags = {
            key: (json.dumps(key) + ":false", json.dumps(key) + ":true") for key in sorted(situation_keys & read)
        }
        self._situations_false = {key: frags[0] for key, frags in self._situation_frags.items()}
        self._situation_values = dict.fromkeys(self._situation_keys.values(), False)
        self._sessions: list[str] = []  # idle session ids, empty of facts; list.pop/append are atomic
        self._stage_texts: dict[str, tuple[tuple[str, str], ...]] = {}  # per session: (head, retraction) per stage
        self._batch_texts: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {}  # the same per stage per state
        #: engine rule name -> (0 situation / 1 match / 2 block, the situation or rule id)
        self._verdicts: dict[str, tuple[int, str]] = {
            rule.name: _verdict(rule.name) for shard in self.compiled.shards for rule in shard.rules
        }
        self._cache = _ResultCache(_cache_size)

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

    # -- evaluation ------------------------------------------------------------------------------

    def encode(self, fact: Mapping[str, Any]) -> dict[str, str]:
        """``"key":value`` JSON fragments of every fact key a rule reads (situations are set per stage)."""
        frags: dict[str, str] = {}
        get = fact.get
        for key, prefix in self._fact_keys:
            value = get(key, _MISSING)
            if value is _MISSING:
                continue
            if value is True:
                frags[key] = prefix + "true"
            elif value is False:
                frags[key] = prefix + "false"
            else:
                frags[key] = prefix + encode_value(value)
        return frags

    def _end_session(self, sid: str, asserted: list[tuple[_ShardEngine, str]], clean: bool, many: bool) -> None:
        """Retract what the session got and return it to the pool; a session not emptied is never reused."""
        for engine, text in asserted:
            with engine.lock:
                try:
                    if many:
                        engine.retract_many(text)
                    else:
                        engine.retract(text)
                except _drl.error:
                    clean = False
        if clean:
            self._sessions.append(sid)
        else:
            self._stage_texts.pop(sid, None)
            self._batch_texts.pop(sid, None)

    def evaluate(self, fact: dict[str, Any]) -> Firing:
        """Run the stages for one flat fact in a pooled session that is emptied again afterwards."""
        frags = self.encode(fact)
        cache = self._cache if self._cache.size else None
        key = ",".join(frags.values()) if cache is not None else ""
        result = cache.get(key) if cache is not None else None
        if result is None:
            result = self._run(fact, frags)
            if cache is not None:
                cache.put(key, result)
        for observer in list(_observers):
            with contextlib.suppress(Exception):  # an observer must never break advice
                observer(self.ruleset, result)
        return result

    def _select(self, level: int, values: Mapping[str, Any]) -> list[_ShardEngine]:
        """The shards of one stage whose guards this stage fact meets."""
        plan = self._plans.get(level)
        if plan is None:
            return []
        if not plan.indexed:
            return list(plan.always)
        asked = list(plan.always)
        for key, table, every in plan.indexed:
            try:
                found = table.get(values.get(key, _MISSING), ())
            except TypeError:  # an unhashable value: check each shard's whole guard the long way
                asked.extend(engine for engine in every if _admits(engine.guard, values))
                continue
            for engine in found:  # the index matched the guard's first key; check the others
                if not engine.rest_guard or _admits(engine.rest_guard, values):
                    asked.append(engine)
        return asked

    def _texts(self, sid: str) -> tuple[tuple[str, str], ...]:
        """Per stage, the start of its fact text and the text that retracts it, for one session."""
        texts = self._stage_texts.get(sid)
        if texts is None:
            texts = tuple(
                (
                    f'{{"sid":"{sid}","id":"stage{level}","t":"{STAGE_TAG}","level":{level}',
                    f'{{"sid":"{sid}","id":"stage{level}"}}',
                )
                for level in range(self.compiled.tactic_level + 1)
            )
            self._stage_texts[sid] = texts
        return texts

    def _run(self, fact: Mapping[str, Any], frags: dict[str, str]) -> Firing:
        sid = self._sessions.pop() if self._sessions else f"nr{next(_sids)}"
        found: tuple[set[str], set[str], set[str], set[str]] = (set(), set(), set(), set())  # s, r, u, p
        situations = found[0]
        asserted: list[tuple[_ShardEngine, str]] = []
        clean = True
        frags.update(self._situations_false)
        values: dict[str, Any] = {}
        if self._guarded:
            values = dict(fact)
            values.update(self._situation_values)
        new: list[str] = []
        try:
            for level, (head, retraction) in enumerate(self._texts(sid)):
                for name in new:
                    key = self._situation_keys[name]
                    values[key] = True
                    if key in self._situation_frags:
                        frags[key] = self._situation_frags[key][1]
                derived: list[str] = []
                for engine in self._select(level, values):
                    try:
                        body = ",".join([frags[k] for k in engine.keys])
                    except KeyError:  # a key the fact does not have: leave it out, as the full fact would
                        body = ",".join([frags[k] for k in engine.keys if k in frags])
                    text = f"{head},{body}}}" if body else head + "}"
                    with engine.lock:
                        asserted.append((engine, retraction))
                        derived.extend(engine.run(text))
                new = []
                for name in derived:
                    kind, ident = self._verdicts.get(name) or _verdict(name)
                    if kind == 0 and ident not in situations:
                        new.append(ident)
                    found[kind].add(ident)
        except _drl.error as exc:
            clean = False
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        finally:
            self._end_session(sid, asserted, clean, many=False)
        return Firing(frozenset(situations), frozenset(found[1]), frozenset(found[2]), frozenset(found[3]))

    # -- batches ---------------------------------------------------------------------------------

    def evaluate_many(self, facts: Sequence[Mapping[str, Any]], *, observe: bool = True) -> list[Firing]:
        """``[evaluate(fact) for fact in facts]``, faster: each shard gets the stage facts of up to
        ``BATCH_CHUNK`` states in one call (``assert_facts``), read back by fact id, and retracts them in one."""
        frags = [self.encode(fact) for fact in facts]
        results: list[Firing | None] = [None] * len(facts)
        cache = self._cache if self._cache.size else None
        keys = [",".join(f.values()) for f in frags] if cache is not None else []
        todo: list[int] = []
        for i in range(len(facts)):
            results[i] = cache.get(keys[i]) if cache is not None else None
            if results[i] is None:
                todo.append(i)
        for start in range(0, len(todo), BATCH_CHUNK):
            part = todo[start : start + BATCH_CHUNK]
            for i, firing in zip(part, self._run_many([facts[i] for i in part], [frags[i] for i in part]), strict=True):
                results[i] = firing
                if cache is not None:
                    cache.put(keys[i], firing)
        done = [r for r in results if r is not None]
        for result in done if observe else ():  # hypothetical states (questions) are not observed
            for observer in list(_observers):
                with contextlib.suppress(Exception):  # an observer must never break advice
                    observer(self.ruleset, result)
        return done

    def _batch(self, sid: str) -> tuple[tuple[tuple[str, str], ...], ...]:
        """Per stage, per state of a batch: the start of its fact text and its retraction (fact id ``<k>s<stage>``)."""
        texts = self._batch_texts.get(sid)
        if texts is None:
            texts = tuple(
                tuple(
                    (
                        f'{{"sid":"{sid}","id":"{k}s{level}","t":"{STAGE_TAG}","level":{level}',
                        f'{{"sid":"{sid}","id":"{k}s{level}"}}',
                    )
                    for k in range(BATCH_CHUNK)
                )
                for level in range(self.compiled.tactic_level + 1)
            )
            self._batch_texts[sid] = texts
        return texts

    def _run_many(self, facts: Sequence[Mapping[str, Any]], frags: list[dict[str, str]]) -> list[Firing]:
        sid = self._sessions.pop() if self._sessions else f"nr{next(_sids)}"
        count = len(facts)
        found: list[tuple[set[str], set[str], set[str], set[str]]] = [
            (set(), set(), set(), set()) for _ in range(count)
        ]
        news: list[list[str]] = [[] for _ in range(count)]
        values: list[dict[str, Any]] = []
        for part in frags:
            part.update(self._situations_false)
        if self._guarded:
            for fact in facts:
                values.append(dict(fact))
                values[-1].update(self._situation_values)
        asserted: list[tuple[_ShardEngine, str]] = []
        clean = True
        try:
            for level, texts in enumerate(self._batch(sid)):
                for k in range(count):
                    for name in news[k]:
                        key = self._situation_keys[name]
                        if values:
                            values[k][key] = True
                        if key in self._situation_frags:
                            frags[k][key] = self._situation_frags[key][1]
                    news[k] = []
                asks: dict[_ShardEngine, list[int]] = {}
                if values:
                    for k in range(count):
                        for engine in self._select(level, values[k]):
                            asks.setdefault(engine, []).append(k)
                else:
                    plan = self._plans.get(level)
                    everyone = list(range(count))
                    asks = {engine: everyone for engine in (plan.always if plan else ())}
                for engine, ks in asks.items():
                    stage_texts = []
                    for k in ks:
                        part = frags[k]
                        try:
                            body = ",".join([part[key] for key in engine.keys])
                        except KeyError:
                            body = ",".join([part[key] for key in engine.keys if key in part])
                        stage_texts.append(f"{texts[k][0]},{body}}}" if body else texts[k][0] + "}")
                    retraction = "[" + ",".join([texts[k][1] for k in ks]) + "]"
                    with engine.lock:
                        asserted.append((engine, retraction))
                        messages = engine.run_many("[" + ",".join(stage_texts) + "]")
                    for message in messages:
                        name = message[2 : message.index('"', 2)]
                        at = message.index(',"id":"') + 7
                        k = int(message[at : message.index("s", at)])
                        kind, ident = self._verdicts.get(name) or _verdict(name)
                        if kind == 0 and ident not in found[k][0]:
                            news[k].append(ident)
                        found[k][kind].add(ident)
        except _drl.error as exc:
            clean = False
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        finally:
            self._end_session(sid, asserted, clean, many=True)
        return [Firing(frozenset(s), frozenset(m), frozenset(b), frozenset(p)) for s, m, b, p in found]

    # -- the result cache ------------------------------------------------------------------------

    def cache_info(self) -> tuple[int, int, int, int]:
        """``(hits, misses, entries, size)`` of this ruleset's result cache (size 0: off)."""
        return self._cache.hits, self._cache.misses, len(self._cache), self._cache.size

    def clear_cache(self) -> None:
        """Forget every cached result (the counters too)."""
        size = self._cache.size
        self._cache = _ResultCache(size)


_engines: weakref.WeakKeyDictionary[Ruleset, Engine] = weakref.WeakKeyDictionary()
_engines_lock = threading.Lock()
_observers: list[Callable[[Ruleset, Firing], None]] = []
_cache_size = 0


def set_result_cache_size(size: int) -> int:
    """Keep up to ``size`` results per ruleset in an LRU cache (0, the default, turns it off); returns the old size.

    A result depends only on the values of the fact keys the rules read, and the engine is
    deterministic, so a cached result is exactly what durable-rules would conclude again. It
    pays off when the same states come back (a screen refreshed without a change, a batch with
    repeated rows); each entry holds one encoded fact (about 1 KB with the built-in rules).
    """
    global _cache_size
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"the cache size is a whole number >= 0, got {size!r}")
    with _engines_lock:
        old, _cache_size = _cache_size, size
        for engine in list(_engines.values()):
            engine._cache.resize(size)
    return old


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
