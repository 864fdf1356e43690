"""Advice for many states at once (a CRM export, a nightly scoring run): ``advise_many()``.

Results come back in input order and equal ``[advise(s, ...) for s in states]``. What makes a
batch cheaper per state than that loop:

- the ruleset, the playbook and ``top`` are resolved and checked once;
- states that give the same fact (every value a rule can read) are evaluated once, and JSON
  texts that are identical are validated once;
- the engine gets the stage facts of up to ``engine.BATCH_CHUNK`` states per shard in one call
  into durable-rules (``Engine.evaluate_many``) instead of one call per state;
- with ``processes=N``, a large batch is split into chunks scored by N processes: this one and
  N - 1 workers (at most one process per core). On Linux, from a process with no other thread,
  workers are forked: they start in milliseconds with the ruleset, its engine and the states
  already in memory, and they and this process claim chunk numbers from one pipe until it is
  empty (``_in_forked``); otherwise they are spawned into a process pool and each loads the
  ruleset once (the built-in one, a path reloaded from disk, or a Ruleset object sent over as
  its validated rules). Advice comes back pickled as field values (``dumps_outcome``), in about
  half the time pydantic's own pickling takes, through a file of a private temporary directory
  (not a pipe: see ``_leave``), and is rebuilt without validation;
- Python's cyclic garbage collector is paused while a batch runs: with tens of thousands of
  results alive, its full collections cost about 40% of the time of a large batch, and the
  objects a batch makes hold no reference cycles (reference counting frees them).
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import io
import multiprocessing
import os
import pickle
import select
import shutil
import signal
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._advice import Advice, Answer, Fact, Question, Recommendation, SetAside, Source, trusted
from ._engine import engine_for
from ._errors import EngineError, StateError
from ._evaluator import check_engine, evaluator_for
from ._pipeline import PlaybookArg, RulesetArg, check_top, facts_for
from ._playbook import Playbook, resolve_playbook
from ._questions import TOP, ask
from ._ranking import rank, ranked_tactics
from ._ruleset import Ruleset, builtin_ruleset, resolve_ruleset
from ._state import NegotiationState, parse_state

__all__ = ["CHUNK", "MIN_PARALLEL", "advise_many"]

#: States per unit of work: progress is reported after each chunk.
CHUNK = 256
#: Batches smaller than this run in this process even when ``processes`` asks for more: starting
#: a worker (a fresh interpreter that loads the ruleset) costs about as much as 3,000 states.
MIN_PARALLEL = 2_000

StateArg = NegotiationState | dict[str, Any] | str | bytes
Progress = Callable[[int, int], object]


def advise_many(
    states: Iterable[StateArg],
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    top: int | None = None,
    processes: int | None = None,
    progress: Progress | None = None,
    questions: int | None = 0,
    engine: str = "durable",
) -> list[Advice]:
    """Advice for each state, in input order: the same as ``[advise(s, ...) for s in states]``.

    It costs about what that loop costs on distinct states, and less when states repeat (each
    distinct state is validated and evaluated once); see docs/performance.md, "Batches".

    ``states`` holds NegotiationState objects, dicts or JSON texts; the first invalid one (by
    position) raises StateError with its index in the path (``states[3].phase: ...``).
    ``processes=N`` (N >= 2) scores batches of at least ``MIN_PARALLEL`` states in N processes,
    this one and N - 1 workers, and no more than the machine has cores (on two cores,
    ``processes=2`` uses both). Workers are forked on Linux when this process runs no other
    thread, else spawned; a script that may spawn them at import time needs the usual
    ``if __name__ == "__main__":`` guard. ``progress(done, total)`` is called after each chunk of states, in this
    thread; an exception it raises stops the batch and propagates. ``questions`` is 0 by default
    here (a batch job rarely asks; each question costs a few evaluations): pass ``questions=3``
    for exactly what ``advise()`` returns. ``engine`` is ``advise()``'s: ``durable`` or ``compiled``.
    """
    if isinstance(states, (str, bytes, bytearray, dict, NegotiationState)):
        raise TypeError("advise_many() takes a sequence of states; use advise() for one state")
    items = list(states)
    limit = check_top(top)
    asked = check_top(questions, "questions") or 0
    check_engine(engine)
    workers = _check_processes(processes)
    rules = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    workers = min(workers, _cores())  # this process is one of them: it scores chunks too
    with collector_paused():
        if workers > 1 and len(items) >= MIN_PARALLEL:
            job = (limit, asked, engine)
            return _in_processes(items, _ruleset_spec(ruleset, rules), rules, policy, job, workers, progress)
        out: list[Advice] = []
        for start in range(0, len(items), CHUNK):
            out += _advise_chunk(items[start : start + CHUNK], start, rules, policy, limit, asked, engine)
            if progress is not None:
                progress(len(out), len(items))
        return out


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration (unless someone else already did)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _check_processes(processes: int | None) -> int:
    if processes is None:
        return 1
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
        raise ValueError(f"processes must be a whole number >= 1 or None, got {processes!r}")
    return processes


def _at(index: int, path: str) -> str:
    """``states[3].phase`` for the field ``phase`` of the fourth state."""
    return f"states[{index}]" + (f".{path}" if path and path != "state" else "")


def _advise_chunk(
    items: Sequence[Any],
    offset: int,
    rules: Ruleset,
    policy: Playbook | None,
    limit: int | None,
    questions: int = 0,
    engine: str = "durable",
) -> list[Advice]:
    """Advice for one chunk: validate, build the facts, evaluate the distinct ones together, rank."""
    texts: dict[str | bytes, NegotiationState] = {}
    prepared = []
    for i, item in enumerate(items):
        try:
            if isinstance(item, (str, bytes)):
                state = texts.get(item)
                if state is None:
                    state = texts[item] = parse_state(item)
            else:
                state = parse_state(item)
            prepared.append((state, *facts_for(state, rules)))
        except StateError as exc:
            raise StateError(exc.reason, _at(offset + i, exc.path)) from None
    # the engine reads nothing but the fact: equal facts are evaluated once (each state is still ranked itself)
    distinct: dict[tuple[Any, ...], int] = {}
    unique: list[dict[str, Any]] = []
    slots: list[int] = []
    for _, _, fact in prepared:
        # unknowns are left out (keys matter) and 1, 1.0 and True are told apart (the checks do)
        slot = distinct.setdefault(tuple((k, type(v), v) for k, v in fact.items()), len(unique))
        if slot == len(unique):
            unique.append(fact)
        slots.append(slot)
    evaluator = evaluator_for(rules, engine)
    try:
        firings = evaluator.evaluate_many(unique)
    except StateError:  # a value changed past validation: name the first state it belongs to, as advise() would
        for slot, fact in enumerate(unique):
            try:
                evaluator.evaluate_many([fact], observe=False)
            except StateError as exc:
                raise StateError(exc.reason, _at(offset + slots.index(slot), exc.path)) from None
        raise
    out = [
        rank(rules, effective, firings[slot], policy, limit, given=given, fact=fact)
        for (given, effective, fact), slot in zip(prepared, slots, strict=True)
    ]
    if questions:
        for i, ((given, _, _), slot) in enumerate(zip(prepared, slots, strict=True)):
            before = ranked_tactics(rules, firings[slot], policy, TOP)
            out[i] = out[i].model_copy(
                update={"questions": ask(given, rules, policy, before, questions, engine=engine)}
            )
    return out


# -- worker processes ------------------------------------------------------------------------------

RulesetSpec = tuple[Any, ...]


def _ruleset_spec(arg: RulesetArg, rules: Ruleset) -> RulesetSpec:
    """How a spawned worker gets the same ruleset: built in, reloaded from its path, or its validated rules."""
    if rules is builtin_ruleset():
        return ("builtin",)
    if isinstance(arg, (str, Path)):
        return ("path", str(Path(arg).resolve()))
    return ("rules", rules.rules, rules.situations, rules.name)  # Rule and Situation are plain frozen data


_worker: dict[str, Any] = {}


def _init_worker(spec: RulesetSpec, policy: Playbook | None, limit: tuple[int | None, int, str], outbox: str) -> None:
    """Runs once in each spawned worker: remember the job; the ruleset is loaded on first use (errors reach us)."""
    gc.disable()  # a worker only scores batches (see the module docstring) and ends with the pool
    _worker.clear()
    _worker.update(spec=spec, policy=policy, limit=limit, outbox=outbox)


def _worker_ruleset() -> Ruleset:
    """The ruleset of this worker's job, loaded on first use in a spawned worker."""
    rules = _worker.get("rules")
    if rules is None:
        spec = _worker["spec"]
        if spec[0] == "builtin":
            rules = builtin_ruleset()
        elif spec[0] == "path":
            rules = resolve_ruleset(spec[1])
        else:
            rules = Ruleset(spec[1], spec[2], spec[3])
            engine_for(rules)
        _worker["rules"] = rules
    return rules


