"""Facts -> fired rules, inside durable-rules, one isolated engine session per evaluation.

We talk to durable-rules' C core (``durable_rules_engine``) directly instead of through its
global ``Host``: each compiled ruleset owns its engine handles, every evaluation runs in a
session (``sid``) that no other evaluation uses at the same time, and its facts are retracted
in ``finally``. The C core is not thread-safe, but none of its functions releases the GIL
(the extension never calls ``PyEval_SaveThread``, and we register none of the callbacks
through which it would run Python code), so each call is atomic for Python threads; what a
sequence of calls shares (the facts, the started action) belongs to the session, which one
caller holds at a time. A lock per shard therefore bought nothing but contention (4 threads
lost throughput against 1) and is gone. Nothing is registered globally, so a failing or
concurrent call cannot leave state behind for the next one.

Sessions are reused from a pool rather than deleted: durable-rules' ``delete_state``
corrupts the heap once a ruleset has a few dozen rules and a second ruleset exists in the
process (reproduced in tests/test_engine.py's notes), while retracting the facts leaves the
session empty and is safe. durable-rules holds at most 1,024 sessions per ruleset
(``MAX_STATE_INDEX_LENGTH``; beyond that it fails or crashes), so the pool holds at most
``MAX_SESSIONS`` per ruleset and further callers wait for one (``SESSION_WAIT_SECONDS``, then
an ``EngineError``).

A session goes back to the pool only when its call ended normally and its facts were
retracted. A call that ended otherwise (an ``EngineError``, or a ``KeyboardInterrupt`` or a
timeout signal, which Python delivers between any two bytecodes, so between two calls into
the C core) may leave facts and a started action behind; its session is *dirty*, and the next
caller that finds no idle session scrubs it for itself (``_ShardEngine.scrub``: abandon the started action,
complete the rest, retract every stage fact id the session can hold, check that it holds no
fact). A session that cannot be proven empty is retired, never reused. Which sessions are
idle, dirty, leased or retired is one status per session id, each change a single store, and a
lease held by a call that vanished (its frame unwound by an interrupt before it could say so)
is found by a weak reference and scrubbed too: no session is ever lost or reused unclean.

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
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import durable_rules_engine as _drl

from ._compiler import STAGE_TAG, CompiledRuleset, EngineRule, Pins, Shard
from ._derived import derived
from ._errors import EngineError, RulesetError
from ._factcheck import FactCheck
from ._facts import FactBuilder
from ._firing import Firing, notify, observed

if TYPE_CHECKING:
    from ._ruleset import Ruleset

_sids = itertools.count(1)
_names = itertools.count(1)
_MISSING: Any = object()
#: ``evaluate_many`` asserts the stage facts of up to this many states into one shard at once.
BATCH_CHUNK = 32
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:\- ]*\Z").match
SITUATION_KEY = "situation__"
#: Engine sessions per ruleset: durable-rules holds at most 1,024 (``MAX_STATE_INDEX_LENGTH``).
MAX_SESSIONS = 1000
#: How long a caller waits for a session when ``MAX_SESSIONS`` calls of one ruleset are in flight.
SESSION_WAIT_SECONDS = 60.0
#: Actions a scrub completes in one session of one shard before it gives up on proving it empty.
_DRAIN_LIMIT = 100_000
#: A pool with no session free looks for lost ones at most this often (seconds): a scan of all of them.
_RECONCILE_EVERY = 0.05
_live_handles: set[int] = set()
#: Encoded fact values an engine remembers before it starts over.
FRAGMENT_LIMIT = 4096
#: A rule every shard has, fired once in each new session (see ``_ShardEngine.init_session``).
_INIT_RULE = "nr-init"


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
    """Free one C ruleset; it leaves ``live_handles()`` only once the C call ran.

    An interrupt landing in this finalizer (the attacker review found one) then leaves the
    handle listed rather than leaked unseen; it is never deleted twice.
    """
    with contextlib.suppress(Exception):
        _drl.delete_ruleset(handle)
    _live_handles.discard(handle)


def live_handles() -> frozenset[int]:
    """The durable-rules ruleset handles this process holds now (one per shard of each live ruleset)."""
    return frozenset(_live_handles)


def _verdict(name: str) -> tuple[int, str]:
    """``s:<id>#k`` -> (0, id) a situation, ``r:`` -> (1, id) a match, ``u:`` -> (2, id) a block, ``p:`` -> (3, id)."""
    kind, _, ident = name.partition(":")
    return {"s": 0, "r": 1, "p": 3}.get(kind, 2), ident.rpartition("#")[0]


