"""``negotiation-rules serve`` without its extra says how to install it, in one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys


def test_serve_without_the_server_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None\n"
        "from negotiation_rules._cli import main; sys.exit(main(['serve']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert 'pip install "negotiation-rules[server]"' in lines[0]
    assert lines[0].startswith("negotiation-rules: error: ")


def test_serve_help_lists_the_security_settings() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "negotiation_rules", "serve", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    for option in (
        "--host",
        "--api-key-env",
        "--cors-origin",
        "--rulesets",
        "--playbooks",
        "--max-body-bytes",
        "--max-rule-text",
        "--max-history",
        "--timeout",
        "--max-concurrent",
        "--root-path",
    ):
        assert option in out.stdout
    assert "127.0.0.1" in out.stdout


def test_serve_refuses_a_folder_that_does_not_exist() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "negotiation_rules", "serve", "--rulesets", "/no/such/folder"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "no such folder: /no/such/folder" in out.stderr


def test_serve_refuses_an_api_key_variable_that_is_set_but_empty() -> None:
    """An empty secret (a failed lookup in a deployment) must not silently turn authentication off."""
    env = {**os.environ, "NEGOTIATION_RULES_API_KEY": "  "}
    out = subprocess.run(
        [sys.executable, "-m", "negotiation_rules", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "negotiation-rules: error: NEGOTIATION_RULES_API_KEY is set but empty: "
        "refusing to serve without the API key it was meant to hold"
    )
