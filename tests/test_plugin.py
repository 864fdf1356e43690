"""The pytest plugin, as a rule author meets it: scenario files collected as tests, the ``advisor`` fixture,
clear collection errors for bad scenario files, rule coverage with a fail-under gate, and the docs page's
worked example run exactly as written. Each test runs pytest on a fresh folder (pytest's ``pytester``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hypothesis  # noqa: F401  - loaded once here; each in-process pytester run would import it afresh
import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "testing.md"
EXAMPLE = ROOT / "docs" / "examples" / "testing"

RULES = """\
ruleset: house
rules:
  - id: house.hold_price
    tactic: pressure.strong_posture
    move: Hold the list price.
    rationale: We have {alternatives} other buyers.
    when:
      phase: bargaining
      alternatives: {gte: 2}
    weight: 0.8
    sources: [{document: handbook.pdf, section: Pricing}]
  - id: house.trade
    tactic: pressure.conditional_concession
    move: Trade a small concession.
    rationale: Every concession buys one.
    when:
      phase: bargaining
    weight: 0.6
    sources: [{document: handbook.pdf, section: Trading}]
  - id: house.final_offer
    tactic: pressure.ultimatum
    move: Final offer from the top.
    rationale: Stuck, and our director can step in.
    when:
      deadlock: true
    unless:
      relationship: long_term
    unless_reason: Never an ultimatum to a long-term partner.
    weight: 0.9
    sources: [{document: handbook.pdf, section: Stuck}]
"""

INI = '[tool.pytest.ini_options]\nnegotiation_rules_rulesets = "rules"\n'

SCENARIOS = """\
cases:
  - name: buyers waiting, we hold the price
    state: {phase: bargaining, alternatives: 3}
    first: pressure.strong_posture
    recommends: [pressure.conditional_concession]
  - name: a long-term partner gets no ultimatum
    state: {deadlock: true, relationship: long_term}
    set_aside: [{tactic: pressure.ultimatum, reason_contains: long-term}]
"""


@pytest.fixture
def house(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project folder with our rules in rules/ and the ini option pointing at them."""
    pytester.makefile(".toml", pyproject=INI)
    (pytester.path / "rules").mkdir()
    (pytester.path / "rules" / "house.yaml").write_text(RULES, encoding="utf-8")
    return pytester


def scenario_file(pytester: pytest.Pytester, text: str, name: str = "house") -> Path:
    path = pytester.path / f"{name}.scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- a new user, from an empty folder ------------------------------------------------------------


def test_a_new_user_writes_rules_a_scenario_file_and_a_property_test_and_pytest_passes(house: pytest.Pytester) -> None:
    scenario_file(house, SCENARIOS)
    house.makepyfile(
        test_properties="""
        from hypothesis import given, settings
        from negotiation_rules.testing.strategies import states

        @settings(max_examples=30)
        @given(states(relationship="long_term"))
        def test_never_an_ultimatum_to_a_long_term_partner(advisor, state):
            advisor.assert_not_recommends(state, "pressure.ultimatum")
        """
    )
    result = house.runpytest_subprocess()  # a fresh process: the plugin comes from the installed entry point
    result.assert_outcomes(passed=3)
    assert result.ret == 0


def test_each_case_is_its_own_test_item_named_by_its_name(house: pytest.Pytester) -> None:
    scenario_file(house, SCENARIOS)
    result = house.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "house.scenarios.yaml::buyers waiting, we hold the price",
            "house.scenarios.yaml::a long-term partner gets no ultimatum",
        ]
    )
    selected = house.runpytest("-v", "-k", "ultimatum")
    selected.stdout.fnmatch_lines(["*::a long-term partner gets no ultimatum PASSED*"])
    selected.assert_outcomes(passed=1, deselected=1)
    assert house.runpytest("-m", "scenario").ret == 0  # the items carry a registered 'scenario' marker


