"""The loader yields every mistake of a set of rule files, each with a stable code, its file, line, rule id
and a suggestion as data; ``load_ruleset`` raises the first, ``lint`` reports them all; docs/errors.md lists
every code the code base can emit; libyaml and the pure-Python parser read a file the same way."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation_rules import (
    Ruleset,
    RulesetError,
    ScenarioError,
    iter_ruleset_errors,
    lint,
    load_playbook,
    load_ruleset,
)
from negotiation_rules._errors import ERROR_CODES
from negotiation_rules._lint import CODES
from negotiation_rules._packaged import builtin_ruleset_dir
from negotiation_rules._playbook import resolve_playbook
from negotiation_rules._yaml import load_yaml
from negotiation_rules.testing._scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]

#: A valid rule file; each case below changes one thing in it (line numbers are those of this text).
RULE = """\
rules:
  - id: house.one
    tactic: house.move
    move: Do it.
    rationale: Because it fits.
    when: {phase: bargaining}
    sources:
      - {document: d.txt, section: s}
"""


def changed(old: str, new: str, text: str = RULE) -> str:
    """``text`` with ``old`` replaced by ``new`` (``old`` must be there)."""
    assert old in text
    return text.replace(old, new)


CYCLE = """\
situations:
  - id: one
    when: {situation.two: true}
  - id: two
    when: {situation.one: true}
"""

#: (code, file text, line, rule id, suggestion): one minimal bad file per loader code.
CASES: list[tuple[str, str, int | None, str | None, str | None]] = [
    ("invalid-yaml", "rules: [\n", 2, None, None),
    ("yaml-limit", "a: &a [x]\nrules: [*a]\n", 2, None, None),
    ("duplicate-key", changed("    move: Do it.\n", "    move: Do it.\n    move: Again.\n"), 5, None, None),
    ("bad-file", "rules: 3\n", 1, None, None),
    ("unknown-key", RULE + "    wieght: 0.5\n", 9, "house.one", "weight"),
    ("missing-key", changed("    move: Do it.\n", ""), 2, "house.one", None),
    ("bad-id", changed("id: house.one", "id: House One"), 2, "House One", "house_one"),
    ("duplicate-id", RULE + RULE.removeprefix("rules:\n"), 9, "house.one", None),
    ("bad-value", RULE + "    weight: 1.5\n", 9, "house.one", None),
    ("bad-condition", changed("{phase: bargaining}", "[]"), 6, "house.one", None),
    ("unknown-path", changed("{phase: bargaining}", "{phse: bargaining}"), 6, "house.one", "phase"),
    ("unknown-situation", changed("phase: bargaining", "situation.talks_stuk: true"), 6, "house.one", "talks_stuck"),
    ("unknown-operator", changed("phase: bargaining", "alternatives: {gtee: 2}"), 6, "house.one", "gte"),
    ("invalid-value", changed("phase: bargaining", "phase: bargainig"), 6, "house.one", "bargaining"),
    ("unknown-placeholder", changed("fits.", "fits {alternative}."), 5, "house.one", "alternatives"),
    ("no-source", changed("    sources:\n      - {document: d.txt, section: s}\n", ""), 2, "house.one", None),
    ("situation-cycle", CYCLE, 2, "one", None),
    ("catalog-tactic", "tactics:\n  - id: pressure.ultimatum\n    move: Ours.\n", 2, "pressure.ultimatum", None),
    (
        "engine-limit",
        changed("{phase: bargaining}", "{alternatives: [" + ", ".join(map(str, range(400))) + "]}"),
        6,
        "house.one",
        None,
    ),
]


def only_error(folder: Path) -> RulesetError:
    """The single error the loader yields for ``folder``."""
    errors = list(iter_ruleset_errors(folder))
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


@pytest.mark.parametrize(("code", "text", "line", "rule_id", "suggestion"), CASES, ids=[c[0] for c in CASES])
def test_each_mistake_has_its_code_file_line_rule_id_and_suggestion(
    write_rules: Callable[..., Path],
    code: str,
    text: str,
    line: int | None,
    rule_id: str | None,
    suggestion: str | None,
) -> None:
    error = only_error(write_rules(bad=text))
    assert (error.code, error.line, error.rule_id, error.suggestion) == (code, line, rule_id, suggestion)
    assert error.file is not None and error.file.endswith("bad.yaml")
    if suggestion is not None:
        assert str(error).endswith(f"(did you mean '{suggestion}'?)")


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("rulse:\n  - id: house.one\n", "did you mean 'rules'?"),  # difflib alone said 'ruleset'
        (
            "rules:\n  - id: house.one\n    tactic: prep.plan_opening\n    move: Plan it.\n"
            "    rationale: Because {counterpart.trust} is low.\n    when: {phase: preparation}\n"
            "    sources: [{document: x.pdf, section: y}]\n",
            "did you mean 'trust'?",  # difflib alone said 'counterpart.authority'
        ),
    ],
)
def test_did_you_mean_names_the_intended_word_for_swapped_letters_and_a_wrong_prefix(
    tmp_path: Path, text: str, wanted: str
) -> None:
    """From the newcomer review: the nearest name by typing mistakes, and by a dotted path's last part."""
    (tmp_path / "a.yaml").write_text(text)
    assert any(wanted in str(error) for error in iter_ruleset_errors(tmp_path / "a.yaml"))


