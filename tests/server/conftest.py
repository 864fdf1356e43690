"""The service started for real: ``negotiation-rules serve`` in a subprocess on a free loopback port.

Two servers per test session: ``server`` with the default settings, and ``strict`` with an API key,
small limits, a short time budget, two evaluation slots, CORS for one origin and a folder of
named rulesets. The tests talk to them over HTTP only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import httpx
except ImportError:  # the test modules skip with the reason (see needs_server_extra)
    httpx = None  # type: ignore[assignment]

#: Why the server tests skip when the extras are missing.
SKIP_REASON = 'the server extras are not installed: pip install -e ".[server-test]"'


def needs_server_extra() -> None:
    """Skip the calling test module unless FastAPI, uvicorn and httpx are installed."""
    for name in ("fastapi", "uvicorn", "httpx"):
        pytest.importorskip(name, reason=SKIP_REASON)


STRICT_KEY = "s3cret-key-for-tests"
STRICT_ORIGIN = "http://crm.example.test"

HOUSE_RULES = """
ruleset: house
rules:
  - id: house.hold_the_price
    tactic: house.hold_the_price
    move: Hold the list price.
    rationale: The talks are in the bargaining phase.
    when:
      phase: bargaining
    weight: 0.99
    sources:
      - document: 001_b456b039e9603b86.txt
        section: (1) Strong pressure
"""


@dataclass
class Running:
    """One running server: its base URL, its log file, and the process."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Running:
    """Start ``python -m negotiation_rules serve`` and wait until /v1/health answers."""
    port = free_port()
    out = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "negotiation_rules", "serve", "--port", str(port), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return Running(url, log, process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server did not answer within 60 s:\n{log.read_text()}")


def stop_server(running: Running) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The service with its default settings."""
    running = start_server([], tmp_path_factory.mktemp("server") / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The service with an API key, small limits, a 1 s time budget, two slots, CORS and named rulesets."""
    home = tmp_path_factory.mktemp("strict")
    rulesets = home / "rulesets"
    rulesets.mkdir()
    (rulesets / "house.yaml").write_text(HOUSE_RULES, encoding="utf-8")
    running = start_server(
        [
            "--api-key-env",
            "TEST_NEGOTIATION_KEY",
            "--cors-origin",
            STRICT_ORIGIN,
            "--rulesets",
            str(rulesets),
            "--max-body-bytes",
            "20000",
            "--max-rule-text",
            "3000",
            "--max-history",
            "5",
            "--timeout",
            "1",
            "--max-concurrent",
            "2",
        ],
        home / "server.log",
        env={"TEST_NEGOTIATION_KEY": STRICT_KEY},
    )
    yield running
    stop_server(running)


@pytest.fixture()
def api(server: Running) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture()
def strict_api(strict: Running) -> Iterator[httpx.Client]:
    with strict.client(**{"X-API-Key": STRICT_KEY}) as client:
        yield client
