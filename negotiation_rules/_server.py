"""The HTTP service behind ``negotiation-rules serve``: versioned JSON endpoints and the playground page.

Needs the optional extra ``server`` (FastAPI + uvicorn); the core package never imports this module.
The wire format is the library's own pydantic models (``NegotiationState``, ``Advice``,
``Explanation``, ``WhatIf``, ``Finding``), so the OpenAPI document and the library cannot drift.

Safe by default: bound to 127.0.0.1; an optional API key (compared in constant time); CORS only
for the origins the operator names; the request body, pasted rule text and history are bounded
(413/422 naming the limit); every evaluation runs in a worker thread under a time budget
(504 when it is exceeded, the call finishes in the background and still holds its slot) and
at most ``max_concurrent`` run at once (503 when none frees up in time); rulesets and playbooks
are chosen by *name* from folders the operator configured, never by a path from the client;
every error is ``application/problem+json`` with the library's error type and field path,
never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_serializer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__
from ._advice import Advice
from ._catalog import CATALOG
from ._errors import NegotiationRulesError, RulesetError, StateError, UnknownTacticError, did_you_mean
from ._explain import Explanation, explain
from ._playbook import Playbook, builtin_playbooks, load_playbook
from ._ruleset import Ruleset, builtin_ruleset, builtin_ruleset_dir, resolve_ruleset
from ._server_worker import (
    LintReport,
    PastedRulesWorker,
    WorkerCrashed,
    call_advise,
    sanitize_explanation,
    scrub_paths,
)
from ._session import Negotiation
from ._state import Event, NegotiationState, error_message
from ._whatif import MAX_CHANGES, Goal, WhatIf, what_if

log = logging.getLogger("negotiation_rules.server")

API_KEY_ENV = "NEGOTIATION_RULES_API_KEY"
#: Names of rulesets and playbooks: letters, digits, ``_`` and ``-`` only, so a name is never a path.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
STATIC = Path(__file__).resolve().parent / "_static"
SCHEMA_NAMES = ("state", "advice", "explanation", "what-if", "finding")
T = TypeVar("T")


@dataclass(frozen=True)
class ServerConfig:
    """What the operator decides; every default is the safe one."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    rulesets_dir: Path | None = None
    playbooks_dir: Path | None = None
    max_body_bytes: int = 1_000_000
    max_rule_text: int = 200_000
    max_history: int = 1_000
    timeout: float = 10.0
    max_concurrent: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    root_path: str = ""


# -- wire models -------------------------------------------------------------------------------


class _In(BaseModel):
    """A request body: unknown keys rejected and no coercion ("3" is not a number, true is not a count)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_RULESET_FIELD = Field(
    default=None,
    pattern=NAME_PATTERN,
    description="a ruleset by name from the server's rulesets folder (default: the built-in rules)",
)
_PLAYBOOK_FIELD = Field(default=None, pattern=NAME_PATTERN, description="a playbook by name")
_RULES_FIELD = Field(
    default=None,
    description="the text of one rule file (YAML), added to the chosen ruleset for this request",
)


class AdviseRequest(_In):
    """A state and how to advise on it."""

    state: NegotiationState = Field(default_factory=NegotiationState)
    top: int | None = Field(default=None, ge=0, le=10_000, description="keep the N best")
    questions: int | None = Field(default=None, ge=0, le=50, description="how many questions to ask next")
    ruleset: str | None = _RULESET_FIELD
    playbook: str | None = _PLAYBOOK_FIELD
    rules: str | None = _RULES_FIELD


class ExplainRequest(_In):
    """Why a tactic (or one rule) was or was not recommended for a state."""

    state: NegotiationState = Field(default_factory=NegotiationState)
    tactic: str = Field(min_length=1, max_length=200, description="tactic id or rule id")
    ruleset: str | None = _RULESET_FIELD
    playbook: str | None = _PLAYBOOK_FIELD
    rules: str | None = _RULES_FIELD


class WhatIfRequest(_In):
    """The smallest changes to a state that get a tactic recommended (or ranked first)."""

    state: NegotiationState = Field(default_factory=NegotiationState)
    tactic: str = Field(min_length=1, max_length=200, description="tactic id (or a rule id, meaning its tactic)")
    goal: Goal = "recommended"
    max_changes: int = Field(default=3, ge=0, le=MAX_CHANGES)
    ruleset: str | None = _RULESET_FIELD
    playbook: str | None = _PLAYBOOK_FIELD
    rules: str | None = _RULES_FIELD


class LintRequest(_In):
    """A rule file's text to check, on its own terms and together with a ruleset (duplicate ids)."""

    rules: str = Field(description="the text of one rule file (YAML)")
    ruleset: str | None = Field(
        default="builtin",
        pattern=NAME_PATTERN,
        description="lint together with this ruleset (default: the built-in rules); null: the text alone",
    )
    builtin: bool = Field(default=False, description="hold the text to the built-in standard")


