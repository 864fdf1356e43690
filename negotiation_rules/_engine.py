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
``MAX_SESSIONS`` per ruleset, and fewer for a big one: a session takes memory in every shard
for every rule (about 63 MB for 4,000 rules) and keeps it, so a ruleset opens only as many as
``SESSION_MEMORY_BUDGET`` holds (``session_limit``). Further callers wait in line for one
(``SESSION_WAIT_SECONDS``, then an ``EngineError``); a session given back goes to the caller
that waited longest.

Loading a ruleset checks each shard on durable-rules (creates it and frees it again, so a
rule it refuses fails at load time whichever engine runs it); the engine builds its shards
for good on its first durable-rules call, so a ruleset only the compiled engine runs never
holds durable-rules' memory (``Engine._open``).

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
  encoded once per evaluation (``,"phase":"bargaining"``, ``""`` for a key the fact lacks) with
  one join per shard (``_ShardEngine.pick``) instead of ``json.dumps`` per stage;
- a fact is retracted by its session and id alone (durable-rules looks the stored fact up by
  id), so the retraction text is a few bytes; a stage fact that matched no rule (assert code 1)
  is not retracted at all: durable-rules stores a fact only once it reaches a rule
  (``handleAlpha`` in its events.c), so the session holds nothing of it (a test checks);
- what fired is read once: each action message's rule name is sliced off as the action loop
  runs, and filed per stage (``_decode``), which also turns the situations concluded true in
  the next stage's fragments; a batch's message gives its rule and its state with one ``find``;
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
import operator
import os
import re
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import durable_rules_engine as _drl

from ._compiler import STAGE_TAG, CompiledRuleset, EngineRule, Pins, Shard
from ._conditions import Condition
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
#: ``evaluate_many`` asserts the stage facts of up to this many states into one shard at once (at most
#: 52: each is named by one letter, ``_batch_id``).
BATCH_CHUNK = 32
#: The letter that names state ``k`` of a batch in its stage facts' ids (``_batch_id``), and back.
_BATCH_KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[:BATCH_CHUNK]
_BATCH_K = {letter: k for k, letter in enumerate(_BATCH_KEYS)}
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:\- ]*\Z").match
SITUATION_KEY = "situation__"
#: Engine sessions per ruleset: durable-rules holds at most 1,024 (``MAX_STATE_INDEX_LENGTH``).
MAX_SESSIONS = 1000
#: The memory the open sessions of one ruleset may take together (estimated, see ``session_limit``) ...
SESSION_MEMORY_BUDGET = 512 * 2**20
#: ... but a ruleset may always open this many (a caller paused inside the engine does not stop the others).
MIN_SESSIONS = 2
#: What one session adds to the resident memory, per shard and per engine rule (benchmarks/memory.py, fitted).
SESSION_BYTES_PER_SHARD = 68 * 1024
SESSION_BYTES_PER_RULE = 10 * 1024 + 512
#: How long a caller waits for a session when ``MAX_SESSIONS`` calls of one ruleset are in flight.
SESSION_WAIT_SECONDS = 60.0
#: Actions a scrub completes in one session of one shard before it gives up on proving it empty.
_DRAIN_LIMIT = 100_000
#: A pool with no session free looks for lost ones at most this often (seconds): a scan of all of them.
_RECONCILE_EVERY = 0.05
#: A caller waiting for a session looks again at least this often (seconds), for sessions found by reconciling.
_WAIT_SLICE = 0.2
_live_handles: set[int] = set()
#: Encoded fact values an engine remembers before it starts over.
FRAGMENT_LIMIT = 4096
#: A rule every shard has, fired once in each new session (see ``_ShardEngine.init_session``).
_INIT_RULE = "nr-init"
#: The id of a fact never asserted: retracting it gives a session's state handle.
_PROBE = "nr-probe"


def id_hash(text: str) -> int:
    """durable-rules' hash of a session id or a fact id: FNV-1a, 32 bits (``fnv1Hash32`` in its state.c).

    durable-rules finds a session, and a fact within a session, by this hash of its id alone and
    never compares the text: two ids with one hash are one id to it (see ``_fresh_sid``).
    """
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _fresh_sid(reserved: frozenset[int], taken: set[int]) -> str:
    """A new session id that durable-rules cannot mistake for another id (its hash joins ``taken``).

    Its hash must differ from every other session id's of the ruleset (``taken``: two would be
    one session), and the hash of its state message's id (``"sid-" + sid``, which durable-rules
    stores in the session on its first fact) from every fact id the session holds (``reserved``):
    such a fact would be refused as seen already, matching nothing, and retracting it would
    delete the state message and crash the next assert. One id in about a million is skipped.
    """
    while True:
        sid = f"nr{next(_sids)}"
        own = id_hash(sid)
        if own not in taken and id_hash("sid-" + sid) not in reserved:
            taken.add(own)
            return sid


