"""Benchmarks of negotiation-rules against honest baselines; every ratio as min/median/max of several runs.

    python benchmarks/run.py            # the full run (see docs/performance.md for how long it takes)
    python benchmarks/run.py --quick    # fewer rounds and calls, the same rows (a few minutes)
    python benchmarks/run.py --quick --sections builtin startup   # some sections only

Baselines: (a) the C-only replay: exactly the ``durable_rules_engine`` calls one evaluation
makes (asserts, the action loop, retractions), recorded once per state and replayed alone on a
session of their own, no JSON or Python work of the library in the timed loop; (b) the
compiled evaluator's bare generated function on a prepared flat fact (when the library has
``negotiation_rules._compiled``; otherwise its rows say "not available").

Method: each section is measured in ``RUNS`` (3) runs in this one process. In a run every
method is timed over every state for several rounds, methods interleaved round by round, so a
slower moment of the machine hits all of them alike; a method's figure for the run is the mean
over the states of each state's median per-call time (``time.perf_counter_ns``). Each ratio is
computed within a run and printed as min / median / max over the runs; a target counts as met
only when every run meets it. The output ends with the table of the issue's targets.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import memory  # noqa: E402  (the benchmarks' own folder, put on the path above)
from workload import (  # noqa: E402
    CReplay,
    compiled_available,
    compiled_for,
    flat_facts,
    stage_facts,
    states,
    write_synthetic,
)

from negotiation_rules import _advice as advice_module  # noqa: E402
from negotiation_rules import _batch as batch_module  # noqa: E402
from negotiation_rules import advise as advise_with_questions  # noqa: E402
from negotiation_rules import load_ruleset  # noqa: E402
from negotiation_rules._batch import advise_many  # noqa: E402
from negotiation_rules._engine import MAX_SESSIONS, MIN_SESSIONS, engine_for, set_result_cache_size  # noqa: E402
from negotiation_rules._ruleset import _load, builtin_ruleset  # noqa: E402

#: Runs per section: every ratio is reported as min / median / max over these.
RUNS = 3
#: The sections, in the order they run (``--sections`` picks some; "size" needs "builtin" and runs it).
SECTIONS = ("builtin", "size", "threads", "batch", "startup", "memory")
Call = Callable[[int], object]


def advise(state: Any, **options: Any) -> Any:
    """advise() without the questions: the evaluation path the ratios are about (questions: own row)."""
    return advise_with_questions(state, questions=0, **options)


def per_call(methods: dict[str, Call], count: int, rounds: int) -> dict[str, float]:
    """One run: per method, the mean over the ``count`` states of each state's median call time (us)."""
    samples: dict[str, list[list[int]]] = {name: [[] for _ in range(count)] for name in methods}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, call in methods.items():
            gc.collect()
            per_state = samples[name]
            for i in range(count):
                start = clock()
                call(i)
                per_state[i].append(clock() - start)
    return {name: statistics.mean(statistics.median(s) for s in per) / 1000 for name, per in samples.items()}


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """min, median and max of one figure over the runs."""
    return min(values), statistics.median(values), max(values)


def rss_mb() -> float:
    """Resident memory of this process in MB (see memory.rss_mb)."""
    return memory.rss_mb()


