"""Where one ``advise(state, questions=0)`` spends its time, against the C calls it makes.

On demand, not a test::

    python benchmarks/profile_advise.py                 # C-only replay, counts, ratio, top of cProfile
    python benchmarks/profile_advise.py --rounds 9 --no-profile

1. Every call into ``durable_rules_engine`` that one evaluation of each benchmark state makes
   is recorded (the engine's own module reference is swapped for a recording proxy), with the
   session's state handles as they come back.
2. The recorded calls are replayed alone, state by state, in a tight loop: the floor of what
   durable-rules costs for those states (asserts, action loop, retracts; no Python around).
3. ``advise(state, questions=0)`` and the replay run round by round, interleaved, on the same
   states; the figure is the minimum over rounds of each, and their ratio.
4. cProfile of ``advise`` over the states, the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: another checkout can be measured
sys.path.insert(0, str(Path(__file__).resolve().parent))

import durable_rules_engine as drl
from workload import states

from negotiation_rules import _engine, advise
from negotiation_rules._engine import engine_for, set_result_cache_size
from negotiation_rules._ruleset import builtin_ruleset

Call = tuple[Callable[..., Any], tuple[Any, ...]]


class _Recorder:
    """Stands in for ``durable_rules_engine`` in the engine module and records every call made through it."""

    def __init__(self) -> None:
        """Nothing recorded yet."""
        self.calls: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        """The real attribute; functions are wrapped so each call is recorded with its arguments."""
        real = getattr(drl, name)
        if not callable(real) or isinstance(real, type):
            return real

        def record(*args: Any) -> Any:
            """Note the call, then make it."""
            self.calls.append((real, args))
            return real(*args)

        return record


def record_calls(sts: Sequence[Any]) -> list[list[Call]]:
    """The durable-rules calls ``advise(state, questions=0)`` makes for each state (sessions warmed first)."""
    for state in sts:
        advise(state, questions=0)
    recorder = _Recorder()
    real = getattr(_engine, "_drl")  # noqa: B009 - the engine's private module reference, swapped on purpose
    setattr(_engine, "_drl", recorder)  # noqa: B010
    try:
        out = []
        for state in sts:
            recorder.calls = []
            advise(state, questions=0)
            out.append(recorder.calls)
    finally:
        setattr(_engine, "_drl", real)  # noqa: B010
    return out


def replay(calls: list[Call]) -> None:
    """Make exactly the recorded calls again (the same session, so the same state handles)."""
    for function, args in calls:
        function(*args)


def timed(function: Callable[[int], object], count: int) -> float:
    """CPU seconds per item of one pass of ``function`` over ``range(count)`` (CPU time: the machine is shared)."""
    start = time.process_time()
    for i in range(count):
        function(i)
    return (time.process_time() - start) / count


def control(state: Any, questions: int = 0) -> object:
    """Pure-Python work of about the size of one call (no durable-rules, no lock): the GIL's own cost of threads."""
    return sorted(str(i * 7919 % 1013) for i in range(600))