#: The keys every stage fact has besides the ones its shard's rules read.
_HEAD_KEYS = ("sid", "id", "t", "level")


def _check_key_hashes(keys: set[str], ruleset: Ruleset) -> None:
    """RulesetError when two fact keys have one ``id_hash``: durable-rules finds a fact's field by that
    hash of its name alone (``getObjectProperty`` in its state.c), so a rule would read the other field.

    Keys come from situation ids and from counts' conditions (a digest), so a user's rules can make
    two alike: the situation, or the first rule, that reads the later key is named.
    """
    seen = {id_hash(key): key for key in _HEAD_KEYS}
    for key in sorted(keys):
        other = seen.setdefault(id_hash(key), key)
        if other == key:
            continue
        for situation in ruleset.situations:
            if key == f"{SITUATION_KEY}{situation.id}":
                named = other.startswith(SITUATION_KEY)
                shown = f"situation '{other[len(SITUATION_KEY) :]}'" if named else f"the fact key '{other}'"
                raise RulesetError(
                    f"durable-rules cannot tell situation '{situation.id}' from {shown} "
                    "(their names have one 32-bit hash); rename the situation",
                    file=situation.file,
                    line=situation.line,
                    rule_id=situation.id,
                    kind="situation",
                    code="engine-limit",
                )
        rule = next((r for r in ruleset.rules for c in (r.when, r.unless) if c and key in _keys_of(c)), None)
        raise RulesetError(
            f"durable-rules cannot tell the fact key '{key}' from '{other}' (their names have one 32-bit hash); "
            "change the condition",
            file=None if rule is None else rule.file,
            line=None if rule is None else rule.line,
            rule_id=None if rule is None else rule.id,
            code="engine-limit",
        )


def _keys_of(cond: Condition) -> set[str]:
    """The fact keys a condition's tests read."""
    return {test.key for test in cond.leaves()}


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
    """The durable-rules ruleset handles this process holds now (one per shard of each live ruleset that
    was evaluated on durable-rules: a loaded ruleset has none until then, see ``Engine._open``)."""
    return frozenset(_live_handles)