def machine() -> str:
    """CPU model, cores and Python version, for the record."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    except (OSError, subprocess.SubprocessError):
        model = platform.processor() or "?"
    return f"{model}, {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, {platform.system()}"


class Report:
    """The rows printed as they are measured, and the final tables: every figure and the targets."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, tuple[float, float, float] | None, str, str]] = []
        self.targets: list[tuple[str, str, tuple[float, float, float] | None, str, bool | None]] = []

    def figure(self, what: str, values: Sequence[float] | None, unit: str = "us", note: str = "") -> None:
        """One measured figure (or ratio, unit ``x``) over the runs; None: not available (``note`` says why)."""
        low_mid_high = spread(values) if values else None
        self.rows.append((what, low_mid_high, unit, note))
        print(f"  {what:68} {self._show(low_mid_high, unit):>34}  {note}", flush=True)

    def target(
        self, what: str, limit: str, values: Sequence[float] | None, met: Callable[[float], bool], unit: str = "x"
    ) -> None:
        """A target of the issue: met only when ``met`` holds for every run's value."""
        ok = all(met(v) for v in values) if values else None
        self.targets.append((what, limit, spread(values) if values else None, unit, ok))

    @staticmethod
    def _show(values: tuple[float, float, float] | None, unit: str) -> str:
        """``min / median / max unit``, or the one value when there was one run."""
        if values is None:
            return "n/a"
        digits = 2 if unit == "x" else 1
        low, mid, high = (f"{v:,.{digits}f}" for v in values)
        return f"{low} {unit} (1 run)" if values[0] == values[2] else f"{low} / {mid} / {high} {unit}"

    def print(self) -> None:
        """The final tables: every figure (min / median / max over the runs), then the targets."""
        print()
        print(f"| {'measurement':68} | {'min / median / max':>34} | note")
        print(f"|{'-' * 70}|{'-' * 36}|------")
        for what, values, unit, note in self.rows:
            print(f"| {what:68} | {self._show(values, unit):>34} | {note}")
        print()
        print(f"| {'target (met only when met in every run)':68} | {'limit':>8} | {'min / median / max':>28} | met")
        print(f"|{'-' * 70}|{'-' * 10}|{'-' * 30}|-----")
        for what, limit, values, unit, ok in self.targets:
            shown = self._show(values, unit) if values else "not measured"
            verdict = "n/a" if ok is None else "yes" if ok else "NO"
            print(f"| {what:68} | {limit:>8} | {shown:>28} | {verdict}")


# -- the floor of the output objects -----------------------------------------------------------------


class OutputObjects:
    """Builds again, per state, the pydantic models one Advice holds: the price of output objects at all.

    Made once from a state's Advice (same models, same counts, same contents); a call builds them
    all, bottom up, through pydantic's supported routes only, with the field values prepared, so
    it times nothing but the models. ``every``: every model the Advice holds, one Fact per distinct
    fact and one Source per distinct source of the state, with ``trusted`` (a ``model_copy`` of a
    prototype); otherwise only what ``advise()`` builds per call (Recommendations, SetAsides, the
    Advice; Facts and Sources shared between calls), the way ranking builds them (``validated``).
    """

    def __init__(self, advice: Any, every: bool) -> None:
        self.every = every
        facts: dict[tuple[Any, ...], int] = {}
        sources: dict[tuple[Any, ...], int] = {}

        def fact_at(f: Any) -> Any:
            if not every:
                return f
            key = (f.path, f.value, type(f.value), f.stated)
            return facts.setdefault(key, len(facts))

        def source_at(x: Any) -> Any:
            return sources.setdefault((x.document, x.section, x.title), len(sources)) if every else x

        self.recs = [
            (
                {k: getattr(r, k) for k in ("tactic", "move", "rationale", "score", "rule_id", "family")},
                [fact_at(f) for f in r.basis],
                [source_at(x) for x in r.sources] if every else tuple(r.sources),
                tuple(r.cautions),
                tuple(r.other_rules),
            )
            for r in advice.recommendations
        ]
        self.asides = [
            ({k: getattr(a, k) for k in ("tactic", "rule_id", "reason", "by")}, [fact_at(f) for f in a.basis])
            for a in advice.set_aside
        ]
        self.facts = [{"path": k[0], "value": k[1], "stated": k[3]} for k in facts]
        self.sources = [{"document": k[0], "section": k[1], "title": k[2]} for k in sources]
        self.top = (tuple(advice.situations), advice.ruleset)
        self.build = advice_module.trusted if every else getattr(advice_module, "validated", None)
        self.prepared_recs = [
            {**fields, "basis": tuple(basis), "sources": cited, "cautions": cautions, "other_rules": others}
            for fields, basis, cited, cautions, others in self.recs
        ]
        self.prepared_asides = [{**fields, "basis": tuple(basis)} for fields, basis in self.asides]

    def __call__(self) -> Any:
        """Every model of the Advice, built again."""
        make, m = self.build, advice_module
        situations, ruleset = self.top
        if not self.every:  # validation makes every list: the field values can be prepared once, tuples and all
            recs = [make(m.Recommendation, rec) for rec in self.prepared_recs]
            asides = [make(m.SetAside, aside) for aside in self.prepared_asides]
            top = {"recommendations": recs, "set_aside": asides, "questions": (), "situations": situations}
            top["ruleset"] = ruleset
            return make(m.Advice, top)
        facts = [make(m.Fact, f) for f in self.facts]
        sources = [make(m.Source, x) for x in self.sources]
        recs = []
        for fields, basis, cited, cautions, others in self.recs:
            rec = dict(fields)
            rec["basis"], rec["sources"] = [facts[k] for k in basis], [sources[k] for k in cited]
            rec["cautions"], rec["other_rules"] = list(cautions), list(others)
            recs.append(make(m.Recommendation, rec))
        asides = []
        for fields, basis in self.asides:
            aside = dict(fields)
            aside["basis"] = [facts[k] for k in basis]
            asides.append(make(m.SetAside, aside))
        top = {"recommendations": recs, "set_aside": asides, "questions": [], "situations": list(situations)}
        top["ruleset"] = ruleset
        return make(m.Advice, top)