def test_a_failing_case_prints_the_ranked_advice_and_the_why_not_without_a_traceback(house: pytest.Pytester) -> None:
    scenario_file(
        house,
        """\
cases:
  - name: an ultimatum when stuck with buyers waiting
    state: {phase: bargaining, alternatives: 3, relationship: one_off}
    first: pressure.ultimatum
    not_recommends: [pressure.strong_posture]
""",
    )
    result = house.runpytest("-ra")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ scenario: an ultimatum when stuck with buyers waiting _*",
            "expected 'pressure.ultimatum' to be recommended first, but no rule for it matched",
            "expected 'pressure.strong_posture' not to be recommended, but it is ranked 1 of 2 "
            "(score 0.64, rule 'house.hold_price')",
            "(scenario 'an ultimatum when stuck with buyers waiting', house.scenarios.yaml:2)",
            "",
            'state (fields that differ from the defaults): {"phase": "bargaining", "relationship": "one_off", '
            '"alternatives": 3}',
            "ranked advice (ruleset 'rules'):",
            "  rank   score  tactic                           rule",
            "     1  0.6400  pressure.strong_posture          house.hold_price",
            "     2  0.4400  pressure.conditional_concession  house.trade",
            "",
            "why not 'pressure.ultimatum':",
            "pressure.ultimatum: not matched: rule 'house.final_offer': deadlock = true does not hold (actual: false)",
            "  rule house.final_offer (*rules/house.yaml:20): not matched",
            "    when:",
            "      [ ] deadlock = true   (actual: false)",
            "    unless (Never an ultimatum to a long-term partner.):",
            "      [ ] relationship = long_term   (actual: one_off)",
            "",
            "why 'pressure.strong_posture':",
            "*",
            "      [x] alternatives ≥ 2   (actual: 3)",
            "*short test summary info*",
            "FAILED house.scenarios.yaml::an ultimatum when stuck with buyers waiting - ex*",  # the first expectation
        ]
    )
    assert "Traceback" not in result.stdout.str() and "plugin.py" not in result.stdout.str()


# -- bad scenario files: collection errors with file and line -------------------------------------

