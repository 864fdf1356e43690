"""Benchmarks of negotiation-rules against its baselines; prints one table of ratios measured in one run.

    python benchmarks/run.py            # the full run (about 3 minutes on 2 cores)
    python benchmarks/run.py --quick    # fewer rounds, 10,000 calls for memory (under a minute)

Every figure is per call, measured with ``time.perf_counter_ns`` around each call; methods are
interleaved round by round over the same states, so a slower moment of the machine hits all
of them alike. Ratios are of medians. The result cache is off unless a row says "warm".
See docs/performance.md for the method and the figures of the last run.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workload import RawDurableRules, flat_facts, python_floor, states, synthetic

from negotiation_rules import Ruleset
from negotiation_rules import _batch as batch_module
from negotiation_rules import advise as advise_with_questions
from negotiation_rules._batch import advise_many
from negotiation_rules._engine import engine_for, set_result_cache_size
from negotiation_rules._ruleset import builtin_ruleset


def advise(state: Any, **options: Any) -> Any:
    """advise() without the questions: the evaluation path every ratio below is about (questions: own row)."""
    return advise_with_questions(state, questions=0, **options)


Call = Callable[[int], object]


def timings(methods: dict[str, Call], count: int, rounds: int) -> dict[str, list[float]]:
    """Per-call times in microseconds: each round runs every method over every state index."""
    out: dict[str, list[float]] = {name: [] for name in methods}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, call in methods.items():
            gc.collect()
            samples = out[name]
            for i in range(count):
                start = clock()
                call(i)
                samples.append((clock() - start) / 1000)
    return out


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; peak RSS from getrusage elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    except (OSError, subprocess.SubprocessError):
        model = platform.processor() or "?"
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


class Table:
    """The one table the run prints: measured rows and, at the end, the targets."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []
        self.targets: list[tuple[str, str, bool]] = []

    def row(self, what: str, median_us: str, p99_us: str, note: str = "") -> None:
        self.rows.append((what, median_us, p99_us, note))
        print(f"  {what:58} {median_us:>10} {p99_us:>10}  {note}", flush=True)

    def target(self, what: str, measured: str, met: bool) -> None:
        self.targets.append((what, measured, met))

    def print(self) -> None:
        print()
        print(f"| {'measurement':58} | {'median':>10} | {'p99':>10} | note")
        print(f"|{'-' * 60}|{'-' * 12}|{'-' * 12}|------")
        for what, med, high, note in self.rows:
            print(f"| {what:58} | {med:>10} | {high:>10} | {note}")
        print()
        print(f"| {'target':58} | {'measured':>23} | met")
        print(f"|{'-' * 60}|{'-' * 25}|-----")
        for what, measured, met in self.targets:
            print(f"| {what:58} | {measured:>23} | {'yes' if met else 'NO'}")


def us(value: float) -> str:
    return f"{value:.1f} us"