def test_a_path_that_cannot_be_read_is_a_cannot_read_error(tmp_path: Path) -> None:
    (error,) = iter_ruleset_errors(tmp_path / "nope")
    assert (error.code, error.reason) == ("cannot-read", "no such file or folder")


def test_an_unknown_built_in_playbook_suggests_the_nearest_name() -> None:
    with pytest.raises(RulesetError) as info:
        resolve_playbook("hard_bargainr")
    assert (info.value.code, info.value.suggestion) == ("unknown-playbook", "hard_bargainer")


def test_the_cases_cover_every_code_the_loader_has() -> None:
    tested = {c[0] for c in CASES} | {"cannot-read", "unknown-playbook"}
    assert set(ERROR_CODES) - tested == {"load-error"}  # the fallback of errors raised outside the loader


def test_the_message_keeps_its_contract_wording() -> None:
    error = RulesetError(
        "unknown key 'mvoe'", file="r.yaml", line=4, rule_id="a.b", code="unknown-key", suggestion="move"
    )
    assert str(error) == "r.yaml:4: rule 'a.b': unknown key 'mvoe' (did you mean 'move'?)"
    assert error.reason == "unknown key 'mvoe' (did you mean 'move'?)" and error.what == "unknown key 'mvoe'"


# -- several mistakes in several rules ---------------------------------------------------------------

SEVERAL = """\
rules:
  - id: house.one
    tactic: house.move
    mvoe: Do it.
    rationale: Because {alternative}.
    when: {phase: bargainig}
    sources:
      - {document: d.txt, section: s}
  - id: House Two
    tactic: house.move
    move: Do it.
    rationale: Because.
    when: {phse: opening}
    weight: 2
    sources:
      - {document: d.txt, section: s}
"""
#: (line, code, rule id) of every mistake in SEVERAL, in file order.
SEVERAL_FOUND = [
    (4, "unknown-key", "house.one"),
    (5, "unknown-placeholder", "house.one"),
    (6, "invalid-value", "house.one"),
    (9, "bad-id", "House Two"),
    (13, "unknown-path", "House Two"),
    (14, "bad-value", "House Two"),
]


def test_every_mistake_of_every_rule_is_yielded_in_file_order(write_rules: Callable[..., Path]) -> None:
    errors = list(iter_ruleset_errors(write_rules(several=SEVERAL)))
    assert [(e.line, e.code, e.rule_id) for e in errors] == SEVERAL_FOUND


def test_load_ruleset_raises_the_first_of_them(write_rules: Callable[..., Path]) -> None:
    with pytest.raises(RulesetError) as info:
        load_ruleset(write_rules(several=SEVERAL))
    assert (info.value.line, info.value.code, info.value.suggestion) == (4, "unknown-key", "move")


def test_lint_reports_every_one_of_them_with_the_rule_id(write_rules: Callable[..., Path]) -> None:
    findings = lint(write_rules(several=SEVERAL))
    assert [(f.line, f.code, f.rule_id) for f in findings] == SEVERAL_FOUND
    assert all(f.severity == "error" for f in findings)


IN_ONE_WHEN = """\
ruleset: t
rules:
  - id: t.one
    tactic: pressure.ultimatum
    move: Do it.
    rationale: Because.
    when:
      phase: bargainin
      trst: low
      any:
        - relationship: long_trm
        - alternatives: {gte: 1}
    sources:
      - {document: d.txt, section: s}
"""


def test_every_mistake_inside_one_when_is_reported_not_only_the_first(write_rules: Callable[..., Path]) -> None:
    path = write_rules(one=IN_ONE_WHEN)
    found = [(e.line, e.code, e.suggestion) for e in iter_ruleset_errors(path)]
    assert found == [
        (8, "invalid-value", "bargaining"),
        (9, "unknown-path", "trust"),
        (11, "invalid-value", "long_term"),
    ]
    assert [(f.line, f.code, f.rule_id) for f in lint(path)] == [(line, code, "t.one") for line, code, _ in found]
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert (info.value.line, info.value.code) == (8, "invalid-value")  # the first, as before


def test_lint_accepts_the_tactics_a_rule_file_declares(write_rules: Callable[..., Path]) -> None:
    own = "tactics:\n  - id: house.move\n    move: Our own move.\n" + RULE
    assert lint(write_rules(own=own)) == []
    assert [f.code for f in lint(write_rules(own=RULE))] == ["unknown-tactic"]  # undeclared: a warning


def test_the_loader_never_compiles_nor_runs_anything() -> None:
    imported = {
        node.module
        for node in __import__("ast").walk(__import__("ast").parse((ROOT / "negotiation_rules/_loader.py").read_text()))
        if type(node).__name__ == "ImportFrom"
    }
    assert not imported & {"_compiler", "_engine", "_ruleset", "_lint"}


# -- playbooks and scenarios: the same reader, the same locations --------------------------------------


