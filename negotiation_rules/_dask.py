"""Advice on a Dask cluster: ``advise_dask(ddf)`` and ``score(input, output)`` (optional extra ``dask``).

``advise_dask`` runs ``advise_frame`` partition by partition (``map_partitions`` with the result's
``meta``). The ruleset and playbook travel to the workers once: as data (the validated rules,
never a path, so a worker on another machine needs no rule files), scattered to every worker
when a distributed client is active, and loaded into durable-rules once per worker process (a
cache keyed by the ruleset's content).

``score`` reads a Parquet file (or a folder of them) in pieces of at most ``rows_per_part`` rows,
advises each piece on a worker and writes it as its own file, ``part-00000.parquet`` ...,
as soon as it is done (written to a temporary name, then renamed, so a part file is always
whole). The folder also holds ``_job.json``, what was asked; a rerun of the same job skips the
parts already written, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import pickle
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dask.dataframe  # noqa: F401  (the extra 'dask': missing, the import fails here, not half-way through a job)
import distributed  # noqa: F401
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from ._engine import engine_for
from ._errors import ScoreError
from ._frames import Output, Plan, advise_planned, check_output, empty_result, plan_columns, result_dtypes
from ._pipeline import PlaybookArg, RulesetArg
from ._playbook import Playbook, resolve_playbook
from ._ruleset import Ruleset, resolve_ruleset

__all__ = ["DEFAULT_ROWS_PER_PART", "ScoreError", "ScoreSummary", "advise_dask", "score"]

#: Rows per output part of ``score``: about 5 s of work per part on one core, a few MB of Parquet.
DEFAULT_ROWS_PER_PART = 50_000
JOB_FILE = "_job.json"
_JOB_VERSION = 1


# -- the job a worker runs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """Everything a partition needs, sent to each worker once: the rules as data, the playbook, the mapping."""

    key: str  # the ruleset's content fingerprint: a worker process loads each ruleset once
    rules: tuple[Any, ...]  # (validated rules, situations, name): the built-in ones too, as the client has them
    playbook: Playbook | None
    plan: Plan
    top: int | None
    output: Output
    keep: tuple[str, ...]
    version: str = __version__  # the library's version on the client; a worker with another one refuses


def _rules_payload(rules: Ruleset) -> tuple[str, tuple[Any, ...]]:
    payload = (rules.rules, rules.situations, rules.name)
    key = hashlib.sha256(pickle.dumps(payload)).hexdigest()
    _loaded.setdefault(key, rules)  # in this process the job runs on the very Ruleset given
    return key, payload


_loaded: dict[str, Ruleset] = {}
#: How many times this process loaded each ruleset (by key): once, however many partitions it scores.
_builds: dict[str, int] = {}


def _ruleset_of(job: Job) -> Ruleset:
    """The job's ruleset in this process, loaded into durable-rules on first use only."""
    if job.version != __version__:
        raise ScoreError(
            f"this worker has negotiation-rules {__version__}, the client {job.version}: install the same version"
        )
    rules = _loaded.get(job.key)
    if rules is None:
        rules = Ruleset(*job.rules)
        engine_for(rules)
        if len(_loaded) >= 8:
            _loaded.clear()
        _loaded[job.key] = rules
        _builds[job.key] = _builds.get(job.key, 0) + 1
    return rules


def advise_partition(part: pd.DataFrame, job: Job) -> pd.DataFrame:
    """One partition's kept columns followed by its advice columns (what runs on a worker)."""
    result = advise_planned(
        part, job.plan, top=job.top, ruleset=_ruleset_of(job), playbook=job.playbook, output=job.output
    )
    if not job.keep:
        return result
    return pd.concat([part[list(job.keep)], result], axis=1)


def make_job(
    names: Sequence[Any],
    columns: Mapping[str, str] | Sequence[str] | None,
    defaults: Mapping[str, Any] | None,
    top: int | None,
    ruleset: RulesetArg,
    playbook: PlaybookArg,
    output: Output,
    keep: Sequence[str],
) -> Job:
    """Check everything on the caller's side (mapping, rules, playbook, kept columns) and pack the job."""
    check_output(top, output)
    plan = plan_columns(names, columns, defaults)
    key, payload = _rules_payload(resolve_ruleset(ruleset))
    policy = resolve_playbook(playbook)
    present = [str(n) for n in names]
    results = result_dtypes(top, output)
    for name in keep:
        if name not in present:
            raise ValueError(f"keep: no column '{name}' in the frame")
        if name in results:
            raise ValueError(f"keep: column '{name}' has the name of a result column; rename it first")
    return Job(key, payload, policy, plan, top, output, tuple(keep))