# -- the sections ------------------------------------------------------------------------------------


def builtin_section(report: Report, sts: list[Any], rounds: int) -> float:
    """advise() against the C-only replay and the generated floor, on the built-in rulesets."""
    rules = builtin_ruleset()
    engine = engine_for(rules)
    facts = flat_facts(rules, sts)
    dicts = [s.model_dump() for s in sts]
    texts = [s.model_dump_json() for s in sts]
    n = len(sts)
    for s in sts:  # warm up: sessions, plans, caches
        advise(s)
    replays = [CReplay(lambda s=s: advise(s)) for s in sts]
    fired = statistics.mean(len(engine.evaluate(f).matched) for f in facts)
    print(
        f"built-in rulesets: {len(rules.rules)} rules, {len(rules.situations)} situations, "
        f"{len(engine.shards)} shards; "
        f"{n} states; {fired:.1f} rules match per state; per evaluation "
        f"{statistics.mean(r.asserts for r in replays):.1f} shards asked (asserts), "
        f"{statistics.mean(len(r.calls) for r in replays):.1f} durable-rules calls",
        flush=True,
    )
    methods: dict[str, Call] = {
        "advise": lambda i: advise(sts[i]),
        "replay": lambda i: replays[i](),
        "evaluate": lambda i: engine.evaluate(facts[i]),
        "dict": lambda i: advise(dicts[i]),
        "json": lambda i: advise(texts[i]),
        "questions": lambda i: advise_with_questions(sts[i]),
    }
    compiled = compiled_available()
    if compiled:
        evaluator = compiled_for(rules)
        bare = evaluator.bare
        for s in sts:
            advise(s, engine="compiled")
        methods["c_advise"] = lambda i: advise(sts[i], engine="compiled")
        methods["c_evaluate"] = lambda i: evaluator.evaluate(facts[i])
        methods["bare"] = lambda i: bare(facts[i])
    every = [OutputObjects(advise(s), every=True) for s in sts]
    methods["objects"] = lambda i: every[i]()
    if getattr(advice_module, "validated", None) is not None:  # a library that shares Facts between calls
        own = [OutputObjects(advise(s), every=False) for s in sts]
        methods["own_objects"] = lambda i: own[i]()
    recs, asides = (statistics.mean(len(e.recs) for e in every), statistics.mean(len(e.asides) for e in every))
    models = (
        f"(per Advice: {recs:.1f} recommendations, {asides:.1f} set aside, "
        f"{statistics.mean(len(e.facts) for e in every):.1f} distinct facts, "
        f"{statistics.mean(len(e.sources) for e in every):.1f} distinct sources, 1 Advice)"
    )
    for i, s in enumerate(sts):  # the floors build exactly the models advise() returns
        assert every[i]().model_dump_json() == advise(s).model_dump_json()
        if "own_objects" in methods:
            assert own[i]().model_dump_json() == advise(s).model_dump_json()
    runs = [per_call(methods, n, rounds) for _ in range(RUNS)]

    def col(name: str) -> list[float]:
        return [r[name] for r in runs]

    def ratio(a: str, b: str) -> list[float]:
        return [r[a] / r[b] for r in runs]

    print("\nbuilt-in rulesets, per call (min / median / max over runs):")
    report.figure("advise(state, questions=0) [durable-rules]", col("advise"))
    report.figure("(a) C-only replay of the same durable-rules calls", col("replay"))
    report.figure("Engine.evaluate(flat fact) [durable-rules]", col("evaluate"))
    report.figure("advise / C-only replay", ratio("advise", "replay"), "x")
    report.figure("Engine.evaluate / C-only replay", ratio("evaluate", "replay"), "x")
    report.figure("advise(dict) [validated on every call]", col("dict"))
    report.figure("advise(json text) [validated on every call]", col("json"))
    report.figure("advise(state) with the default 3 questions", col("questions"))
    report.figure("with questions / without", ratio("questions", "advise"), "x")
    if compiled:
        report.figure('advise(state, questions=0, engine="compiled")', col("c_advise"))
        report.figure("compiled evaluate(flat fact)", col("c_evaluate"))
        report.figure("(b) bare generated function(flat fact)", col("bare"))
        report.figure("advise compiled / bare generated", ratio("c_advise", "bare"), "x")
        report.figure("advise durable / advise compiled", ratio("advise", "c_advise"), "x")
    else:
        report.figure("(b) bare generated function", None, note="compiled engine: not available")
    report.figure("output objects alone: every model of the Advice, with trusted", col("objects"), note=models)
    if "own_objects" in methods:
        report.figure(
            "output objects alone: only those advise() builds per call", col("own_objects"), note="(Facts shared)"
        )
    if compiled:
        report.figure("output objects alone (every model) / bare generated", ratio("objects", "bare"), "x")
        if "own_objects" in methods:
            report.figure("output objects alone (per call) / bare generated", ratio("own_objects", "bare"), "x")
    report.target(
        "advise() on durable-rules <= 2.0x the C-only replay", "2.0x", ratio("advise", "replay"), _at_most(2.0)
    )
    report.target(
        'advise(engine="compiled") <= 4x the bare generated evaluation',
        "4x",
        ratio("c_advise", "bare") if compiled else None,
        _at_most(4.0),
    )

    # warm: the result cache on, after one pass (every state seen before)
    set_result_cache_size(4096)
    for s in sts:
        advise(s)
    warm = [per_call({"warm": lambda i: advise(sts[i])}, n, rounds)["warm"] for _ in range(RUNS)]
    set_result_cache_size(0)
    report.figure("advise(state) warm: result cache on, every state seen", warm)
    return fired