Outcome = tuple[str, int, Any]

#: The output models, numbered for the wire between processes.
_CLASSES: tuple[type[BaseModel], ...] = (Advice, Recommendation, SetAside, Fact, Source, Question, Answer)
_NUMBER = {cls: k for k, cls in enumerate(_CLASSES)}
_FIELDS = tuple(tuple(cls.model_fields) for cls in _CLASSES)


def _revive(number: int, fields_set: tuple[str, ...] | None, names: tuple[str, ...] | None, *values: Any) -> BaseModel:
    """Rebuild one output model from its class number and field values, without validating (it was valid when sent)."""
    fields = dict(zip(_FIELDS[number] if names is None else names, values, strict=True))
    return trusted(_CLASSES[number], fields, None if fields_set is None else set(fields_set))


def _reduce(model: BaseModel) -> tuple[Any, ...]:
    """How the pickler writes an output model: ``_revive`` and its field values (names and set fields when unusual)."""
    number = _NUMBER[type(model)]
    fields, fields_set = model.__dict__, model.__pydantic_fields_set__
    names: tuple[str, ...] | None = tuple(fields)
    if names == _FIELDS[number]:  # every field, in order (as our own output has them): the names need not travel
        names = None
    every = names is None and len(fields_set) == len(fields)
    return _revive, (number, None if every else tuple(fields_set), names, *fields.values())