def memory_growth(calls: int, quick: bool) -> tuple[float, float, float]:
    """RSS after 1,000 calls and after ``calls`` calls of advise() over the benchmark states, in a fresh process."""
    code = f"""
import gc, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from run import rss_mb
from workload import states
from negotiation_rules import advise
sts = states()
for i in range(1000):
    advise(sts[i % len(sts)])
gc.collect()
first = rss_mb()
for i in range(1000, {calls}):
    advise(sts[i % len(sts)])
gc.collect()
print(first, rss_mb())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    first, last = (float(x) for x in out.stdout.split())
    return first, last, last - first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds; 10,000 calls for the memory test")
    args = parser.parse_args()
    rounds = 3 if args.quick else 10
    memory_calls = 10_000 if args.quick else 100_000

    print(f"machine: {machine()}")
    set_result_cache_size(0)
    rules = builtin_ruleset()
    sts = states()
    facts = flat_facts(rules, sts)
    dicts = [s.model_dump() for s in sts]
    texts = [s.model_dump_json() for s in sts]
    raw = RawDurableRules(rules)
    floor = python_floor(rules)
    engine = engine_for(rules)
    fired = statistics.mean(len(engine.evaluate(f).matched) for f in facts)
    n = len(sts)
    print(
        f"states: {n} (built-in ruleset: {len(rules.rules)} rules, {len(rules.situations)} situations, "
        f"{len(engine.shards)} shards; {fired:.1f} rules match per state on average)"
    )
    table = Table()
    print("\nbuilt-in rulesets, per call:")
    for s in sts:  # warm up: sessions, plans, caches of the interpreter
        advise(s)
    times = timings(
        {
            "advise": lambda i: advise(sts[i]),
            "raw": lambda i: raw(sts[i], facts[i]),
            "python": lambda i: floor(sts[i], facts[i]),
            "advise_dict": lambda i: advise(dicts[i]),
            "advise_json": lambda i: advise(texts[i]),
            "questions": lambda i: advise_with_questions(sts[i]),
        },
        n,
        rounds,
    )
    advise_med = median(times["advise"])
    raw_med = median(times["raw"])
    table.row("advise(state) [NegotiationState, cold: cache off]", us(advise_med), us(p99(times["advise"])))
    table.row(
        "(a) raw durable-rules: same C handles, same facts",
        us(raw_med),
        us(p99(times["raw"])),
        f"advise / raw = {advise_med / raw_med:.2f}",
    )
    table.row(
        "(b) plain Python: explain.python_firing",
        us(median(times["python"])),
        us(p99(times["python"])),
        f"advise / python = {advise_med / median(times['python']):.2f}",
    )
    table.row(
        "advise(state, questions=3) [the default: asks what to find out]",
        us(median(times["questions"])),
        us(p99(times["questions"])),
        f"with / without questions = {median(times['questions']) / advise_med:.1f}",
    )
    table.row("advise(dict) [validated on every call]", us(median(times["advise_dict"])), us(p99(times["advise_dict"])))
    table.row(
        "advise(json text) [validated on every call]", us(median(times["advise_json"])), us(p99(times["advise_json"]))
    )
    # the same samples, split: states whose history has concession events also run the trend rules
    calm_idx = {i for i, s in enumerate(sts) if not any(e.kind == "concession" for e in s.history)}

    def part(name: str, calm: bool) -> list[float]:
        return [t for k, t in enumerate(times[name]) if ((k % n) in calm_idx) is calm]

    for calm, label in ((True, "without"), (False, "with")):
        adv, raw_part = median(part("advise", calm)), median(part("raw", calm))
        table.row(
            f"  advise / raw, {len(calm_idx) if calm else n - len(calm_idx)} states {label} concession events",
            us(adv),
            us(raw_part),
            f"advise / raw = {adv / raw_part:.2f} (columns: advise, raw)",
        )
    table.target(
        "advise() <= 1.3x raw durable-rules (same states)", f"{advise_med / raw_med:.2f}x", advise_med <= 1.3 * raw_med
    )

    # warm: the result cache on, after one pass (every state seen before)
    set_result_cache_size(4096)
    for s in sts:
        advise(s)
    warm = timings({"warm": lambda i: advise(sts[i])}, n, rounds)["warm"]
    entries = engine.cache_info()[2]
    set_result_cache_size(0)
    table.row(
        "advise(state) warm: result cache on, every state seen",
        us(median(warm)),
        us(p99(warm)),
        f"cold / warm = {advise_med / median(warm):.2f}; {entries} entries",
    )

    # batch against a loop of advise()
    print("\nbatch:")
    batch_rounds = max(2, rounds // 2)
    loop_t, batch_t, dict_loop_t, dict_batch_t = [], [], [], []
    for _ in range(batch_rounds):
        gc.collect()
        start = time.perf_counter()
        for s in sts:
            advise(s)
        loop_t.append((time.perf_counter() - start) / n * 1e6)
        start = time.perf_counter()
        advise_many(sts)
        batch_t.append((time.perf_counter() - start) / n * 1e6)
        start = time.perf_counter()
        for d in dicts:
            advise(d)
        dict_loop_t.append((time.perf_counter() - start) / n * 1e6)
        start = time.perf_counter()
        advise_many(dicts)
        dict_batch_t.append((time.perf_counter() - start) / n * 1e6)
    table.row("loop of advise(state), per state", us(median(loop_t)), "")
    table.row(
        "advise_many(states), per state",
        us(median(batch_t)),
        "",
        f"batch / loop = {median(batch_t) / median(loop_t):.2f}",
    )
    table.row("loop of advise(dict), per state", us(median(dict_loop_t)), "")
    table.row(
        "advise_many(dicts), per state",
        us(median(dict_batch_t)),
        "",
        f"batch / loop = {median(dict_batch_t) / median(dict_loop_t):.2f}",
    )
    repeated = [sts[i % 40] for i in range(n)]
    start = time.perf_counter()
    for s in repeated:
        advise(s)
    rep_loop = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    advise_many(repeated)
    rep_batch = (time.perf_counter() - start) / n * 1e6
    table.row(
        "advise_many, 40 distinct states repeated, per state",
        us(rep_batch),
        "",
        f"batch / loop = {rep_batch / rep_loop:.2f}",
    )
    table.target(
        "advise_many() cheaper per state than a loop of advise()",
        f"{median(batch_t) / median(loop_t):.2f}x",
        median(batch_t) < median(loop_t),
    )
    # states without concession events, as first measured when the trends were durable-rules join rules that
    # read out of bounds (see docs/performance.md); the trends are plain Python now
    size = 20_000 if not args.quick else 6_000
    many = states(count=size * 3, seed=7)
    big = [s.model_dump() for s in many if not any(e.kind == "concession" for e in s.history)][:size]
    del many
    start = time.perf_counter()
    seq = advise_many(big)
    seq_t = (time.perf_counter() - start) / len(big) * 1e6
    table.row(f"advise_many({len(big)} dicts*), 1 process, per state", us(seq_t), "", "*distinct, without concessions")
    start = time.perf_counter()
    cores = batch_module._cores
    batch_module._cores = lambda: 3  # force the pool: on two cores advise_many would stay in this process
    try:
        par = advise_many(big, processes=2)
        par_t = (time.perf_counter() - start) / len(big) * 1e6
        table.row(
            f"advise_many({len(big)} dicts*), processes=2 (forced)",
            us(par_t),
            "",
            f"2 processes / 1 = {par_t / seq_t:.2f}{'' if par == seq else ' (RESULTS DIFFER)'}",
        )
    except Exception as exc:  # a worker that dies is reported, not hidden
        table.row(f"advise_many({len(big)} dicts*), processes=2", "failed", "", f"{type(exc).__name__}: {exc}")
    finally:
        batch_module._cores = cores

    # cost against rulebook size
    print("\nrulebook size (synthetic rules, about as many match as in the built-in ones):")
    builtin_med = advise_med
    sizes = (50, 500, 4000)
    books: dict[int, tuple[Ruleset, float, float]] = {}
    for size in sizes:
        start = time.perf_counter()
        book = synthetic(size, facts, fired)
        load = time.perf_counter() - start
        book_facts = flat_facts(book, sts)
        book_engine = engine_for(book)
        matched = statistics.mean(len(book_engine.evaluate(f).matched) for f in book_facts)
        books[size] = (book, load, matched)
        print(
            f"  {size} rules: loaded in {load:.1f} s, {len(book_engine.shards)} shards, "
            f"{matched:.1f} rules match per state",
            flush=True,
        )
    size_methods: dict[str, Call] = {"builtin": lambda i: advise(sts[i])}
    for size in sizes:
        book = books[size][0]
        size_methods[str(size)] = lambda i, book=book: advise(sts[i], ruleset=book)
    for s in sts:
        for size in sizes:
            advise(s, ruleset=books[size][0])
    size_times = timings(size_methods, n, max(2, rounds // 2))
    builtin_med = median(size_times["builtin"])
    table.row("advise(), built-in rulesets (this part of the run)", us(builtin_med), us(p99(size_times["builtin"])))
    for size in sizes:
        med = median(size_times[str(size)])
        table.row(
            f"advise(), {size} synthetic rules ({books[size][2]:.1f} match)",
            us(med),
            us(p99(size_times[str(size)])),
            f"/ built-in = {med / builtin_med:.2f}",
        )
    big_ratio = median(size_times["4000"]) / builtin_med
    table.target("4,000 rules <= 4x the built-in rulesets", f"{big_ratio:.2f}x", big_ratio <= 4)
    del books, size_methods

    # memory
    print(f"\nmemory: {memory_calls} calls in a fresh process ...", flush=True)
    first, last, growth = memory_growth(memory_calls, args.quick)
    table.row(
        f"RSS after 1,000 calls -> after {memory_calls:,} calls",
        f"{first:.1f} MB",
        f"{last:.1f} MB",
        f"growth {growth:+.1f} MB",
    )
    table.target(f"memory growth < 5 MB over {memory_calls:,} calls", f"{growth:+.1f} MB", growth < 5)
    table.print()


if __name__ == "__main__":
    main()
