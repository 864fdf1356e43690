"""Negotiations over time: record events one by one, get advice that uses the whole history.

A ``Negotiation`` keeps the state and its growing history; each ``advise()`` derives what the
history implies (authority claims, deadlocks, the trends of history.py) and runs the rules in
durable-rules in an engine session of its own for that call, emptied afterwards, exactly as
``advise()`` does. So advice after any sequence of ``record()`` calls equals ``advise()`` on a
state with the same history, and a negotiation holds nothing inside the engine between calls:
thousands can be open at once. ``to_json()``/``from_json()`` let a stateless service keep a
negotiation between requests.

A saved negotiation is data from outside: restoring one never reads a file the caller did not
allow (``from_json(text, ruleset=...)`` re-supplies the rules, ``rule_folders=[...]`` allows
reading saved rule files inside those folders), checks a file's size before reading it, never
quotes a file's content in an error, and raises nothing but ``StateError`` for malformed data.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._advice import Advice
from ._advisor import advice_for
from ._errors import RulesetError, StateError
from ._evaluator import check_engine
from ._factcheck import excerpt
from ._history import trends as history_trends
from ._loader import MAX_FILES, PathLike
from ._pipeline import PlaybookArg, RulesetArg, check_top
from ._playbook import Playbook, resolve_playbook
from ._ruleset import Ruleset, builtin_ruleset, load_ruleset, resolve_ruleset
from ._state import MAX_HISTORY, Event, NegotiationState, parse_event, parse_state, state_error_from

FORMAT = "negotiation-rules/session"
VERSION = 1
#: Largest saved negotiation ``from_json`` parses (a full history is about 1 MB).
MAX_SAVED_BYTES = 20_000_000
MAX_PATH_CHARS = 4096
#: Reasons a rule file failed to load that quote nothing from inside it (others are not shown on restore).
_SAFE_REASONS = ("file is larger than", "not UTF-8", "cannot read", "not a regular file", "no such file")


class Negotiation:
    """One negotiation as a sequence of moves; thread-safe."""

    def __init__(
        self,
        state: NegotiationState | dict[str, Any] | str | None = None,
        *,
        ruleset: RulesetArg = None,
        playbook: PlaybookArg = None,
        engine: str = "durable",
    ) -> None:
        self._engine = check_engine(engine)  # how its advice is evaluated: a runtime choice, not saved by to_json
        self._state = parse_state(state if state is not None else {})
        self._ruleset: Ruleset = resolve_ruleset(ruleset)
        self._playbook: Playbook | None = resolve_playbook(playbook)
        self._lock = threading.RLock()
        self._closed = False
        self._trends: dict[str, bool] | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def state(self) -> NegotiationState:
        """The current state, history included: a copy (use record/update to change the negotiation's own).

        The state model is frozen, but its history and issues are lists and its set of given
        fields a set: handed out as they are, changing them would change the negotiation behind
        ``record`` and ``update`` (its trends stale, its saved file unreadable).
        """
        state = self._state
        fields = {**state.__dict__, "history": list(state.history), "issues": list(state.issues)}
        return NegotiationState.model_construct(set(state.model_fields_set), **fields)

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
        """Change state fields other than the history (``phase="closing"``, ``trust="low"`` ...).

        ``counterpart={...}`` as a dict changes only the keys it names (the rest of what is known
        about them stays); a ``Counterpart`` object, or any other field, replaces the value whole.
        """
        if "history" in fields:
            raise StateError("use record() to add events", "history")
        with self._lock:
            self._check_open()
            data = self._state.model_dump(exclude_unset=True)  # what was never given stays unknown
            known = data.get("counterpart")
            if isinstance(fields.get("counterpart"), Mapping) and isinstance(known, dict):
                fields = {**fields, "counterpart": {**known, **fields["counterpart"]}}
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
            return advice_for(
                self._state, self._ruleset, self._playbook, limit, asked, self.trends(), engine=self._engine
            )

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> str:
        """Everything needed to restore this negotiation: state, history, ruleset files, playbook."""
        with self._lock:
            if self._ruleset is builtin_ruleset():
                ruleset: dict[str, Any] = {"kind": "builtin"}
            else:
                files = sorted(
                    {_absolute(r.file) for r in self._ruleset.rules}
                    | {_absolute(s.file) for s in self._ruleset.situations}
                )
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
    def from_json(
        cls,
        text: str | bytes,
        *,
        ruleset: RulesetArg = None,
        playbook: PlaybookArg = None,
        rule_folders: Iterable[PathLike] | None = None,
        engine: str = "durable",
    ) -> Negotiation:
        """Restore a negotiation saved with ``to_json``; ``ruleset``/``playbook`` override what was saved.

        A negotiation saved on rule files names them; they are read only when they lie inside one
        of ``rule_folders`` (symbolic links resolved), or not at all when ``ruleset`` is given.
        Anything malformed is a ``StateError`` whose path starts with ``session``. ``engine`` is
        the engine its advice uses (``durable`` or ``compiled``; not part of what is saved).
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise StateError(f"a saved negotiation is JSON text, not {type(text).__name__}", "session")
        if len(text) > MAX_SAVED_BYTES:
            raise StateError(f"larger than {MAX_SAVED_BYTES} bytes", "session")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateError(f"not valid JSON: {excerpt(str(exc), 120)}", "session") from None
        except RecursionError:
            raise StateError("not valid JSON: nested too deeply", "session") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StateError(f"not a saved negotiation (format {FORMAT!r} expected)", "session.format")
        if data.get("version") != VERSION:
            raise StateError(f"unsupported version {excerpt(data.get('version'))}", "session.version")
        if ruleset is None:
            ruleset = _saved_ruleset(data.get("ruleset", {"kind": "builtin"}), rule_folders)
        if playbook is None:
            playbook = _saved_playbook(data.get("playbook"))
        state = data.get("state")
        if state is not None and not isinstance(state, dict):
            raise StateError(f"expected an object, got {type(state).__name__}", "session.state")
        try:
            return cls(state, ruleset=ruleset, playbook=playbook, engine=engine)
        except StateError as exc:
            raise StateError(exc.reason, f"session.state.{exc.path}" if exc.path else "session.state") from None

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


def _absolute(file: str) -> str:
    """A rule file's path as saved: absolute, so the restore does not depend on the working folder."""
    try:
        return str(Path(file).resolve())
    except (OSError, ValueError, RuntimeError):
        return file


def _saved_playbook(value: Any) -> Playbook | None:
    """The playbook saved with a negotiation: only ever its data (a name or path would read a file)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StateError(f"a saved playbook is an object, not {type(value).__name__}", "session.playbook")
    try:
        return Playbook.model_validate(value)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise StateError(err["msg"], f"session.playbook.{where}" if where else "session.playbook") from None
    except RecursionError:
        raise StateError("nested too deeply", "session.playbook") from None


def _allowed_folders(rule_folders: Iterable[PathLike]) -> list[Path]:
    if isinstance(rule_folders, (str, Path)):
        rule_folders = [rule_folders]
    folders = []
    for folder in rule_folders:
        try:
            real = Path(folder).resolve(strict=True)
        except (OSError, ValueError, RuntimeError, TypeError):
            raise RulesetError("an allowed rule folder that does not exist", file=excerpt(str(folder), 200)) from None
        if not real.is_dir():
            raise RulesetError("an allowed rule folder that is not a folder", file=excerpt(str(folder), 200))
        folders.append(real)
    return folders


def _inside(real: Path, folders: list[Path]) -> bool:
    return any(real.parent == folder or folder in real.parents for folder in folders)


def _allowed_file(index: int, name: Any, folders: list[Path]) -> Path:
    """The real path of one saved rule file, if it lies in an allowed folder (else a StateError)."""
    where = f"session.ruleset.files[{index}]"
    if not isinstance(name, str) or not name or len(name) > MAX_PATH_CHARS or "\x00" in name:
        raise StateError("each saved rule file is a path (text of at most 4096 characters)", where)
    path = Path(name)
    candidates = [path] if path.is_absolute() else [f / path for f in folders] + [f / path.name for f in folders]
    for candidate in candidates:
        try:
            real = candidate.resolve()
        except (OSError, ValueError, RuntimeError):
            continue
        if _inside(real, folders) and real.suffix in (".yaml", ".yml"):
            return real
    raise StateError("is outside the allowed rule folders (or not a .yaml file); not read", where)


def _saved_ruleset(saved: Any, rule_folders: Iterable[PathLike] | None) -> Ruleset | None:
    """The ruleset a saved negotiation names: built in, or its rule files if the caller allowed them."""
    if not isinstance(saved, dict):
        raise StateError("expected an object with a 'kind'", "session.ruleset")
    kind = saved.get("kind")
    if kind == "builtin":
        return None
    if kind == "unsaved":
        raise StateError("this negotiation used a ruleset that is not on disk; pass ruleset=...", "session.ruleset")
    if kind != "files":
        raise StateError(f"unknown kind {excerpt(kind)} (builtin, files or unsaved)", "session.ruleset.kind")
    files = saved.get("files")
    if not isinstance(files, list) or not files or len(files) > MAX_FILES:
        raise StateError(f"expected a list of 1 to {MAX_FILES} rule file paths", "session.ruleset.files")
    if rule_folders is None:
        raise StateError(
            "this negotiation was saved with rule files; pass ruleset=... to supply the rules,"
            " or rule_folders=[...] to allow reading rule files in those folders",
            "session.ruleset",
        )
    folders = _allowed_folders(rule_folders)
    paths = [_allowed_file(i, name, folders) for i, name in enumerate(files)]
    try:
        return load_ruleset(paths)
    except RulesetError as exc:
        shown = [str(p) for p in paths]
        index = shown.index(exc.file) if exc.file in shown else None
        where = f"session.ruleset.files[{index}]" if index is not None else "session.ruleset.files"
        reason = exc.reason if exc.reason.startswith(_SAFE_REASONS) else "is not a valid rule file"
        line = f" (line {exc.line})" if exc.line is not None else ""
        raise StateError(f"{reason}{line}", where) from None
