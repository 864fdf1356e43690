"""Negotiations over time: record events one by one, get advice that uses the whole history.

A ``Negotiation`` keeps the state and its growing history; each ``advise()`` derives what the
history implies (authority claims, deadlocks, the trends of history.py) and runs the rules in
durable-rules in an engine session of its own for that call, emptied afterwards, exactly as
``advise()`` does. So advice after any sequence of ``record()`` calls equals ``advise()`` on a
state with the same history, and a negotiation holds nothing inside the engine between calls:
thousands can be open at once. ``to_json()``/``from_json()`` let a stateless service keep a
negotiation between requests.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .advice import Advice
from .advisor import PlaybookArg, RulesetArg, advice_for, check_top
from .errors import StateError
from .history import trends as history_trends
from .playbook import Playbook, resolve_playbook
from .ruleset import Ruleset, builtin_ruleset, load_ruleset, resolve_ruleset
from .state import MAX_HISTORY, Event, NegotiationState, parse_event, parse_state, state_error_from

FORMAT = "negotiation-rules/session"
VERSION = 1


class Negotiation:
    """One negotiation as a sequence of moves; thread-safe."""

    def __init__(
        self,
        state: NegotiationState | dict[str, Any] | str | None = None,
        *,
        ruleset: RulesetArg = None,
        playbook: PlaybookArg = None,
    ) -> None:
        self._state = parse_state(state if state is not None else {})
        self._ruleset: Ruleset = resolve_ruleset(ruleset)
        self._playbook: Playbook | None = resolve_playbook(playbook)
        self._lock = threading.RLock()
        self._closed = False
        self._trends: dict[str, bool] | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def state(self) -> NegotiationState:
        """The current state, history included (immutable; use record/update to change it)."""
        return self._state

    @property
    def history(self) -> list[Event]:
        """The events recorded so far, oldest first."""
        return list(self._state.history)

    @property
    def ruleset(self) -> Ruleset:
        return self._ruleset

    @property
    def playbook(self) -> Playbook | None:
        return self._playbook

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this negotiation is closed")

    def record(self, event: Event | dict[str, Any] | None = None, /, **fields: Any) -> None:
        """Add one event (an Event, a dict, or keyword fields); invalid events raise StateError and change nothing."""
        parsed = parse_event(event if event is not None else fields)
        with self._lock:
            self._check_open()
            if len(self._state.history) >= MAX_HISTORY:
                raise StateError(f"a negotiation holds at most {MAX_HISTORY} events", "history")
            self._state = self._state.model_copy(update={"history": [*self._state.history, parsed]})
            self._trends = None

    def update(self, **fields: Any) -> None:
        """Change state fields other than the history (``phase="closing"``, ``trust="low"`` ...)."""
        if "history" in fields:
            raise StateError("use record() to add events", "history")
        with self._lock:
            self._check_open()
            data = self._state.model_dump(exclude_unset=True)  # what was never given stays unknown
            data.update(fields)
            try:
                self._state = NegotiationState.model_validate(data)
            except ValidationError as exc:
                raise state_error_from(exc, NegotiationState) from None

    # -- advice ------------------------------------------------------------------------------

    def trends(self) -> dict[str, bool]:
        """Which history trends hold now (kept until the next recorded event)."""
        with self._lock:
            self._check_open()
            if self._trends is None:
                self._trends = history_trends(self._state.history)
            return dict(self._trends)

    def advise(self, *, top: int | None = None, questions: int | None = 3) -> Advice:
        """Advice for the negotiation as it stands, using the whole history (and the questions worth asking)."""
        limit = check_top(top)
        asked = check_top(questions, "questions") or 0
        with self._lock:
            return advice_for(self._state, self._ruleset, self._playbook, limit, asked, self.trends())

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> str:
        """Everything needed to restore this negotiation: state, history, ruleset files, playbook."""
        with self._lock:
            if self._ruleset is builtin_ruleset():
                ruleset: dict[str, Any] = {"kind": "builtin"}
            else:
                files = sorted({r.file for r in self._ruleset.rules} | {s.file for s in self._ruleset.situations})
                saved = all(Path(f).is_file() for f in files)
                ruleset = (
                    {"kind": "files", "files": files} if saved else {"kind": "unsaved", "name": self._ruleset.name}
                )
            return json.dumps(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "state": self._state.model_dump(mode="json", exclude_unset=True),
                    "ruleset": ruleset,
                    "playbook": self._playbook.model_dump(mode="json") if self._playbook else None,
                }
            )

    @classmethod
    def from_json(cls, text: str | bytes, *, ruleset: RulesetArg = None, playbook: PlaybookArg = None) -> Negotiation:
        """Restore a negotiation saved with ``to_json``; ``ruleset``/``playbook`` override what was saved."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateError(f"not valid JSON: {exc}", "session") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StateError(f"not a saved negotiation (format {FORMAT!r} expected)", "session.format")
        if data.get("version") != VERSION:
            raise StateError(f"unsupported version {data.get('version')!r}", "session.version")
        saved = data.get("ruleset") or {}
        if ruleset is None and saved.get("kind") == "files":
            ruleset = load_ruleset(saved["files"])
        elif ruleset is None and saved.get("kind") == "unsaved":
            raise StateError("this negotiation used a ruleset that is not on disk; pass ruleset=...", "session.ruleset")
        if playbook is None and data.get("playbook") is not None:
            playbook = Playbook.model_validate(data["playbook"])
        return cls(data.get("state"), ruleset=ruleset, playbook=playbook)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """End the negotiation: later calls raise; idempotent. Nothing is held in the engine meanwhile."""
        with self._lock:
            self._closed = True

    def __enter__(self) -> Negotiation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        status = "closed" if self.closed else f"{len(self._state.history)} events"
        return f"<Negotiation phase={self._state.phase} {status}>"