_DISPATCH = {**copyreg.dispatch_table, **dict.fromkeys(_CLASSES, _reduce)}


def dumps_outcome(outcome: Outcome) -> bytes:
    """An outcome pickled with its Advice as field values (``_reduce``): about half the time of pickling the models.

    Pydantic pickles each model with a state dict and its set of set fields; ours writes the
    values alone, and the other side rebuilds them with ``trusted`` (no validation).
    """
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(outcome)
    return out.getvalue()


def _score(
    start: int, items: Sequence[Any], rules: Ruleset, policy: Playbook | None, limit: tuple[int | None, int, str]
) -> Outcome:
    """Score one chunk: ``("ok", start, advice)`` or ``("error", index, (reason, path))``.

    A StateError travels as data: it does not survive pickling with its path.
    """
    try:
        return "ok", start, _advise_chunk(items, start, rules, policy, *limit)
    except StateError as exc:
        head = exc.path[len("states[") :].split("]", 1)[0] if exc.path.startswith("states[") else ""
        index = int(head) if head.isdigit() else start
        return "error", index, (exc.reason, exc.path)


def _outbox_file(outbox: str, start: int) -> str:
    """Where the outcome of the chunk starting at ``start`` waits in the outbox (one name for both ways)."""
    return os.path.join(outbox, f"{start}.pickle")


def _leave(outbox: str, start: int, outcome: Outcome) -> None:
    """The outcome of the chunk at ``start``, left in a file of the outbox: only ``start`` travels back.

    Not through a pipe: a chunk's advice is a megabyte, a pipe holds 64 KB, and whatever drains
    the pipe in the calling process needs the GIL for every read while that process is busy
    scoring its own chunks, so the worker sat blocked in its write for most of the time it takes
    to score a chunk (85 ms of 130 measured with the pool's pipe). A file is written at once.
    """
    with open(_outbox_file(outbox, start), "wb") as out:
        out.write(dumps_outcome(outcome))


def _fetched(outbox: str, start: int) -> Outcome:
    """The outcome a worker left for the chunk starting at ``start`` (see ``_leave``); the file is removed."""
    path = _outbox_file(outbox, start)
    with open(path, "rb") as inbox:
        data = inbox.read()
    os.unlink(path)
    outcome: Outcome = pickle.loads(data)
    return outcome


def _work(start: int, items: list[Any]) -> int:
    """Score one chunk sent to a spawned worker; its outcome waits in the outbox."""
    _leave(_worker["outbox"], start, _score(start, items, _worker_ruleset(), _worker["policy"], _worker["limit"]))
    return start


