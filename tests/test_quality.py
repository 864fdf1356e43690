"""The labelled quality benchmark (benchmarks/quality.py): well-formed labels, right metrics, the gate."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from negotiation_rules import NegotiationState
from negotiation_rules._catalog import CATALOG

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "benchmarks" / "quality.py"
SEEDS = ("000", "001", "002", "003", "004")
#: Contract 0.2's closed event vocabulary.
EVENT_KINDS = {"authority_claimed", "offer", "concession", "deadlock", "agreement", "deadline_set", "note"}


def _load_harness() -> ModuleType:
    """benchmarks/ is not a package: load quality.py by path (registered, so its dataclasses resolve)."""
    spec = importlib.util.spec_from_file_location("quality_benchmark", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


quality = _load_harness()
CASES = quality.load_cases()


def _ids(case: Any) -> list[str]:
    return [*case.expected, *case.must_not]


# -- (a) the labelled cases are well formed -------------------------------------------------------


def test_there_are_at_least_44_cases_with_unique_lower_case_ids() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 44
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), ids


def test_each_case_expects_two_or_three_distinct_moves_and_none_it_forbids() -> None:
    for case in CASES:
        assert 2 <= len(case.expected) <= 3, case.id
        assert len(set(case.expected)) == len(case.expected), case.id
        assert not set(case.expected) & set(case.must_not), case.id


def test_every_labelled_tactic_is_in_the_catalog() -> None:
    unknown = {(c.id, t) for c in CASES for t in _ids(c) if t not in CATALOG}
    assert unknown == set()


def test_every_state_is_a_valid_negotiation_state() -> None:
    for case in CASES:
        NegotiationState.model_validate(case.state)


def _leaves(value: object, path: str) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, value)]


def test_states_give_only_known_facts_so_they_also_hold_under_contract_0_2() -> None:
    # Contract 0.2 spells unknown as "unknown" / null and makes it the default: a case that wrote
    # either would state a fact it does not know, so it simply leaves the field out.
    for case in CASES:
        written = [p for p, v in _leaves(case.state, case.id) if v is None or v == "unknown"]
        assert written == [], written
        for event in case.state.get("history", []):
            assert event["kind"] in EVENT_KINDS, (case.id, event)
            assert event["by"] in ("us", "them"), (case.id, event)


def test_every_reason_cites_a_source_document() -> None:
    for case in CASES:
        assert any(re.search(rf"\b{seed}\b", case.why) for seed in SEEDS) or "tactics.md" in case.why, case.id


def test_the_cases_cover_every_document_phase_side_and_kind_of_situation() -> None:
    states = [c.state for c in CASES]
    cited = {seed for c in CASES for seed in SEEDS if re.search(rf"\b{seed}\b", c.why)}
    assert cited == set(SEEDS)
    assert {s.get("phase") for s in states} >= {"preparation", "opening", "bargaining", "closing", "post_agreement"}
    assert {s.get("our_side", "unknown") for s in states} == {"buyer", "seller", "unknown"}
    assert {s.get("trust") for s in states} >= {"low", "high"}
    assert {s.get("outlook") for s in states} >= {"winning", "losing"}
    assert any(s.get("deadlock") for s in states)
    assert any(s.get("counterpart", {}).get("authority_claims", 0) >= 2 for s in states)
    assert any(s.get("history") for s in states)
    assert sum(len(s) <= 2 for s in states) >= 5, "sparse states, as a rep fills them in"
    assert sum(bool(c.must_not) for c in CASES) >= 10


# -- (b) the harness measures what it says --------------------------------------------------------

TINY = """
- id: a
  situation: "s"
  state: {phase: bargaining}
  expected: [x.one, x.two, x.three]
  must_not: [x.bad]
  why: "000"
- id: b
  situation: "s"
  state: {phase: closing}
  expected: [y.one, y.two]
  must_not: []
  why: "001"
- id: c
  situation: "s"
  state: {phase: opening}
  expected: [z.one, z.two]
  must_not: [z.bad]
  why: "002"