_T = TypeVar("_T")
#: What one evaluation found so far: situations, matched rules, blocked rules, doubtful rules.
_Found = tuple[set[str], set[str], set[str], set[str]]


def _firing(found: _Found) -> Firing:
    """The Firing of what one evaluation found."""
    return Firing(frozenset(found[0]), frozenset(found[1]), frozenset(found[2]), frozenset(found[3]))


def _stage_body(keys: Sequence[str], frags: Mapping[str, str]) -> str:
    """The fragments of the keys one shard reads, joined: what its rules can see of a stage fact."""
    try:
        return ",".join([frags[k] for k in keys])
    except KeyError:  # a key the fact does not have: leave it out, as the full fact would
        return ",".join([frags[k] for k in keys if k in frags])


def _stage_text(head: str, keys: Sequence[str], frags: Mapping[str, str]) -> str:
    """One stage fact for one shard: its head (session, id, stage) and the fragments of the keys the shard reads."""
    return _with_head(head, _stage_body(keys, frags))


def _with_head(head: str, body: str) -> str:
    """A stage fact's text from its head and body."""
    return f"{head},{body}}}" if body else head + "}"


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
    """One durable-rules ruleset (a shard): its handle, the keys its rules read and its guard.

    No lock: durable-rules' C functions never release the GIL, so each call into a shard is
    atomic for Python threads, and all that a sequence of calls shares (the action context,
    the facts) belongs to one session, which the pool leases to one caller at a time.
    """

    def __init__(self, shard: Shard) -> None:
        self.levels = shard.levels
        self.keys = shard.keys
        self.guard = shard.guard
        self.rest_guard = shard.guard[1:]  # the first key is looked up in the stage index
        definition = shard.definition()
        definition[_INIT_RULE] = {"all": [{"m": {"t": _INIT_RULE}}]}
        self.handle: int = _drl.create_ruleset(f"negotiation_rules_{next(_names)}", json.dumps(definition))
        _live_handles.add(self.handle)
        weakref.finalize(self, _delete_ruleset, self.handle)
        #: Every fact id a session can hold in this shard: one per stage, one per state of a batch per stage.
        self._ids = [f"stage{level}" for level in sorted(self.levels)] + [
            f"{k}s{level}" for level in sorted(self.levels) for k in range(BATCH_CHUNK)
        ]

    def init_session(self, sid: str) -> None:
        """Open session ``sid`` here by running one action in it, so its action context is set.

        durable-rules leaves a new session's action context uninitialised until an action
        starts in it, and ``abandon_action`` frees whatever it holds: without this, scrubbing a
        session in which no rule ever fired would free a garbage pointer.
        """
        fact = f'{{"sid":"{sid}","id":"{_INIT_RULE}","t":"{_INIT_RULE}"}}'
        _, state = _drl.retract_fact(self.handle, f'{{"sid":"{sid}","id":"nr-probe"}}')  # just its state handle
        held = json.loads(_drl.get_facts(self.handle, sid))
        message: Any = None
        if any(item.get("id") == _INIT_RULE for item in held):
            # an opening that was interrupted: the first action was started (and is pending) or is ready
            message = _drl.start_action_for_state(self.handle, state)
            if not message:
                _drl.abandon_action(self.handle, state)  # started before, so the action context is set
                message = _drl.start_action_for_state(self.handle, state)
        elif held:
            raise _drl.error("a session being opened already holds facts")
        else:
            _, state = _drl.assert_fact(self.handle, fact)
            message = _drl.start_action_for_state(self.handle, state)
            if not message:
                raise _drl.error("the session's first action did not start")
        while message:
            message = _drl.complete_and_start_action(self.handle, state)
        _drl.retract_fact(self.handle, fact)

    def scrub(self, sid: str) -> bool:
        """Empty one session whatever an interrupted call left in it; True when it is proven empty.

        A started action is abandoned and every pending one completed *before* the facts are
        retracted (retracting a fact under a pending action and then starting an action
        crashes durable-rules); then every stage fact id this shard knows is retracted.
        """
        _, state = _drl.retract_fact(self.handle, f'{{"sid":"{sid}","id":"nr-probe"}}')  # just its state handle
        _drl.abandon_action(self.handle, state)
        message: Any = _drl.start_action_for_state(self.handle, state)
        drained = 0
        while message:
            drained += 1
            if drained > _DRAIN_LIMIT:
                _drl.abandon_action(self.handle, state)
                return False
            message = _drl.complete_and_start_action(self.handle, state)
        _drl.retract_facts(self.handle, json.dumps([{"sid": sid, "id": ident} for ident in self._ids]))
        return bool(json.loads(_drl.get_facts(self.handle, sid)) == [])

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


