"""Load test of ``negotiation-rules serve`` on loopback, against calling ``advise()`` in-process.

    python benchmarks/server_load.py                   # 5,000 requests from 16 concurrent clients
    python benchmarks/server_load.py --requests 1000   # a quicker look

Starts the real server (uvicorn, default settings) on a free loopback port in a subprocess, sends
POST /v1/advise with the benchmark states (benchmarks/workload.py) from N concurrent clients
(keep-alive HTTP/1.1 connections on one asyncio loop), and prints: latency p50/p90/p99/max,
throughput, errors (any answer that is not 200, or whose advice differs from in-process
``advise()`` on the same state), the server's resident memory before and after, and the same
states through ``advise()`` in-process for comparison. Bounded in count (``--requests``) and
time (``--max-seconds``). Needs the ``server`` extra and httpx (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from workload import states

from negotiation_rules import advise


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(
    port: int,
    bodies: list[bytes] | None,
    expected: list[Any],
    total: int,
    clients: int,
    limit: float,
) -> tuple[list[float], list[str], float]:
    """``total`` requests from ``clients`` concurrent keep-alive connections; latencies in ms, errors, wall time.

    The clients speak plain HTTP/1.1 over asyncio streams (a full client library would cost more
    CPU than the server on this 2-core machine). With ``bodies`` None they send GET /v1/health:
    the floor of HTTP and uvicorn.
    """
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))
    deadline = time.monotonic() + limit

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                k = i % len(bodies) if bodies else 0
                if bodies is None:
                    request = b"GET /v1/health HTTP/1.1\r\nHost: bench\r\n\r\n"
                else:
                    request = (
                        b"POST /v1/advise HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(bodies[k]), bodies[k])
                    )
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length = next(int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:"))
                body = await reader.readexactly(length)
                latencies.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    errors.append(f"{status}: {body[:200]!r}")
                elif bodies is not None and json.loads(body) != expected[k]:
                    errors.append(f"advice differs from advise() for state {k}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop sending after this long")
    parser.add_argument("--server-args", default="", help="extra options for `serve`, e.g. '--max-concurrent 2'")
    args = parser.parse_args()

    work = states()
    bodies = [json.dumps({"state": s.model_dump(mode="json")}).encode() for s in work]
    expected = [advise(s).model_dump(mode="json") for s in work]

    # in-process: the same states, one after another, then from 2 threads (the machine's cores)
    inproc: list[float] = []
    for _ in range(4):
        for s in work:
            t = time.perf_counter()
            advise(s)
            inproc.append((time.perf_counter() - t) * 1000)
    per_call = statistics.median(inproc)

    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115 - kept open for the server's lifetime
    server = subprocess.Popen(
        [sys.executable, "-m", "negotiation_rules", "serve", "--port", str(port), *args.server_args.split()],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # warm-up: every state once, so the "before" memory includes what a steady server holds
        asyncio.run(load(port, bodies, expected, len(bodies), 4, args.max_seconds))
        before = rss_kib(server.pid)
        cpu_before = cpu_seconds(server.pid)
        latencies, errors, wall = asyncio.run(
            load(port, bodies, expected, args.requests, args.clients, args.max_seconds)
        )
        server_cpu = cpu_seconds(server.pid) - cpu_before
        after = rss_kib(server.pid)
        floor, floor_errors, floor_wall = asyncio.run(
            load(port, None, [], args.requests, args.clients, args.max_seconds)
        )
        errors += floor_errors
    finally:
        server.terminate()
        server.wait(timeout=30)

    done = len(latencies)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}; clients on the same machine")
    print(f"server: negotiation-rules serve {args.server_args}".rstrip())
    extras = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    print(
        f"uvicorn {version('uvicorn')}, fastapi {version('fastapi')}; "
        f"uvicorn speed-ups: {', '.join(extras) or 'none (pure-Python h11 and asyncio)'}"
    )
    print()
    print("| measurement | value |")
    print("|---|---|")
    print(f"| requests (POST /v1/advise), concurrent clients | {done} of {args.requests}, {args.clients} |")
    print(f"| errors (not 200, or advice differing from in-process advise()) | {len(errors)} |")
    print(
        f"| latency p50 / p90 / p99 / max | {percentile(latencies, 0.5):.2f} / {percentile(latencies, 0.9):.2f}"
        f" / {percentile(latencies, 0.99):.2f} / {max(latencies):.2f} ms |"
    )
    print(f"| throughput over HTTP | {done / wall:,.0f} requests/s ({wall:.1f} s) |")
    print(f"| server CPU per request (user + system) | {server_cpu / max(done, 1) * 1000:.2f} ms |")
    print(
        f"| floor: GET /v1/health, same clients | p50 {percentile(floor, 0.5):.2f} ms, p99 "
        f"{percentile(floor, 0.99):.2f} ms, {len(floor) / floor_wall:,.0f} requests/s |"
    )
    print(f"| in-process advise(), one thread: median per call | {per_call:.3f} ms = {1000 / per_call:,.0f} calls/s |")
    print(f"| HTTP throughput / in-process throughput | {done / wall / (1000 / per_call):.2f} |")
    print(
        f"| server RSS after warm-up -> after the run | {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB"
        f" ({(after - before) / 1024:+.1f} MiB) |"
    )
    for error in errors[:5]:
        print("error:", error)
    return 1 if errors or done < args.requests else 0


if __name__ == "__main__":
    sys.exit(main())