def _client(client: Any) -> Any:
    """The distributed client to ship the job with: the one given, the current one, or None."""
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - the extra installs distributed
        return None
    try:
        return default_client()
    except ValueError:  # no client: the local schedulers share this process's memory, nothing to ship
        return None


def advise_dask(
    ddf: Any,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    top: int | None = 3,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    output: Output = "columns",
    keep: Sequence[str] = (),
    client: Any = None,
) -> Any:
    """``advise_frame`` over a dask DataFrame, partition by partition: a lazy dask DataFrame of the results.

    Arguments as for ``advise_frame``; ``keep`` names input columns (ids) to put in front of the
    advice columns. Mistakes in the mapping, the rules or the playbook raise here, before any
    work is sent. With a distributed client (``client``, or the current one) the job is
    scattered to every worker once; each worker process loads the ruleset once.
    """
    job = make_job(list(ddf.columns), columns, defaults, top, ruleset, playbook, output, keep)
    return _advised(ddf, job, _client(client))


def _advised(ddf: Any, job: Job, client: Any) -> Any:
    """The ``map_partitions`` of a checked job; with a client, the job is scattered to every worker first."""
    meta = pd.concat([ddf._meta[list(job.keep)], empty_result(job.top, job.output, index=ddf._meta.index)], axis=1)
    shipped: Any = client.scatter(job, broadcast=True, hash=False) if client is not None else job
    return ddf.map_partitions(advise_partition, shipped, meta=meta, align_dataframes=False)


# -- score: Parquet in, a folder of Parquet parts out ------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """Rows ``start:stop`` of row groups of one input file: one partition, one output part."""

    file: str
    slices: tuple[tuple[int, int, int], ...]  # (row group, start, stop)

    @property
    def rows(self) -> int:
        """How many rows the piece holds."""
        return sum(stop - start for _, start, stop in self.slices)


def input_files(path: Path) -> list[Path]:
    """The Parquet files of ``path``: itself, or the ``*.parquet`` files under a folder (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*.parquet") if p.is_file() and not p.name.startswith(("_", ".", "part-tmp"))
        )
        if files:
            return files
        raise ScoreError(f"no .parquet files in folder {path}")
    raise ScoreError(f"no such file or folder: {path}")


def pieces_of(files: Sequence[Path], rows_per_part: int) -> list[Piece]:
    """Cut the input into pieces of at most ``rows_per_part`` rows, row groups of one file packed together."""
    out: list[Piece] = []
    for file in files:
        try:
            meta = pq.ParquetFile(file).metadata
        except (OSError, pa.ArrowException) as exc:
            raise ScoreError(f"cannot read Parquet file {file}: {exc}") from None
        current: list[tuple[int, int, int]] = []
        size = 0
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            start = 0
            while start < rows:
                take = min(rows - start, rows_per_part - size)
                current.append((group, start, start + take))
                size += take
                start += take
                if size == rows_per_part:
                    out.append(Piece(str(file), tuple(current)))
                    current, size = [], 0
        if current:
            out.append(Piece(str(file), tuple(current)))
    return out


def _nullable(kind: pa.DataType) -> Any:
    """Arrow ints and bools read as pandas' nullable dtypes: an empty cell stays empty, an int stays an int."""
    if pa.types.is_integer(kind):
        return pd.Int64Dtype()
    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pd.StringDtype()
    return None


def read_piece(piece: Piece, wanted: Sequence[str]) -> pd.DataFrame:
    """One piece of the input as a DataFrame (only the columns the job reads)."""
    handle = pq.ParquetFile(piece.file)
    tables = [
        handle.read_row_group(group, columns=list(wanted)).slice(start, stop - start)
        for group, start, stop in piece.slices
    ]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return table.to_pandas(types_mapper=_nullable)


_ARROW = {"string": pa.string(), "float64": pa.float64()}


def output_schema(input_schema: pa.Schema, job: Job) -> pa.Schema:
    """The schema of every part file: the kept columns as in the input, then the advice columns."""
    fields = [input_schema.field(name) for name in job.keep]
    fields += [pa.field(name, _ARROW[dtype]) for name, dtype in result_dtypes(job.top, job.output).items()]
    return pa.schema(fields)