BAD_FILES = {
    "yaml syntax": ("cases:\n  - name: a\n    state: {phase: bargaining\n", "bad.scenarios.yaml:4: invalid YAML: *"),
    "unknown file key": (
        "rulesets: rules\ncases: []\n",
        "bad.scenarios.yaml:1: unknown top-level key 'rulesets' (did you mean 'ruleset'?)",
    ),
    "unknown case key": (
        "cases:\n  - name: a\n    state: {}\n    recommend: [pressure.conditional_concession]\n",
        "bad.scenarios.yaml:4: case 'a': unknown key 'recommend' (did you mean 'recommends'?)",
    ),
    "bad state value": (
        "cases:\n  - name: a\n    state:\n      phase: bargainin\n    recommends: [pressure.conditional_concession]\n",
        "bad.scenarios.yaml:4: case 'a': state: phase: 'bargainin' is not one of * (did you mean 'bargaining'?)",
    ),
    "bad nested state field": (
        "cases:\n  - name: a\n    state:\n      counterpart:\n        authorty: full\n"
        "    recommends: [pressure.conditional_concession]\n",
        "bad.scenarios.yaml:5: case 'a': state: counterpart.authorty: unknown field (did you mean 'authority'?)",
    ),
    "unknown tactic": (
        "cases:\n  - name: a\n    state: {}\n    recommends:\n      - pressure.conditional_concession\n"
        "      - pressure.strong_posturee\n",
        "bad.scenarios.yaml:6: case 'a': unknown tactic 'pressure.strong_posturee': not in ruleset 'rules' "
        "(did you mean 'pressure.strong_posture'?)",
    ),
    "rule id for a tactic": (
        "cases:\n  - name: a\n    state: {}\n    first: house.trade\n",
        "bad.scenarios.yaml:4: case 'a': unknown tactic 'house.trade': not in ruleset 'rules' "
        "('house.trade' is a rule id; its tactic is 'pressure.conditional_concession')",
    ),
    "no expectation": (
        "cases:\n  - name: a\n    state: {phase: bargaining}\n",
        "bad.scenarios.yaml:2: case 'a': no expectation: give at least one of *",
    ),
    "a case that can never pass": (
        "cases:\n  - name: a\n    state: {}\n    recommends: [pressure.ultimatum]\n"
        "    set_aside: [pressure.ultimatum]\n",
        "bad.scenarios.yaml:5: case 'a': 'pressure.ultimatum' is expected both recommended (line 4) and not: *",
    ),
    "recommends_top alone": (
        "cases:\n  - name: a\n    state: {}\n    recommends_top: 2\n    not_recommends: [pressure.ultimatum]\n",
        "bad.scenarios.yaml:4: case 'a': 'recommends_top' needs a 'recommends' list",
    ),
    "duplicate name": (
        "cases:\n  - name: a\n    first: pressure.ultimatum\n  - name: a\n    first: pressure.ultimatum\n",
        "bad.scenarios.yaml:4: case 'a': duplicate case name, first used on line 2",
    ),
    "bad set_aside entry": (
        "cases:\n  - name: a\n    set_aside:\n      - {tactic: pressure.ultimatum, reason_contain: long}\n",
        "bad.scenarios.yaml:4: case 'a': unknown key 'reason_contain' (did you mean 'reason_contains'?)",
    ),
    "bad ranks_before pair": (
        "cases:\n  - name: a\n    ranks_before:\n      - [pressure.ultimatum]\n",
        "bad.scenarios.yaml:4: case 'a': each 'ranks_before' entry is a pair [[]first, second[]], got *",
    ),
    "missing ruleset": (
        "ruleset: nowhere/\ncases:\n  - name: a\n    first: pressure.ultimatum\n",
        "bad.scenarios.yaml:1: ruleset: *nowhere: no such file or folder",
    ),
    "description not text": (
        "cases:\n  - name: a\n    description: [x]\n    first: pressure.conditional_concession\n",
        "bad.scenarios.yaml:3: case 'a': 'description' is text",
    ),
    "not a scenario file": ("- name: a\n", "bad.scenarios.yaml:1: a scenario file is a mapping with a 'cases' list"),
}


@pytest.mark.parametrize("text, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_scenario_file_is_a_collection_error_with_file_and_line(
    house: pytest.Pytester, text: str, expected: str
) -> None:
    scenario_file(house, text, name="bad")
    result = house.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting bad.scenarios.yaml*", expected, "*1 error*"])
    assert "Traceback" not in result.stdout.str()


def test_every_problem_of_a_bad_file_is_listed_at_once_in_line_order(house: pytest.Pytester) -> None:
    scenario_file(
        house,
        "cases:\n  - name: a\n    state: {phase: bargainin}\n    recomends: [x.y]\n"
        "  - name: b\n    not_recommends: [pressure.ultimatim]\n",
        name="bad",
    )
    house.runpytest().stdout.fnmatch_lines(
        [
            "bad.scenarios.yaml:2: case 'a': no expectation*",
            "bad.scenarios.yaml:3: case 'a': state: phase: 'bargainin'*",
            "bad.scenarios.yaml:4: case 'a': unknown key 'recomends' (did you mean 'recommends'?)",
            "bad.scenarios.yaml:6: case 'b': unknown tactic 'pressure.ultimatim'*(did you mean 'pressure.ultimatum'?)",
        ]
    )


def test_a_mistake_in_the_rule_file_points_at_the_rule_and_at_the_scenario_that_loads_it(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "rules").mkdir()
    (pytester.path / "rules" / "house.yaml").write_text(RULES.replace("alternatives: {gte", "alternative: {gte"))
    scenario_file(pytester, "ruleset: rules\n" + SCENARIOS)
    pytester.runpytest().stdout.fnmatch_lines(
        [
            "house.scenarios.yaml:1: ruleset: *rules/house.yaml:9: rule 'house.hold_price': unknown path "
            "'alternative' (did you mean 'alternatives'?)"
        ]
    )