class SavedRuleset(_In):
    """Which ruleset a saved negotiation used: the built-in rules or one named on this server."""

    kind: Literal["builtin", "named", "files", "unsaved"]
    name: str | None = None
    files: list[str] | None = Field(default=None, description="never accepted from a client")


class SavedNegotiation(_In):
    """A negotiation as ``Negotiation.to_json()`` writes it; the client keeps it between requests."""

    format: Literal["negotiation-rules/session"] = "negotiation-rules/session"
    version: Literal[1] = 1
    state: NegotiationState = Field(default_factory=NegotiationState)
    ruleset: SavedRuleset = Field(default_factory=lambda: SavedRuleset(kind="builtin"))
    playbook: Playbook | None = None

    @field_serializer("state")
    def _given_only(self, state: NegotiationState) -> dict[str, Any]:
        """Only what was given: a default written out would come back as a stated fact next time."""
        return state.model_dump(mode="json", exclude_unset=True)


class NegotiationRequest(_In):
    """A saved negotiation, the events that happened since, and how to advise on it."""

    negotiation: SavedNegotiation = Field(default_factory=SavedNegotiation)
    record: list[Event] = Field(default_factory=list, description="events to append to the history, oldest first")
    top: int | None = Field(default=None, ge=0, le=10_000)
    questions: int | None = Field(default=None, ge=0, le=50)
    ruleset: str | None = _RULESET_FIELD
    playbook: str | None = _PLAYBOOK_FIELD


class NegotiationResponse(BaseModel):
    """The negotiation to keep (send it back next time) and the advice for it as it stands."""

    negotiation: SavedNegotiation
    advice: Advice


class TacticInfo(BaseModel):
    """One catalog tactic, its sources and the rules of the chosen ruleset that recommend it."""

    id: str
    family: str
    move: str
    fits: str
    never: str
    documents: list[str]
    rules: list[str]


class Health(BaseModel):
    """The service is up, which version, how many built-in rules."""

    status: Literal["ok"] = "ok"
    version: str
    rules: int


class Names(BaseModel):
    """The rulesets and playbooks a request may name."""

    rulesets: list[str]
    playbooks: list[str]


