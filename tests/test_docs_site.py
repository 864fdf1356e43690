"""The documentation site builds without a warning, the API reference included (extra `docs`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.extras import need

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_and_its_api_reference_build_in_strict_mode(tmp_path: Path) -> None:
    need("mkdocs")
    need("mkdocstrings")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr  # (no -q: mkdocs -q stops counting warnings)
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("advise", "NegotiationState", "RulesetError", "Advisor"):
        assert f'id="negotiation_rules.{name}"' in api or f'id="negotiation_rules.testing.{name}"' in api, name
    assert "Unknown is not false" in (tmp_path / "site" / "changelog" / "index.html").read_text(encoding="utf-8")