def _at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def _at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


def size_section(report: Report, sts: list[Any], fired: float, sizes: Sequence[int], folder: Path, rounds: int) -> None:
    """The built-in book against synthetic books of ``sizes`` rules with as many rules matching per state."""
    rules = builtin_ruleset()
    stages = stage_facts(rules, flat_facts(rules, sts))
    n = len(sts)
    compiled = compiled_available()
    methods: dict[str, Call] = {"builtin": lambda i: advise(sts[i])}
    if compiled:
        methods["c_builtin"] = lambda i: advise(sts[i], engine="compiled")
    print(f"\nrulebook size (synthetic books calibrated to {fired:.1f} matches per state, as the built-in one):")
    for size in sizes:
        path = folder / f"book{size}"
        path.mkdir(exist_ok=True)
        write_synthetic(path, size, stages, fired)
        start = time.perf_counter()
        book = load_ruleset(path)
        load = time.perf_counter() - start
        engine = engine_for(book)
        book_facts = flat_facts(book, sts)
        matched = statistics.mean(len(engine.evaluate(f).matched) for f in book_facts)
        for s in sts:
            advise(s, ruleset=book)
        replays = [CReplay(lambda s=s, book=book: advise(s, ruleset=book)) for s in sts]
        asked = statistics.mean(r.asserts for r in replays)
        note = ""
        if compiled:
            start = time.perf_counter()
            compiled_for(book)
            note = f"; compiled evaluator generated in {time.perf_counter() - start:.1f} s"
            for s in sts:
                advise(s, ruleset=book, engine="compiled")
            methods[f"c_{size}"] = lambda i, book=book: advise(sts[i], ruleset=book, engine="compiled")
        print(
            f"  {size} rules: loaded in {load:.1f} s{note}; {len(engine.shards)} shards; {matched:.1f} rules match per"
            f" state; per evaluation {asked:.1f} shards asked (min {min(r.asserts for r in replays)}, max "
            f"{max(r.asserts for r in replays)}), {statistics.mean(len(r.calls) for r in replays):.0f} durable-rules"
            " calls",
            flush=True,
        )
        methods[str(size)] = lambda i, book=book: advise(sts[i], ruleset=book)
        methods[f"replay_{size}"] = lambda i, replays=replays: replays[i]()
    runs = [per_call(methods, n, rounds) for _ in range(RUNS)]
    print("  per call:")
    report.figure("advise(), built-in rulesets (this section)", [r["builtin"] for r in runs])
    for size in sizes:
        report.figure(f"advise(), {size:,} synthetic rules [durable-rules]", [r[str(size)] for r in runs])
        report.figure("  its C-only replay", [r[f"replay_{size}"] for r in runs])
        report.figure(f"  {size:,} rules / built-in [durable-rules]", [r[str(size)] / r["builtin"] for r in runs], "x")
        if compiled:
            report.figure(f'advise(engine="compiled"), {size:,} synthetic rules', [r[f"c_{size}"] for r in runs])
            report.figure(
                f"  {size:,} rules / built-in [compiled]", [r[f"c_{size}"] / r["c_builtin"] for r in runs], "x"
            )
    if 4000 in sizes:
        report.target(
            "4,000-rule book <= 3x the built-in book, same matches [durable]",
            "3x",
            [r["4000"] / r["builtin"] for r in runs],
            _at_most(3.0),
        )
        report.target(
            "4,000-rule book <= 2x the built-in book, same matches [compiled]",
            "2x",
            [r["c_4000"] / r["c_builtin"] for r in runs] if compiled else None,
            _at_most(2.0),
        )


