"""Soak test on demand (not in CI): many mixed calls across threads and processes, memory and sessions flat.

    python benchmarks/soak.py                      # 1,000,000 calls: 2 processes x (4 threads + interrupts)
    python benchmarks/soak.py --calls 100000       # a shorter run

Each process runs worker threads that call ``advise`` (valid states), ``advise`` on invalid
input (a bad dict, a state changed with ``model_copy`` past validation: both must be
``StateError``) and ``advise_many`` on small batches, while its main thread makes calls that a
timer (``setitimer`` + SIGALRM) interrupts at random moments. Every 5% of the way it samples
its resident memory (RSS), the engine sessions of the built-in ruleset and the durable-rules
handles alive. At the end each process computes the answers of tests/test_chaos.py, and so
does a fresh process; they must be equal. Prints one JSON object per process and a summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from negotiation_rules import NegotiationState, StateError, advise  # noqa: E402
from negotiation_rules._batch import advise_many  # noqa: E402
from negotiation_rules._engine import engine_for, live_handles  # noqa: E402
from negotiation_rules._ruleset import builtin_ruleset  # noqa: E402
from tests.test_chaos import STATES, answers  # noqa: E402

THREADS = 4


class Interrupted(BaseException):
    """Raised by the timer inside the call it interrupts."""


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


def worker(index: int, calls: int, out: Any) -> None:
    """One process of the soak: ``calls`` calls in all, by THREADS threads and the interrupted main thread."""
    states = [NegotiationState.model_validate(s) for s in STATES]
    bad_states = [{"phase": "nonsense"}, {"alternatives": -1}, states[0].model_copy(update={"alternatives": 1e300})]
    counts = {"valid": 0, "invalid": 0, "batch": 0, "interrupted": 0, "completed_under_timer": 0, "wrong_error": 0}
    lock = threading.Lock()
    done = [0]
    samples: list[dict[str, Any]] = []
    engine = engine_for(builtin_ruleset())
    advise(states[0])  # the engine builds its durable-rules rulesets on its first call: the handles are counted after
    step = max(1, calls // 20)

    def count(kind: str, n: int = 1) -> int:
        with lock:
            counts[kind] += n
            done[0] += n
            return done[0]

    def sample() -> None:
        samples.append(
            {
                "done": done[0],
                "rss_mb": round(rss_mb(), 1),
                "sessions": engine.session_count(),
                "handles": len(live_handles()),
            }
        )

    def thread_body(seed: int) -> None:
        rng = random.Random(seed)
        while done[0] < calls:
            pick = rng.random()
            if pick < 0.6:
                advise(rng.choice(states))
                count("valid")
            elif pick < 0.8:
                try:
                    advise(rng.choice(bad_states))
                    count("wrong_error")
                except StateError:
                    count("invalid")
            else:
                advise_many(rng.sample(states, 4))
                count("batch", 4)

    armed = {"on": False}

    def handler(signum: int, frame: FrameType | None) -> None:
        if armed["on"]:
            armed["on"] = False
            raise Interrupted

    signal.signal(signal.SIGALRM, handler)
    threads = [threading.Thread(target=thread_body, args=(index * 100 + t,)) for t in range(THREADS)]
    start = time.perf_counter()
    sample()
    for thread in threads:
        thread.start()
    rng = random.Random(index)
    next_sample = step
    while done[0] < calls:
        try:
            try:
                armed["on"] = True
                signal.setitimer(signal.ITIMER_REAL, 10 ** rng.uniform(-4.3, -2.3))
                if rng.random() < 0.5:
                    advise(rng.choice(states))
                else:
                    advise_many(rng.sample(states, 6))
            finally:
                armed["on"] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
            count("completed_under_timer")
        except Interrupted:
            count("interrupted")
        if done[0] >= next_sample:
            sample()
            next_sample += step
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    sample()
    out.put(
        {
            "process": index,
            "calls": done[0],
            "seconds": round(seconds, 1),
            "calls_per_second": round(done[0] / seconds),
            "counts": counts,
            "samples": samples,
            "answers": answers(),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in all, split over the processes")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [
        context.Process(target=worker, args=(i, args.calls // args.processes, queue)) for i in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.test_chaos import answers;"
            " sys.stdout.write(answers())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ok = True
    for result in sorted(results, key=lambda r: r["process"]):
        same = result.pop("answers") == fresh
        ok = ok and same and result["counts"]["wrong_error"] == 0 and all(p.exitcode == 0 for p in procs)
        first, last = (
            result["samples"][1] if len(result["samples"]) > 1 else result["samples"][0],
            result["samples"][-1],
        )
        print(json.dumps({**result, "equal_to_fresh_process": same}))
        print(
            f"process {result['process']}: {result['calls']:,} calls in {result['seconds']} s"
            f" ({result['calls_per_second']:,}/s); {result['counts']['interrupted']:,} interrupted;"
            f" RSS {first['rss_mb']} -> {last['rss_mb']} MB (after the first 5%, at the end);"
            f" sessions max {max(s['sessions'] for s in result['samples'])}, at the end {last['sessions']};"
            f" handles {first['handles']} -> {last['handles']}; answers equal to a fresh process: {same}"
        )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
