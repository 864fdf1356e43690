"""Issue 9, findings 6, 7 and 8: bounds that could be walked around, CLI edges, a linter crash.

Each input here used to cost seconds and hundreds of megabytes, raise a Python error instead of
the library's, or crash the command with a traceback.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from negotiation_rules import NegotiationState, Ruleset, RulesetError, StateError, advise
from negotiation_rules._cli import main
from negotiation_rules._errors import did_you_mean
from negotiation_rules._explain import explain
from negotiation_rules._lint import lint
from negotiation_rules._model import MAX_SITUATION_LEVELS
from negotiation_rules._playbook import load_playbook, resolve_playbook
from negotiation_rules._ruleset import load_ruleset

SOURCES = "sources: [{document: d, section: s}]"


def rule(when: str, rid: str = "r.one", tactic: str = "t.one") -> str:
    return f"rules:\n  - {{id: {rid}, tactic: {tactic}, move: m, rationale: r, when: {when}, {SOURCES}}}\n"


def test_a_not_in_list_is_capped_like_an_in_list() -> None:
    values = ", ".join(str(i) for i in range(100_000))
    with pytest.raises(RulesetError, match="values"):
        Ruleset.from_text(rule(f"{{alternatives: {{not_in: [{values}]}}}}"))


def test_a_short_not_in_list_still_works() -> None:
    rules = Ruleset.from_text(rule("{phase: {not_in: [opening, closing]}}"))
    assert advise({"phase": "bargaining"}, ruleset=rules).tactics == ["t.one"]
    assert advise({"phase": "opening"}, ruleset=rules).tactics == []


def test_the_alternatives_of_a_condition_are_counted_before_they_are_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_expansion(cond: object) -> None:
        raise AssertionError("expanded a condition with too many alternatives (16 s and 650 MB here)")

    monkeypatch.setattr("negotiation_rules._compiler.dnf", no_expansion)
    small = ", ".join(f"{{alternatives: {i}}}" for i in range(256))
    large = ", ".join(f"{{alternatives: {i}}}" for i in range(300, 20_300))
    with pytest.raises(RulesetError, match="alternatives"):
        Ruleset.from_text(rule(f"{{all: [{{any: [{small}]}}, {{any: [{large}]}}]}}"))


def test_a_huge_integer_in_a_rule_file_is_a_ruleset_error_with_its_line() -> None:
    with pytest.raises(RulesetError, match=r":3:.*digits"):
        Ruleset.from_text(rule("\n    {alternatives: {gte: " + "9" * 5000 + "}}"))


def chain(n: int, reverse: bool = False) -> str:
    rows = ["  - {id: s0, when: {deadlock: true}}"] + [
        f"  - {{id: s{i}, when: {{situation.s{i - 1}: true}}}}" for i in range(1, n)
    ]
    if reverse:
        rows.reverse()
    return "situations:\n" + "\n".join(rows) + "\n" + rule(f"{{situation.s{n - 1}: true}}")


@pytest.mark.parametrize("reverse", [False, True])
def test_a_situation_chain_of_a_thousand_is_a_ruleset_error_not_a_recursion_error(reverse: bool) -> None:
    with pytest.raises(RulesetError, match="levels"):
        Ruleset.from_text(chain(1000, reverse))


def test_a_situation_chain_of_the_maximum_depth_loads_explains_and_lints(tmp_path: Path) -> None:
    text = chain(MAX_SITUATION_LEVELS, reverse=True)
    rules = Ruleset.from_text(text)
    assert advise({"deadlock": True}, ruleset=rules).tactics == ["t.one"]
    assert explain({"deadlock": False}, "t.one", ruleset=rules).verdict == "not_matched"
    path = tmp_path / "chain.yaml"
    path.write_text(text, encoding="utf-8")
    assert not [f for f in lint([path]) if f.severity == "error"]


def test_lint_reports_a_too_deep_situation_chain_as_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text(chain(1000, reverse=True), encoding="utf-8")
    findings = lint([path])
    assert any("levels" in f.message for f in findings)


@pytest.mark.parametrize("weight", [".nan", ".inf", "-.inf"])
def test_playbook_weights_must_be_finite(tmp_path: Path, weight: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"weights: {{pressure: {weight}}}\n", encoding="utf-8")
    with pytest.raises(RulesetError):
        load_playbook(path)
    with pytest.raises(RulesetError):
        resolve_playbook({"weights": {"pressure": math.nan}})


def test_an_overlong_path_is_a_library_error_not_an_os_error() -> None:
    long = "x" * 5000
    with pytest.raises(RulesetError):
        resolve_playbook(long + ".yaml")
    with pytest.raises(RulesetError):
        resolve_playbook(long)
    with pytest.raises(RulesetError):
        load_ruleset(long)
    with pytest.raises(RulesetError):
        advise({}, ruleset=long)


def test_error_messages_echo_a_bounded_excerpt_of_a_huge_input() -> None:
    key = "k" * 900_000
    with pytest.raises(RulesetError) as caught:
        Ruleset.from_text(f"{key}: 1\n")
    assert len(str(caught.value)) < 1_000
    with pytest.raises(StateError) as state_caught:
        advise({"phase": "p" * 3_000_000})
    assert len(str(state_caught.value)) < 1_000
    assert did_you_mean("x" * 1_000_000, ["phase"]) == ""


# -- the command line ------------------------------------------------------------------------------


def cli(*args: str, stdin: object = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "negotiation_rules", *args],
        stdin=stdin,  # type: ignore[arg-type]
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_the_cli_reads_an_endless_input_only_up_to_its_limit() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")
    with open("/dev/zero", "rb") as zero:
        err = io.StringIO()
        assert main(["advise", "-"], stdout=io.StringIO(), stderr=err, stdin=io.TextIOWrapper(zero)) == 2
    assert err.getvalue().count("\n") == 1 and "larger than" in err.getvalue()
    err = io.StringIO()
    assert main(["advise", "/dev/zero"], stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().count("\n") == 1


def test_the_cli_writes_to_a_stdout_that_cannot_encode_every_character(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "rules:\n  - {id: r.one, tactic: t.one, move: Offer a café ≥ 5 €, rationale: r, when: {deadlock: true},"
        f" {SOURCES}}}\n",
        encoding="utf-8",
    )
    state = tmp_path / "s.json"
    state.write_text(NegotiationState(deadlock=True).model_dump_json(), encoding="utf-8")
    for extra in ([], ["--json"]):
        out = cli("advise", str(state), "--ruleset", str(rules), *extra, env={"PYTHONIOENCODING": "ascii"})
        assert out.returncode == 0, out.stderr
        assert b"caf" in out.stdout


def test_every_cli_failure_is_one_line_and_exit_code_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(rule("{alternatives: {gte: " + "9" * 5000 + "}}"), encoding="utf-8")
    state = tmp_path / "s.json"
    state.write_text("{}", encoding="utf-8")
    for argv in (
        ["advise", str(state), "--ruleset", str(big)],
        ["advise", str(state), "--playbook", "x" * 5000],
        ["advise", "x" * 5000],
        ["lint", str(big)],
    ):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 or (argv[0] == "lint" and code == 1), (argv[:2], err)
        assert err.count("\n") <= 1 and "Traceback" not in err


def test_an_unexpected_error_in_a_command_is_still_one_line_and_exit_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("negotiation_rules._cli.advise", boom)
    monkeypatch.setattr("sys.stdin", io.StringIO("{}"))
    assert main(["advise", "-"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# -- lint ------------------------------------------------------------------------------------------


def test_lint_reports_a_situation_built_on_an_invalid_situation_instead_of_crashing(tmp_path: Path) -> None:
    """Finding 8: ``lint`` raised KeyError and called the situation a "rule"."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "situations:\n"
        "  - {id: broken, when: {phase: nonsense}}\n"
        "  - {id: on_top, when: {situation.broken: true}}\n"
        + rule("{situation.on_top: true}").replace("rules:\n", "rules:\n"),
        encoding="utf-8",
    )
    findings = lint([path])
    assert any(f.rule_id == "broken" for f in findings)
    assert any(f.rule_id == "on_top" and f.kind == "situation" for f in findings)
    assert all("rule 'on_top'" not in str(f) and "rule 'broken'" not in str(f) for f in findings)