def batch_section(report: Report, sts: list[Any], big_size: int) -> None:
    """advise_many against a loop of advise(), and 2 worker processes against 1 on distinct states."""
    n = len(sts)
    repeated = [sts[i % 40] for i in range(n)]
    loops, batches, repeats = [], [], []
    for _ in range(RUNS):
        gc.collect()
        start = time.perf_counter()
        for s in sts:
            advise(s)
        loops.append((time.perf_counter() - start) / n * 1e6)
        start = time.perf_counter()
        advise_many(sts)
        batches.append((time.perf_counter() - start) / n * 1e6)
        start = time.perf_counter()
        advise_many(repeated)
        repeats.append((time.perf_counter() - start) / n * 1e6)
    print("\nbatches:")
    report.figure("loop of advise(state), per state", loops)
    report.figure("advise_many(states), per state", batches)
    ratios = [b / a for a, b in zip(loops, batches, strict=True)]
    report.figure("advise_many / loop", ratios, "x")
    report.figure(
        "advise_many, 40 distinct states repeated, / loop", [b / a for a, b in zip(loops, repeats, strict=True)], "x"
    )
    report.target("advise_many() cheaper per state than a loop of advise()", "< 1x", ratios, lambda v: v < 1.0)

    big = [s.model_dump() for s in states(count=big_size, seed=7)][-big_size:]
    one, two, same = [], [], True
    cores = getattr(batch_module, "_cores", None)
    for _ in range(RUNS):
        gc.collect()
        start = time.perf_counter()
        seq = advise_many(big)
        one.append(len(big) / (time.perf_counter() - start))
        if cores is not None:  # on two cores advise_many would keep the batch in this process
            batch_module._cores = lambda: 3
        try:
            start = time.perf_counter()
            par = advise_many(big, processes=2)
            two.append(len(big) / (time.perf_counter() - start))
            same = same and par == seq
        finally:
            if cores is not None:
                batch_module._cores = cores
        del seq, par
    report.figure(f"advise_many({len(big):,} distinct dicts), 1 process", one, "states/s")
    report.figure(
        f"advise_many({len(big):,} distinct dicts), processes=2", two, "states/s", "" if same else "RESULTS DIFFER"
    )
    speedup = [b / a for a, b in zip(one, two, strict=True)]
    report.figure("2 processes / 1 process (throughput)", speedup, "x")
    report.target(
        f"advise_many(processes=2) >= 1.6x one process, {len(big):,} states",
        "1.6x",
        speedup if same else None,
        _at_least(1.6),
    )


