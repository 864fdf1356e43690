"""The ``score`` command's options and its run; pandas and Dask are imported only when it runs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._errors import NegotiationRulesError, UsageError

DESCRIPTION = (
    "advise every row of a Parquet file (or folder) on a Dask cluster, into a folder of Parquet parts; "
    "a rerun skips the parts already written"
)
EXAMPLES = (
    "score deals.parquet advice/ --top 3",
    "score deals/ advice/ --column stage=phase --default our_side=seller --scheduler tcp://10.0.0.5:8786",
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_score_options(p: argparse.ArgumentParser) -> None:
    """The arguments of ``score`` (``--ruleset``/``--playbook`` and ``--json`` are added by the CLI)."""
    p.add_argument("input", metavar="INPUT", help="Parquet file, or folder of Parquet files; one row per negotiation")
    p.add_argument("output", metavar="OUTPUT", help="output folder: part-00000.parquet ... and _job.json")
    p.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="COLUMN=PATH",
        help="read state path PATH from COLUMN (repeatable; default: every column named as a state path)",
    )
    p.add_argument(
        "--default",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="VALUE (JSON, or else text) for PATH in rows that leave it empty (repeatable)",
    )
    p.add_argument(
        "--keep",
        action="append",
        default=None,
        metavar="COLUMN",
        help="input column to copy in front of the advice (repeatable; default: every column not read as state)",
    )
    p.add_argument("--top", type=_positive, default=3, metavar="N", help="tactic columns per row (default 3)")
    p.add_argument(
        "--format",
        choices=["columns", "json"],
        default="columns",
        help="advice as columns (tactic_1, score_1, move_1, rationale_1, ...) or one JSON column 'advice'",
    )
    p.add_argument(
        "--rows-per-part", type=_positive, default=None, metavar="N", help="rows per output part (default 50000)"
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler to use (default: a local cluster)")
    p.add_argument("--workers", type=_positive, default=None, metavar="N", help="local cluster: worker processes")
    p.add_argument("--overwrite", action="store_true", help="replace the parts of another job in OUTPUT")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _pairs(items: list[str], what: str, value: bool) -> dict[str, Any]:

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or not raw:
            raise UsageError(f"--{what} takes {what.upper()}=..., got {item!r}")
        if value:
            try:
                out[key] = json.loads(raw)
            except ValueError:
                out[key] = raw  # plain text: --default our_side=seller
        else:
            out[key] = raw
    return out


def cmd_score(args: argparse.Namespace) -> int:
    """Run ``score`` with the command's options; prints a one-line summary (or JSON with ``--json``)."""
    try:
        from . import _dask
    except ImportError as exc:
        missing = (exc.name or "dask").split(".")[0]
        raise UsageError(
            f"score needs the optional extra 'dask' ({missing} is not installed): pip install 'negotiation-rules[dask]'"
        ) from None
    try:
        summary = _dask.score(
            args.input,
            args.output,
            _pairs(args.column, "column", False) or None,
            defaults=_pairs(args.default, "default", True) or None,
            top=args.top,
            ruleset=args.ruleset,
            playbook=args.playbook,
            output_format=args.format,
            keep=args.keep,
            rows_per_part=args.rows_per_part or _dask.DEFAULT_ROWS_PER_PART,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.no_progress,
            overwrite=args.overwrite,
        )
    except NegotiationRulesError:
        raise
    except (ValueError, TypeError) as exc:  # a mapping or option mistake: one line, exit 2
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: the parts written so far are kept; run the same command again to resume\n")
        raise
    if args.json:
        sys.stdout.write(json.dumps(summary.as_dict(), indent=2) + "\n")
    elif not summary.written:
        sys.stdout.write(f"nothing to do: all {summary.parts} parts were already written -> {summary.output}\n")
    else:
        sys.stdout.write(
            f"scored {summary.rows} rows into {summary.written} parts in {summary.seconds:.1f} s "
            f"({summary.rows_per_second:.0f} rows/s); {summary.errors} rows with errors; "
            f"{summary.skipped} of {summary.parts} parts were already done -> {summary.output}\n"
        )
    return 0