class Problem(BaseModel):
    """An error as RFC 9457 problem details, with the library's error type and where it is."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="stable, machine-readable: state-error, ruleset-error, limit, timeout ...")
    error: str | None = Field(default=None, description="the library's error class, e.g. StateError")
    path: str | None = Field(default=None, description="the field at fault, e.g. state.counterpart.authority")
    file: str | None = None
    line: int | None = None
    rule_id: str | None = None
    limit: str | None = Field(default=None, description="the server setting that was exceeded")
    max: int | float | None = None


PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "missing or wrong API key",
        404: "no such resource",
        413: "request body or rule text over the server's limit",
        422: "invalid input: the problem names the field, file and line",
        503: "too many evaluations running",
        504: "the evaluation exceeded the time budget",
    }
    return {c: {"description": text[c], "model": Problem, "content": PROBLEM_CONTENT} for c in codes}


class ApiProblem(Exception):
    """Raised inside the service; rendered as problem+json."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    413: "Content too large",
    422: "Invalid input",
    500: "Internal error",
    503: "Busy",
    504: "Time budget exceeded",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response (nothing in it comes from a traceback)."""
    body = Problem(
        type=f"urn:negotiation-rules:problem:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=scrub_paths(detail),
        code=code,
        **{k: v for k, v in extra.items() if v is not None},
    )
    headers = {"WWW-Authenticate": 'Bearer realm="negotiation-rules"'} if status == 401 else None
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type="application/problem+json", headers=headers
    )


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_problem(errors: list[Mapping[str, Any]]) -> JSONResponse:
    """The first validation error as a StateError-like problem: field path and a did-you-mean."""
    if not errors:
        return problem(422, "invalid-input", "invalid input")
    err = errors[0]
    kind = err.get("type", "")
    loc = tuple(p for p in err.get("loc", ()) if p != "body")
    path = "body" if kind == "json_invalid" else (_path(loc) or "body")
    if kind == "string_pattern_mismatch" and loc and loc[-1] in ("ruleset", "playbook"):
        message = f"{err.get('input')!r} is not a name: letters, digits, '_' and '-' only (never a path)"
    elif kind == "json_invalid":
        message = f"not valid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}"
    elif "type" in err and "msg" in err:
        # the state's fields in the library's own words (strict types, did-you-mean, misleading names)
        model = NegotiationState if loc[:1] == ("state",) else None
        message = error_message(err, model, tuple(loc[1:]) if model is not None else tuple(loc))
    else:
        message = str(err.get("msg", "invalid"))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    if path.split(".")[0].split("[")[0] in ("state", "negotiation", "record"):
        return problem(422, "state-error", f"{path}: {message}", error="StateError", path=path)
    return problem(422, "invalid-input", f"{path}: {message}", path=path)


def library_problem(exc: NegotiationRulesError | ValueError) -> JSONResponse:
    """A library error as a 422 problem: StateError with its path, RulesetError with file and line."""
    if isinstance(exc, StateError):
        return problem(422, "state-error", str(exc), error="StateError", path=exc.path or None)
    if isinstance(exc, RulesetError):
        file = Path(exc.file).name if exc.file else None
        detail = f"{file or '<rules>'}{f':{exc.line}' if exc.line else ''}:"
        detail += f" rule '{exc.rule_id}':" if exc.rule_id else ""
        return problem(
            422,
            "ruleset-error",
            f"{detail} {exc.reason}",
            error="RulesetError",
            file=file,
            line=exc.line,
            rule_id=exc.rule_id,
        )
    if isinstance(exc, UnknownTacticError):
        return problem(422, "unknown-tactic", str(exc), error="UnknownTacticError", path="tactic")
    return problem(422, "invalid-input", str(exc), error=type(exc).__name__)


# -- the body limit, as raw ASGI so an oversized body is never read into memory -----------------


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def too_big() -> JSONResponse:
            return problem(
                413,
                "limit",
                f"request body is larger than {self.limit} bytes (limit max_body_bytes)",
                limit="max_body_bytes",
                max=self.limit,
            )

        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await too_big()(scope, receive, send)
                    return
        seen = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            # past the limit the app gets an empty end of body, and its answer is replaced by the 413
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, guarded)
        if exceeded and not started:
            await too_big()(scope, receive, send)


class SecurityHeaders:
    """Headers on every answer: a strict Content-Security-Policy (the page loads only from here), nosniff."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


# -- the service -------------------------------------------------------------------------------