_IDLE = "idle"
_DIRTY = "dirty"
_UNOPENED = "unopened"  # its opening was interrupted; ``init_session`` resumes it
_RETIRED = "retired"


class _Lease:
    """A session handed to one call; the pool keeps only a weak reference, so a lost lease is noticed."""

    __slots__ = ("__weakref__", "sid")

    def __init__(self) -> None:
        self.sid = ""


class _Pool:
    """The engine sessions of one ruleset: at most ``MAX_SESSIONS``, each idle, leased, dirty or retired.

    ``status`` is the truth (one entry per session id ever used, each change one store, so an
    interrupt cannot lose a session); ``idle`` and ``dirty`` are lists that say where to look
    and may hold stale ids, which are skipped. A caller takes an idle session, else scrubs a
    dirty one for itself, else opens a new one, else waits.
    """

    def __init__(self, init: Callable[[str], bool], scrub: Callable[[str], bool]) -> None:
        self.init = init
        self.scrub = scrub
        self.status: dict[str, Any] = {}
        self.idle: list[str] = []
        self.dirty: list[str] = []
        self.lock = threading.Lock()
        self.reconciled_at = 0.0
        self.retired = 0  # as counted at the last reconciliation

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock; sessions other threads held at the fork are dirty."""
        self.lock = threading.Lock()
        for sid, status in list(self.status.items()):
            if isinstance(status, weakref.ref) or (isinstance(status, tuple) and status[0] == _DIRTY):
                self.status[sid] = _DIRTY
                self.dirty.append(sid)
            elif isinstance(status, tuple):  # being opened by a thread the child does not have
                self.status[sid] = _UNOPENED
                self.dirty.append(sid)

    def acquire(self, timeout: float) -> _Lease:
        """An empty session for one call; waits up to ``timeout`` seconds while all are in use.

        Waiting polls (a millisecond, doubling up to 200 ms) instead of using a Condition: its
        ``__enter__`` is Python code, and an interrupt landing inside it would keep the lock.
        """
        lease = _Lease()
        ref = weakref.ref(lease)
        deadline = time.monotonic() + timeout
        pause = 0.001
        while True:
            with self.lock:
                sid, how = self._take()
                if how == "new" or (sid is None and time.monotonic() - self.reconciled_at > _RECONCILE_EVERY):
                    if sid is not None:
                        self.status.pop(sid, None)
                    self._reconcile()  # sessions an interrupt lost are found before new ones are opened
                    sid, how = self._take()
                if sid is not None:
                    lease.sid = sid
                    if how == _IDLE:
                        self.status[sid] = ref
                        return lease
                    self.status[sid] = (how, ref)  # scrubbed or opened outside the lock, for this call only
            if sid is not None:
                if self.scrub(sid) if how == _DIRTY else self.init(sid):
                    self.status[sid] = ref
                    return lease
                self.status[sid] = _RETIRED
                continue
            left = deadline - time.monotonic()
            if left <= 0 or self.retired >= MAX_SESSIONS:
                raise EngineError(
                    f"all {MAX_SESSIONS} engine sessions of this ruleset stayed in use for {timeout:g} s"
                    f" ({self.retired} retired); too many calls of one ruleset at once"
                )
            time.sleep(min(left, pause))
            pause = min(pause * 2, 0.2)

    def _take(self) -> tuple[str | None, str]:
        """An idle session, else a dirty or unopened one, else a new id (status ``None``), else nothing."""
        while self.idle:
            sid = self.idle.pop()
            if self.status.get(sid) is _IDLE:
                return sid, _IDLE
        while self.dirty:
            sid = self.dirty.pop()
            status = self.status.get(sid)
            if status is _DIRTY:
                return sid, _DIRTY
            if status is _UNOPENED:
                return sid, "open"
        if len(self.status) < MAX_SESSIONS:
            sid = f"nr{next(_sids)}"
            self.status[sid] = None  # counted from now on; the caller sets what it is
            return sid, "new"
        return None, ""

    def _reconcile(self) -> None:
        """Find what interrupts left half-done: leases whose call is gone, ids missing from the lists."""
        self.reconciled_at = time.monotonic()
        idle, dirty = set(self.idle), set(self.dirty)
        for sid, status in list(self.status.items()):
            if status is None:
                self.status.pop(sid)  # a new id whose caller never got to it: nothing was opened
                continue
            if isinstance(status, weakref.ref) and status() is None:
                self.status[sid] = status = _DIRTY
            elif isinstance(status, tuple) and status[1]() is None:  # an interrupted scrub or opening: redo it
                self.status[sid] = status = _DIRTY if status[0] == _DIRTY else _UNOPENED
            if status is _IDLE and sid not in idle:
                self.idle.append(sid)
            elif (status is _DIRTY or status is _UNOPENED) and sid not in dirty:
                self.dirty.append(sid)
        self.retired = sum(1 for status in self.status.values() if status is _RETIRED)

    def release(self, lease: _Lease, clean: bool) -> None:
        """Give a session back: idle when the call ended normally and emptied it, else dirty (scrubbed later)."""
        sid = lease.sid
        with self.lock:
            if clean:
                self.idle.append(sid)
                self.status[sid] = _IDLE
            else:
                self.dirty.append(sid)
                self.status[sid] = _DIRTY

    def count(self) -> int:
        """Sessions opened in durable-rules (idle, leased, dirty or retired)."""
        return sum(1 for status in list(self.status.values()) if status is not None)


class Engine:
    """A compiled ruleset loaded into durable-rules; ``evaluate`` is safe from many threads."""

    def __init__(self, ruleset: Ruleset) -> None:
        # only a weak reference: the ruleset keys the engine cache, and the engine must not keep it alive
        self._ruleset = weakref.ref(ruleset)
        self.compiled: CompiledRuleset = ruleset.compiled()
        #: ``build_fact`` planned for this ruleset's counts: ``engine.facts(effective_state, trends)``.
        self.facts = FactBuilder(self.compiled.counts)
        self.shards = [engine for shard in self.compiled.shards for engine in self._load(ruleset, shard)]
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
        self._check = FactCheck(self.compiled.counts)
        #: (key, type, value) -> its checked JSON fragment: most values (a phase, a level) recur call after call.
        self._frags: dict[tuple[str, type, Any], str] = {}
        self._situation_frags = {
            key: (json.dumps(key) + ":false", json.dumps(key) + ":true") for key in sorted(situation_keys & read)
        }
        self._situations_false = {key: frags[0] for key, frags in self._situation_frags.items()}
        self._situation_values = dict.fromkeys(self._situation_keys.values(), False)
        self._pool = _Pool(self._init_session, self._scrub)
        self._stage_texts: dict[str, tuple[tuple[str, str], ...]] = {}  # per session: (head, retraction) per stage
        self._batch_texts: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {}  # the same per stage per state
        #: engine rule name -> (0 situation / 1 match / 2 block, the situation or rule id)
        self._verdicts: dict[str, tuple[int, str]] = {
            rule.name: _verdict(rule.name) for shard in self.compiled.shards for rule in shard.rules
        }
        self._cache = _ResultCache(_cache_size)
        _all_engines.add(self)

    @property
    def ruleset(self) -> Ruleset | None:
        """The ruleset this engine runs (None once it was freed)."""
        return self._ruleset()

    @property
    def _sessions(self) -> list[str]:
        """The idle session ids (each empty of facts)."""
        return [sid for sid, status in list(self._pool.status.items()) if status is _IDLE]

    def session_count(self) -> int:
        """How many engine sessions this ruleset has opened in durable-rules (at most ``MAX_SESSIONS``)."""
        return self._pool.count()

    def _init_session(self, sid: str) -> bool:
        """Open a new session in every shard; False when durable-rules refuses (it is then never used)."""
        for engine in self.shards:
            try:
                engine.init_session(sid)
            except _drl.error:
                return False
        return True

    def _scrub(self, sid: str) -> bool:
        """Empty one session in every shard; False when a shard cannot prove it empty."""
        for engine in self.shards:
            try:
                if not engine.scrub(sid):
                    return False
            except _drl.error:
                return False
        self._stage_texts.pop(sid, None)
        self._batch_texts.pop(sid, None)
        return True

    def _after_fork(self) -> None:
        """In a forked child: fresh locks (another thread may have held one at the fork)."""
        self._cache._lock = threading.Lock()
        self._pool.reset_after_fork()

    def _load(self, ruleset: Ruleset, shard: Shard) -> list[_ShardEngine]:
        """Create the shard in durable-rules; if it refuses, split to find and name the bad rule."""
        try:
            return [_ShardEngine(shard)]
        except _drl.error as exc:
            if len(shard.rules) == 1:
                raise self._refused(ruleset, shard.rules[0], exc) from None
            half = len(shard.rules) // 2
            return self._load(ruleset, Shard(shard.rules[:half])) + self._load(ruleset, Shard(shard.rules[half:]))

    def _refused(self, ruleset: Ruleset, rule: EngineRule, exc: Exception) -> RulesetError:
        kind, _, ident = rule.name.partition(":")
        ident = ident.rpartition("#")[0]
        where: Any = next(s for s in ruleset.situations if s.id == ident) if kind == "s" else ruleset.rule(ident)
        return RulesetError(
            f"durable-rules refused this rule: {exc}",
            file=where.file,
            line=where.line,
            rule_id=ident,
            code="engine-limit",
        )

    # -- evaluation ------------------------------------------------------------------------------

    def encode(self, fact: Mapping[str, Any]) -> dict[str, str]:
        """``"key":value`` JSON fragments of every fact key a rule reads (situations are set per stage).

        Each value is checked against its field first (``FactCheck``): a state built without
        validation (``model_copy(update=...)``) must not hand durable-rules a value it fails on.
        """
        frags: dict[str, str] = {}
        get = fact.get
        known = self._frags
        for key, prefix in self._fact_keys:
            value = get(key, _MISSING)
            if value is _MISSING:
                continue
            if value is True:
                frags[key] = prefix + "true"
            elif value is False:
                frags[key] = prefix + "false"
            else:
                try:
                    at: Any = (key, value.__class__, value)  # the type too: 1 and 1.0 are written differently
                    frag = known.get(at)
                except TypeError:  # unhashable: FactCheck refuses it below
                    at = frag = None
                if frag is None:
                    self._check(key, value)  # a fragment is remembered only once its value passed
                    frag = prefix + encode_value(value)
                    if at is not None:
                        if len(known) >= FRAGMENT_LIMIT:
                            known.clear()
                        known[at] = frag
                frags[key] = frag
        return frags

    def _retract(self, asserted: dict[_ShardEngine, list[str]], many: bool) -> bool:
        """Retract what a call asserted, one call per shard; False when durable-rules refused (then scrubbed).

        Each text is one retraction (``{"sid", "id"}``), or with ``many`` several joined by commas.
        """
        clean = True
        for engine, texts in asserted.items():
            try:
                if len(texts) == 1 and not many:
                    engine.retract(texts[0])
                else:
                    engine.retract_many("[" + ",".join(texts) + "]")
            except _drl.error:
                clean = False
        return clean

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
        if observed():
            notify(self._ruleset(), result)
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

    def _leased(self, stages: Callable[[str], tuple[_T, dict[_ShardEngine, list[str]]]], many: bool) -> _T:
        """Run ``stages(sid)`` in a session leased from the pool, retract what it asserted, give the session back.

        The session goes back idle only when the stages ended normally and every retraction
        succeeded; otherwise (an error, an interrupt between two calls) it is dirty and scrubbed
        before anyone uses it again.
        """
        lease = self._pool.acquire(SESSION_WAIT_SECONDS)
        clean = False
        try:
            result, asserted = stages(lease.sid)
            clean = self._retract(asserted, many)
        finally:
            self._pool.release(lease, clean)
        return result

    def _run(self, fact: Mapping[str, Any], frags: dict[str, str]) -> Firing:
        """One fact's stages in a leased session."""
        return self._leased(lambda sid: self._stages(sid, fact, frags), many=False)

    def _prepare(self, facts: Sequence[Mapping[str, Any]], frags: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Set every situation to false in the fragments; the stage values the shard guards read (if any)."""
        for part in frags:
            part.update(self._situations_false)
        if not self._guarded:
            return []
        values = []
        for fact in facts:
            stage = dict(fact)
            stage.update(self._situation_values)
            values.append(stage)
        return values

    def _conclude(self, news: list[str], frags: dict[str, str], values: dict[str, Any] | None) -> None:
        """Situations concluded at the last stage become true in the next stage's fragments and guard values."""
        for name in news:
            key = self._situation_keys[name]
            if values is not None:
                values[key] = True
            if key in self._situation_frags:
                frags[key] = self._situation_frags[key][1]
        news.clear()

    def _decode(self, names: Sequence[str], found: _Found, news: list[str]) -> None:
        """File fired engine rules under situations, matches, blocks or doubts; new situations go to ``news``."""
        verdicts = self._verdicts
        for name in names:
            kind, ident = verdicts.get(name) or _verdict(name)
            if kind == 0 and ident not in found[0]:
                news.append(ident)
            found[kind].add(ident)

    def _stages(
        self, sid: str, fact: Mapping[str, Any], frags: dict[str, str]
    ) -> tuple[Firing, dict[_ShardEngine, list[str]]]:
        """Run every stage in session ``sid``; what was asserted (per shard) is returned for the caller to retract."""
        found: _Found = (set(), set(), set(), set())
        asserted: dict[_ShardEngine, list[str]] = {}
        guarded = self._prepare((fact,), [frags])
        values = guarded[0] if guarded else None
        news: list[str] = []
        try:
            for level, (head, retraction) in enumerate(self._texts(sid)):
                self._conclude(news, frags, values)
                derived: list[str] = []
                for engine in self._select(level, values) if values is not None else self._always(level):
                    asserted.setdefault(engine, []).append(retraction)  # before the call: an interrupt may follow it
                    derived.extend(engine.run(_stage_text(head, engine.keys, frags)))
                self._decode(derived, found, news)
        except _drl.error as exc:
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        return _firing(found), asserted

    def _always(self, level: int) -> tuple[_ShardEngine, ...]:
        """The shards of one stage when no shard has a guard: all of them."""
        plan = self._plans.get(level)
        return plan.always if plan is not None else ()

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
        if observe and observed():  # hypothetical states (questions) are not observed
            ruleset = self._ruleset()
            for result in done:
                notify(ruleset, result)
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
        """Up to ``BATCH_CHUNK`` facts' stages together in one leased session."""
        return self._leased(lambda sid: self._stages_many(sid, facts, frags), many=True)

    def _stages_many(
        self, sid: str, facts: Sequence[Mapping[str, Any]], frags: list[dict[str, str]]
    ) -> tuple[list[Firing], dict[_ShardEngine, list[str]]]:
        """``_stages`` for up to ``BATCH_CHUNK`` facts at once (fact id ``<k>s<stage>`` says whose a message is)."""
        count = len(facts)
        found: list[_Found] = [(set(), set(), set(), set()) for _ in range(count)]
        news: list[list[str]] = [[] for _ in range(count)]
        values = self._prepare(facts, frags)
        asserted: dict[_ShardEngine, list[str]] = {}
        try:
            for level, texts in enumerate(self._batch(sid)):
                for k in range(count):
                    self._conclude(news[k], frags[k], values[k] if values else None)
                asks: dict[_ShardEngine, list[int]] = {}
                if values:
                    for k in range(count):
                        for engine in self._select(level, values[k]):
                            asks.setdefault(engine, []).append(k)
                else:
                    everyone = list(range(count))
                    asks = dict.fromkeys(self._always(level), everyone)
                for engine, ks in asks.items():
                    # states whose stage facts read the same in this shard fire the same rules in it (each
                    # rule reads one fact): it is asked once per distinct fact, and the others get its answer
                    first: dict[str, int] = {}
                    alike: dict[int, list[int]] = {}
                    asked: list[int] = []
                    stage_texts: list[str] = []
                    for k in ks:
                        body = _stage_body(engine.keys, frags[k])
                        seen = first.setdefault(body, k)
                        if seen == k:
                            asked.append(k)
                            stage_texts.append(_with_head(texts[k][0], body))
                        else:
                            alike.setdefault(seen, []).append(k)
                    asserted.setdefault(engine, []).append(",".join([texts[k][1] for k in asked]))
                    fired: dict[int, list[str]] = {}
                    for message in engine.run_many("[" + ",".join(stage_texts) + "]"):
                        at = message.index(',"id":"') + 7
                        k = int(message[at : message.index("s", at)])
                        fired.setdefault(k, []).append(message[2 : message.index('"', 2)])
                    for k, names in fired.items():
                        self._decode(names, found[k], news[k])
                        for other in alike.get(k, ()):
                            self._decode(names, found[other], news[other])
        except _drl.error as exc:
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        return [_firing(f) for f in found], asserted

    # -- the result cache ------------------------------------------------------------------------

    def cache_info(self) -> tuple[int, int, int, int]:
        """``(hits, misses, entries, size)`` of this ruleset's result cache (size 0: off)."""
        return self._cache.hits, self._cache.misses, len(self._cache), self._cache.size

    def clear_cache(self) -> None:
        """Forget every cached result (the counters too)."""
        size = self._cache.size
        self._cache = _ResultCache(size)


_engines_lock = threading.Lock()
_all_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
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
        for engine in list(_all_engines):
            engine._cache.resize(size)
    return old


def engine_for(ruleset: Ruleset) -> Engine:
    """The engine of a ruleset, created on first use and kept as long as the ruleset lives (see _derived.py)."""
    return derived(ruleset, Engine)


def _after_fork_in_child() -> None:
    """A forked child has only the forking thread: every lock another thread held is reset."""
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in list(_all_engines):
        engine._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