def write_part(frame: pd.DataFrame, path: str, schema: pa.Schema) -> tuple[int, int]:
    """Write one part whole or not at all (a temporary name, then renamed); returns (rows, rows with errors)."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    temporary = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table, temporary)
    os.replace(temporary, path)
    return len(frame), int(frame["error"].notna().sum())


def part_name(index: int) -> str:
    """The file name of output part ``index``."""
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class ScoreSummary:
    """What a ``score`` run did: parts written now, parts found done, rows scored now and rows with errors."""

    output: str
    parts: int
    written: int
    skipped: int
    rows: int
    errors: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Rows scored by this run per second of wall-clock time."""
        return self.rows / self.seconds if self.seconds > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data (``--json``)."""
        return asdict(self) | {"rows_per_second": round(self.rows_per_second, 1)}


def _job_record(files: Sequence[Path], pieces: Sequence[Piece], rows_per_part: int, job: Job) -> dict[str, Any]:
    """What identifies a job: the input files as they are now, how they are cut, and what is asked."""
    record: dict[str, Any] = json.loads(
        json.dumps(
            {
                "version": _JOB_VERSION,
                "input": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
                "rows_per_part": rows_per_part,
                "parts": len(pieces),
                "columns": [list(c) for c in job.plan.columns],
                "defaults": [list(d) for d in job.plan.defaults],
                "top": job.top,
                "output": job.output,
                "keep": list(job.keep),
                "ruleset": job.key,
                "playbook": job.playbook.model_dump(mode="json") if job.playbook else None,
            },
            default=str,
        )
    )
    return record


def _prepare_folder(folder: Path, record: dict[str, Any], overwrite: bool) -> set[int]:
    """Create or check the output folder; the indexes of the parts already written by the same job."""
    if folder.exists() and not folder.is_dir():
        raise ScoreError(f"output {folder} exists and is not a folder (score writes a folder of part files)")
    job_file = folder / JOB_FILE
    if folder.is_dir() and any(folder.iterdir()):
        previous: Any = None
        with contextlib.suppress(OSError, ValueError):
            previous = json.loads(job_file.read_text(encoding="utf-8"))
        if not isinstance(previous, dict):
            # not a folder this command wrote: never delete anything in it, --overwrite or not
            raise ScoreError(
                f"output folder {folder} is not empty and holds no valid {JOB_FILE}; choose another folder"
            )
        if previous != record:
            if not overwrite:
                changed = sorted(
                    k for k in set(record) | set(previous or {}) if (previous or {}).get(k) != record.get(k)
                )
                raise ScoreError(
                    f"output folder {folder} holds parts of another job (it differs in: {', '.join(changed)}); "
                    "pass --overwrite to start again, or choose another folder"
                )
            for old in folder.glob("part-*.parquet*"):
                old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("part-*.parquet.tmp-*"):  # left by an interrupted run: never a finished part
        stale.unlink()
    job_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    done = set()
    for index in range(record["parts"]):
        if (folder / part_name(index)).is_file():
            done.add(index)
    return done


def _check_apart(input: Path, output: Path, files: Sequence[Path]) -> None:
    """The output folder may neither be, nor lie inside, nor hold the input: --overwrite deletes its parts."""
    if output.is_file():
        return  # reported as "not a folder" where the folder is prepared
    out = output.resolve()
    src = input.resolve()
    if out == src or src in out.parents or out in src.parents or any(out in f.resolve().parents for f in files):
        raise ScoreError(f"output {output} overlaps the input {input}; write the parts to a folder of their own")


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int | None, client: Any = None) -> Iterator[Any]:
    """A distributed client: the one given, one for the scheduler at an address, or a local cluster of processes."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            remote = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ScoreError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with remote:
            yield remote
        return
    count = workers or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    with (
        LocalCluster(
            n_workers=count,
            threads_per_worker=1,  # durable-rules serialises calls into its C core: one thread per process
            processes=True,
            dashboard_address=":0",  # any free port: never clash with another cluster on 8787
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as local,
    ):
        yield local


def score(
    input: str | Path,
    output: str | Path,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    top: int | None = 3,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    output_format: Output = "columns",
    keep: Sequence[str] | None = None,
    rows_per_part: int = DEFAULT_ROWS_PER_PART,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: bool = True,
    overwrite: bool = False,
) -> ScoreSummary:
    """Advise every row of a Parquet file (or folder) into a folder of Parquet parts, on a Dask cluster; resumable.

    ``keep`` names the input columns copied in front of the advice (default: every column that
    is not mapped to the state, such as ids). The cluster is ``client``, the scheduler at
    ``scheduler``, or a local cluster of ``workers`` processes (default: one per core).
    Parts already written by the same job are skipped; a different job in the same folder is a
    ScoreError unless ``overwrite``. ``progress`` shows a progress bar on stderr.
    """
    started = time.perf_counter()
    if not isinstance(rows_per_part, int) or isinstance(rows_per_part, bool) or rows_per_part < 1:
        raise ValueError(f"rows_per_part must be a whole number >= 1, got {rows_per_part!r}")
    files = input_files(Path(input))
    _check_apart(Path(input), Path(output), files)
    schema = pq.read_schema(files[0])
    names = list(schema.names)
    plan = plan_columns(names, columns, defaults)
    mapped = {column for column, _, _ in plan.columns}
    kept = [n for n in names if n not in mapped] if keep is None else list(keep)
    job = make_job(names, columns, defaults, top, ruleset, playbook, output_format, kept)
    read = [n for n in names if n in mapped or n in kept]
    pieces = pieces_of(files, rows_per_part)
    folder = Path(output)
    done = _prepare_folder(folder, _job_record(files, pieces, rows_per_part, job), overwrite)
    todo = [i for i in range(len(pieces)) if i not in done]
    rows = errors = 0
    if todo:
        target = output_schema(schema, job)
        rows, errors = _run(pieces, todo, read, job, target, folder, scheduler, workers, client, progress)
    return ScoreSummary(
        str(folder), len(pieces), len(todo), len(done), rows, errors, round(time.perf_counter() - started, 3)
    )


def _run(
    pieces: Sequence[Piece],
    todo: Sequence[int],
    read: Sequence[str],
    job: Job,
    schema: pa.Schema,
    folder: Path,
    scheduler: str | None,
    workers: int | None,
    client: Any,
    progress: bool,
) -> tuple[int, int]:
    from distributed import as_completed

    rows = errors = 0
    with connect(scheduler, workers, client) as active:
        shipped = active.scatter(job, broadcast=True, hash=False)
        # one task per part, in order: read the piece, advise it, write it; so a part is on disk as soon as it is
        # advised (separate read/advise/write tasks let the scheduler hold finished partitions back from writing)
        futures = [
            active.submit(
                score_piece,
                pieces[index],
                list(read),
                shipped,
                str(folder / part_name(index)),
                schema,
                key=f"negotiation-rules-score-{folder.name}-{index}-{os.getpid()}-{time.time_ns()}",
                priority=-n,
                pure=False,
            )
            for n, index in enumerate(todo)
        ]
        total_rows = sum(pieces[i].rows for i in todo)
        index_of = {future.key: index for future, index in zip(futures, todo, strict=True)}
        failed: list[tuple[int, BaseException]] = []
        with _progress(progress, len(todo), total_rows) as advance:
            try:
                for future in as_completed(futures):
                    try:
                        written, bad = future.result()
                    except Exception as exc:  # one part failed on a worker: the others go on and are kept
                        failed.append((index_of[future.key], exc))
                        continue
                    rows += written
                    errors += bad
                    advance(written)
            except BaseException:
                active.cancel(futures)
                raise
    if failed:
        index, first = min(failed, key=lambda item: item[0])
        raise ScoreError(
            f"{len(failed)} of {len(todo)} parts failed, first part {index} ({pieces[index].file}): "
            f"{type(first).__name__}: {first}; the other parts are written, a rerun retries the failed ones"
        ) from first
    return rows, errors


def score_piece(piece: Piece, wanted: Sequence[str], job: Job, path: str, schema: pa.Schema) -> tuple[int, int]:
    """The task of one part (on a worker): read the piece, ``advise_partition`` it, write it; (rows, errors)."""
    return write_part(advise_partition(read_piece(piece, wanted), job), path, schema)


@contextlib.contextmanager
def _progress(show: bool, parts: int, rows: int) -> Iterator[Any]:
    """``advance(rows_done)`` after each part; a rich progress bar on stderr when ``show``."""
    if not show:
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows  {task.fields[parts]} parts"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    ) as bar:
        task = bar.add_task("score", total=rows, parts=f"0/{parts}")
        count = 0

        def advance(done: int) -> None:
            nonlocal count
            count += 1
            bar.update(task, advance=done, parts=f"{count}/{parts}")

        yield advance