# -- rulesets and playbooks of a scenario file ----------------------------------------------------


def test_ruleset_and_playbook_paths_are_relative_to_the_scenario_file_and_a_case_may_override_them(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "rules").mkdir()
    (pytester.path / "rules" / "house.yaml").write_text(RULES, encoding="utf-8")
    (pytester.path / "tests" / "deep").mkdir(parents=True)
    (pytester.path / "acme.yaml").write_text("weights:\n  pressure.conditional_concession: 1.5\n")
    scenario_file(
        pytester,
        """\
ruleset: ../../rules
playbook: ../../acme.yaml
cases:
  - name: the playbook puts trading first
    state: {phase: bargaining, alternatives: 3}
    ranks_before: [pressure.conditional_concession, pressure.strong_posture]
  - name: without the playbook holding the price comes first
    state: {phase: bargaining, alternatives: 3}
    playbook: {}
    ranks_before: [[pressure.strong_posture, pressure.conditional_concession]]
  - name: null is no playbook either
    state: {phase: bargaining, alternatives: 3}
    playbook: null
    first: pressure.strong_posture
  - name: an inline playbook can disable a family
    state: {phase: bargaining, alternatives: 3}
    playbook: {disabled: {pressure: Not this quarter.}}
    set_aside: [{tactic: pressure.strong_posture, reason_contains: not this quarter}]
  - name: a case can use the built-in rules next to ours
    ruleset: [../../rules/house.yaml]
    state: {deadlock: true, relationship: one_off}
    first: pressure.ultimatum
""",
        name="tests/deep/house",
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=5)


