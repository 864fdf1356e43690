"""Packaging: the wheel ships the built-in rulesets, an installed copy finds them, and the README's
set-up commands are the ones CI runs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import negotiation_rules

ROOT = Path(__file__).resolve().parent.parent


def test_the_public_surface_is_the_contract() -> None:
    contract = {
        "advise",
        "NegotiationState",
        "Advice",
        "Recommendation",
        "load_ruleset",
        "Ruleset",
        "RulesetError",
        "StateError",
    }
    assert contract <= set(negotiation_rules.__all__)
    for name in negotiation_rules.__all__:
        assert hasattr(negotiation_rules, name)
    assert issubclass(negotiation_rules.StateError, ValueError)


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_an_installed_wheel_carries_and_finds_the_built_in_rulesets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("negotiation_rules-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for family in ("situations", "authority", "pressure", "outcome", "trust", "prep"):
        assert f"negotiation_rules/rulesets/{family}.yaml" in names
    assert "negotiation_rules/py.typed" in names
    assert "_negotiation_rules_pytestplugin.py" in names  # the pytest plugin, a top-level module
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    code = (
        "import negotiation_rules as n; from negotiation_rules._ruleset import builtin_ruleset_dir as d; "
        "print(d()); print(n.advise({'phase': 'preparation'}).tactics[0])"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    where, first = out.stdout.split()
    assert Path(where) == site / "negotiation_rules" / "rulesets"
    assert first.startswith("prep.")


def test_ci_runs_the_readme_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in (
        "pip install . && negotiation-rules demo",
        'pip install -e ".[test]" && ruff check . && mypy && pytest'
        " --rules-coverage-unless --rules-coverage-fail-under=100",
    ):
        assert command in readme
        assert command in ci


def test_the_readme_example_prints_what_the_readme_shows() -> None:
    import contextlib
    import io
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == shown
