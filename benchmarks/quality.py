"""How far the advice agrees with a coach: the labelled quality benchmark of issue 12.

    python benchmarks/quality.py                 # the summary lines (and any must-not violation)
    python benchmarks/quality.py --verbose       # plus one row per case: expected, got, hits
    python benchmarks/quality.py --json          # machine-readable report
    python benchmarks/quality.py --fail-under-top1-in 90 --fail-under-recall 85

Each case of ``benchmarks/quality/cases.yaml`` is a situation with the coach's top moves (best
first) and the moves the sources warn against there, labelled from the source documents before
the advice was looked at. The harness runs ``advise(state)`` (built-in rules, no playbook) on
each and measures:

- top-1 agreement: the advice's #1 is the coach's #1;
- top-1 in expected: the advice's #1 is one of the coach's moves;
- recall@3: how many of the coach's moves are in the advice's top 3, over all expected moves;
- must-not violations: a warned-against tactic anywhere in the recommendations (set aside is fine).

Exit status: 0, or 1 when there is a must-not violation or a ``--fail-under-*`` threshold is
missed; 2 for a bad command line or case file. See docs/quality.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The labelled cases shipped with the repository.
DEFAULT_CASES = Path(__file__).resolve().parent / "quality" / "cases.yaml"
#: The keys every case carries, in the order the case file writes them.
CASE_KEYS = ("id", "situation", "state", "expected", "must_not", "why")
#: How many of the advice's moves count for recall (the coach labels a top 3).
TOP = 3

#: An advisor takes a state (as written in the case file) and returns the recommended tactic ids, best first.
Advisor = Callable[[dict[str, Any]], Sequence[str]]


class CaseFileError(ValueError):
    """The case file is unreadable or a case is malformed; the message names the file and the case."""


@dataclass(frozen=True)
class Case:
    """One labelled situation: the state, the coach's moves best first, and the moves warned against."""

    id: str
    situation: str
    state: dict[str, Any]
    expected: tuple[str, ...]
    must_not: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class CaseResult:
    """What the advisor returned for one case, and how it compares with the labels."""

    case: Case
    got: tuple[str, ...]

    @property
    def top1(self) -> str | None:
        """The advice's first move, or None when nothing was recommended."""
        return self.got[0] if self.got else None

    @property
    def top1_agrees(self) -> bool:
        """The advice's #1 is the coach's #1."""
        return self.top1 is not None and self.top1 == self.case.expected[0]

    @property
    def top1_in_expected(self) -> bool:
        """The advice's #1 is one of the coach's moves."""
        return self.top1 is not None and self.top1 in self.case.expected

    @property
    def hits(self) -> tuple[str, ...]:
        """The coach's moves that are in the advice's top 3, in the coach's order."""
        top = set(self.got[:TOP])
        return tuple(t for t in self.case.expected if t in top)

    @property
    def missed(self) -> tuple[str, ...]:
        """The coach's moves that are not in the advice's top 3."""
        top = set(self.got[:TOP])
        return tuple(t for t in self.case.expected if t not in top)

    @property
    def violations(self) -> tuple[tuple[str, int], ...]:
        """Warned-against tactics that were recommended, with their 1-based rank."""
        return tuple((t, self.got.index(t) + 1) for t in self.case.must_not if t in self.got)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


