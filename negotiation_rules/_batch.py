"""Advice for many states at once (a CRM export, a nightly scoring run): ``advise_many()``.

Results come back in input order and equal ``[advise(s, ...) for s in states]``. What makes a
batch cheaper per state than that loop:

- the ruleset, the playbook and ``top`` are resolved and checked once;
- states that give the same fact (every value a rule can read) are evaluated once, and JSON
  texts that are identical are validated once;
- the engine gets the stage facts of up to ``engine.BATCH_CHUNK`` states per shard in one call
  into durable-rules (``Engine.evaluate_many``) instead of one call per state;
- with ``processes=N``, a large batch is split into chunks scored by up to N worker processes
  (each loads the ruleset once: the built-in one, a path reloaded from disk, or a Ruleset
  object sent over as its validated rules); states and advice travel as plain tuples, which
  pickle several times faster than pydantic models;
- Python's cyclic garbage collector is paused while a batch runs: with tens of thousands of
  results alive, its full collections cost about 40% of the time of a large batch, and the
  objects a batch makes hold no reference cycles (reference counting frees them).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._advice import Advice
from ._compiled import check_engine, evaluator_for
from ._engine import engine_for
from ._errors import EngineError, StateError
from ._pipeline import PlaybookArg, RulesetArg, check_top, facts_for
from ._playbook import Playbook, resolve_playbook
from ._questions import TOP, ask
from ._ranking import rank, ranked_tactics, trusted
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
    """Advice for each state, in input order: the same as ``[advise(s, ...) for s in states]``, faster.

    ``states`` holds NegotiationState objects, dicts or JSON texts; the first invalid one (by
    position) raises StateError with its index in the path (``states[3].phase: ...``).
    ``processes=N`` (N >= 2) scores batches of at least ``MIN_PARALLEL`` states in up to N
    worker processes, and no more than the machine has cores besides this one (on two cores a
    batch stays here: the workers and this process, which packs and unpacks, would share them).
    Workers are started with ``spawn``, so a script calling this at import time needs the usual
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
    workers = _check_processes(processes)
    check_engine(engine)
    rules = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    workers = min(workers, _cores() - 1)  # this process needs a core of its own to pack and unpack
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
        except StateError as exc:
            raise StateError(exc.reason, _at(offset + i, exc.path)) from None
        prepared.append((state, *facts_for(state, rules)))
    # the engine reads nothing but the fact: equal facts are evaluated once (each state is still ranked itself)
    distinct: dict[tuple[Any, ...], int] = {}
    unique: list[dict[str, Any]] = []
    slots: list[int] = []
    for _, _, fact in prepared:
        slot = distinct.setdefault(tuple(fact.items()), len(unique))  # unknowns are left out: keys matter
        if slot == len(unique):
            unique.append(fact)
        slots.append(slot)
    firings = evaluator_for(rules, engine).evaluate_many(unique)
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
    """How a worker gets the same ruleset: built in, reloaded from its path, or its validated rules."""
    if rules is builtin_ruleset():
        return ("builtin",)
    if isinstance(arg, (str, Path)):
        return ("path", str(Path(arg).resolve()))
    return ("rules", rules.rules, rules.situations, rules.name)  # Rule and Situation are plain frozen data


_worker: dict[str, Any] = {}


def _init_worker(spec: RulesetSpec, policy: Playbook | None, limit: tuple[int | None, int, str]) -> None:
    """Runs once in each worker: remember the job; the ruleset is loaded on first use (so errors reach the caller)."""
    gc.disable()  # a worker only scores batches (see the module docstring) and ends with the pool
    _worker.clear()
    _worker.update(spec=spec, policy=policy, limit=limit)


def _worker_ruleset() -> Ruleset:
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


_MODEL = "negotiation_rules._batch:model"


def _plain(value: Any) -> Any:
    """A model as plain tuples, lists and scalars, which pickle several times faster than the model.

    The other side rebuilds it without validating again (it was valid on this side): pickling
    pydantic models and rebuilding them took longer than scoring the state did. Lists of plain
    values (cautions, situations) are passed as they are.
    """
    if isinstance(value, BaseModel):
        return (_MODEL, type(value), {k: _plain(v) for k, v in value.__dict__.items()}, value.model_fields_set)
    if isinstance(value, list) and any(isinstance(item, (BaseModel, list)) for item in value):
        return [_plain(v) for v in value]
    return value


def _rebuild(value: Any) -> Any:
    if type(value) is tuple and len(value) == 4 and value[0] == _MODEL:
        fields = {k: v if type(v) is not tuple and type(v) is not list else _rebuild(v) for k, v in value[2].items()}
        return trusted(value[1], fields, set(value[3]))
    if type(value) is list and value and (type(value[0]) is tuple or type(value[0]) is list):
        return [_rebuild(v) for v in value]
    return value


def _work(start: int, items: list[Any]) -> tuple[str, int, Any]:
    """Score one chunk in a worker: ``("ok", start, advice)`` or ``("error", index, (reason, path))``."""
    try:
        states = [_rebuild(item) for item in items]
        limit, asked, engine = _worker["limit"]
        advice = _advise_chunk(states, start, _worker_ruleset(), _worker["policy"], limit, asked, engine)
        return "ok", start, [_plain(a) for a in advice]
    except StateError as exc:  # sent back as data: a StateError does not survive pickling with its path
        index = int(exc.path[len("states[") :].split("]", 1)[0])
        return "error", index, (exc.reason, exc.path)


def _in_processes(
    items: list[Any],
    spec: RulesetSpec,
    rules: Ruleset,
    policy: Playbook | None,
    limit: tuple[int | None, int, str],
    workers: int,
    progress: Progress | None,
) -> list[Advice]:
    total = len(items)
    size = max(CHUNK, -(-total // (workers * 8)))  # about 8 chunks per worker, for progress and balance
    results: list[Advice] = []
    parts: dict[int, list[Advice]] = {}
    errors: list[tuple[int, tuple[str, str]]] = []
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: safe whatever threads this process runs
    with ProcessPoolExecutor(
        max_workers=min(workers, -(-total // size)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(spec, policy, limit),
    ) as pool:
        futures: list[Future[tuple[str, int, Any]]] = [
            pool.submit(_work, start, [_plain(item) for item in items[start : start + size]])
            for start in range(0, total, size)
        ]
        done = 0
        try:
            for future in as_completed(futures):
                kind, where, value = future.result()
                if kind == "error":
                    errors.append((where, value))
                    continue
                parts[where] = [_rebuild(a) for a in value]
                done += len(value)
                if progress is not None:
                    progress(done, total)
        except BrokenProcessPool as exc:
            for future in futures:
                future.cancel()
            raise EngineError(
                f"a worker process died while scoring the batch (a crash inside durable-rules): {exc}"
            ) from exc
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    if errors:
        _, (reason, path) = min(errors)
        raise StateError(reason, path)
    for start in sorted(parts):
        results += parts[start]
    return results