def test_a_playbook_mistake_names_file_line_and_code(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("weights:\n  pressure: 0.5\n  trust: -1\nmin_scroe: 0.2\n", encoding="utf-8")
    with pytest.raises(RulesetError) as info:
        load_playbook(book)
    assert (info.value.line, info.value.code, info.value.suggestion) == (4, "unknown-key", "min_score")
    book.write_text("weights:\n  pressure: 0.5\n  trust: -1\n", encoding="utf-8")
    with pytest.raises(RulesetError, match="greater than or equal to 0") as info:
        load_playbook(book)
    assert (info.value.line, info.value.code, info.value.kind) == (3, "bad-value", "playbook")


def test_a_scenario_mistake_names_file_line_case_and_suggestion(tmp_path: Path) -> None:
    cases = tmp_path / "x.scenarios.yaml"
    cases.write_text(
        "cases:\n  - name: stuck\n    state: {phase: bargaining}\n    recomends: [pressure.ultimatum]\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenarios(cases)
    assert f"{cases}:4: case 'stuck': unknown key 'recomends' (did you mean 'recommends'?)" in info.value.problems


# -- docs/errors.md ------------------------------------------------------------------------------------


def test_every_code_the_code_base_can_emit_is_on_the_errors_page() -> None:
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", page, flags=re.M))
    assert set(ERROR_CODES) | set(CODES) == listed


# -- libyaml and the pure-Python parser agree -------------------------------------------------------


def _shape(value: Any) -> Any:
    """A loaded value with its line numbers, for comparing two loads."""
    if isinstance(value, dict):
        return ("map", value.line, value.key_lines, {k: _shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("seq", value.line, value.item_lines, [_shape(v) for v in value])
    return value


def _both(text: str) -> tuple[Any, Any]:
    """``load_yaml`` with libyaml and with the pure-Python parser: (value or error text) each."""
    import negotiation_rules._yaml as module

    out = []
    for loader in (module.FAST_LOADER, yaml.SafeLoader):
        saved, module.FAST_LOADER = module.FAST_LOADER, loader
        try:
            out.append(_shape(load_yaml(text, "f.yaml")))
        except RulesetError as exc:
            out.append((exc.code, exc.line))
        finally:
            module.FAST_LOADER = saved
    return out[0], out[1]


def test_libyaml_reads_the_built_in_files_exactly_as_the_python_parser_does() -> None:
    assert getattr(yaml, "__with_libyaml__", False), "PyYAML without libyaml: the fast path is not tested"
    for file in sorted(builtin_ruleset_dir().glob("*.yaml")):
        fast, slow = _both(file.read_text(encoding="utf-8"))
        assert fast == slow, file.name


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text("abc: -#\n'\"[]{}&*!", max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=120, deadline=None)
@given(yaml_values, st.sampled_from([False, True]))
def test_libyaml_and_the_python_parser_agree_on_any_document(value: Any, flow: bool) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow)
    fast, slow = _both(text)
    assert fast == slow


def test_a_finding_or_an_error_cannot_carry_a_code_outside_the_registries() -> None:
    from negotiation_rules import Finding

    with pytest.raises(ValueError, match="not in CODES"):
        Finding(severity="error", code="made-up", file="r.yaml", message="m")
    with pytest.raises(ValueError, match="not in ERROR_CODES"):
        RulesetError("x", code="made-up")


@pytest.mark.parametrize(
    ("when", "code"), [("", "missing-key"), ("    when: []\n", "bad-condition"), ("    when: {}\n", "bad-condition")]
)
def test_a_situation_without_a_usable_when_is_an_error_not_dropped(
    write_rules: Callable[..., Path], when: str, code: str
) -> None:
    error = only_error(write_rules(sits="situations:\n  - id: stuck\n" + when))
    assert (error.code, error.rule_id, error.kind) == (code, "stuck", "situation")


@pytest.mark.parametrize("value", ["!!bool maybe", "!!timestamp nope", "!!int abc", "!!int ''", "!!float x"])
def test_a_bad_value_under_a_yaml_tag_is_a_located_rule_file_error(value: str) -> None:
    """PyYAML constructors raise KeyError, IndexError ... on these: never past the loader (attacker review)."""
    text = f"ruleset: t\nrules:\n  - id: t.r\n    when:\n      deadlock: {value}\n"
    with pytest.raises(RulesetError) as info:
        Ruleset.from_text(text, file="tagged.yaml")
    assert (info.value.code, info.value.line, info.value.file) == ("invalid-yaml", 5, "tagged.yaml")
    assert [e.code for e in iter_ruleset_errors_text(text)] == ["invalid-yaml"]


def iter_ruleset_errors_text(text: str) -> list[RulesetError]:
    """The errors of one rule text, through a file as users give them."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tagged.yaml"
        path.write_text(text, encoding="utf-8")
        return list(iter_ruleset_errors(path))


def test_a_control_character_error_has_its_line() -> None:
    with pytest.raises(RulesetError) as info:
        Ruleset.from_text("ruleset: t\nrules:\n  - id: a\x07\n", file="bell.yaml")
    assert (info.value.code, info.value.line) == ("invalid-yaml", 3)
