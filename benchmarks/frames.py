"""Parquet in, Parquet of advice out: rows per second and peak memory, in one process, two, and on Dask.

    python benchmarks/frames.py                  # 1,000,000 rows (long: see docs/performance.md)
    python benchmarks/frames.py --rows 100000    # a smaller run; the figures say how many rows they are for

Needs the extras: pip install -e ".[dataframe,dask]". Every mode runs in a fresh Python process
(so peak memory is its own) over the same synthetic Parquet file, written once in row groups of
50,000 rows, and writes its result as Parquet:

- ``one process``: the file read a row group at a time, ``advise_frame`` (i.e. ``advise_many``)
  on each, the result appended to one Parquet file;
- ``two processes``: the same with ``advise_many(processes=2)``, forced (on a machine of two
  cores ``advise_many`` would keep the batch in the calling process, see docs/performance.md);
- ``dask``: ``score`` on a ``LocalCluster`` of two worker processes (one thread each), into a
  folder of part files; the time to start the cluster is reported apart.

Peak memory is the peak resident set size (``ru_maxrss``) of the process, and for Dask the sum
of the client's and both workers'. The rows are CRM-like (every state column, a third of them
with a JSON history), seeded, and almost all distinct, so deduplication does not flatter the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROW_GROUP = 50_000
PHASES = ("preparation", "opening", "bargaining", "closing", "post_agreement")
LEVELS = ("low", "medium", "high")


def synthetic(rows: int, path: Path, seed: int = 15) -> int:
    """Write ``rows`` CRM-like rows to ``path`` (Parquet, row groups of ROW_GROUP); returns the distinct states."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    writer = None
    seen: set[tuple[Any, ...]] = set()
    try:
        for start in range(0, rows, ROW_GROUP):
            batch: dict[str, list[Any]] = {k: [] for k in COLUMNS}
            for i in range(start, min(rows, start + ROW_GROUP)):
                row = _row(rng, i)
                seen.add(tuple(v for k, v in row.items() if k != "deal_id"))
                for k in COLUMNS:
                    batch[k].append(row[k])
            table = pa.table(batch)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
    return len(seen)


COLUMNS = (
    "deal_id",
    "phase",
    "our_side",
    "trust",
    "relationship",
    "outlook",
    "deadlock",
    "alternatives",
    "our_time_pressure",
    "their_time_pressure",
    "bottom_line_set",
    "top_leader_available",
    "counterpart.authority",
    "counterpart.experience",
    "counterpart.researched",
    "counterpart.known_weakness",
    "history",
)


def _row(rng: random.Random, i: int) -> dict[str, Any]:
    def maybe(*values: Any) -> Any:
        return rng.choice((*values, None))

    history = None
    if rng.random() < 0.35:
        events = [{"kind": "authority_claimed", "by": "them"} for _ in range(rng.choice((0, 1, 2)))]
        for _ in range(rng.choice((1, 2, 3, 4))):
            by = rng.choice(("us", "them"))
            events.append({"kind": "concession", "by": by, "issue": "price", "value": float(rng.randint(1, 9))})
        history = json.dumps(events)
    return {
        "deal_id": i,
        "phase": rng.choice(PHASES),
        "our_side": maybe("buyer", "seller"),
        "trust": maybe(*LEVELS),
        "relationship": maybe("one_off", "long_term"),
        "outlook": maybe("winning", "even", "losing"),
        "deadlock": maybe(True, False),
        "alternatives": maybe(0, 1, 2, 3, 4),
        "our_time_pressure": maybe(*LEVELS),
        "their_time_pressure": maybe(*LEVELS),
        "bottom_line_set": maybe(True, False),
        "top_leader_available": maybe(True, False),
        "counterpart.authority": maybe("full", "limited", "claimed_higher"),
        "counterpart.experience": maybe("novice", "experienced"),
        "counterpart.researched": maybe(True, False),
        "counterpart.known_weakness": maybe(True, False),
        "history": history,
    }


