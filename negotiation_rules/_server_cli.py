"""The ``serve`` sub-command's options; imports nothing of the optional ``server`` extra until it runs."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

INSTALL_HINT = 'pip install "negotiation-rules[server]"'


class MissingExtra(Exception):
    """The ``server`` extra (FastAPI, uvicorn) is not installed."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return path


def add_serve_options(p: argparse.ArgumentParser) -> None:
    """Host, port, security settings and limits of ``negotiation-rules serve``."""
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_positive_int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--api-key-env",
        default="NEGOTIATION_RULES_API_KEY",
        metavar="NAME",
        help="environment variable holding the API key; requests then need X-API-Key (default %(default)s)",
    )
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN", help="allow this browser origin")
    p.add_argument("--rulesets", type=_folder, metavar="DIR", help="folder of named rulesets (files or sub-folders)")
    p.add_argument("--playbooks", type=_folder, metavar="DIR", help="folder of named playbooks (default: built-in)")
    p.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=1_000_000,
        metavar="N",
        help="largest request body in bytes; a larger one gets 413 (default 1,000,000)",
    )
    p.add_argument("--max-rule-text", type=_positive_int, default=200_000, metavar="N", help="characters")
    p.add_argument("--max-history", type=_positive_int, default=1_000, metavar="N", help="events")
    p.add_argument("--timeout", type=_positive_float, default=10.0, metavar="S", help="time budget per request")
    p.add_argument("--max-concurrent", type=_positive_int, default=None, metavar="N", help="evaluations at once")
    p.add_argument("--root-path", default="", metavar="PATH", help="path prefix when behind a reverse proxy")


def run_serve(args: argparse.Namespace) -> int:
    """Start the service; MissingExtra when FastAPI or uvicorn is not installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        from . import _server
    except ImportError as exc:
        raise MissingExtra(f"serve needs the server extra ({exc.name} is missing): {INSTALL_HINT}") from None
    try:
        key = _server.api_key_from_env(args.api_key_env)
    except ValueError as exc:
        sys.stderr.write(f"negotiation-rules: error: {exc}\n")
        return 2
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "api_key": key,
        "cors_origins": tuple(args.cors_origin),
        "rulesets_dir": args.rulesets,
        "playbooks_dir": args.playbooks,
        "max_body_bytes": args.max_body_bytes,
        "max_rule_text": args.max_rule_text,
        "max_history": args.max_history,
        "timeout": args.timeout,
        "root_path": args.root_path,
    }
    if args.max_concurrent is not None:
        options["max_concurrent"] = args.max_concurrent
    if key is None and not _loopback(args.host):
        sys.stderr.write(f"warning: serving on {args.host} without an API key (set {args.api_key_env})\n")
    _server.serve(_server.ServerConfig(**options))
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