def _can_fork() -> bool:
    """Whether workers may be forked: on Linux, from a process running no other Python thread.

    A forked worker starts in milliseconds with the ruleset, its engine and the states already
    loaded (a spawned one imports the library and loads the rules first, about half a second).
    With other threads running, a lock one of them held would be inherited held: spawn then.
    """
    return sys.platform == "linux" and threading.active_count() == 1


def _in_processes(
    items: list[Any],
    spec: RulesetSpec,
    rules: Ruleset,
    policy: Playbook | None,
    limit: tuple[int | None, int, str],
    processes: int,
    progress: Progress | None,
) -> list[Advice]:
    """Score a batch in ``processes`` processes: ``processes - 1`` workers and this one, forked or spawned.

    Both ways, this process scores chunks too from the first moment (while the workers start)
    and collects the workers' advice between its own chunks, so nothing is left over at the end
    for one side alone; the outbox directory is removed whatever happens.
    """
    total = len(items)
    size = max(CHUNK, -(-total // (processes * 8)))  # about 8 chunks per process, for progress and balance
    starts = list(range(0, total, size))
    parts: dict[int, list[Advice]] = {}
    errors: list[tuple[int, tuple[str, str]]] = []
    done = 0

    def take(outcome: Outcome) -> None:
        """File one chunk's outcome: its advice, or its first invalid state; report progress."""
        nonlocal done
        kind, where, value = outcome
        if kind == "error":
            errors.append((where, value))
            return
        parts[where] = value
        done += len(value)
        if progress is not None:
            progress(done, total)

    count = min(processes - 1, len(starts))
    outbox = tempfile.mkdtemp(prefix="negotiation-rules-batch-")  # private (0700), removed below whatever happens
    try:
        if _can_fork():
            _in_forked(items, starts, size, rules, policy, limit, count, outbox, take)
        else:
            _in_spawned(items, starts, size, spec, rules, policy, limit, count, outbox, take)
    finally:
        shutil.rmtree(outbox, ignore_errors=True)
    if errors:
        _, (reason, path) = min(errors)
        raise StateError(reason, path)
    results: list[Advice] = []
    for start in sorted(parts):
        results += parts[start]
    return results


Take = Callable[[Outcome], None]
Limit = tuple[int | None, int, str]


def _in_spawned(
    items: list[Any],
    starts: list[int],
    size: int,
    spec: RulesetSpec,
    rules: Ruleset,
    policy: Playbook | None,
    limit: Limit,
    count: int,
    outbox: str,
    take: Take,
) -> None:
    """Score a batch with ``count`` spawned workers (a pool) and this process.

    The chunks are queued for the workers in order; this process takes chunks from the end of
    the queue (those no worker has started) and scores them itself, then collects what the
    workers did, so nothing is left over at the end for one side alone.
    """
    pool = ProcessPoolExecutor(count, multiprocessing.get_context("spawn"), _init_worker, (spec, policy, limit, outbox))
    futures: list[Future[int]] = []
    try:
        with pool:
            try:
                for start in starts:
                    futures.append(pool.submit(_work, start, items[start : start + size]))
                collected: set[Future[int]] = set()

                def collect(future: Future[int]) -> None:
                    """Take a worker's finished chunk (unpickling its advice here, in this thread)."""
                    collected.add(future)
                    take(_fetched(outbox, future.result()))

                for start, future in zip(reversed(starts), reversed(futures), strict=True):
                    if not future.cancel():  # a worker has it (and every chunk before it): collect the rest
                        break
                    take(_score(start, items[start : start + size], rules, policy, limit))
                    for finished in futures:  # between chunks, what workers finished (no unpickling left at the end)
                        if finished not in collected and finished.done() and not finished.cancelled():
                            collect(finished)
                for future in as_completed([f for f in futures if not f.cancelled() and f not in collected]):
                    collect(future)
            except BaseException:  # stop at once: leaving the with block would first run every queued chunk
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except BrokenProcessPool as exc:
        raise EngineError(
            f"a worker process died while scoring the batch (a crash inside durable-rules): {exc}"
        ) from exc
    finally:
        for future in futures:
            future.cancel()


#: How long a forked worker told to stop (SIGTERM) has before it is killed.
_STOP_SECONDS = 5.0
#: A chunk's number, as claimed from the pipe of chunks and as reported done by a worker.
_CLAIM = struct.Struct("<i")


def _in_forked(
    items: list[Any],
    starts: list[int],
    size: int,
    rules: Ruleset,
    policy: Playbook | None,
    limit: Limit,
    count: int,
    outbox: str,
    take: Take,
) -> None:
    """Score a batch with ``count`` forked workers and this process, all claiming chunks from one pipe.

    Every chunk's number is written into a pipe before the workers are forked; each process
    (this one too) reads the next number, scores that chunk and claims another, until the pipe
    is empty, so the work balances itself and no process waits on another to be handed work. A
    worker leaves its outcome in the outbox (``_leave``) and reports the chunk's number on a
    second pipe; this process takes the reports between its own chunks, then waits for the rest.
    A worker that dies leaves chunks unreported: EngineError. Nothing here uses a thread, so a
    busy calling process never keeps a worker waiting for the GIL.
    """
    claims_out, claims_in = os.pipe()
    reports_out, reports_in = os.pipe()
    workers: list[multiprocessing.process.BaseProcess] = []
    reported: set[int] = set()
    mine: set[int] = set()
    pending = bytearray()

    def receive(data: bytes) -> None:
        """File whole reports: each names a chunk whose outcome waits in the outbox."""
        pending.extend(data)
        whole = len(pending) - len(pending) % _CLAIM.size
        for (number,) in _CLAIM.iter_unpack(bytes(pending[:whole])):
            reported.add(number)
            take(_fetched(outbox, starts[number]))
        del pending[:whole]

    try:
        if len(starts) * _CLAIM.size > select.PIPE_BUF * 16:  # far more than a batch makes (about 8 per process)
            raise ValueError(f"too many chunks for one batch: {len(starts)}")
        os.write(claims_in, b"".join(_CLAIM.pack(number) for number in range(len(starts))))
        os.close(claims_in)  # once the numbers are read, a claim reads end-of-file
        claims_in = -1
        context = multiprocessing.get_context("fork")
        for _ in range(count):
            started = context.Process(
                target=_forked_worker,
                args=(claims_out, reports_in, starts, size, items, rules, policy, limit, outbox),
                daemon=True,
            )
            started.start()
            workers.append(started)
        os.close(reports_in)  # the workers hold it: end-of-file once they are all gone
        reports_in = -1
        while len(claim := os.read(claims_out, _CLAIM.size)) == _CLAIM.size:
            (number,) = _CLAIM.unpack(claim)
            mine.add(number)
            start = starts[number]
            take(_score(start, items[start : start + size], rules, policy, limit))
            while select.select([reports_out], [], [], 0)[0]:  # what workers finished meanwhile
                data = os.read(reports_out, 64 * _CLAIM.size)
                if not data:
                    break
                receive(data)
        while data := os.read(reports_out, 64 * _CLAIM.size):
            receive(data)
        for worker in workers:
            worker.join()
        lost = len(starts) - len(mine) - len(reported)
        if lost:
            codes = ", ".join(str(worker.exitcode) for worker in workers)
            raise EngineError(
                f"a worker process died while scoring the batch ({lost} chunk(s) lost; exit codes {codes})"
            )
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(_STOP_SECONDS)
            if worker.is_alive():  # stopped (SIGSTOP), or deaf to SIGTERM: it is killed
                worker.kill()
                worker.join()
        for fd in (claims_out, claims_in, reports_out, reports_in):
            if fd >= 0:
                os.close(fd)


def _forked_worker(
    claims: int,
    reports: int,
    starts: list[int],
    size: int,
    items: list[Any],
    rules: Ruleset,
    policy: Playbook | None,
    limit: Limit,
    outbox: str,
) -> None:
    """A forked worker: claim chunks from the pipe until it is empty, leave each outcome in the outbox, report it.

    The ruleset, its engine and the states are inherited; only chunk numbers travel. Ctrl-C is
    the calling process's to handle (it stops the workers).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the caller's handler: a stopped batch stops its workers
    gc.disable()  # a worker only scores batches (see the module docstring) and ends with the batch
    while len(claim := os.read(claims, _CLAIM.size)) == _CLAIM.size:
        (number,) = _CLAIM.unpack(claim)
        start = starts[number]
        _leave(outbox, start, _score(start, items[start : start + size], rules, policy, limit))
        os.write(reports, _CLAIM.pack(number))