"""

STUB: dict[str, list[str]] = {
    # #1 agrees; 2 of 3 in the top 3 (x.three only at #4); a forbidden move far down still counts
    "bargaining": ["x.one", "x.two", "other", "x.three", "x.bad"],
    # #1 is expected but not the coach's #1; both expected moves in the top 3
    "closing": ["y.two", "noise", "y.one"],
    # nothing recommended at all
    "opening": [],
}


def stub_advisor(state: dict[str, Any]) -> Sequence[str]:
    return STUB[state["phase"]]


@pytest.fixture
def tiny_cases(tmp_path: Path) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_metrics_on_a_hand_made_case_file(tiny_cases: Path) -> None:
    report = quality.run_quality(tiny_cases, advisor=stub_advisor)
    assert (report.cases, report.top1_agreement, report.top1_in_expected) == (3, 1, 2)
    assert (report.hits, report.expected, report.violations) == (4, 7, 1)
    by_id = {r.case.id: r for r in report.results}
    assert by_id["a"].hits == ("x.one", "x.two") and by_id["a"].missed == ("x.three",)
    assert by_id["a"].violations == (("x.bad", 5),)
    assert by_id["b"].hits == ("y.one", "y.two") and not by_id["b"].top1_agrees
    assert by_id["c"].top1 is None and by_id["c"].violations == ()
    assert report.summary_lines() == [
        "top-1 agreement: 1/3 (33%)",
        "top-1 in expected: 2/3 (67%)",
        "recall@3: 4/7 (57%)",
        "must-not violations: 1",
    ]


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr(quality, "builtin_advisor", stub_advisor)
    out = io.StringIO()
    return quality.main(args, out), out.getvalue()


def test_a_must_not_violation_fails_the_run_and_is_named(tiny_cases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, text = _main(["--cases", str(tiny_cases)], monkeypatch)
    assert status == 1
    assert "must-not: a: x.bad recommended at #5" in text
    assert "must-not violations: 1" in text


def test_verbose_prints_a_row_per_case(tiny_cases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, text = _main(["--cases", str(tiny_cases), "--verbose"], monkeypatch)
    assert "= a  hits 2/3  MUST-NOT: x.bad (#5)" in text
    assert "~ b  hits 2/2" in text
    assert "x c  hits 0/2" in text
    assert "    got:      y.two, noise, y.one" in text


def test_json_report_and_thresholds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text(TINY.replace("must_not: [x.bad]", "must_not: []"), encoding="utf-8")
    status, text = _main(["--cases", str(clean), "--json"], monkeypatch)
    data = json.loads(text)
    assert status == 0 and data["must_not_violations"] == 0 and data["failures"] == []
    assert data["recall_at_3"] == {"hits": 4, "expected": 7, "percent": 57.1}
    assert data["results"][0]["got"] == ["x.one", "x.two", "other"]
    assert _main(["--cases", str(clean), "--fail-under-top1-in", "66"], monkeypatch)[0] == 0
    assert _main(["--cases", str(clean), "--fail-under-top1-in", "67"], monkeypatch)[0] == 1
    status, text = _main(["--cases", str(clean), "--fail-under-recall", "60"], monkeypatch)
    assert status == 1 and "FAIL: recall@3 57.1% < 60%" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: a\n  situation: s\n", "missing state, expected, must_not, why"),
        (TINY.replace("id: c", "id: a"), "case id 'a' is used twice"),
        (TINY.replace("must_not: [z.bad]", "must_not: [z.one]"), "z.one is both expected and must_not"),
        (TINY.replace("expected: [y.one, y.two]", "expected: []"), "'expected' needs at least 1"),
        (TINY.replace('why: "002"', 'why: "002"\n  note: x'), "unknown note"),
        ("[unclosed", "cannot read the case file"),
    ],
)
def test_a_malformed_case_file_is_refused_with_the_case_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(quality.CaseFileError, match=re.escape(message)):
        quality.load_cases(path)


def test_a_bad_case_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("{}", encoding="utf-8")
    assert _main(["--cases", str(path)], monkeypatch)[0] == 2


# -- (c) the gate: the built-in advice never recommends a move the sources warn against ----------


@pytest.mark.quality_gate
def test_the_built_in_advice_recommends_no_move_the_sources_warn_against() -> None:
    # Runs in every test run (CI included): a must-not move in the advice is a failure.
    report = quality.run_quality()
    violations = [f"{r.case.id}: {tactic} at #{rank}" for r in report.results for tactic, rank in r.violations]
    if violations:
        pytest.fail("\n".join(["must-not moves recommended:", *violations, *report.summary_lines()]), pytrace=False)