def throughput(
    sts: Sequence[Any], threads: int, calls: int, call: Callable[..., object] = advise
) -> tuple[float, float]:
    """Calls of ``advise(state, questions=0)`` per wall second and per CPU second of this process,
    with ``threads`` threads sharing ``calls`` calls (CPU time is the steadier one on a shared machine)."""
    share = calls // threads
    barrier = threading.Barrier(threads + 1)

    def work(offset: int) -> None:
        """One thread's share of the calls, started together with the others."""
        barrier.wait()
        for i in range(share):
            call(sts[(offset + i) % len(sts)], questions=0)

    pool = [threading.Thread(target=work, args=(k * 61,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for thread in pool:
        thread.join()
    done = share * threads
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def threads_report(sts: Sequence[Any], runs: int, calls: int, call: Callable[..., object] = advise) -> None:
    """1 against 4 threads, interleaved run by run; the ratio of each run and its min/median/max."""
    print(f"threads, {getattr(call, '__name__', call)}:")
    ratios, cpu_ratios = [], []
    for _ in range(runs):
        one, one_cpu = throughput(sts, 1, calls, call)
        four, four_cpu = throughput(sts, 4, calls, call)
        ratios.append(four / one)
        cpu_ratios.append(four_cpu / one_cpu)
        print(
            f"  1 thread {one:6.0f} calls/s ({one_cpu:6.0f} per CPU s)   "
            f"4 threads {four:6.0f} calls/s ({four_cpu:6.0f} per CPU s)   "
            f"4/1 = {four / one:.2f} (CPU {four_cpu / one_cpu:.2f})"
        )
    for name, found in (("wall", ratios), ("per CPU second", cpu_ratios)):
        print(f"threads 4/1 {name}: min {min(found):.2f} median {statistics.median(found):.2f} max {max(found):.2f}")


def processes_report(sts: Sequence[Any], runs: int, count: int, cores: int) -> None:
    """``advise_many`` of ``count`` distinct dicts in 1 process against ``processes=2`` (forced), per run.

    Besides wall time, CPU time: of this process alone, then of this process and of the workers
    (``os.times``). On a shared machine the wall-clock speed-up says how much CPU the neighbours
    left; ``1-process CPU / max(this process, workers)`` is the speed-up with a core each.
    """
    import os
    from unittest import mock

    from negotiation_rules import _batch, advise_many

    base = [s.model_dump(exclude={"history"}) for s in sts]
    dicts = [{**base[i % len(base)], "alternatives": i // len(base) + 1} for i in range(count)]  # all distinct
    ratios, cpu_ratios = [], []
    for _ in range(runs):
        before, start = os.times(), time.perf_counter()
        advise_many(dicts)
        one, after = time.perf_counter() - start, os.times()
        one_cpu = after.user + after.system - before.user - before.system
        with mock.patch.object(_batch, "_cores", lambda: cores):  # as on a machine with that many cores
            before, start = os.times(), time.perf_counter()
            advise_many(dicts, processes=2)
            two, after = time.perf_counter() - start, os.times()
        here = after.user + after.system - before.user - before.system
        workers = after.children_user + after.children_system - before.children_user - before.children_system
        ratios.append(one / two)
        cpu_ratios.append(one_cpu / max(here, workers))
        print(
            f"  1 process {one:6.2f} s (CPU {one_cpu:5.2f} s)   2 processes {two:6.2f} s "
            f"(CPU here {here:5.2f} s, worker {workers:5.2f} s)   speed-up {one / two:.2f}, "
            f"with a core each {one_cpu / max(here, workers):.2f}"
        )
    for name, found in (("wall", ratios), ("with a core each (CPU)", cpu_ratios)):
        print(f"processes 2/1 {name}: min {min(found):.2f} median {statistics.median(found):.2f} max {max(found):.2f}")


def main() -> None:
    """Record, replay, compare and profile (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="functions shown from the profile")
    parser.add_argument("--threads", action="store_true", help="also 1 against 4 threads (3 runs)")
    parser.add_argument("--processes", type=int, default=0, help="also advise_many of N distinct states, 1 vs 2")
    parser.add_argument("--cores", type=int, default=2, help="cores advise_many is told the machine has")
    args = parser.parse_args()
    set_result_cache_size(0)
    sts = states()
    rules = builtin_ruleset()
    engine = engine_for(rules)
    recorded = record_calls(sts)
    n = len(sts)
    counts = [len(c) for c in recorded]
    by_name: dict[str, int] = {}
    for calls in recorded:
        for function, _ in calls:
            by_name[function.__name__] = by_name.get(function.__name__, 0) + 1
    print(f"{n} states, {len(engine.shards)} shards")
    print(f"C calls per evaluation: mean {sum(counts) / n:.1f}, min {min(counts)}, max {max(counts)}")
    print("  " + ", ".join(f"{name} {k / n:.1f}" for name, k in sorted(by_name.items())))
    advise_s: list[float] = []
    replay_s: list[float] = []
    for _ in range(args.rounds):
        advise_s.append(timed(lambda i: advise(sts[i], questions=0), n))
        replay_s.append(timed(lambda i: replay(recorded[i]), n))
    a, r = min(advise_s), min(replay_s)
    ratios = sorted(x / y for x, y in zip(advise_s, replay_s, strict=True))
    print(f"advise(questions=0): {a * 1e6:.1f} us   C-only replay: {r * 1e6:.1f} us (CPU, min of {args.rounds})")
    print(
        f"advise / replay: {a / r:.2f} (of minima); per round min {ratios[0]:.2f} "
        f"median {ratios[len(ratios) // 2]:.2f} max {ratios[-1]:.2f}"
    )
    if args.threads:
        threads_report(sts, 3, 20_000)
        threads_report(sts, 3, 20_000, control)
    if args.processes:
        processes_report(sts, 3, args.processes, args.cores)
    if args.no_profile:
        return
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(5):
        for state in sts:
            advise(state, questions=0)
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