def test_without_the_ini_option_scenarios_and_the_advisor_use_the_built_in_rulesets(pytester: pytest.Pytester) -> None:
    scenario_file(
        pytester,
        "cases:\n  - name: opening question\n    state: {phase: opening}\n    first: authority.confirm_at_opening\n",
    )
    pytester.makepyfile(
        test_advisor="""
        def test_builtin(advisor):
            assert advisor.ruleset.name == "builtin"
            assert advisor({"phase": "opening"}, top=1).tactics == ["authority.confirm_at_opening"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_the_ini_option_binds_the_advisor_fixture_to_the_project_rules(house: pytest.Pytester) -> None:
    house.makepyfile(
        test_advisor="""
        def test_bound(advisor):
            assert [r.id for r in advisor.ruleset] == ["house.hold_price", "house.trade", "house.final_offer"]
            advice = advisor({"phase": "bargaining", "alternatives": 3})
            assert advice.tactics == ["pressure.strong_posture", "pressure.conditional_concession"]
            advisor.assert_set_aside({"deadlock": True, "relationship": "long_term"}, "pressure.ultimatum", "long-term")
        """
    )
    house.runpytest().assert_outcomes(passed=1)


def test_scenario_files_may_live_in_the_rule_folder_itself(house: pytest.Pytester) -> None:
    import _negotiation_rules_pytestplugin as plugin
    from negotiation_rules._loader import SCENARIO_SUFFIX

    assert plugin.SCENARIO_SUFFIX == SCENARIO_SUFFIX  # the files the plugin collects, load_ruleset() skips
    (house.path / "rules" / "house.scenarios.yaml").write_text(SCENARIOS, encoding="utf-8")
    house.runpytest("rules").assert_outcomes(passed=2)


def test_an_ini_option_naming_a_missing_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[tool.pytest.ini_options]\nnegotiation_rules_rulesets = "rulez"\n')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*negotiation_rules_rulesets = 'rulez': no such file or folder*"])


# -- rule coverage ------------------------------------------------------------------------------


def test_rules_coverage_counts_every_evaluation_of_the_session_not_only_the_helpers(house: pytest.Pytester) -> None:
    house.makepyfile(
        test_plain="""
        from negotiation_rules import advise
        from negotiation_rules._explain import explain

        def test_plain_advise_counts():
            for _ in range(4):
                advise({"phase": "bargaining", "alternatives": 3}, ruleset="rules")
            explain({"deadlock": True, "relationship": "long_term"}, "pressure.ultimatum", ruleset="rules")
        """
    )
    result = house.runpytest("--rules-coverage")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= rule coverage =*",
            "3 rules in scope (rules); 5 evaluations of 1 ruleset",
            "evaluated   fired  set aside  rule               where",
            "        5       4          0  house.hold_price   rules/house.yaml:3",
            "        5       4          0  house.trade        rules/house.yaml:12",
            "        5       0          1  house.final_offer  rules/house.yaml:20  only set aside",
            "never fired: house.final_offer",
            "unless never blocked: none",
            "rules fired: 2 of 3 (66.7%)",
        ]
    )
    assert result.ret == 0  # a report, not a gate


def test_fail_under_fails_a_green_run_below_the_share_and_says_why(house: pytest.Pytester) -> None:
    house.makepyfile(
        test_one="""
        def test_one(advisor):
            advisor({"phase": "bargaining"})
        """
    )
    result = house.runpytest("--rules-coverage-fail-under=50")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "never fired: house.hold_price, house.final_offer",
            "rules fired: 1 of 3 (33.3%)",
            "FAIL rule coverage: 33.3% of the rules fired, under --rules-coverage-fail-under=50 *",
        ]
    )
    assert house.runpytest("--rules-coverage-fail-under=33").ret == pytest.ExitCode.OK
    assert house.runpytest("--rules-coverage-fail-under=50", "--no-rules-coverage").ret == pytest.ExitCode.OK


def test_rules_coverage_unless_also_requires_every_unless_to_set_its_tactic_aside(house: pytest.Pytester) -> None:
    scenario_file(
        house,
        "cases:\n  - name: all fire\n    state: {phase: bargaining, alternatives: 3, deadlock: true, "
        "relationship: one_off}\n    recommends: [pressure.ultimatum, pressure.strong_posture, "
        "pressure.conditional_concession]\n",
    )
    fired = house.runpytest("--rules-coverage-fail-under=100")
    assert fired.ret == pytest.ExitCode.OK
    strict = house.runpytest("--rules-coverage-unless", "--rules-coverage-fail-under=100")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(
        [
            "unless never blocked: house.final_offer",
            "rules fired: 3 of 3, unless blocked: 0 of 1 (75.0%)",
            "FAIL rule coverage: 75.0% covered (rules fired, unless blocked), under *",
        ]
    )


def test_the_coverage_scope_can_name_rule_files_no_test_evaluated(house: pytest.Pytester) -> None:
    (house.path / "more").mkdir()
    (house.path / "more" / "extra.yaml").write_text(
        RULES.replace("ruleset: house", "ruleset: extra").replace("house.", "extra.")
    )
    scenario_file(house, SCENARIOS)
    result = house.runpytest("--rules-coverage-of=rules", "--rules-coverage-of=more")
    result.stdout.fnmatch_lines(
        [
            "6 rules in scope (rules, more); 2 evaluations of 1 ruleset",
            "evaluated   fired  set aside  rule               where",
            "        0       0          0  extra.hold_price   more/extra.yaml:3    never evaluated",
            "        0       0          0  extra.trade        more/extra.yaml:12   never evaluated",
            "        0       0          0  extra.final_offer  more/extra.yaml:20   never evaluated",
            "        2       1          0  house.hold_price   rules/house.yaml:3",
            "rules fired: 2 of 6 (33.3%)",
        ]
    )
    result = house.runpytest("--rules-coverage-of=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rules-coverage-of: *nowhere: no such file or folder"])


def test_rules_layered_on_the_built_in_ones_are_the_scope_only_when_named(house: pytest.Pytester) -> None:
    """docs/testing.md: ``builtin rules`` puts every built-in rule in scope; the coverage ini or option narrows it."""
    from negotiation_rules import builtin_ruleset_dir, load_ruleset

    builtin = len(load_ruleset(builtin_ruleset_dir()).rules)
    assert f"all {builtin} built-in rules" in DOCS.read_text(encoding="utf-8")
    house.makefile(".toml", pyproject='[tool.pytest.ini_options]\nnegotiation_rules_rulesets = "builtin rules"\n')
    house.makepyfile(
        test_one="""
        def test_one(advisor):
            advisor({"phase": "bargaining", "alternatives": 3, "deadlock": True, "relationship": "one_off"})
        """
    )
    both = house.runpytest("--rules-coverage-fail-under=100")
    assert both.ret == pytest.ExitCode.TESTS_FAILED
    both.stdout.fnmatch_lines([f"{builtin + 3} rules in scope (*rulesets, rules); 1 evaluation of 1 ruleset"])
    ours = house.runpytest("--rules-coverage-fail-under=100", "--rules-coverage-of=rules")
    assert ours.ret == pytest.ExitCode.OK
    ours.stdout.fnmatch_lines(["3 rules in scope (rules); 1 evaluation of 1 ruleset", "rules fired: 3 of 3 (100.0%)"])
    house.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\nnegotiation_rules_rulesets = "builtin rules"\n'
        'negotiation_rules_coverage = "rules"\n',
    )
    ini = house.runpytest("--rules-coverage-fail-under=100")
    assert ini.ret == pytest.ExitCode.OK
    ini.stdout.fnmatch_lines(["3 rules in scope (rules); 1 evaluation of 1 ruleset", "rules fired: 3 of 3 (100.0%)"])


def test_without_a_scope_every_rule_evaluated_counts(pytester: pytest.Pytester) -> None:
    scenario_file(pytester, "cases:\n  - name: prep\n    state: {}\n    first: prep.research_counterpart\n")
    result = pytester.runpytest("--rules-coverage")
    result.stdout.fnmatch_lines(
        ["* rules in scope; 1 evaluation of 1 ruleset", "*prep.research_counterpart.preparation*"]
    )


def test_a_fail_under_outside_0_to_100_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--rules-coverage-fail-under=120")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rules-coverage-fail-under takes a percentage from 0 to 100, got 120*"])


# -- dogfooding: this project's own configuration -----------------------------------------------


def test_this_project_gates_ci_on_full_coverage_of_the_built_in_rules() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["entry-points"]["pytest11"] == {"negotiation_rules": "_negotiation_rules_pytestplugin"}
    ini = config["tool"]["pytest"]["ini_options"]
    assert ini["addopts"].split() == ["-ra", "--rules-coverage"]  # a report always; the gate in the test command
    assert ini["negotiation_rules_coverage"] == ["rulesets"]
    gate = "pytest --rules-coverage-unless --rules-coverage-fail-under=100"
    assert gate in (ROOT / "README.md").read_text(encoding="utf-8")
    assert gate in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    families = {path.stem for path in (ROOT / "rulesets").glob("*.yaml")} - {"situations"}
    assert families <= {path.name.removesuffix(".scenarios.yaml") for path in (ROOT / "tests" / "scenarios").iterdir()}


# -- the docs page's worked example, run exactly as written -----------------------------------------


def doc_blocks(kind: str) -> dict[str, str]:
    """The fenced blocks of docs/testing.md marked ``<!-- kind: name -->``, by name."""
    pattern = rf"<!-- {kind}: ([\w./-]+) -->\n```\w*\n(.*?)```"
    return dict(re.findall(pattern, DOCS.read_text(encoding="utf-8"), flags=re.S))


def without_counts(text: str) -> str:
    """Coverage output with the counts masked: they depend on how many examples hypothesis drew."""
    text = re.sub(r"; \d+ evaluations?", "; N evaluations", text)
    return re.sub(r"(?m)^ *\d+ +\d+ +\d+  ", "N N N  ", text)


def section(output: str, first: str, last: str) -> str:
    """The lines of ``output`` from the one starting with ``first`` to the one starting with ``last``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next(i for i, line in enumerate(lines) if i >= start and line.startswith(last))
    return "\n".join(lines[start : end + 1]) + "\n"


def test_every_file_of_the_docs_example_is_shown_on_the_page_exactly() -> None:
    shown = doc_blocks("file")
    files = {p.relative_to(EXAMPLE).as_posix(): p for p in EXAMPLE.rglob("*") if p.is_file()}
    files = {name: p for name, p in files.items() if "__pycache__" not in name and ".pytest_cache" not in name}
    assert sorted(shown) == sorted(files)
    for name, path in files.items():
        assert shown[name] == path.read_text(encoding="utf-8"), f"docs/testing.md shows another {name}"


def test_the_docs_example_passes_with_full_rule_coverage_and_prints_the_report_shown(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("--rules-coverage", "--rules-coverage-fail-under=100")
    result.assert_outcomes(passed=6)
    assert result.ret == 0
    head, shown = doc_blocks("output")["coverage"].split("\n", 1)
    assert head.startswith("=") and " rule coverage " in head
    after_head = result.stdout.str().split(" rule coverage ", 1)[1].split("\n", 1)[1]
    printed = section(after_head, shown[:10], "rules fired:")
    assert without_counts(printed) == without_counts(shown)


def test_the_docs_scenario_file_collects_the_items_the_page_shows(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    command, shown = doc_blocks("output")["collect"].split("\n", 1)
    assert command.startswith("$ pytest ")
    result = pytester.runpytest(*command.split()[2:])
    assert shown in result.stdout.str()


def test_the_docs_failing_case_prints_what_the_page_shows(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    scenarios = pytester.path / "tests" / "house.scenarios.yaml"
    case = doc_blocks("snippet")["failing-case"]
    scenarios.write_text(scenarios.read_text() + "\n" + case, encoding="utf-8")  # after a blank line, as the others
    result = pytester.runpytest("tests/house.scenarios.yaml")
    result.assert_outcomes(passed=4, failed=1)
    printed = result.stdout.str().replace(str(pytester.path), "...")
    shown = doc_blocks("output")["failing-case"]
    lines = shown.splitlines()
    assert section(printed, lines[0], lines[-1]) == shown


def test_the_docs_bad_scenario_file_gives_the_errors_the_page_shows(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    (pytester.path / "tests" / "typos.scenarios.yaml").write_text(doc_blocks("snippet")["typos"], encoding="utf-8")
    result = pytester.runpytest("tests/typos.scenarios.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    shown = doc_blocks("output")["typos"]
    assert shown in result.stdout.str() + "\n"


def test_pytest_loads_the_plugin_without_importing_the_library() -> None:
    code = (
        "import sys, _negotiation_rules_pytestplugin; "
        "print(sorted(m for m in sys.modules if 'negotiation_rules' in m or 'durable' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['_negotiation_rules_pytestplugin']"


def test_a_broken_durable_rules_install_does_not_break_an_unrelated_test_suite(tmp_path: Path) -> None:
    """The plugin is installed with the package, so it runs in every pytest: it must not need the C engine."""
    broken = tmp_path / "broken"
    broken.mkdir()
    engine = broken / "durable_rules_engine.py"
    engine.write_text("raise ImportError('the C engine is broken here')\n", encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_other.py").write_text("def test_unrelated():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run([sys.executable, "-c", "import negotiation_rules"], capture_output=True, text=True, env=env)
    assert "the C engine is broken here" in probe.stderr  # the library itself really cannot load here
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
