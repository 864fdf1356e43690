"""Memory and load time of big rulebooks: one table, each size measured in a fresh process.

    python benchmarks/memory.py                  # 62 (built-in) / 500 / 4,000 / 10,000 rules, both engines
    python benchmarks/memory.py --sizes 45 4000  # some sizes only
    python benchmarks/memory.py --breakdown 4000 # where the memory of one size goes

For each size and engine a fresh Python process imports the library, builds the benchmark
states, and then measures its resident set (``VmRSS``) before loading, after loading the
rulebook (``load_ruleset``: parse, check, compile, and the load-time durable-rules check,
which builds each C ruleset and frees it again), on durable-rules after building its C
rulesets (which the first durable-rules call does; measured apart here), after the first
``advise()`` (which opens one engine session in every shard on durable-rules), and after
opening ``EXTRA_SESSIONS`` more sessions (durable-rules only: the compiled evaluator has none).
The synthetic books are those of ``benchmarks/run.py`` (workload.py): written once into a
temporary folder by this process, loaded from there by each child.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

#: Sessions opened on top of the first one to measure what each further concurrent call costs.
EXTRA_SESSIONS = 4
SIZES = (45, 500, 4000, 10000)
BUILTIN = 45  # the built-in rulesets' size in this table (62 rules today; the issue's name for them)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; peak RSS from getrusage elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settled() -> float:
    """RSS after a full garbage collection (what the process keeps, not what it just dropped)."""
    gc.collect()
    return rss_mb()


def child(source: str, engine: str) -> dict[str, Any]:
    """In a fresh process: load ``source`` (a folder, or ``builtin``) and measure RSS and load time."""
    from workload import compiled_available, states

    from negotiation_rules import advise, load_ruleset
    from negotiation_rules._engine import engine_for, live_handles

    state = states(count=8)[-1]
    before = _settled()
    start = time.perf_counter()
    book = load_ruleset(source)
    options: dict[str, Any] = {"ruleset": book, "questions": 0}
    if engine == "compiled":
        if not compiled_available():
            return {"error": "compiled engine: not available"}
        from workload import compiled_for

        compiled_for(book)  # generating the Python code is part of loading for this engine
        options["engine"] = "compiled"
    load_s = time.perf_counter() - start
    loaded = _settled()
    build_s = built = None
    if engine == "durable":
        start = time.perf_counter()
        _open = getattr(engine_for(book), "_open", None)  # the C rulesets, built on the first durable-rules call
        if _open is not None:
            _open()
            build_s, built = time.perf_counter() - start, _settled()
    advise(state, **options)
    first = _settled()
    extra = None
    if engine == "durable":
        pool = getattr(engine_for(book), "_pool", None)  # the session pool (engine internals; may change)
        if pool is not None and hasattr(pool, "acquire"):
            if hasattr(pool, "limit"):  # a big book may open fewer sessions than measured here (session_limit)
                pool.limit = max(pool.limit, EXTRA_SESSIONS + 1)
            leases = [pool.acquire(5.0) for _ in range(EXTRA_SESSIONS)]
            extra = (_settled() - first) / EXTRA_SESSIONS
            for lease in leases:
                pool.release(lease, True)
    return {
        "rules": len(book.rules),
        "load_s": load_s,
        "before_mb": before,
        "loaded_mb": loaded - before,
        "build_s": build_s,
        "built_mb": None if built is None else built - loaded,
        "session_mb": first - (loaded if built is None else built),
        "extra_session_mb": extra,
        "c_rulesets": len(live_handles()),
    }


def malloc_mb() -> float | None:
    """Bytes in use in the C heap (glibc ``mallinfo2``: malloc'd and mmap'd blocks) in MB; None elsewhere.

    Unlike RSS it does not hide new allocations in memory freed earlier (the parser's
    temporaries), and it does not see Python's small objects (pymalloc's own arenas).
    """
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks")
        ] + [(name, ctypes.c_size_t) for name in ("fordblks", "keepcost")]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return None
    info = libc.mallinfo2()
    return float(info.uordblks + info.hblkhd) / 2**20


def python_objects(source: str) -> dict[str, Any]:
    """In a fresh process: the Python memory a loaded book holds, by the module that allocated it (tracemalloc)."""
    import tracemalloc

    from negotiation_rules import load_ruleset

    tracemalloc.start(1)
    book = load_ruleset(source)
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    by_file: dict[str, float] = {}
    lines: dict[str, float] = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        name = Path(frame.filename)
        label = name.name if name.parent.name == "negotiation_rules" else f"{name.parent.name}/{name.name}"
        by_file[label] = by_file.get(label, 0.0) + stat.size / 2**20
        lines[f"{label}:{frame.lineno}"] = stat.size / 2**20
    return {
        "rules": len(book.rules),
        "python_mb": sum(by_file.values()),
        "by_file": sorted(by_file.items(), key=lambda kv: -kv[1])[:8],
        "by_line": sorted(lines.items(), key=lambda kv: -kv[1])[:12],
    }


def breakdown(source: str) -> dict[str, Any]:
    """In a fresh process: what loading a book adds (RSS, C heap), what its C rulesets and sessions cost."""
    import durable_rules_engine as drl
    from workload import states

    from negotiation_rules import advise, load_ruleset
    from negotiation_rules._engine import engine_for

    state = states(count=8)[-1]
    before, heap_before = _settled(), malloc_mb() or 0.0
    book = load_ruleset(source)
    loaded, heap_loaded = _settled(), malloc_mb() or 0.0
    engine = engine_for(book)
    shards = engine.compiled.shards
    engine_rules = sum(len(s.rules) for s in shards)
    definitions = [json.dumps(s.definition()) for s in shards]
    # the C rulesets: the same definitions created once more, measured in the C heap
    mark = malloc_mb() or 0.0
    copies = [drl.create_ruleset(f"memory_probe_{k}", text) for k, text in enumerate(definitions)]
    c_rulesets = (malloc_mb() or 0.0) - mark
    for handle in copies:
        drl.delete_ruleset(handle)
    del copies
    _open = getattr(engine, "_open", None)
    if _open is not None:
        _open()  # the engine's own C rulesets (built on the first durable-rules call): not part of the session
    mark, rss_mark = malloc_mb() or 0.0, _settled()
    advise(state, ruleset=book, questions=0)
    session_heap, session_rss = (malloc_mb() or 0.0) - mark, _settled() - rss_mark
    return {
        "rules": len(book.rules),
        "shards": len(shards),
        "engine_rules": engine_rules,
        "definition_json_mb": sum(map(len, definitions)) / 2**20,
        "loaded_rss_mb": loaded - before,
        "loaded_heap_mb": heap_loaded - heap_before,
        "c_rulesets_heap_mb": c_rulesets,
        "c_per_engine_rule_kb": c_rulesets / engine_rules * 1024,
        "first_session_heap_mb": session_heap,
        "first_session_rss_mb": session_rss,
        "session_per_engine_rule_kb": session_heap / engine_rules * 1024,
    }


def _run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child with ``args``; its last stdout line is the JSON result."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True, timeout=3600
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(source: str, engine: str) -> dict[str, Any]:
    """``child(source, engine)`` in a fresh process."""
    return _run_child(["--child", source, engine])


def books(sizes: list[int], folder: Path) -> dict[int, str]:
    """Write the synthetic books of ``sizes`` (the built-in size stays ``builtin``) under ``folder``."""
    from workload import flat_facts, stage_facts, states, write_synthetic

    from negotiation_rules._engine import engine_for
    from negotiation_rules._ruleset import builtin_ruleset

    out: dict[int, str] = {}
    rules = builtin_ruleset()
    sts = states()
    facts = flat_facts(rules, sts)
    fired = statistics.mean(len(engine_for(rules).evaluate(f).matched) for f in facts)
    stages = stage_facts(rules, facts)
    for size in sizes:
        if size == BUILTIN:
            out[size] = "builtin"
            continue
        path = folder / f"book{size}"
        path.mkdir()
        write_synthetic(path, size, stages, fired)
        out[size] = str(path)
    return out


def _mb(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    """Print the table (or the breakdown of one size)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--engines", nargs="+", default=["durable", "compiled"], choices=["durable", "compiled"])
    parser.add_argument("--breakdown", type=int, metavar="SIZE", help="where the memory of one size goes")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--breakdown-child", metavar="SOURCE", help=argparse.SUPPRESS)
    parser.add_argument("--python-child", metavar="SOURCE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.breakdown_child:
        print(json.dumps(breakdown(args.breakdown_child)))
        return
    if args.python_child:
        print(json.dumps(python_objects(args.python_child)))
        return
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sizes = [args.breakdown] if args.breakdown else args.sizes
        sources = books(sizes, Path(tmp))
        if args.breakdown:
            result = _run_child(["--breakdown-child", sources[args.breakdown]])
            result["python_objects"] = _run_child(["--python-child", sources[args.breakdown]])
            print(json.dumps(result, indent=2))
            return
        print(
            "| rules | engine | load (s) | RSS before (MB) | loaded (+MB) | durable-rules rulesets built (s / +MB) "
            "| first advise (+MB) | per extra session (MB) | C rulesets alive |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            for engine in args.engines:
                r = measure(sources[size], engine)
                if "error" in r:
                    print(f"| {size:,} | {engine} | {r['error']} ||||||", flush=True)
                    continue
                label = f"{r['rules']:,} (built-in)" if size == BUILTIN else f"{r['rules']:,}"
                built = "-" if r.get("built_mb") is None else f"{r['build_s']:.2f} / {r['built_mb']:.1f}"
                print(
                    f"| {label} | {engine} | {r['load_s']:.1f} | {r['before_mb']:.0f} | {_mb(r['loaded_mb'])} "
                    f"| {built} | {_mb(r['session_mb'])} | {_mb(r['extra_session_mb'])} | {r['c_rulesets']} |",
                    flush=True,
                )
    print(f"\n(whole run: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
