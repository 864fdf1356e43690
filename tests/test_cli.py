"""The command line: every command run in-process through ``main`` with its own streams, and once for real.

``run(*args, stdin=...)`` calls ``main(args, stdout=, stderr=, stdin=)`` with ``StringIO`` streams and
returns what a subprocess would (return code, stdout, stderr); one smoke test runs the installed
``negotiation-rules`` script as a process.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from negotiation_rules._catalog import CATALOG
from negotiation_rules._cli import main
from negotiation_rules._examples import EXAMPLES


@dataclass(frozen=True)
class Ran:
    """What one command did: its exit status and everything it wrote."""

    returncode: int
    stdout: str
    stderr: str


def run(*args: str, stdin: str | None = None) -> Ran:
    """Run the command line in-process on StringIO streams (stdin empty unless given)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err, stdin=io.StringIO(stdin or ""))
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The output width is the piped default (120) unless a test sets ``COLUMNS``."""
    monkeypatch.delenv("COLUMNS", raising=False)


def _entry() -> list[str]:
    """The installed ``negotiation-rules`` script (``python -m negotiation_rules`` when it is not installed)."""
    script = Path(sys.executable).parent / "negotiation-rules"
    found = script if script.exists() else shutil.which("negotiation-rules")
    return [str(found)] if found else [sys.executable, "-m", "negotiation_rules"]


def test_the_installed_script_runs_a_command_and_reports_errors_on_stderr() -> None:
    """The one real process: the entry point is installed, prints advice, and a bad input is one line and exit 2."""
    out = subprocess.run([*_entry(), "demo", "imaginary_authority", "--top", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "authority.tit_for_tat" in out.stdout
    bad = subprocess.run([*_entry(), "advise", "-"], input="not json", capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("negotiation-rules: error: ") and bad.stdout == ""


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """A state file holding the ``imaginary_authority`` example."""
    path = tmp_path / "state.json"
    path.write_text(EXAMPLES["imaginary_authority"][1].model_dump_json(), encoding="utf-8")
    return path


def test_demo_prints_advice_for_every_example() -> None:
    out = run("demo", "--top", "2")
    assert out.returncode == 0, out.stderr
    for name in EXAMPLES:
        assert name in out.stdout
    assert "authority.tit_for_tat" in out.stdout


def test_demo_json_is_the_advice_wire_format() -> None:
    out = run("demo", "untrusted_partner", "--json")
    data = json.loads(out.stdout)
    assert data["untrusted_partner"]["recommendations"][0]["tactic"].startswith("trust.")


def test_advise_reads_a_file_and_prints_a_ranked_table(state_file: Path) -> None:
    out = run("advise", str(state_file), "--top", "3")
    assert out.returncode == 0, out.stderr
    assert "authority.tit_for_tat" in out.stdout and "source:" in out.stdout


def test_advise_reads_stdin_and_writes_json(state_file: Path) -> None:
    out = run("advise", "-", "--json", stdin=state_file.read_text())
    data = json.loads(out.stdout)
    assert data["recommendations"][0]["tactic"] == "authority.tit_for_tat"
    assert all(r["sources"] for r in data["recommendations"])


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["advise", "-"], '{"phase": "bargainin"}', "did you mean 'bargaining'"),
        (["advise", "-"], "not json", "not valid JSON"),
        (["advise", "/no/such/file.json"], None, "cannot read state file"),
        (["advise", "-", "--ruleset", "/no/such/rules"], "{}", "no such file or folder"),
        (["explain", "-", "authority.provok"], "{}", "did you mean 'authority.provoke'"),
        (["demo", "no_such_example"], None, "no example"),
    ],
)
def test_input_errors_print_one_line_and_exit_2(args: list[str], stdin: str | None, message: str) -> None:
    out = run(*args, stdin=stdin)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_explain_names_the_failing_condition_and_its_value() -> None:
    out = run(
        "explain",
        "-",
        "authority.provoke",
        stdin='{"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}',
    )
    assert out.returncode == 0, out.stderr
    assert "not matched" in out.stdout
    assert "counterpart.experience = experienced" in out.stdout and "(actual: unknown)" in out.stdout


def test_tactics_lists_the_catalog() -> None:
    data = json.loads(run("tactics", "--json").stdout)
    assert [t["id"] for t in data] == list(CATALOG)


def test_schema_describes_state_and_advice() -> None:
    data = json.loads(run("schema").stdout)
    assert "counterpart" in data["state"]["properties"] and "recommendations" in data["advice"]["properties"]


@pytest.mark.parametrize("command", ["demo", "advise", "explain", "tactics", "schema"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0 and "example:" in out.stdout


def test_the_tactics_page_of_the_docs_is_in_sync_with_catalog_and_rules() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "tactics.md"
    if not page.exists():
        pytest.skip("needs the source tree")
    out = run("tactics", "--markdown")
    hint = "regenerate: negotiation-rules tactics --markdown > docs/tactics.md"
    assert out.stdout == page.read_text(encoding="utf-8"), hint


# -- start-up: the tools a plain advise() does not need are imported on first use -----------------

TOOLS = (
    "negotiation_rules._lint",
    "negotiation_rules._whatif",
    "negotiation_rules._explain",
    "negotiation_rules._server",
)


def _imported_after(code: str) -> list[str]:
    """The modules among TOOLS, pandas and dask that a fresh interpreter has imported after ``code``."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {(*TOOLS, 'pandas', 'dask')!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return list(json.loads(out.stdout.strip().replace("'", '"')))


def test_importing_the_library_imports_none_of_the_tools_nor_pandas_or_dask() -> None:
    assert _imported_after("import negotiation_rules") == []


def test_the_demo_command_imports_none_of_the_tools() -> None:
    code = (
        "import io\nfrom negotiation_rules._cli import main\n"
        "assert main(['demo', '--top', '1'], stdout=io.StringIO()) == 0"
    )
    assert _imported_after(code) == []


def test_every_public_name_still_imports_from_the_package_and_dir_lists_them() -> None:
    code = "from negotiation_rules import *\nfrom negotiation_rules import explain, lint, what_if"
    assert sorted(_imported_after(code)) == sorted(TOOLS[:3])
    import negotiation_rules

    assert set(negotiation_rules.__all__) <= set(dir(negotiation_rules))
    for name in negotiation_rules.__all__:
        assert getattr(negotiation_rules, name) is not None
