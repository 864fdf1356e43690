"""The installed wheel carries the page and serves it: nothing is read from the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import needs_server_extra, start_server, stop_server

needs_server_extra()

import httpx  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STATIC = ("index.html", "app.js", "style.css")


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_an_installed_wheel_serves_the_page_and_the_api(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("negotiation_rules-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in STATIC:
        assert f"negotiation_rules/_static/{name}" in names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {"PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import negotiation_rules._server as s; print(s.STATIC)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()) == site / "negotiation_rules" / "_static"
    running = start_server([], tmp_path / "server.log", env=env, cwd=tmp_path)
    try:
        page = httpx.get(running.url + "/")
        assert page.status_code == 200 and "static/app.js" in page.text
        for name in STATIC:
            served = httpx.get(f"{running.url}/static/{name}")
            assert served.status_code == 200
            assert served.content == (site / "negotiation_rules" / "_static" / name).read_bytes()
        advice = httpx.post(running.url + "/v1/advise", json={"state": {"phase": "bargaining"}})
        assert advice.status_code == 200 and advice.json()["recommendations"]
    finally:
        stop_server(running)