class Service:
    """The state of one running service: its settings, named rulesets and playbooks, the worker pool."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.rulesets: dict[str, Path] = {}
        if config.rulesets_dir is not None:
            for entry in sorted(Path(config.rulesets_dir).iterdir()):
                name = entry.stem if entry.is_file() else entry.name
                if re.match(NAME_PATTERN, name) and (entry.is_dir() or entry.suffix in (".yaml", ".yml")):
                    self.rulesets[name] = entry
        self.playbooks: dict[str, Path] = (
            {p.stem: p for p in sorted(Path(config.playbooks_dir).glob("*.yaml")) if re.match(NAME_PATTERN, p.stem)}
            if config.playbooks_dir is not None
            else builtin_playbooks()
        )
        self.pool = ThreadPoolExecutor(max_workers=config.max_concurrent, thread_name_prefix="negotiation-rules")
        self._slots: asyncio.Semaphore | None = None
        self.worker = PastedRulesWorker()
        self._playbook_cache: dict[str, Playbook] = {}

    # -- names -> objects (never a path from the client) --

    def base_path(self, name: str | None) -> Path | None:
        """The folder or file of a named ruleset (None: the built-in rules); 422 for a name not configured."""
        if name is None or name == "builtin":
            return None
        path = self.rulesets.get(name)
        if path is None:
            known = ["builtin", *self.rulesets]
            raise ApiProblem(
                422,
                "unknown-ruleset",
                f"ruleset: no ruleset '{name}' on this server{did_you_mean(name, known)}; "
                f"choose from: {', '.join(known)}",
                path="ruleset",
            )
        return path

    def ruleset(self, name: str | None) -> Ruleset:
        """The named ruleset (or the built-in one), evaluated in the server itself."""
        path = self.base_path(name)
        return builtin_ruleset() if path is None else resolve_ruleset(path)

    def pasted(
        self,
        kind: str,
        *,
        state: NegotiationState | None = None,
        rules: str | None,
        ruleset: str | None,
        playbook: Playbook | None = None,
        **options: Any,
    ) -> Callable[[], str]:
        """A call with pasted rule text, to run in the worker process (see _server_worker)."""
        base = self.base_path(ruleset)
        task = {
            "kind": kind,
            "state": state.model_dump(mode="json", exclude_unset=True) if state is not None else None,
            "rules": rules,
            "base": str(base) if base is not None else None,
            "playbook": playbook.model_dump(mode="json") if playbook is not None else None,
            "options": options,
        }
        return lambda: self.worker.call(task)

    def playbook(self, name: str | None) -> Playbook | None:
        """The named playbook, or None."""
        if name is None:
            return None
        path = self.playbooks.get(name)
        if path is None:
            raise ApiProblem(
                422,
                "unknown-playbook",
                f"playbook: no playbook '{name}' on this server{did_you_mean(name, self.playbooks)}; "
                f"choose from: {', '.join(self.playbooks) or '(none)'}",
                path="playbook",
            )
        if name not in self._playbook_cache:
            self._playbook_cache[name] = load_playbook(path)
        return self._playbook_cache[name]

    # -- limits --

    def check_rule_text(self, rules: str | None) -> None:
        """Pasted rule text over ``max_rule_text`` characters is refused with 413."""
        if rules is not None and len(rules) > self.config.max_rule_text:
            raise ApiProblem(
                413,
                "limit",
                f"rules: the rule text has {len(rules)} characters; this server takes at most "
                f"{self.config.max_rule_text} (limit max_rule_text)",
                path="rules",
                limit="max_rule_text",
                max=self.config.max_rule_text,
            )

    def check_state(self, state: NegotiationState, where: str = "state") -> None:
        """A history over ``max_history`` events is refused with 422 naming the limit."""
        if len(state.history) > self.config.max_history:
            raise ApiProblem(
                422,
                "limit",
                f"{where}.history: {len(state.history)} events; this server takes at most "
                f"{self.config.max_history} (limit max_history)",
                path=f"{where}.history",
                limit="max_history",
                max=self.config.max_history,
            )

    # -- running a call under the time budget --

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` in a worker thread: 503 when no slot frees up, 504 past the time budget.

        A call that runs over is abandoned, not killed: it finishes in the background and
        keeps its slot until then, so the bound on concurrent evaluations always holds.
        """
        loop = asyncio.get_running_loop()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent)
        slots = self._slots
        deadline = loop.time() + self.config.timeout
        try:
            await asyncio.wait_for(slots.acquire(), timeout=self.config.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise ApiProblem(
                503,
                "busy",
                f"{self.config.max_concurrent} evaluations are running (limit max_concurrent); try again",
                limit="max_concurrent",
                max=self.config.max_concurrent,
            ) from None
        future = loop.run_in_executor(self.pool, call)
        future.add_done_callback(lambda _f: slots.release())
        remaining = max(0.001, deadline - loop.time())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=remaining)
        except (asyncio.TimeoutError, TimeoutError):
            future.add_done_callback(_swallow)
            raise ApiProblem(
                504,
                "timeout",
                f"the evaluation took longer than the time budget of {self.config.timeout:g} s (limit timeout)",
                limit="timeout",
                max=self.config.timeout,
            ) from None

    async def answer(self, call: Callable[[], BaseModel], *, by_alias: bool = False) -> Response:
        """``run`` the call and write its JSON in the worker too (the models' own ``model_dump_json``)."""
        return await self.answer_json(lambda: call().model_dump_json(by_alias=by_alias))

    async def answer_json(self, call: Callable[[], str]) -> Response:
        """``run`` a call that returns JSON text (a worker process's answer)."""
        return Response(await self.run(call), media_type="application/json")

    def close(self) -> None:
        """Stop the worker threads and the worker process (calls still running finish first)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.worker.close()


def _swallow(future: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of an abandoned call so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The FastAPI application: /v1 endpoints, the OpenAPI document and the playground at ``/``."""
    config = config or ServerConfig()
    service = Service(config)
    app = FastAPI(
        title="negotiation-rules",
        version=__version__,
        summary="Ranked, explained, sourced negotiation advice from declarative rules.",
        openapi_url="/v1/openapi.json",
        docs_url=None,  # FastAPI's docs pages load from a CDN; the playground works offline instead
        redoc_url=None,
        root_path=config.root_path,
    )
    app.state.service = service
    app.router.on_startup.append(service.worker.start)
    app.router.on_shutdown.append(service.close)

    async def check_key(request: Request) -> None:
        if config.api_key is None:
            return
        given = request.headers.get("x-api-key", "")
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode("utf-8", "replace"), config.api_key.encode("utf-8")):
            raise ApiProblem(401, "unauthorized", "missing or wrong API key (send X-API-Key or Authorization: Bearer)")

    # -- errors as problem+json --

    @app.exception_handler(ApiProblem)
    async def _api_problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(list(exc.errors()))

    @app.exception_handler(WorkerCrashed)
    async def _crashed(_: Request, exc: WorkerCrashed) -> JSONResponse:
        return problem(503, "worker-crashed", str(exc))

    @app.exception_handler(NegotiationRulesError)
    async def _library(_: Request, exc: NegotiationRulesError) -> JSONResponse:
        return library_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body FastAPI could not even decode (not UTF-8, say): invalid JSON
            return problem(422, "invalid-input", f"body: not valid JSON ({exc.detail})", path="body")
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %r", request.method, request.url.path, exc)
        return problem(500, "internal", "internal error; the server log has the details")

    # -- endpoints --

    auth = [Depends(check_key)]

    @app.get("/v1/health", tags=["service"])
    def health() -> Health:
        """The service is up (never needs the API key)."""
        return Health(version=__version__, rules=len(builtin_ruleset()))

    @app.post(
        "/v1/advise", tags=["advice"], dependencies=auth, response_model=Advice, responses=_doc(401, 413, 422, 503, 504)
    )
    async def advise_endpoint(body: AdviseRequest) -> Response:
        """Ranked advice for a state (``advise()``), optionally with a named ruleset and playbook and pasted rules."""
        service.check_state(body.state)
        service.check_rule_text(body.rules)
        policy = service.playbook(body.playbook)
        if body.rules is not None:
            return await service.answer_json(
                service.pasted(
                    "advise",
                    state=body.state,
                    rules=body.rules,
                    ruleset=body.ruleset,
                    playbook=policy,
                    top=body.top,
                    questions=body.questions,
                )
            )
        return await service.answer(
            lambda: call_advise(
                body.state,
                ruleset=service.ruleset(body.ruleset),
                playbook=policy,
                top=body.top,
                questions=body.questions,
            )
        )

    @app.post(
        "/v1/explain",
        tags=["advice"],
        dependencies=auth,
        response_model=Explanation,
        responses=_doc(401, 413, 422, 503, 504),
    )
    async def explain_endpoint(body: ExplainRequest) -> Response:
        """Why a tactic was, or was not, recommended: every condition with its actual value."""
        service.check_state(body.state)
        service.check_rule_text(body.rules)
        policy = service.playbook(body.playbook)
        if body.rules is not None:
            return await service.answer_json(
                service.pasted(
                    "explain",
                    state=body.state,
                    rules=body.rules,
                    ruleset=body.ruleset,
                    playbook=policy,
                    tactic=body.tactic,
                )
            )
        return await service.answer(
            lambda: sanitize_explanation(
                explain(body.state, body.tactic, ruleset=service.ruleset(body.ruleset), playbook=policy)
            )
        )

    @app.post(
        "/v1/what-if",
        tags=["advice"],
        dependencies=auth,
        response_model=WhatIf,
        responses=_doc(401, 413, 422, 503, 504),
    )
    async def what_if_endpoint(body: WhatIfRequest) -> Response:
        """The smallest changes to the state that get a tactic recommended (or ranked first)."""
        service.check_state(body.state)
        service.check_rule_text(body.rules)
        policy = service.playbook(body.playbook)
        if body.rules is not None:
            return await service.answer_json(
                service.pasted(
                    "what-if",
                    state=body.state,
                    rules=body.rules,
                    ruleset=body.ruleset,
                    playbook=policy,
                    tactic=body.tactic,
                    goal=body.goal,
                    max_changes=body.max_changes,
                )
            )
        return await service.answer(
            lambda: what_if(
                body.state,
                body.tactic,
                goal=body.goal,
                max_changes=body.max_changes,
                ruleset=service.ruleset(body.ruleset),
                playbook=policy,
            ),
            by_alias=True,
        )

    @app.post(
        "/v1/negotiation",
        tags=["advice"],
        dependencies=auth,
        response_model=NegotiationResponse,
        responses=_doc(401, 413, 422, 503, 504),
    )
    async def negotiation_endpoint(body: NegotiationRequest) -> Response:
        """A negotiation over time, stateless: send the saved negotiation and the new events, keep what comes back."""
        saved = body.negotiation
        if saved.ruleset.kind == "files":
            raise ApiProblem(
                422,
                "state-error",
                "negotiation.ruleset: a saved negotiation that names rule files is not accepted from a client; "
                "name a ruleset of this server instead",
                error="StateError",
                path="negotiation.ruleset",
            )
        name = body.ruleset or (saved.ruleset.name if saved.ruleset.kind == "named" else None)
        if name is None and saved.ruleset.kind == "unsaved":
            raise ApiProblem(
                422,
                "state-error",
                "negotiation.ruleset: this negotiation used a ruleset that was never saved; name one with 'ruleset'",
                error="StateError",
                path="negotiation.ruleset",
            )
        total = len(saved.state.history) + len(body.record)
        if total > config.max_history:
            raise ApiProblem(
                422,
                "limit",
                f"negotiation.state.history: {total} events with the new ones; this server takes at most "
                f"{config.max_history} (limit max_history)",
                path="negotiation.state.history",
                limit="max_history",
                max=config.max_history,
            )
        policy = service.playbook(body.playbook) if body.playbook else saved.playbook

        def step() -> NegotiationResponse:
            rules = service.ruleset(name)
            negotiation = Negotiation(saved.state, ruleset=rules, playbook=policy)
            for event in body.record:
                negotiation.record(event)
            advice = call_advise(
                negotiation.state, ruleset=rules, playbook=policy, top=body.top, questions=body.questions
            )
            kept = SavedNegotiation(
                state=negotiation.state,
                ruleset=SavedRuleset(kind="builtin")
                if name in (None, "builtin")
                else SavedRuleset(kind="named", name=name),
                playbook=policy,
            )
            return NegotiationResponse(negotiation=kept, advice=advice)

        return await service.answer(step)

    @app.post(
        "/v1/lint",
        tags=["rules"],
        dependencies=auth,
        response_model=LintReport,
        responses=_doc(401, 413, 422, 503, 504),
    )
    async def lint_endpoint(body: LintRequest) -> Response:
        """Mistakes in pasted rule text, at their lines (file ``pasted.yaml``), also against a ruleset's ids."""
        service.check_rule_text(body.rules)
        if body.ruleset is None:
            base = None
        elif body.ruleset == "builtin":
            base = builtin_ruleset_dir()
        else:
            base = service.base_path(body.ruleset)
        task = {"kind": "lint", "rules": body.rules, "base": str(base) if base else None, "builtin": body.builtin}
        return await service.answer_json(lambda: service.worker.call(task))

    @app.get("/v1/tactics", tags=["rules"], dependencies=auth, responses=_doc(401, 422))
    def tactics(ruleset: str | None = None) -> list[TacticInfo]:
        """The tactic catalog with its sources, and the rules of the ruleset (default: built-in) for each."""
        if ruleset is not None and not re.match(NAME_PATTERN, ruleset):
            raise ApiProblem(422, "state-error", "ruleset: not a ruleset name", error="StateError", path="ruleset")
        rules = service.ruleset(ruleset)
        out = [
            TacticInfo(
                id=t.id,
                family=t.family,
                move=t.move,
                fits=t.fits,
                never=t.never,
                documents=list(t.documents),
                rules=[r.id for r in rules.rules_for(t.id)],
            )
            for t in CATALOG.values()
        ]
        for tactic in rules.tactics:
            if tactic not in CATALOG:
                found = rules.rules_for(tactic)
                out.append(
                    TacticInfo(
                        id=tactic,
                        family=tactic.split(".", 1)[0],
                        move=found[0].move,
                        fits="",
                        never="",
                        documents=sorted({s.document for r in found for s in r.sources}),
                        rules=[r.id for r in found],
                    )
                )
        return out

    @app.get("/v1/rulesets", tags=["rules"], dependencies=auth, responses=_doc(401))
    def names() -> Names:
        """The rulesets and playbooks a request may name."""
        return Names(rulesets=["builtin", *service.rulesets], playbooks=list(service.playbooks))

    @app.get("/v1/schemas", tags=["schemas"])
    def all_schemas() -> dict[str, dict[str, Any]]:
        """JSON Schemas of the state and of every answer, for tools in other languages."""
        return _schemas()

    @app.get("/v1/schemas/{name}", tags=["schemas"], responses=_doc(422))
    def one_schema(name: Literal["state", "advice", "explanation", "what-if", "finding"]) -> dict[str, Any]:
        """One JSON Schema by name: state, advice, explanation, what-if or finding."""
        return _schemas()[name]

    # -- the playground --

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key"],
        )
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _schemas() -> dict[str, dict[str, Any]]:
    from ._schemas import schemas

    return schemas()


def config_from_env(**overrides: Any) -> ServerConfig:
    """Settings with the API key read from ``NEGOTIATION_RULES_API_KEY`` unless given."""
    key = overrides.pop("api_key", None) or api_key_from_env(API_KEY_ENV)
    return ServerConfig(api_key=key, **overrides)


def api_key_from_env(name: str) -> str | None:
    """The API key in variable ``name``; None when unset, ValueError when set but blank (a failed secret lookup)."""
    value = os.environ.get(name)
    if value is None:
        return None
    if not value.strip():
        raise ValueError(f"{name} is set but empty: refusing to serve without the API key it was meant to hold")
    return value


def serve(config: ServerConfig) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )
