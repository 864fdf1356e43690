"""What the service runs with rule text from a client: in a worker process that is replaced regularly.

Every ruleset built in a process stays in memory for good: the library's engine registry keeps
each ruleset alive, and durable-rules does not give back the memory of a ruleset's evaluation
sessions when it is deleted (about 1 MB for a ruleset the size of the built-in one, measured on
durable-rules 2.0.28). Rule text from clients means a new ruleset for every text, so the service
builds those rulesets in a separate process, replaced after ``calls_per_process`` calls: the
memory is returned when the process ends, and a crash of the engine on some rule text ends only
that process. The built-in and the operator's named rulesets are evaluated in the server itself.

Imports nothing of the ``server`` extra, so the worker process starts light.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ._advice import Advice
from ._advisor import advise
from ._errors import EngineError, NegotiationRulesError, RulesetError, StateError, UnknownTacticError
from ._explain import Explanation, explain
from ._lint import Finding, Severity, lint
from ._playbook import Playbook
from ._ruleset import Ruleset, builtin_ruleset, resolve_ruleset
from ._state import NegotiationState
from ._whatif import what_if

#: The file name pasted rule text is known by in findings and errors (never a server path).
PASTED = "pasted.yaml"
_SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


class LintReport(BaseModel):
    """Findings in the pasted text, at their lines (the file is always ``pasted.yaml``)."""

    ok: bool = Field(description="no errors or warnings")
    counts: dict[str, int]
    findings: list[Finding]


def call_advise(state: NegotiationState, **kwargs: Any) -> Advice:
    """``advise()``; a request that says nothing about questions gets advise()'s default."""
    if kwargs.get("questions") is None:
        kwargs.pop("questions", None)
    return advise(state, **kwargs)


#: An absolute path to a rule file inside a text (a message naming where something was first defined).
_ABSOLUTE_RULE_FILE = re.compile(r"(?<![\w.])/(?:[^\s:'\"/]+/)+([^\s:'\"/]+\.ya?ml)")


def scrub_paths(text: str) -> str:
    """``text`` with every absolute rule-file path cut to the file's name (the server's folders stay private)."""
    return _ABSOLUTE_RULE_FILE.sub(r"\1", text)


def file_names_only(data: Any) -> Any:
    """Every ``file`` value reduced to its name: the server's folders are nobody's business."""
    if isinstance(data, dict):
        return {
            k: (Path(v).name if k == "file" and isinstance(v, str) else file_names_only(v)) for k, v in data.items()
        }
    if isinstance(data, str):
        return scrub_paths(data)
    if isinstance(data, list):
        return [file_names_only(v) for v in data]
    return data


def sanitize_explanation(expl: Explanation) -> Explanation:
    """The explanation with rule files named by their file name only."""
    return Explanation.model_validate(file_names_only(expl.model_dump(mode="json")))


def lint_text(text: str, base: Path | None, builtin: bool) -> LintReport:
    """Lint pasted rule text (in a temporary folder of its own), together with ``base`` when given."""
    with tempfile.TemporaryDirectory(prefix="negotiation-rules-lint-") as tmp:
        pasted = Path(tmp) / PASTED
        pasted.write_bytes(text.encode("utf-8", "surrogatepass"))  # a lone surrogate: not UTF-8, a finding
        paths = [base, pasted] if base is not None else [pasted]
        found = lint(paths, builtin=builtin)
        mine = {str(pasted), str(pasted.resolve())}
        findings = [
            f.model_copy(update={"file": PASTED, "message": scrub_paths(f.message)}) for f in found if f.file in mine
        ]
    counts: dict[str, int] = {s: sum(1 for f in findings if f.severity == s) for s in _SEVERITIES}
    return LintReport(
        ok=not any(f.severity in ("error", "warning") for f in findings), counts=counts, findings=findings
    )


# -- inside the worker process -----------------------------------------------------------------

_layered: OrderedDict[tuple[str, str], Ruleset] = OrderedDict()


def _ruleset(base: str | None, rules: str | None) -> Ruleset:
    """The base ruleset (built-in, or an operator's folder) with the pasted text added (a few kept)."""
    base_rules = builtin_ruleset() if base is None else resolve_ruleset(base)
    if rules is None:
        return base_rules
    key = (base or "", rules)
    found = _layered.get(key)
    if found is None:
        found = Ruleset.merge(base_rules, Ruleset.from_text(rules, PASTED), name=f"{base_rules.name}+pasted")
        _layered[key] = found
        while len(_layered) > 8:
            _layered.popitem(last=False)
    _layered.move_to_end(key)
    return found


def run_task(task: dict[str, Any]) -> tuple[str, Any]:
    """One call in the worker: ``("ok", json text)`` or ``("error", the fields of a library error)``."""
    try:
        kind = task["kind"]
        if kind == "ping":
            return "ok", ""
        if kind == "lint":
            base = Path(task["base"]) if task["base"] is not None else None
            return "ok", lint_text(task["rules"], base, task["builtin"]).model_dump_json()
        state = NegotiationState.model_validate(task["state"])
        rules = _ruleset(task["base"], task["rules"])
        policy = Playbook.model_validate(task["playbook"]) if task["playbook"] is not None else None
        options: dict[str, Any] = task["options"]
        if kind == "advise":
            return "ok", call_advise(state, ruleset=rules, playbook=policy, **options).model_dump_json()
        if kind == "explain":
            expl = explain(state, options["tactic"], ruleset=rules, playbook=policy)
            return "ok", sanitize_explanation(expl).model_dump_json()
        if kind == "what-if":
            answer = what_if(state, options.pop("tactic"), ruleset=rules, playbook=policy, **options)
            return "ok", answer.model_dump_json(by_alias=True)
        raise ValueError(f"unknown task {kind!r}")
    except StateError as exc:
        return "error", {"type": "StateError", "message": exc.reason, "path": exc.path}
    except RulesetError as exc:
        return "error", {
            "type": "RulesetError",
            "message": exc.reason,
            "file": exc.file,
            "line": exc.line,
            "rule_id": exc.rule_id,
            "kind": exc.kind,
            "code": exc.code,
        }
    except (NegotiationRulesError, ValueError, TypeError) as exc:
        return "error", {"type": type(exc).__name__, "message": str(exc)}


def _watch_parent(parent: int) -> None:
    """In the worker: end this process when the server is gone (even if it was killed outright)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="watch-server", daemon=True).start()


def rebuild_error(fields: dict[str, Any]) -> Exception:
    """The library error a worker reported, raised again in the server."""
    kind, message = fields["type"], fields["message"]
    if kind == "StateError":
        return StateError(message, fields.get("path") or "")
    if kind == "RulesetError":
        return RulesetError(
            message,
            file=fields.get("file"),
            line=fields.get("line"),
            rule_id=fields.get("rule_id"),
            kind=fields.get("kind") or "rule",
            code=fields.get("code") or "load-error",
        )
    if kind == "UnknownTacticError":
        return UnknownTacticError(message)
    if kind == "EngineError":
        return EngineError(message)
    return ValueError(message)


# -- in the server ------------------------------------------------------------------------------


class WorkerCrashed(Exception):
    """The worker process ended in the middle of a call (it is replaced for the next one)."""


class PastedRulesWorker:
    """One worker process for calls with pasted rule text, replaced after ``calls_per_process`` calls."""

    def __init__(self, calls_per_process: int = 64) -> None:
        self.calls_per_process = calls_per_process
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._calls = 0
        self.processes_started = 0

    def _submit(self, task: dict[str, Any]) -> Future[tuple[str, Any]]:
        with self._lock:
            if self._pool is None or self._calls >= self.calls_per_process:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)  # its calls still running finish, then it exits
                # spawn, not fork: the server has threads, and a fresh process holds nothing of it
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
                self._calls = 0
                self.processes_started += 1
            self._calls += 1
            return self._pool.submit(run_task, task)

    def call(self, task: dict[str, Any]) -> str:
        """Run one task in the worker (blocking) and return its JSON; library errors are raised here."""
        try:
            status, value = self._submit(task).result()
        except BrokenProcessPool:
            with self._lock:
                self._pool = None
            raise WorkerCrashed("the worker process for pasted rules stopped; it is restarted") from None
        if status == "error":
            raise rebuild_error(value)
        return str(value)

    def start(self) -> None:
        """Start the first worker process now, so the first request does not wait for it."""
        self._submit({"kind": "ping"})

    def close(self) -> None:
        """Stop the worker process now, even in the middle of a call (the server is going away)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