@dataclass(frozen=True)
class QualityReport:
    """The benchmark's figures over all cases, and each case's result."""

    results: tuple[CaseResult, ...]

    @property
    def cases(self) -> int:
        """How many cases were run."""
        return len(self.results)

    @property
    def top1_agreement(self) -> int:
        """Cases whose #1 is the coach's #1."""
        return sum(r.top1_agrees for r in self.results)

    @property
    def top1_in_expected(self) -> int:
        """Cases whose #1 is one of the coach's moves."""
        return sum(r.top1_in_expected for r in self.results)

    @property
    def hits(self) -> int:
        """Expected moves found in the top 3, over all cases."""
        return sum(len(r.hits) for r in self.results)

    @property
    def expected(self) -> int:
        """Expected moves over all cases (the denominator of recall@3)."""
        return sum(len(r.case.expected) for r in self.results)

    @property
    def violations(self) -> int:
        """Warned-against tactics recommended, counted once per case and tactic."""
        return sum(len(r.violations) for r in self.results)

    @property
    def top1_agreement_pct(self) -> float:
        """Top-1 agreement as a percentage of the cases."""
        return _percent(self.top1_agreement, self.cases)

    @property
    def top1_in_expected_pct(self) -> float:
        """Top-1 in expected as a percentage of the cases."""
        return _percent(self.top1_in_expected, self.cases)

    @property
    def recall_pct(self) -> float:
        """Recall@3 as a percentage of the expected moves."""
        return _percent(self.hits, self.expected)

    def summary_lines(self) -> list[str]:
        """The four summary lines the benchmark always prints."""
        n = self.cases
        return [
            f"top-1 agreement: {self.top1_agreement}/{n} ({self.top1_agreement_pct:.0f}%)",
            f"top-1 in expected: {self.top1_in_expected}/{n} ({self.top1_in_expected_pct:.0f}%)",
            f"recall@{TOP}: {self.hits}/{self.expected} ({self.recall_pct:.0f}%)",
            f"must-not violations: {self.violations}",
        ]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (what ``--json`` prints)."""
        return {
            "cases": self.cases,
            "top1_agreement": {"count": self.top1_agreement, "percent": round(self.top1_agreement_pct, 1)},
            "top1_in_expected": {"count": self.top1_in_expected, "percent": round(self.top1_in_expected_pct, 1)},
            "recall_at_3": {"hits": self.hits, "expected": self.expected, "percent": round(self.recall_pct, 1)},
            "must_not_violations": self.violations,
            "results": [
                {
                    "id": r.case.id,
                    "expected": list(r.case.expected),
                    "got": list(r.got[:TOP]),
                    "hits": list(r.hits),
                    "missed": list(r.missed),
                    "top1_agrees": r.top1_agrees,
                    "top1_in_expected": r.top1_in_expected,
                    "violations": [{"tactic": t, "rank": rank} for t, rank in r.violations],
                }
                for r in self.results
            ],
        }


def _tactic_list(value: object, where: str, key: str, *, at_least: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise CaseFileError(f"{where}: '{key}' must be a list of tactic ids")
    if len(value) < at_least:
        raise CaseFileError(f"{where}: '{key}' needs at least {at_least} tactic id")
    if len(set(value)) != len(value):
        raise CaseFileError(f"{where}: '{key}' names a tactic twice")
    return tuple(value)


def _case(raw: object, index: int, file: Path) -> Case:
    where = f"{file}: case {index + 1}"
    if not isinstance(raw, dict):
        raise CaseFileError(f"{where}: expected a mapping with {', '.join(CASE_KEYS)}")
    if isinstance(raw.get("id"), str):
        where = f"{file}: case '{raw['id']}'"
    missing = [k for k in CASE_KEYS if k not in raw]
    unknown = sorted(str(k) for k in raw if k not in CASE_KEYS)
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown {', '.join(unknown)}"] if unknown else []
        detail = "; ".join(parts)
        raise CaseFileError(f"{where}: {detail}")
    for key in ("id", "situation", "why"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise CaseFileError(f"{where}: '{key}' must be a non-empty string")
    if not isinstance(raw["state"], dict):
        raise CaseFileError(f"{where}: 'state' must be a mapping of state fields")
    expected = _tactic_list(raw["expected"], where, "expected", at_least=1)
    must_not = _tactic_list(raw["must_not"], where, "must_not", at_least=0)
    both = sorted(set(expected) & set(must_not))
    if both:
        raise CaseFileError(f"{where}: {', '.join(both)} is both expected and must_not")
    return Case(raw["id"], raw["situation"], raw["state"], expected, must_not, raw["why"])


def load_cases(path: str | Path | None = None) -> list[Case]:
    """Read and check a case file (default: the shipped one); a malformed case raises CaseFileError."""
    file = Path(path) if path is not None else DEFAULT_CASES
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CaseFileError(f"{file}: cannot read the case file: {exc}") from None
    if not isinstance(data, list) or not data:
        raise CaseFileError(f"{file}: expected a non-empty list of cases")
    cases = [_case(raw, i, file) for i, raw in enumerate(data)]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise CaseFileError(f"{file}: case id '{case.id}' is used twice")
        seen.add(case.id)
    return cases


def builtin_advisor(state: dict[str, Any]) -> list[str]:
    """The advisor under test: ``advise(state)`` with the built-in rules and no playbook."""
    from negotiation_rules import advise

    return advise(state).tactics


def run_quality(cases_path: str | Path | None = None, advisor: Advisor | None = None) -> QualityReport:
    """Run every case through ``advisor`` (default: the built-in advice) and measure the agreement."""
    ask = advisor or builtin_advisor
    results = []
    for case in load_cases(cases_path):
        try:
            got = tuple(ask(case.state))
        except ValueError as exc:  # StateError is a ValueError: name the case that carries the bad state
            raise CaseFileError(f"case '{case.id}': {exc}") from exc
        results.append(CaseResult(case, got))
    return QualityReport(tuple(results))


def _short(tactics: Sequence[str]) -> str:
    return ", ".join(tactics) if tactics else "-"


def render_table(report: QualityReport, out: TextIO) -> None:
    """One block per case: the id with hits and marks, then the expected and the got top 3."""
    for r in report.results:
        mark = "=" if r.top1_agrees else ("~" if r.top1_in_expected else "x")
        flag = "  MUST-NOT: " + ", ".join(f"{t} (#{rank})" for t, rank in r.violations) if r.violations else ""
        out.write(f"{mark} {r.case.id}  hits {len(r.hits)}/{len(r.case.expected)}{flag}\n")
        out.write(f"    expected: {_short(r.case.expected)}\n")
        out.write(f"    got:      {_short(r.got[:TOP])}\n")
    out.write("(= top-1 agrees, ~ top-1 in expected, x top-1 not expected)\n\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The command line; returns the exit status (1 on a violation or a missed threshold)."""
    stream = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=None, help="case file (default: benchmarks/quality/cases.yaml)")
    parser.add_argument("--verbose", "-v", action="store_true", help="one row per case: expected, got, hits")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--fail-under-top1-in", type=float, metavar="PCT", help="exit 1 if top-1 in expected < PCT")
    parser.add_argument("--fail-under-recall", type=float, metavar="PCT", help="exit 1 if recall@3 < PCT")
    args = parser.parse_args(argv)
    try:
        report = run_quality(args.cases)
    except CaseFileError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    failures = []
    if report.violations:
        failures.append(f"{report.violations} must-not violation(s)")
    if args.fail_under_top1_in is not None and report.top1_in_expected_pct < args.fail_under_top1_in:
        failures.append(f"top-1 in expected {report.top1_in_expected_pct:.1f}% < {args.fail_under_top1_in:g}%")
    if args.fail_under_recall is not None and report.recall_pct < args.fail_under_recall:
        failures.append(f"recall@{TOP} {report.recall_pct:.1f}% < {args.fail_under_recall:g}%")
    if args.json:
        data = report.to_dict()
        data["failures"] = failures
        stream.write(json.dumps(data, indent=2) + "\n")
    else:
        if args.verbose:
            render_table(report, stream)
        for r in report.results:
            for tactic, rank in r.violations:
                stream.write(f"must-not: {r.case.id}: {tactic} recommended at #{rank}\n")
        stream.write("\n".join(report.summary_lines()) + "\n")
        for failure in failures:
            stream.write(f"FAIL: {failure}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