# -- the modes, each run in its own process ---------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def parts_for(rows: int) -> int:
    """Rows per part for ``score``: 50,000 (the default), fewer for small runs so both workers get work."""
    return max(1_000, min(50_000, rows // 16))


def run_local(source: Path, target: Path, processes: int | None) -> dict[str, Any]:
    """Read row group by row group, advise_frame each, append to one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from negotiation_rules import _batch as batch
    from negotiation_rules._frames import advise_frame

    if processes:
        batch._cores = lambda: processes + 1  # type: ignore[assignment]  # forced: see the module docstring
    started = time.perf_counter()
    handle = pq.ParquetFile(source)
    writer = None
    rows = errors = 0
    for group in range(handle.num_row_groups):
        frame = handle.read_row_group(group).to_pandas()
        result = advise_frame(frame, top=3, processes=processes)
        out = pa.Table.from_pandas(result.assign(deal_id=frame["deal_id"]), preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(target, out.schema)
        writer.write_table(out)
        rows += len(result)
        errors += int(result["error"].notna().sum())
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - started
    cpu = _cpu() + _cpu(resource.RUSAGE_CHILDREN)  # the pool's workers, once they have ended
    peak = _peak_mb() + (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 * processes if processes else 0)
    return {"rows": rows, "errors": errors, "seconds": seconds, "cpu": cpu, "peak_mb": peak}


def run_dask(source: Path, target: Path, workers: int, rows_per_part: int) -> dict[str, Any]:
    """``score`` on a LocalCluster of ``workers`` processes (started here and timed apart)."""
    import logging

    from distributed import Client, LocalCluster

    from negotiation_rules._dask import score

    begun = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        startup = time.perf_counter() - begun
        before = sum(client.run(_cpu).values()) + _cpu()
        started = time.perf_counter()
        summary = score(source, target, client=client, progress=False, rows_per_part=rows_per_part)
        seconds = time.perf_counter() - started
        cpu = sum(client.run(_cpu).values()) + _cpu() - before
        worker_peaks = client.run(_peak_mb)
    return {
        "rows": summary.rows,
        "errors": summary.errors,
        "seconds": seconds,
        "cpu": cpu,
        "startup": startup,
        "peak_mb": _peak_mb() + sum(worker_peaks.values()),
        "worker_peak_mb": sorted(worker_peaks.values()),
    }


def child(mode: str, source: str, target: str, rows_per_part: str) -> None:
    """Entry point of one mode's process: prints its figures as JSON."""
    if mode == "one":
        figures = run_local(Path(source), Path(target), None)
    elif mode == "two":
        figures = run_local(Path(source), Path(target), 2)
    else:
        figures = run_dask(Path(source), Path(target), 2, int(rows_per_part))
    print(json.dumps(figures))


MODES = {
    "one": "advise_many, one process",
    "two": "advise_many, processes=2 (forced)",
    "dask": "score, Dask LocalCluster, 2 workers",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--modes", default="one,two,dask", help="comma-separated: one, two, dask")
    parser.add_argument("--dir", help="working folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.dir or temporary)
        work.mkdir(parents=True, exist_ok=True)
        source = work / "deals.parquet"
        begun = time.perf_counter()
        distinct = synthetic(args.rows, source)
        print(
            f"{args.rows:,} rows ({distinct:,} distinct states), {source.stat().st_size / 1e6:.1f} MB Parquet, "
            f"written in {time.perf_counter() - begun:.1f} s",
            flush=True,
        )
        print(
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
        print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
        results = {}
        for mode in args.modes.split(","):
            target = work / f"advice-{mode}.parquet"
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(source), str(target), str(parts_for(args.rows))],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode] = figures
            extra = f"; cluster start {figures['startup']:.1f} s apart" if "startup" in figures else ""
            print(
                f"{MODES[mode]:40} {figures['rows'] / figures['seconds']:9,.0f} rows/s  "
                f"{figures['seconds']:8.1f} s  {1e6 * figures['cpu'] / figures['rows']:6.0f} CPU ms/1000 rows  "
                f"peak {figures['peak_mb']:7.0f} MB{extra}  "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        print(json.dumps(results))


if __name__ == "__main__":
    main()
