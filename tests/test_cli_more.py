"""Every command of the command line, in-process through ``main`` (see tests/test_cli.py), good input and bad.

Conventions checked for every command: ``--json`` gives JSON on stdout, ``--help`` shows an
example, a state comes from a file or ``-`` (stdin), and a user error prints one line on stderr,
no traceback, with exit status 2. ``lint`` exits 1 on errors or warnings.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from negotiation_rules._examples import EXAMPLES
from tests.conftest import rule_yaml
from tests.test_cli import Ran, _no_columns, run  # noqa: F401  (_no_columns: autouse, the piped width)

COMMANDS = ["demo", "advise", "explain", "what-if", "lint", "tactics", "schema"]
FIXTURE = Path(__file__).parent / "fixtures" / "lint"
AUTHORITY = '{"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}'


def assert_user_error(out: Ran, message: str) -> None:
    """Exit 2 and one line on stderr that contains ``message``, never a traceback."""
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    path.write_text(EXAMPLES["imaginary_authority"][1].model_dump_json(), encoding="utf-8")
    return path


@pytest.fixture
def house_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "house.yaml").write_text(
        rule_yaml(id="house.hold_price", tactic="house.hold_price", when="phase: bargaining"), encoding="utf-8"
    )
    return folder


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "playbook.yaml"
    path.write_text("disabled:\n  authority.tit_for_tat: We never bluff about our own superiors.\n", encoding="utf-8")
    return path


# -- conventions for every command ---------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example_of_itself(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0
    assert "example:" in out.stdout and f"negotiation-rules {command}" in out.stdout
    assert "--json" in out.stdout


def test_the_top_level_help_lists_every_command_and_the_exit_codes() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout
    assert "exit codes" in out.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["no-such-command"],
        ["advise"],
        ["advise", "-", "--top", "-1"],
        ["advise", "-", "--top", "many"],
        ["what-if", "-", "authority.provoke", "--max-changes", "9"],
        ["what-if", "-", "authority.provoke", "--goal", "best"],
        ["schema", "nothing"],
        ["tactics", "--family", "magic"],
    ],
)
def test_usage_mistakes_exit_2_without_a_traceback(args: list[str]) -> None:
    out = run(*args, stdin="{}")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "usage:" in out.stderr


# -- advise and demo ----------------------------------------------------------------------------


def test_advise_with_a_custom_ruleset(state_file: Path, house_rules: Path) -> None:
    out = run("advise", str(state_file), "--ruleset", str(house_rules), "--json")
    assert out.returncode == 0, out.stderr
    assert [r["tactic"] for r in json.loads(out.stdout)["recommendations"]] == ["house.hold_price"]


def test_advise_with_a_playbook_sets_the_disabled_tactic_aside(state_file: Path, playbook: Path) -> None:
    out = run("advise", str(state_file), "--playbook", str(playbook))
    assert out.returncode == 0, out.stderr
    assert "set aside: authority.tit_for_tat (playbook" in out.stdout
    assert "We never bluff about our own superiors." in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["advise", "-", "--playbook", "/no/such/playbook.yaml"], "cannot read playbook"),
        (["advise", "-", "--ruleset", "{bad}"], "no such file or folder"),
        (["advise", "-"], "history[0].by"),
    ],
)
def test_advise_input_errors(args: list[str], message: str) -> None:
    stdin = '{"history": [{"kind": "offer", "by": "someone"}]}' if args == ["advise", "-"] else "{}"
    assert_user_error(run(*args, stdin=stdin), message)


def test_a_state_file_that_is_not_text_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"\xff\xfe{}")
    assert_user_error(run("advise", str(path)), "cannot read state file")


def test_a_broken_rule_file_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(rule_yaml(when="phase: bargainig"), encoding="utf-8")
    out = run("advise", "-", "--ruleset", str(tmp_path), stdin="{}")
    assert_user_error(out, "bad.yaml:9: rule 'custom.rule': 'bargainig' is not a value of 'phase'")
    assert len(out.stderr.strip().splitlines()) == 1


def test_demo_with_a_playbook_and_json(playbook: Path) -> None:
    out = run("demo", "imaginary_authority", "--playbook", str(playbook), "--json")
    assert out.returncode == 0, out.stderr
    advice = json.loads(out.stdout)["imaginary_authority"]
    assert "authority.tit_for_tat" not in [r["tactic"] for r in advice["recommendations"]]
    assert {"tactic": "authority.tit_for_tat", "by": "playbook"}.items() <= advice["set_aside"][0].items()


# -- explain ------------------------------------------------------------------------------------


def test_explain_a_set_aside_tactic_names_the_unless_and_its_values() -> None:
    state = '{"phase": "bargaining", "alternatives": 0}'
    out = run("explain", "-", "pressure.strong_posture", stdin=state)
    assert out.returncode == 0, out.stderr
    assert "set aside by rule 'pressure.strong_posture.bargaining'" in out.stdout
    assert "because alternatives = 0 holds (actual: 0)" in out.stdout


def test_explain_json_has_the_verdict_and_the_failing_condition_with_its_value() -> None:
    out = run("explain", "-", "authority.provoke", "--json", stdin=AUTHORITY)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdict"] == "not_matched"
    reasons = data["rules"][0]["because"]
    assert {"path": "counterpart.experience", "actual": None, "held": False}.items() <= reasons[0].items()


def test_explain_a_recommended_tactic_shows_rank_and_score_composition(state_file: Path) -> None:
    out = run("explain", str(state_file), "authority.tit_for_tat")
    assert out.returncode == 0, out.stderr
    assert "recommended at rank 1" in out.stdout
    assert "(weight) x 1 (playbook) x (0.6 + 0.4 x" in out.stdout


def test_explain_with_a_custom_ruleset_and_a_playbook(house_rules: Path, tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("weights:\n  house: 0.5\n", encoding="utf-8")
    out = run(
        "explain", "-", "house.hold_price", "--ruleset", str(house_rules), "--playbook", str(book), "--json",
        stdin='{"phase": "bargaining"}',
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdict"] == "recommended" and "x 0.5 (playbook)" in data["score_formula"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["explain", "-", "authority.provok"], "{}", "did you mean 'authority.provoke'"),
        (["explain", "/no/state.json", "authority.provoke"], None, "cannot read state file"),
        (["explain", "-", "authority.provoke"], '{"phase": "bargainin"}', "did you mean 'bargaining'"),
    ],
)
def test_explain_input_errors(args: list[str], stdin: str | None, message: str) -> None:
    assert_user_error(run(*args, stdin=stdin), message)


# -- what-if ------------------------------------------------------------------------------------


def test_what_if_prints_the_minimal_change_and_its_effect_on_the_ranking() -> None:
    out = run("what-if", "-", "authority.provoke", stdin=AUTHORITY)
    assert out.returncode == 0, out.stderr
    assert "1 change gets authority.provoke recommended" in out.stdout
    assert "counterpart.experience: unknown -> experienced" in out.stdout
    assert "- -> 2" in out.stdout  # rank: not recommended -> 2


def test_what_if_json_is_verified_and_reads_the_state_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(AUTHORITY, encoding="utf-8")
    out = run("what-if", str(path), "authority.provoke", "--goal", "first", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["goal"] == "first" and data["status"] == "found"
    for sol in data["solutions"]:
        assert sol["verified"] and sol["after"]["rank"] == 1
        assert all({"path", "from", "to"} <= set(change) for change in sol["changes"])


def test_what_if_says_honestly_when_there_is_no_change_within_the_limit() -> None:
    out = run("what-if", "-", "authority.provoke", "--max-changes", "2", stdin="{}")
    assert out.returncode == 0, out.stderr
    assert "no change within 2 steps gets authority.provoke recommended" in out.stdout


def test_what_if_with_a_custom_ruleset(house_rules: Path) -> None:
    out = run("what-if", "-", "house.hold_price", "--ruleset", str(house_rules), "--json", stdin="{}")
    assert out.returncode == 0, out.stderr
    (sol,) = json.loads(out.stdout)["solutions"]
    assert sol["changes"] == [{"path": "phase", "from": "preparation", "to": "bargaining", "same_effect": []}]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["what-if", "-", "authority.provok"], "{}", "did you mean 'authority.provoke'"),
        (["what-if", "-", "authority.provoke"], "[1, 2]", "expected an object"),
        (["what-if", "/no/state.json", "authority.provoke"], None, "cannot read state file"),
    ],
)
def test_what_if_input_errors(args: list[str], stdin: str | None, message: str) -> None:
    assert_user_error(run(*args, stdin=stdin), message)


# -- lint ---------------------------------------------------------------------------------------


def test_lint_of_the_built_in_rulesets_is_clean_and_exits_0() -> None:
    out = run("lint")
    assert out.returncode == 0, out.stdout
    assert "built-in rulesets: no findings" in out.stdout


def test_lint_of_the_fixture_lists_the_findings_and_exits_1() -> None:
    out = run("lint", str(FIXTURE))
    assert out.returncode == 1
    for code in ("duplicate-id", "never-holds", "unless-always-blocks", "unknown-placeholder", "no-source"):
        assert code in out.stdout
    assert "9 errors, 4 warnings" in out.stdout


def test_lint_json_has_counts_and_locations() -> None:
    out = run("lint", str(FIXTURE / "b_rules.yaml"), str(FIXTURE / "c_more_rules.yaml"), "--json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["ok"] is False and data["counts"]["error"] >= 1
    dup = next(f for f in data["findings"] if f["code"] == "duplicate-id")
    assert dup["line"] == 4 and dup["rule_id"] == "fixture.duplicate" and dup["file"].endswith("c_more_rules.yaml")


def test_lint_warnings_alone_fail_but_a_clean_file_passes(tmp_path: Path) -> None:
    (tmp_path / "own.yaml").write_text(rule_yaml(id="house.x", tactic="house.own"), encoding="utf-8")
    out = run("lint", str(tmp_path / "own.yaml"), "--json")
    assert out.returncode == 1 and json.loads(out.stdout)["counts"] == {"error": 0, "warning": 1, "info": 0}
    (tmp_path / "own.yaml").write_text(rule_yaml(id="house.x", tactic="prep.plan_opening"), encoding="utf-8")
    assert run("lint", str(tmp_path / "own.yaml")).returncode == 0


def test_lint_a_file_that_is_not_yaml_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("rules: [\n", encoding="utf-8")
    out = run("lint", str(tmp_path), "--json")
    assert out.returncode == 1
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["code"] == "invalid-yaml" and "invalid YAML" in finding["message"]


def test_lint_a_missing_path_is_a_usage_error() -> None:
    assert_user_error(run("lint", "/no/such/rules"), "no such file or folder: /no/such/rules")


def test_lint_codes_lists_every_code() -> None:
    data = json.loads(run("lint", "--codes", "--json").stdout)
    assert {"duplicate-id", "never-holds", "unless-always-blocks", "tactic-without-rule"} <= set(data)


# -- tactics and schema -------------------------------------------------------------------------


def test_tactics_of_one_family_as_a_table() -> None:
    out = run("tactics", "--family", "trust")
    assert out.returncode == 0
    assert "trust.verify_authority" in out.stdout and "pressure.ultimatum" not in out.stdout


@pytest.mark.parametrize("which", ["state", "advice", "explanation", "what-if", "finding"])
def test_schema_of_each_output(which: str) -> None:
    out = run("schema", which, "--json")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["type"] == "object" and schema["properties"]


def test_the_what_if_schema_uses_the_json_names() -> None:
    schema = json.loads(run("schema", "what-if").stdout)
    assert "from" in schema["$defs"]["Change"]["properties"]


# -- the documentation shows real output ----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
DOC_OUTPUTS = [
    ("explain.md", ["explain", "STATE", "authority.provoke"]),
    ("explain.md", ["explain", "STATE", "authority.tit_for_tat"]),
    ("what-if.md", ["what-if", "STATE", "authority.provoke"]),
    ("what-if.md", ["what-if", "STATE", "authority.provoke", "--goal", "first"]),
    ("cli.md", ["explain", "STATE", "authority.provoke"]),
    ("cli.md", ["what-if", "STATE", "authority.provoke"]),
    ("cli.md", ["demo", "imaginary_authority", "--top", "2"]),
    ("lint.md", ["lint", "tests/fixtures/lint"]),
    ("cli.md", ["COLUMNS=80", "tactics", "authority.provoke"]),
]


@pytest.mark.parametrize(("page", "args"), DOC_OUTPUTS)
def test_the_docs_show_what_the_command_prints(
    page: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = ROOT / "docs" / page
    if not doc.exists():
        pytest.skip("needs the source tree")
    state = tmp_path / "state.json"
    state.write_text(AUTHORITY, encoding="utf-8")
    for setting in (a for a in args if a.startswith("COLUMNS=")):  # the environment the docs show
        monkeypatch.setenv("COLUMNS", setting.split("=", 1)[1])
    argv = [str(state) if a == "STATE" else a for a in args if not a.startswith("COLUMNS=")]
    monkeypatch.chdir(ROOT)
    out = run(*argv)
    printed = "\n".join(line.rstrip() for line in out.stdout.strip().splitlines())
    assert printed in doc.read_text(encoding="utf-8"), f"docs/{page} is out of date; paste the output of: {argv}"


#: ``echo 'STATE' | negotiation-rules ARGS`` followed by the output it shows (text, or JSON compared as data).
PIPED = re.compile(r"```bash\necho '([^'\n]*)' \| negotiation-rules ([^\n|<>]*)\n```\n\n```(text|json)\n(.*?)```", re.S)


def piped_examples() -> list[tuple[str, str, list[str], str, str]]:
    """Every piped example of the docs: (page, stdin, argv, kind, shown output)."""
    docs = ROOT / "docs"
    pages = sorted(docs.glob("*.md")) if docs.exists() else []
    return [
        (page.name, m.group(1), m.group(2).split(), m.group(3), m.group(4))
        for page in pages
        for m in PIPED.finditer(page.read_text(encoding="utf-8"))
    ]


def test_the_docs_have_piped_examples_to_check() -> None:
    if not (ROOT / "docs").exists():
        pytest.skip("needs the source tree")
    pages = {page for page, *_ in piped_examples()}
    assert {"cli.md", "explain.md", "what-if.md"} <= pages  # the pattern still finds them


@pytest.mark.parametrize(("page", "stdin", "argv", "kind", "shown"), piped_examples())
def test_the_docs_piped_examples_show_what_the_command_prints(
    page: str, stdin: str, argv: list[str], kind: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # rule files are named relative to the checkout, as the docs show them
    out = run(*argv, stdin=stdin)
    hint = f"docs/{page} is out of date; paste the output of: echo '{stdin}' | negotiation-rules {' '.join(argv)}"
    if kind == "json":
        assert json.loads(out.stdout) == json.loads(shown), hint
    else:
        printed = "\n".join(line.rstrip() for line in (out.stdout + out.stderr).strip().splitlines())
        assert printed == shown.strip(), hint


@pytest.mark.parametrize("page", ["explain.md", "what-if.md"])
def test_the_first_python_example_of_a_page_prints_what_it_shows(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = ROOT / "docs" / page
    if not doc.exists():
        pytest.skip("needs the source tree")
    found = re.search(r"```python\n(.*?)```\n\n```text\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert found is not None
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(found.group(1), f"docs/{page}", "exec"), {})
    assert out.getvalue() == found.group(2), f"docs/{page} shows another output of its Python example"


def test_the_playbook_example_shows_what_each_expression_gives() -> None:
    """Each expression of the example in docs/playbooks.md equals the comment under it."""
    doc = ROOT / "docs" / "playbooks.md"
    if not doc.exists():
        pytest.skip("needs the source tree")
    code = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)[-1]
    lines = code.splitlines()
    namespace: dict[str, object] = {}
    checked = 0
    for node in ast.parse(code).body:
        source = ast.get_source_segment(code, node)
        assert source is not None and node.end_lineno is not None
        if isinstance(node, ast.Expr):
            shown = lines[node.end_lineno]  # the line after the expression
            assert shown.startswith("# "), f"no output shown under {source!r}"
            assert repr(eval(source, namespace)) == shown[2:], f"docs/playbooks.md shows another value of {source!r}"
            checked += 1
        else:
            exec(source, namespace)
    assert checked >= 3


def test_the_docs_list_every_command_and_each_synopsis_has_the_commands_options() -> None:
    from negotiation_rules._cli import COMMANDS as ALL

    cli, index = (ROOT / "docs" / "cli.md", ROOT / "docs" / "index.md")
    if not cli.exists():
        pytest.skip("needs the source tree")
    page = cli.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| \[`([a-z-]+)`\]", page, flags=re.M))
    assert listed == set(ALL), "the command table of docs/cli.md"
    assert f"`negotiation-rules {' | '.join(ALL)}`" in index.read_text(encoding="utf-8"), "docs/index.md"
    for command in COMMANDS:
        synopsis = re.search(rf"```text\n(negotiation-rules {re.escape(command)} .*?)```", page, re.S)
        assert synopsis is not None, f"docs/cli.md has no synopsis of {command}"
        usage = run(command, "--help").stdout.split("\n\n", 1)[0]
        options = set(re.findall(r"--[a-z-]+", usage)) - {"--help"}
        assert set(re.findall(r"--[a-z-]+", synopsis.group(1))) == options, f"the synopsis of {command} in docs/cli.md"


# -- the gaps a newcomer hit ----------------------------------------------------------------------


def test_version_prints_the_package_version_and_exits_0() -> None:
    import negotiation_rules

    out = run("--version")
    assert out.returncode == 0 and out.stdout == f"negotiation-rules {negotiation_rules.__version__}\n"


def test_lint_dash_reads_rule_text_from_stdin_and_names_it_stdin() -> None:
    text = (FIXTURE / "b_rules.yaml").read_text(encoding="utf-8")
    out = run("lint", "-", "--json", stdin=text)
    assert out.returncode == 1, out.stderr
    findings = json.loads(out.stdout)["findings"]
    assert findings and {f["file"] for f in findings} == {"<stdin>"}
    assert all("negotiation-rules-lint-" not in f["message"] for f in findings)  # no temporary path leaks
    table = run("lint", "-", stdin=text)
    assert "<stdin>" in table.stdout and "negotiation-rules-lint-" not in table.stdout


def test_lint_dash_of_a_clean_rule_is_clean() -> None:
    out = run("lint", "-", stdin=rule_yaml(id="house.x", tactic="prep.plan_opening"))
    assert out.returncode == 0, out.stdout
    assert "<stdin>: no findings" in out.stdout


def test_advise_top_0_says_how_many_fit_instead_of_nothing_fits(state_file: Path, house_rules: Path) -> None:
    fitting = len(json.loads(run("advise", str(state_file), "--json").stdout)["recommendations"])
    out = run("advise", str(state_file), "--top", "0")
    assert out.returncode == 0
    assert f"{fitting} recommendations fit this state; --top 0 hides them" in out.stdout
    assert "no recommendation fits" not in out.stdout
    nothing = run("advise", "-", "--ruleset", str(house_rules), "--top", "0", stdin="{}")  # not bargaining
    assert "(no recommendation fits this state)" in nothing.stdout


def test_tactics_with_a_family_as_argument_lists_that_family_only() -> None:
    out = run("tactics", "authority", "--json")
    assert out.returncode == 0, out.stderr
    ids = [t["id"] for t in json.loads(out.stdout)]
    assert ids and all(i.startswith("authority.") for i in ids)
    assert ids == [t["id"] for t in json.loads(run("tactics", "--family", "authority", "--json").stdout)]


def test_tactics_with_an_id_prefix_lists_the_matching_tactics() -> None:
    ids = [t["id"] for t in json.loads(run("tactics", "pressure.u", "--json").stdout)]
    assert ids and all(i.startswith("pressure.u") for i in ids)
    assert "pressure.ultimatum" in ids


def test_tactics_with_a_misspelt_family_is_a_usage_error_with_a_suggestion() -> None:
    assert_user_error(run("tactics", "authoritty"), "(did you mean 'authority'?)")


@pytest.mark.parametrize("width", [80, 120])
def test_the_tactic_catalog_fits_the_width_and_keeps_every_text_whole(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 and 120 columns no line is wider than the screen and each move, fit and source reads in full."""
    from negotiation_rules._catalog import CATALOG

    monkeypatch.setenv("COLUMNS", str(width))
    out = run("tactics", "trust")
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= width
    flat = " ".join(out.stdout.replace("│", " ").split())
    for tactic in (t for t in CATALOG.values() if t.family == "trust"):
        for text in (tactic.id, tactic.move, tactic.fits, *tactic.documents):
            assert " ".join(text.split()) in flat, (width, text)


def test_tables_take_the_width_columns_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are drawn to ``COLUMNS``; running text (set aside, questions) stays one greppable line."""
    monkeypatch.setenv("COLUMNS", "90")
    lines = run("demo", "imaginary_authority").stdout.splitlines()
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│├└") == 90


def test_output_goes_only_to_the_streams_given_to_main(capsys: pytest.CaptureFixture[str]) -> None:
    """In-process use: nothing reaches the process's own stdout or stderr, help and usage errors included."""
    assert run("demo", "imaginary_authority", "--top", "1").stdout
    assert run("--help").stdout.startswith("usage: negotiation-rules")
    assert "usage:" in run("advise", "-", "--top", "many").stderr
    assert capsys.readouterr() == ("", "")


def test_main_called_with_arguments_leaves_the_garbage_collector_as_it_was() -> None:
    """Only the command run as the whole process freezes its heap (a faster exit); a caller's main(argv) does not."""
    import gc
    import io

    from negotiation_rules._cli import main

    before = gc.get_freeze_count()
    assert main(["demo", "--top", "1", "--questions", "0"], stdout=io.StringIO()) == 0
    assert gc.get_freeze_count() == before