def session_limit(shards: int, engine_rules: int) -> int:
    """How many sessions a ruleset of this size may open at once: as many as ``SESSION_MEMORY_BUDGET`` holds.

    durable-rules allocates each session's working memory up front, in every shard and for
    every rule (about 63 MB for the 4,000-rule benchmark book), and never frees it (see the
    module docstring). More sessions than the calls that are inside the engine at the same
    moment buy nothing: no durable-rules call releases the GIL, so throughput is the same
    with 2 sessions as with 16 (docs/performance.md). The built-in rules get 254, 4,000 rules 7.
    """
    each = shards * SESSION_BYTES_PER_SHARD + engine_rules * SESSION_BYTES_PER_RULE
    return max(MIN_SESSIONS, min(MAX_SESSIONS, SESSION_MEMORY_BUDGET // max(1, each)))


def _verdict(name: str) -> tuple[int, str]:
    """``s:<id>#k`` -> (0, id) a situation, ``r:`` -> (1, id) a match, ``u:`` -> (2, id) a block, ``p:`` -> (3, id)."""
    kind, _, ident = name.partition(":")
    return {"s": 0, "r": 1, "p": 3}.get(kind, 2), ident.rpartition("#")[0]


_T = TypeVar("_T")
#: What one evaluation found: situations, matched rules, blocked rules, doubtful rules (ids, repeats allowed).
_Found = tuple[list[str], list[str], list[str], list[str]]
#: What one call asserted and must retract: per shard, one ``{"sid", "id"}`` text or a JSON array of them.
_Stored = list[tuple["_ShardEngine", str]]


def _firing(found: _Found) -> Firing:
    """The Firing of what one evaluation found."""
    return Firing(frozenset(found[0]), frozenset(found[1]), frozenset(found[2]), frozenset(found[3]))


def _batch_id(k: int, level: int) -> str:
    """The fact id of state ``k`` of a batch at one stage: one letter for ``k``, so an action message
    tells whose it is by the character at a known place (``_ShardEngine.run_many``)."""
    return f"{_BATCH_KEYS[k]}s{level}"


def _whose(message: str) -> int:
    """Which state of a batch an action message is about (its fact id ``_batch_id(k, stage)``), found the long way."""
    at = message.index(',"id":"', message.index('"', 2)) + 7
    return _BATCH_K[message[at]]


def _picker(keys: Sequence[str]) -> Callable[[Mapping[str, str]], Sequence[str]]:
    """``keys`` looked up in a mapping, always as a sequence (``itemgetter`` of one key gives the bare value)."""
    if len(keys) > 1:
        return operator.itemgetter(*keys)
    if keys:
        key = keys[0]
        return lambda frags: (frags[key],)
    return lambda frags: ()


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

    The C ruleset is created on the engine's first durable-rules call (``create``), not when
    the shard is checked at load time (``check``). No lock: durable-rules' C functions never
    release the GIL, so each call into a shard is atomic for Python threads, and all that a
    sequence of calls shares (the action context, the facts) belongs to one session, which the
    pool leases to one caller at a time.
    """

    def __init__(self, shard: Shard) -> None:
        self.shard = shard
        self.levels = shard.levels
        self.keys = shard.keys
        #: The fragments of its keys out of one evaluation's ``frags`` (``Engine.encode``): each starts
        #: with its comma and a key the fact lacks is ``""``, so its stage fact is ``head + join + "}"``.
        self.pick = _picker(shard.keys)
        self.guard = shard.guard
        self.rest_guard = shard.guard[1:]  # the first key is looked up in the stage index
        #: The durable-rules ruleset, 0 until ``create`` made it.
        self.handle = 0
        #: Every fact id a session can hold in this shard: one per stage, one per state of a batch per stage.
        self.ids = [f"stage{level}" for level in sorted(self.levels)] + [
            _batch_id(k, level) for level in sorted(self.levels) for k in range(BATCH_CHUNK)
        ]

    def _definition(self) -> str:
        """The JSON text durable-rules' ``create_ruleset`` takes: the shard's rules and the opening rule."""
        definition = self.shard.definition()
        definition[_INIT_RULE] = {"all": [{"m": {"t": _INIT_RULE}}]}
        return json.dumps(definition)

    def check(self) -> None:
        """Have durable-rules build this shard and free it again (``_drl.error`` when it refuses it).

        ``create`` later builds the very same text, so the verdict is the one the engine gets;
        meanwhile the process holds one shard's C memory at a time, not the whole ruleset's.
        """
        handle = _drl.create_ruleset(f"negotiation_rules_check_{next(_names)}", self._definition())
        _drl.delete_ruleset(handle)

    def create(self) -> None:
        """Build this shard in durable-rules (once); it is freed when this object is collected."""
        if self.handle:
            return
        handle = _drl.create_ruleset(f"negotiation_rules_{next(_names)}", self._definition())
        _live_handles.add(handle)
        weakref.finalize(self, _delete_ruleset, handle)  # before it is stored: an interrupt then frees, not leaks
        self.handle = handle

    def init_session(self, sid: str) -> None:
        """Open session ``sid`` here by running one action in it, so its action context is set.

        durable-rules leaves a new session's action context uninitialised until an action
        starts in it, and ``abandon_action`` frees whatever it holds: without this, scrubbing a
        session in which no rule ever fired would free a garbage pointer.
        """
        fact = f'{{"sid":"{sid}","id":"{_INIT_RULE}","t":"{_INIT_RULE}"}}'
        _, state = _drl.retract_fact(self.handle, f'{{"sid":"{sid}","id":"{_PROBE}"}}')  # just its state handle
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
        _, state = _drl.retract_fact(self.handle, f'{{"sid":"{sid}","id":"{_PROBE}"}}')  # just its state handle
        _drl.abandon_action(self.handle, state)
        message: Any = _drl.start_action_for_state(self.handle, state)
        drained = 0
        while message:
            drained += 1
            if drained > _DRAIN_LIMIT:
                _drl.abandon_action(self.handle, state)
                return False
            message = _drl.complete_and_start_action(self.handle, state)
        _drl.retract_facts(self.handle, json.dumps([{"sid": sid, "id": ident} for ident in self.ids]))
        return bool(json.loads(_drl.get_facts(self.handle, sid)) == [])

    def run(self, stage: str) -> list[str] | None:
        """Assert one stage fact; the names of the rules that fired on it, in order.

        None when it matched no rule: durable-rules then kept nothing (it stores a fact only
        once the fact reaches a rule, ``handleAlpha`` in events.c), so there is nothing to retract.
        """
        code, state_handle = _drl.assert_fact(self.handle, stage)
        if code != 0:
            if code == 1:
                return None
            # 2: durable-rules holds a fact with this id (or one whose id has the same hash) in a
            # session given out as empty: firing nothing would be wrong advice, so the call fails
            # and the session is scrubbed before its next use
            raise _drl.error(f"the session already held a fact with the id of this stage fact (code {code})")
        names: list[str] = []
        append = names.append
        complete = _drl.complete_and_start_action
        handle = self.handle
        message: Any = _drl.start_action_for_state(handle, state_handle)
        message = message[1] if message else None
        while message:
            append(message[2 : message.index('"', 2)])
            message = complete(handle, state_handle)
        return names

    def run_many(self, stages: str, after: str, fired: list[list[str]]) -> None:
        """Assert several stage facts (a JSON array) in one call; each rule that fired goes to ``fired[k]``,
        ``k`` the state its fact is about.

        durable-rules writes an action message as ``{"<rule>":{"m":<the fact's text as given>}}``
        (``serializeResultFrame``), so the rule's name is followed by ``after``
        (``":{"m":{"sid":"<sid>","id":"``) and the letter that names the state.
        """
        _, state_handle = _drl.assert_facts(self.handle, stages)  # code 1 when some fact matched nothing
        complete = _drl.complete_and_start_action
        handle = self.handle
        skip = len(after)
        message: Any = _drl.start_action_for_state(handle, state_handle)
        message = message[1] if message else None
        while message:
            end = message.find(after, 2)  # a rule's name holds no quote, so ``after`` first follows it
            k = _BATCH_K.get(message[end + skip]) if end > 0 else None
            if k is None:
                end, k = message.index('"', 2), _whose(message)
            fired[k].append(message[2:end])
            message = complete(handle, state_handle)


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
    sid: str  # set by ``_Pool.acquire`` before the lease is handed out


class _Waiter:
    """A caller waiting for a session: a lock it blocks on, and the session a releaser hands it."""

    __slots__ = ("gate", "how", "queued", "ref", "sid")

    def __init__(self, ref: weakref.ref[_Lease]) -> None:
        self.gate = threading.Lock()
        self.gate.acquire()  # released by whoever hands it a session (or wakes it to look again)
        self.ref = ref
        self.sid: str | None = None
        self.how = ""
        self.queued = False  # in the pool's line (``waiters``) now


class _Pool:
    """The engine sessions of one ruleset: at most ``limit`` open at once, each idle, leased, dirty or retired.

    ``status`` is the truth (one entry per session id ever used, each change one store, so an
    interrupt cannot lose a session); ``idle`` and ``dirty`` are lists that say where to look
    and may hold stale ids, which are skipped. A caller takes an idle session, else scrubs a
    dirty one for itself, else opens a new one while fewer than ``limit`` are open, else
    waits in line: a session given back goes straight to the first caller waiting.
    """

    def __init__(
        self,
        init: Callable[[str], bool],
        scrub: Callable[[str], bool],
        limit: int = MAX_SESSIONS,
        reserved: frozenset[int] = frozenset(),
    ) -> None:
        self.init = init
        self.scrub = scrub
        #: The hashes (``id_hash``) of every fact id a session can hold, and of every session id given out.
        self.reserved = reserved
        self.taken: set[int] = set()
        #: Sessions open at once (retired ones not counted), at most ``MAX_SESSIONS`` (see ``session_limit``).
        self.limit = limit
        self.status: dict[str, Any] = {}
        self.idle: list[str] = []
        self.dirty: list[str] = []
        self.waiters: deque[_Waiter] = deque()
        self.lock = threading.Lock()
        self.reconciled_at = 0.0
        self.retired = 0  # as counted at the last reconciliation

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock; sessions other threads held at the fork are dirty."""
        self.lock = threading.Lock()
        self.waiters = deque()  # only the forking thread lives on, and it was not waiting
        for sid, status in list(self.status.items()):
            if isinstance(status, weakref.ref) or (isinstance(status, tuple) and status[0] == _DIRTY):
                self.status[sid] = _DIRTY
                self.dirty.append(sid)
            elif isinstance(status, tuple):  # being opened by a thread the child does not have
                self.status[sid] = _UNOPENED
                self.dirty.append(sid)

    def acquire(self, timeout: float) -> _Lease:
        """An empty session for one call; waits in line up to ``timeout`` seconds while all are in use.

        A waiter keeps its place in line for the whole wait and blocks on a lock of its own
        (``_Waiter``), which a caller giving a session back releases, rather than on a
        Condition: a Condition's ``__enter__`` is Python code, and an interrupt landing inside
        it would keep the lock.
        """
        lease = _Lease()
        ref = weakref.ref(lease)
        with self.lock:  # the common case: an idle session (``_take``'s first loop, inline)
            idle, status = self.idle, self.status
            while idle:
                first = idle.pop()
                if status.get(first) is _IDLE:
                    lease.sid = first
                    status[first] = ref
                    return lease
        deadline = time.monotonic() + timeout
        waiter: _Waiter | None = None
        while True:
            sid: str | None = None
            handed: str | None = None
            with self.lock:
                if waiter is not None and waiter.sid is not None:
                    handed, how = waiter.sid, waiter.how  # the giver set its status to this lease
                    waiter.sid = None
                else:
                    sid, how = self._take()
                    if how == "new" or (sid is None and time.monotonic() - self.reconciled_at > _RECONCILE_EVERY):
                        if sid is not None:
                            self.status.pop(sid, None)
                        self._reconcile()  # sessions an interrupt lost are found before new ones are opened
                        sid, how = self._take()
                    if sid is not None:
                        if waiter is not None:
                            self._leave(waiter)  # found one without waiting for it
                        lease.sid = sid
                        if how == _IDLE:
                            self.status[sid] = ref
                            return lease
                        self.status[sid] = (how, ref)  # scrubbed or opened outside the lock, for this call only
                    elif time.monotonic() >= deadline or self.retired >= MAX_SESSIONS:
                        if waiter is not None:
                            self._leave(waiter)
                        raise EngineError(
                            f"all {self.cap()} engine sessions of this ruleset stayed in use for {timeout:g} s"
                            f" ({self.retired} retired); too many calls of one ruleset at once"
                        )
                    else:
                        if waiter is None:
                            waiter = _Waiter(ref)
                        if not waiter.queued:
                            waiter.queued = True
                            self.waiters.append(waiter)
            if handed is not None:
                lease.sid = handed
                if how == _IDLE:
                    return lease
            elif sid is None:
                self._wait(waiter, deadline)
                continue
            sid = lease.sid  # to scrub or open, for this call only
            if self.scrub(sid) if how == _DIRTY else self.init(sid):
                self.status[sid] = ref
                return lease
            self.status[sid] = _RETIRED
            with self.lock:
                self._hand_over(None, True)  # a retired session leaves room for a new one: a waiter may open it

    def _wait(self, waiter: _Waiter | None, deadline: float) -> None:
        """Block until a caller hands ``waiter`` a session or wakes it, or for at most ``_WAIT_SLICE`` s.

        Waking up now and then lets a waiter find sessions that ``_reconcile`` recovers (no one
        hands those over). A waiter interrupted while blocked leaves the line and passes on what
        it was handed.
        """
        if waiter is None:
            return
        try:
            waiter.gate.acquire(timeout=max(0.0, min(deadline - time.monotonic(), _WAIT_SLICE)))
        except BaseException:
            with self.lock:
                self._leave(waiter)
            raise

    def _leave(self, waiter: _Waiter) -> None:
        """Take ``waiter`` out of the line (under the lock); a session it was handed goes to the next one."""
        if waiter.queued:
            waiter.queued = False
            with contextlib.suppress(ValueError):
                self.waiters.remove(waiter)
        if waiter.sid is not None:
            sid, waiter.sid = waiter.sid, None
            self._hand_over(sid, waiter.how == _IDLE)

    def _hand_over(self, sid: str | None, clean: bool) -> None:
        """Give session ``sid`` (under the lock) to the first live waiter, else file it idle or dirty.

        With ``sid`` None the first waiter is only woken, to look again (a place became free).
        """
        while self.waiters:
            waiter = self.waiters.popleft()
            waiter.queued = False
            if waiter.ref() is None:  # its call is gone
                continue
            if sid is not None:
                self.status[sid] = waiter.ref if clean else (_DIRTY, waiter.ref)  # first: it says who holds it
                waiter.how = _IDLE if clean else _DIRTY
                waiter.sid = sid
            waiter.gate.release()
            return
        if sid is None:
            return
        if clean:
            self.idle.append(sid)
            self.status[sid] = _IDLE
        else:
            self.dirty.append(sid)
            self.status[sid] = _DIRTY

    def cap(self) -> int:
        """How many sessions may be open at once (``limit``, at most ``MAX_SESSIONS``, read at call time)."""
        return max(1, min(MAX_SESSIONS, self.limit))

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
        opened = len(self.status)
        if opened < MAX_SESSIONS and opened - self._retired() < self.cap():
            sid = _fresh_sid(self.reserved, self.taken)
            self.status[sid] = None  # counted from now on; the caller sets what it is
            return sid, "new"
        return None, ""

    def _retired(self) -> int:
        """Sessions retired now (they stay in durable-rules, but leave their place in ``limit`` to a new one)."""
        return sum(1 for status in self.status.values() if status is _RETIRED)

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
        for waiter in self.waiters:
            waiter.queued = waiter.ref() is not None
        self.waiters = deque(waiter for waiter in self.waiters if waiter.queued)

    def release(self, lease: _Lease, clean: bool) -> None:
        """Give a session back: to the first caller waiting, else idle when the call ended normally and
        emptied it, else dirty (scrubbed by whoever takes it next)."""
        sid = lease.sid
        with self.lock:
            self._hand_over(sid, clean)

    def count(self) -> int:
        """Sessions opened in durable-rules (idle, leased, dirty or retired)."""
        return sum(1 for status in list(self.status.values()) if status is not None)


class Engine:
    """A compiled ruleset checked on durable-rules, built there on first use; ``evaluate`` is thread-safe."""

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
        #: The plan of each stage in order (a stage without shards asks none).
        self._stage_plans = [
            self._plans.get(level, _StagePlan((), ())) for level in range(self.compiled.tactic_level + 1)
        ]
        self.situation_ids = self.compiled.situation_ids
        self._situation_keys = {name: f"{SITUATION_KEY}{name}" for name in self.situation_ids}
        read = {key for engine in self.shards for key in engine.keys}
        situation_keys = set(self._situation_keys.values())
        _check_key_hashes(read | situation_keys, ruleset)
        #: The keys of a fact the rules can read, each with its JSON prefix (comma first) and its
        #: fragments for true and false, in a fixed order.
        self._fact_keys = tuple(
            (key, prefix, prefix + "true", prefix + "false")
            for key in sorted(read - situation_keys)
            for prefix in ["," + json.dumps(key) + ":"]
        )
        #: ``encode``'s start: every such key without a value (``""``: left out of the stage facts).
        self._blank = dict.fromkeys([key for key, *_ in self._fact_keys], "")
        self._check = FactCheck(self.compiled.counts)
        #: (key, type, value) -> its checked JSON fragment: most values (a phase, a level) recur call after call.
        self._frags: dict[tuple[str, type, Any], str] = {}
        self._situation_frags = {
            key: ("," + json.dumps(key) + ":false", "," + json.dumps(key) + ":true")
            for key in sorted(situation_keys & read)
        }
        self._situations_false = {key: frags[0] for key, frags in self._situation_frags.items()}
        guarded = {key for engine in self.shards for key, _ in engine.guard}
        #: The fact keys and the situations some shard guard reads: all a stage's ``values`` need.
        self._guard_keys = tuple(sorted(guarded - situation_keys))
        self._guard_situations = dict.fromkeys(sorted(guarded & situation_keys), False)
        #: Whether the shards were built in durable-rules (``_open``, on the first durable-rules call).
        self.opened = False
        self._open_lock = threading.Lock()
        engine_rules = sum(len(shard.rules) for shard in self.compiled.shards)
        ids = {_INIT_RULE, _PROBE, *(ident for engine in self.shards for ident in engine.ids)}
        self._pool = _Pool(
            self._init_session,
            self._scrub,
            session_limit(len(self.shards), engine_rules),
            frozenset(id_hash(ident) for ident in ids),
        )
        self._stage_texts: dict[str, tuple[tuple[str, str], ...]] = {}  # per session: (head, retraction) per stage
        self._batch_texts: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {}  # the same per stage per state
        #: engine rule name -> (0 situation / 1 match / 2 block, the situation or rule id)
        self._verdicts: dict[str, tuple[int, str]] = {
            rule.name: _verdict(rule.name) for shard in self.compiled.shards for rule in shard.rules
        }
        #: Situation id -> its fact key and its fragment when true (None: no rule reads it).
        self._concludes = {
            ident: (key, self._situation_frags[key][1] if key in self._situation_frags else None)
            for ident, key in self._situation_keys.items()
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
        """Open a new session in every shard (building the shards first); False when durable-rules refuses."""
        if not self.opened:
            self._open()  # the first session of this engine: no evaluation has needed durable-rules before
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
        self._open_lock = threading.Lock()
        self._pool.reset_after_fork()

    def _open(self) -> None:
        """Build the shards in durable-rules: on the first durable-rules call, not at load time.

        Loading checked every shard and freed it again (``_ShardEngine.check``), so a ruleset the
        compiled engine alone runs never holds durable-rules' memory (about 90 MB for 4,000
        rules). An interrupt leaves some shards built and ``opened`` False: the next call
        builds the rest. A process forked afterwards shares the built shards with its parent.
        """
        with self._open_lock:
            if self.opened:
                return
            try:
                for engine in self.shards:
                    engine.create()
            except _drl.error as exc:
                raise EngineError(f"durable-rules failed to build this ruleset: {exc}") from None
            self.opened = True

    def _load(self, ruleset: Ruleset, shard: Shard) -> list[_ShardEngine]:
        """Check the shard on durable-rules (``_ShardEngine.check``); if refused, split to find the bad rule."""
        engine = _ShardEngine(shard)
        try:
            engine.check()
            return [engine]
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
        """``,"key":value`` JSON fragments of every fact key a rule reads, ``""`` for a key the fact
        lacks (situations are set per stage); joined, they are the fact as the rules see it.

        Each value is checked against its field first (``FactCheck``): a state built without
        validation (``model_copy(update=...)``) must not hand durable-rules a value it fails on.
        """
        frags = self._blank.copy()
        get = fact.get
        known = self._frags
        for key, prefix, true, false in self._fact_keys:
            value = get(key, _MISSING)
            if value is _MISSING:
                continue
            if value is True:
                frags[key] = true
            elif value is False:
                frags[key] = false
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

    @staticmethod
    def _retract(stored: _Stored) -> bool:
        """Retract what a call asserted, one call per shard; False when durable-rules refused (then scrubbed).

        Each text is one retraction (``{"sid", "id"}``) or a JSON array of them (a batch).
        """
        clean = True
        for engine, text in stored:
            try:
                if text[0] == "[":
                    _drl.retract_facts(engine.handle, text)
                else:
                    _drl.retract_fact(engine.handle, text)
            except _drl.error:
                clean = False
        return clean

    def evaluate(self, fact: dict[str, Any]) -> Firing:
        """Run the stages for one flat fact in a pooled session that is emptied again afterwards."""
        frags = self.encode(fact)
        cache = self._cache
        if cache.size:
            key = "".join(frags.values())
            result = cache.get(key)
            if result is None:
                result = self._run(fact, frags)
                cache.put(key, result)
        else:
            result = self._run(fact, frags)
        if observed():
            notify(self._ruleset(), result)
        return result

    def _select(self, level: int, values: Mapping[str, Any] | None) -> Sequence[_ShardEngine]:
        """The shards of one stage whose guards this stage fact meets (all of them without ``values``)."""
        plan = self._plans.get(level)
        if plan is None:
            return ()
        if not plan.indexed or values is None:
            return plan.always
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

    def _leased(self, stages: Callable[[str], tuple[_T, _Stored]]) -> _T:
        """Run ``stages(sid)`` in a session leased from the pool, retract what it asserted, give the session back.

        The session goes back idle only when the stages ended normally and every retraction
        succeeded; otherwise (an error, an interrupt between two calls) it is dirty and scrubbed
        before anyone uses it again.
        """
        pool = self._pool
        lease = pool.acquire(SESSION_WAIT_SECONDS)
        clean = False
        try:
            result, stored = stages(lease.sid)
            clean = self._retract(stored)
        finally:
            pool.release(lease, clean)
        return result

    def _run(self, fact: Mapping[str, Any], frags: dict[str, str]) -> Firing:
        """``_leased`` for one fact's stages, spelled out: the path every ``evaluate`` takes."""
        pool = self._pool
        lease = pool.acquire(SESSION_WAIT_SECONDS)
        clean = False
        try:
            result, stored = self._stages(lease.sid, fact, frags)
            clean = self._retract(stored)
        finally:
            pool.release(lease, clean)
        return result

    def _prepare(self, facts: Sequence[Mapping[str, Any]], frags: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Set every situation to false in the fragments; the stage values the shard guards read (if any)."""
        for part in frags:
            part.update(self._situations_false)
        if not self._guarded:
            return []
        return [self._guard_values(fact) for fact in facts]

    def _guard_values(self, fact: Mapping[str, Any]) -> dict[str, Any]:
        """The values of the keys some shard guard reads, situations false (``_decode`` makes them true)."""
        values = {key: fact[key] for key in self._guard_keys if key in fact}
        values.update(self._guard_situations)
        return values

    def _decode(
        self, names: Sequence[str], found: _Found, frags: dict[str, str], values: dict[str, Any] | None
    ) -> None:
        """File the rules fired at one stage under situations, matches, blocks or doubts; each situation
        concluded becomes true in the next stage's fragments and guard values."""
        verdicts = self._verdicts
        concludes = self._concludes
        for name in names:
            kind, ident = verdicts.get(name) or _verdict(name)
            found[kind].append(ident)
            if kind == 0 and (conclusion := concludes.get(ident)) is not None:
                key, frag = conclusion
                if values is not None:
                    values[key] = True
                if frag is not None:
                    frags[key] = frag

    def _stages(self, sid: str, fact: Mapping[str, Any], frags: dict[str, str]) -> tuple[Firing, _Stored]:
        """Run every stage in session ``sid``; what was asserted (per shard) is returned for the caller to retract."""
        frags.update(self._situations_false)
        values = self._guard_values(fact) if self._guarded else None
        found: _Found = ([], [], [], [])
        stored: _Stored = []
        plans = self._stage_plans
        try:
            for level, (head, retraction) in enumerate(self._stage_texts.get(sid) or self._texts(sid)):
                fired: list[str] = []
                plan = plans[level]
                for engine in plan.always if values is None or not plan.indexed else self._select(level, values):
                    names = engine.run(head + "".join(engine.pick(frags)) + "}")
                    if names is not None:  # None: it matched no rule and durable-rules kept nothing
                        stored.append((engine, retraction))
                        fired += names
                self._decode(fired, found, frags, values)
        except _drl.error as exc:
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        return _firing(found), stored

    # -- batches ---------------------------------------------------------------------------------

    def evaluate_many(self, facts: Sequence[Mapping[str, Any]], *, observe: bool = True) -> list[Firing]:
        """``[evaluate(fact) for fact in facts]``, faster: each shard gets the stage facts of up to
        ``BATCH_CHUNK`` states in one call (``assert_facts``), read back by fact id, and retracts them in one."""
        frags = [self.encode(fact) for fact in facts]
        results: list[Firing | None] = [None] * len(facts)
        cache = self._cache if self._cache.size else None
        keys = ["".join(f.values()) for f in frags] if cache is not None else []
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
        """Per stage, per state of a batch: the start of its fact text and its retraction (fact id ``_batch_id``)."""
        texts = self._batch_texts.get(sid)
        if texts is None:
            texts = tuple(
                tuple(
                    (
                        f'{{"sid":"{sid}","id":"{_batch_id(k, level)}","t":"{STAGE_TAG}","level":{level}',
                        f'{{"sid":"{sid}","id":"{_batch_id(k, level)}"}}',
                    )
                    for k in range(BATCH_CHUNK)
                )
                for level in range(self.compiled.tactic_level + 1)
            )
            self._batch_texts[sid] = texts
        return texts

    def _run_many(self, facts: Sequence[Mapping[str, Any]], frags: list[dict[str, str]]) -> list[Firing]:
        """Up to ``BATCH_CHUNK`` facts' stages together in one leased session."""
        return self._leased(lambda sid: self._stages_many(sid, facts, frags))

    def _stages_many(
        self, sid: str, facts: Sequence[Mapping[str, Any]], frags: list[dict[str, str]]
    ) -> tuple[list[Firing], _Stored]:
        """``_stages`` for up to ``BATCH_CHUNK`` facts at once (the fact id, ``_batch_id``, says whose a message is)."""
        count = len(facts)
        found: list[_Found] = [([], [], [], []) for _ in range(count)]
        values = self._prepare(facts, frags)
        asserted: dict[_ShardEngine, list[str]] = {}
        everyone = list(range(count))
        after = f'":{{"m":{{"sid":"{sid}","id":"'  # what follows a rule's name in an action message
        try:
            for level, texts in enumerate(self._batch(sid)):
                fired: list[list[str]] = [[] for _ in range(count)]
                plan = self._plans.get(level)
                asks: dict[_ShardEngine, list[int]] = {}
                if values and plan is not None and plan.indexed:
                    for k in range(count):
                        for engine in self._select(level, values[k]):
                            asks.setdefault(engine, []).append(k)
                else:
                    asks = dict.fromkeys(self._select(level, None), everyone)
                for engine, ks in asks.items():
                    # states whose stage facts read the same in this shard fire the same rules in it (each
                    # rule reads one fact): it is asked once per distinct fact, the alike states get its answer
                    pick = engine.pick
                    first: dict[str, int] = {}
                    stage_texts: list[str] = []
                    retractions: list[str] = []
                    alike: list[tuple[int, int]] = []
                    for k in ks:
                        body = "".join(pick(frags[k]))
                        seen = first.setdefault(body, k)
                        if seen == k:
                            stage_texts.append(texts[k][0] + body + "}")
                            retractions.append(texts[k][1])
                        else:
                            alike.append((k, seen))
                    asserted.setdefault(engine, []).append(",".join(retractions))
                    marks = {seen: len(fired[seen]) for _, seen in alike}
                    engine.run_many("[" + ",".join(stage_texts) + "]", after, fired)
                    for k, seen in alike:
                        fired[k] += fired[seen][marks[seen] :]
                for k in everyone:
                    if fired[k]:
                        self._decode(fired[k], found[k], frags[k], values[k] if values else None)
        except _drl.error as exc:
            raise EngineError(f"durable-rules failed while evaluating: {exc}") from None
        stored = [(engine, "[" + ",".join(parts) + "]") for engine, parts in asserted.items()]
        return [_firing(f) for f in found], stored

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
