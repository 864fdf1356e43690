"""A company's policy over the rules: weight multipliers, disabled tactics (with a reason), a minimum score."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._deferred import build_before_fork
from ._errors import RulesetError, closest
from ._packaged import builtin_ruleset_dir
from ._yaml import MAX_FILE_BYTES, Entry, LineDict, load_yaml


class Playbook(BaseModel):
    """Keys of ``weights`` and ``disabled`` are tactic ids (``pressure.ultimatum``) or families (``pressure``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)  # built when used

    name: str = "playbook"
    description: str = ""
    weights: dict[str, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    disabled: dict[str, str] = Field(default_factory=dict)
    min_score: float = Field(default=0.0, ge=0.0)

    def multiplier(self, tactic: str) -> float:
        """Tactic multiplier times family multiplier (1.0 when not named)."""
        family = tactic.split(".", 1)[0]
        return self.weights.get(tactic, 1.0) * self.weights.get(family, 1.0)

    def disabled_reason(self, tactic: str) -> str | None:
        """Why the playbook disables this tactic (or its family), or None."""
        family = tactic.split(".", 1)[0]
        return self.disabled.get(tactic) or self.disabled.get(family)


build_before_fork(Playbook)


def load_playbook(path: str | Path) -> Playbook:
    """Load a playbook YAML file; the first mistake is a RulesetError (kind ``playbook``) with file, line and code."""
    file = str(path) if len(str(path)) <= 200 else f"{str(path)[:100]}...{str(path)[-100:]}"
    try:
        with Path(path).open("rb") as fh:
            data_bytes = fh.read(MAX_FILE_BYTES + 1)
        text = data_bytes.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise RulesetError(f"cannot read playbook: {reason}", file=file, code="cannot-read") from None
    if len(data_bytes) > MAX_FILE_BYTES:
        raise RulesetError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file, code="yaml-limit")
    data = load_yaml(text, file)
    if not isinstance(data, LineDict):
        raise RulesetError(
            "a playbook is a mapping (name, weights, disabled, min_score)", file=file, line=1, code="bad-file"
        )
    errors = list(iter_playbook_errors(Entry(data, file, None, "playbook")))
    if errors:
        raise errors[0]
    data.setdefault("name", Path(path).stem)
    return Playbook.model_validate(dict(data))


def iter_playbook_errors(entry: Entry) -> Iterator[RulesetError]:
    """Every mistake of a playbook mapping, each at its line: unknown keys, then what pydantic refuses."""
    yield from entry.unknown_keys(list(Playbook.model_fields), "playbook key")
    data = {k: v for k, v in entry.data.items() if k in Playbook.model_fields}
    data.setdefault("name", "playbook")
    try:
        Playbook.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            section = entry.data.get(loc[0]) if loc else None
            if len(loc) > 1 and isinstance(section, LineDict):
                line = section.line_of(loc[1])
            else:
                line = entry.line_of(loc[0]) if loc else entry.line
            yield entry.error(f"{'.'.join(loc)}: {err['msg']}", line=line)
    disabled = entry.data.get("disabled")
    if isinstance(disabled, LineDict):
        for key, reason in disabled.items():
            if isinstance(reason, str) and not reason.strip():
                yield entry.error(
                    f"disabled '{key}' needs a reason (it is shown to the user)", line=disabled.line_of(key)
                )


def builtin_playbooks() -> dict[str, Path]:
    """The example playbooks shipped in ``rulesets/playbooks/``, by name."""
    folder = builtin_ruleset_dir() / "playbooks"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def resolve_playbook(playbook: Playbook | str | Path | dict[str, Any] | None) -> Playbook | None:
    """None, a Playbook, a dict of one, a path to a playbook file, or a built-in playbook's name."""
    if playbook is None or isinstance(playbook, Playbook):
        return playbook
    if isinstance(playbook, dict):
        try:
            return Playbook.model_validate(playbook)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise RulesetError(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", file="<playbook>", kind="playbook"
            ) from None
    if isinstance(playbook, (str, Path)):
        path = Path(playbook)
        try:
            exists = path.exists()
        except (OSError, ValueError):  # a name too long, a NUL byte
            raise RulesetError("not a usable playbook path", file=_cut(str(playbook)), code="cannot-read") from None
        if not exists and isinstance(playbook, str) and path.name == playbook:
            named = builtin_playbooks().get(playbook)
            if named is None:
                name = _cut(playbook)
                raise RulesetError(
                    f"no playbook file or built-in playbook '{name}'",
                    file=name,
                    code="unknown-playbook",
                    suggestion=closest(playbook, builtin_playbooks()),
                )
            path = named
        return load_playbook(path)
    raise TypeError(f"playbook must be a Playbook, a dict, a path or None, not {type(playbook).__name__}")


def _cut(text: str, limit: int = 200) -> str:
    """A name for an error message, cut to a bounded length."""
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"