def thread_section(report: Report, sts: list[Any], calls: int) -> None:
    """Throughput of ``calls`` advise() calls on 1 thread against the same calls shared by 4 threads."""

    def throughput(threads: int, **options: Any) -> tuple[float, float]:
        """Calls per second of wall time and per second of this process's CPU time."""
        share = calls // threads
        barrier = threading.Barrier(threads + 1)

        def work(offset: int) -> None:
            barrier.wait()
            for k in range(share):
                advise(sts[(offset + k) % len(sts)], **options)

        pool = [threading.Thread(target=work, args=(t * 61,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        gc.collect()
        barrier.wait()
        start, cpu = time.perf_counter(), time.process_time()
        for thread in pool:
            thread.join()
        done = share * threads
        return done / (time.perf_counter() - start), done / max(1e-9, time.process_time() - cpu)

    engines: list[tuple[str, dict[str, Any]]] = [("durable-rules", {})]
    if compiled_available():
        engines.append(("compiled", {"engine": "compiled"}))
    print(f"\nthreads ({calls:,} calls of advise(questions=0) per measurement):")
    for label, options in engines:
        throughput(4, **options)  # warm up: one session per thread
        one, four = [], []
        for _ in range(RUNS):
            one.append(throughput(1, **options))
            four.append(throughput(4, **options))
        ratios = [b[0] / a[0] for a, b in zip(one, four, strict=True)]
        report.figure(f"1 thread [{label}]", [wall for wall, _ in one], "calls/s")
        report.figure(f"4 threads [{label}]", [wall for wall, _ in four], "calls/s")
        report.figure(f"4 threads / 1 thread [{label}]", ratios, "x")
        report.figure(
            f"  per CPU second: 4 threads / 1 thread [{label}]",
            [b[1] / a[1] for a, b in zip(one, four, strict=True)],
            "x",
            "(calls per CPU-second of this process: what neighbours on the machine do not change)",
        )
        if label == "durable-rules":
            report.target("4 threads >= 0.95x the throughput of 1 thread [durable]", "0.95x", ratios, _at_least(0.95))
            if hasattr(os, "sched_setaffinity"):
                # the same calls with every thread on one core: what is left of the loss is the library's
                cores = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {min(cores)})  # threads started from here inherit it
                try:
                    pinned = [(throughput(1, **options), throughput(4, **options)) for _ in range(RUNS)]
                finally:
                    os.sched_setaffinity(0, cores)
                report.figure(
                    f"  all on one core: 4 threads / 1 thread [{label}]",
                    [b[0] / a[0] for a, b in pinned],
                    "x",
                    "(os.sched_setaffinity: the interpreter cannot hand the GIL to the other core)",
                )


def book_4000(folder: Path) -> Path:
    """The 4,000-rule synthetic book (benchmarks/workload.py) in ``folder``, written on first use."""
    book = folder / "book4000"
    if not book.exists():
        rules = builtin_ruleset()
        facts = flat_facts(rules, states())
        fired = statistics.mean(len(engine_for(rules).evaluate(f).matched) for f in facts)
        book.mkdir()
        write_synthetic(book, 4000, stage_facts(rules, facts), fired)
    return book


def session_cap_section(report: Report, sts: list[Any], folder: Path, calls: int, threads: int = 16) -> None:
    """``threads`` threads on the 4,000-rule book: its sessions capped at ``MIN_SESSIONS`` against not capped.

    The same book is loaded twice (two engines); one pool is held to ``MIN_SESSIONS`` sessions,
    the other may open ``MAX_SESSIONS``; the two are measured in turn, ``RUNS`` times.
    """
    books = {}
    for label, limit in (("capped", MIN_SESSIONS), ("not capped", MAX_SESSIONS)):
        book = _load(book_4000(folder), cached=False)  # a Ruleset (and engine) of its own
        engine_for(book)._pool.limit = limit  # the session pool (engine internals; may change)
        books[label] = book

    def throughput(book: Any) -> float:
        share = calls // threads
        barrier = threading.Barrier(threads + 1)

        def work(offset: int) -> None:
            barrier.wait()
            for k in range(share):
                advise(sts[(offset + k) % len(sts)], ruleset=book)

        pool = [threading.Thread(target=work, args=(t * 61,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        gc.collect()
        barrier.wait()
        start = time.perf_counter()
        for thread in pool:
            thread.join()
        return share * threads / (time.perf_counter() - start)

    print(f"\nsession cap ({threads} threads, {calls:,} calls of advise(questions=0) on the 4,000-rule book):")
    for book in books.values():
        throughput(book)  # warm up: the sessions each pool opens
    runs: dict[str, list[float]] = {label: [] for label in books}
    for k in range(RUNS):
        for label in books if k % 2 == 0 else reversed(books):
            runs[label].append(throughput(books[label]))
    sessions = {label: engine_for(book).session_count() for label, book in books.items()}
    for label in books:
        report.figure(
            f"{threads} threads, 4,000 rules, sessions {label} [durable-rules]",
            runs[label],
            "calls/s",
            f"({sessions[label]} sessions opened)",
        )
    ratios = [a / b for a, b in zip(runs["capped"], runs["not capped"], strict=True)]
    report.figure(f"  {MIN_SESSIONS} sessions / not capped (throughput)", ratios, "x")


def startup_section(report: Report, rounds: int) -> None:
    """Fresh processes, run in turn: the dependencies alone, ``import negotiation_rules``, the demo command."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode files read (and written once, below) as when installed
    # run in ROOT: `python -c` puts the current folder first on the path, ahead of PYTHONPATH
    script = Path(sys.executable).parent / "negotiation-rules"
    demo = [str(script), "demo"] if script.exists() else [sys.executable, "-m", "negotiation_rules", "demo"]
    commands = {
        "python": [sys.executable, "-c", "pass"],
        # what the library imports at `import negotiation_rules` from its dependencies (rich is the CLI's)
        "deps": [sys.executable, "-c", "import durable_rules_engine, yaml; from pydantic import BaseModel"],
        "import": [sys.executable, "-c", "import negotiation_rules"],
        "demo": demo,
    }

    def run(command: list[str]) -> None:
        subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    for command in commands.values():  # untimed: writes the bytecode files, warms the file cache
        run(command)
    times: dict[str, list[list[float]]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name in commands:
            times[name].append([])
        for _ in range(rounds):  # each round runs the commands in turn
            for name, command in commands.items():
                start = time.perf_counter()
                run(command)
                times[name][-1].append((time.perf_counter() - start) * 1000)
    best = {name: [min(run) for run in runs] for name, runs in times.items()}  # a run's figure: its fastest round
    print(f"\nstart-up (fresh processes run in turn, {rounds} rounds per run; a run's figure is its fastest round):")
    report.figure("python -c pass", best["python"], "ms")
    report.figure("python -c 'import durable_rules_engine, yaml, pydantic.BaseModel'", best["deps"], "ms")
    report.figure("python -c 'import negotiation_rules'", best["import"], "ms")
    report.figure(f"negotiation-rules demo ({Path(demo[0]).name} ...)", best["demo"], "ms")
    imports = [a / b for a, b in zip(best["import"], best["deps"], strict=True)]
    demos = [a / b for a, b in zip(best["demo"], best["import"], strict=True)]
    report.figure("import negotiation_rules / its dependencies", imports, "x")
    report.figure("negotiation-rules demo / import negotiation_rules", demos, "x")
    report.target("import negotiation_rules <= 1.5x its dependencies alone", "1.5x", imports, _at_most(1.5))
    report.target("negotiation-rules demo <= 1.2x python -c 'import negotiation_rules'", "1.2x", demos, _at_most(1.2))


def memory_growth(calls: int) -> tuple[float, float]:
    """RSS after 1,000 calls and after ``calls`` calls of advise() over the benchmark states, in a fresh process."""
    code = f"""
import gc, sys
sys.path.insert(0, {str(HERE)!r})
sys.path.insert(0, {str(ROOT)!r})
from memory import rss_mb
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
    return first, last


def memory_section(report: Report, calls: int, folder: Path, loads: int) -> None:
    """RSS growth over many calls, and the RSS a loaded 4,000-rule book adds (fresh processes)."""
    print(f"\nmemory (fresh processes): {calls:,} calls; the 4,000-rule book loaded {loads} time(s) ...", flush=True)
    first, last = memory_growth(calls)
    report.figure("RSS after 1,000 calls of advise()", [first], "MB")
    report.figure(f"RSS growth from 1,000 to {calls:,} calls", [last - first], "MB")
    report.target(f"memory growth < 5 MB over {calls:,} calls", "5 MB", [last - first], lambda v: v < 5, "MB")
    book = book_4000(folder)
    results = [memory.measure(str(book), "durable") for _ in range(loads)]
    if any("error" in r for r in results):
        report.figure("4,000-rule book loaded [durable-rules]", None, note=str(results[0].get("error")))
        return
    loaded = [r["loaded_mb"] for r in results]
    built = [r["built_mb"] for r in results if r.get("built_mb") is not None]
    report.figure("4,000-rule book: load time [durable-rules]", [r["load_s"] for r in results], "s")
    report.figure("4,000-rule book: RSS added by loading [durable-rules]", loaded, "MB")
    if built:  # the C rulesets, which the first durable-rules call builds: part of the book's cost on durable-rules
        report.figure("4,000-rule book: time to build its durable-rules rulesets", [r["build_s"] for r in results], "s")
        report.figure("4,000-rule book: RSS added by building them", built, "MB")
        loaded = [r["loaded_mb"] + r["built_mb"] for r in results]
    report.figure("4,000-rule book: RSS added by the first advise()", [r["session_mb"] for r in results], "MB")
    extra = [r["extra_session_mb"] for r in results if r["extra_session_mb"] is not None]
    report.figure("4,000-rule book: RSS per further engine session", extra or None, "MB")
    compiled = memory.measure(str(book), "compiled")
    if "error" not in compiled:
        report.figure("4,000-rule book: RSS added by loading [compiled]", [compiled["loaded_mb"]], "MB")
    report.target(
        "4,000-rule book loaded, C rulesets built <= 100 MB RSS [durable]",
        "100 MB",
        loaded,
        _at_most(100.0),
        "MB",
    )


def main() -> None:
    """Run every section and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls (the same rows)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="run only these")
    args = parser.parse_args()
    run = set(args.sections)
    quick = args.quick
    started = time.perf_counter()
    print(f"machine: {machine()}")
    print(f"compiled engine: {'available' if compiled_available() else 'not available'}")
    set_result_cache_size(0)
    sts = states()
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "builtin" in run or "size" in run:
            fired = builtin_section(report, sts, rounds=3 if quick else 7)
        if "size" in run:
            size_section(report, sts, fired, (4000,) if quick else (500, 4000), folder, rounds=2 if quick else 5)
        if "threads" in run:
            thread_section(report, sts, calls=2_000 if quick else 10_000)
            session_cap_section(report, sts, folder, calls=1_600 if quick else 8_000)
        if "batch" in run:
            batch_section(report, sts, big_size=6_000 if quick else 20_000)
        if "startup" in run:
            startup_section(report, rounds=5 if quick else 7)
        if "memory" in run:
            memory_section(report, 10_000 if quick else 100_000, folder, loads=1 if quick else RUNS)
    report.print()
    print(f"\n({RUNS} runs per section; whole run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
