"""The renderers: one set of words per result, the same in ``__str__``, the testing kit and the command line."""

from __future__ import annotations

import io

import pytest

from negotiation_rules import explain, what_if
from negotiation_rules._cli import main
from negotiation_rules._render import Column, Table, cell, line, show, to_text
from negotiation_rules._whatif import Change

CLAIMED = '{"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}'
ASIDE = '{"phase": "bargaining", "alternatives": 0}'


def cli(*args: str, stdin: str) -> str:
    """What the command prints on stdout, run in-process at the piped width."""
    out = io.StringIO()
    assert main(list(args), stdout=out, stderr=io.StringIO(), stdin=io.StringIO(stdin)) == 0
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The piped width (120), whatever the terminal running the tests says."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.mark.parametrize(
    ("value", "text"), [(None, "unknown"), (True, "true"), (False, "false"), (0, "0"), (["a", True], "a, true")]
)
def test_one_value_formatter_reads_unknowns_and_booleans_the_same_everywhere(value: object, text: str) -> None:
    assert show(value) == text


def test_a_what_if_change_from_an_unknown_reads_unknown_not_none() -> None:
    assert str(Change(path="researched", from_=None, to=True)) == "researched: unknown -> true"


@pytest.mark.parametrize(("state", "tactic"), [(CLAIMED, "authority.provoke"), (ASIDE, "pressure.strong_posture")])
def test_the_command_line_prints_the_explanation_s_own_text(state: str, tactic: str) -> None:
    """str(Explanation) and ``explain`` differ only in the rule files' paths (relative on the command line)."""
    expl = explain(state, tactic)
    printed = cli("explain", "-", tactic, stdin=state).rstrip("\n")
    text = str(expl)
    for rule in expl.rules:
        text = text.replace(f"({rule.file}:", f"(rulesets/{rule.file.rsplit('/rulesets/', 1)[1]}:")
    assert printed == text


def test_situation_tests_behind_a_blocking_unless_are_hidden_and_the_state_s_fields_shown() -> None:
    text = str(explain(ASIDE, "pressure.strong_posture"))
    assert "because alternatives = 0 holds (actual: 0)" in text
    assert "because situation '" not in text


def test_what_if_reads_the_same_in_str_and_on_the_command_line() -> None:
    answer = what_if(CLAIMED, "authority.provoke")
    text, printed = str(answer), cli("what-if", "-", "authority.provoke", stdin=CLAIMED)
    assert text.splitlines()[:2] == printed.splitlines()[:2]  # the summary and where it stands now
    for shown in ("counterpart.experience: unknown -> experienced", "- -> 2", "- -> 0.63"):
        assert shown in text and shown in printed


def test_a_plain_table_aligns_columns_and_gives_a_multi_line_cell_its_own_lines() -> None:
    table = Table(
        (Column("#", "right"), Column("change"), Column("rank", "right")),
        ((cell("1"), cell("a: 1 -> 2\nlonger: x -> y"), cell("- -> 1")), (cell("10"), cell("b"), cell("3 -> 2"))),
    )
    assert to_text([line("head"), table]).splitlines() == [
        "head",
        "   #  change            rank",
        "   1  a: 1 -> 2       - -> 1",
        "      longer: x -> y",
        "  10  b               3 -> 2",
    ]
