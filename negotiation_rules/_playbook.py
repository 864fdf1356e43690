"""A company's policy over the rules: weight multipliers, disabled tactics (with a reason), a minimum score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._errors import RulesetError, did_you_mean
from ._yaml import MAX_FILE_BYTES, LineDict, load_yaml


class Playbook(BaseModel):
    """Keys of ``weights`` and ``disabled`` are tactic ids (``pressure.ultimatum``) or families (``pressure``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = "playbook"
    description: str = ""
    weights: dict[str, float] = Field(default_factory=dict)
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


def _check(playbook: Playbook, file: str, data: Any) -> None:
    for section in ("weights", "disabled"):
        for key, value in getattr(playbook, section).items():
            line = (
                data[section].line_of(key)
                if isinstance(data, LineDict) and isinstance(data.get(section), LineDict)
                else None
            )
            if section == "weights" and value < 0:
                raise RulesetError(f"weight multiplier for '{key}' must be >= 0", file=file, line=line)
            if section == "disabled" and not value.strip():
                raise RulesetError(f"disabled '{key}' needs a reason (it is shown to the user)", file=file, line=line)


def load_playbook(path: str | Path) -> Playbook:
    """Load a playbook YAML file; mistakes are RulesetError with file and line."""
    file = str(path) if len(str(path)) <= 200 else f"{str(path)[:100]}...{str(path)[-100:]}"
    try:
        with Path(path).open("rb") as fh:
            data_bytes = fh.read(MAX_FILE_BYTES + 1)
        text = data_bytes.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise RulesetError(f"cannot read playbook: {reason}", file=file) from None
    if len(data_bytes) > MAX_FILE_BYTES:
        raise RulesetError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file)
    data = load_yaml(text, file)
    if not isinstance(data, dict):
        raise RulesetError("a playbook is a mapping (name, weights, disabled, min_score)", file=file, line=1)
    for key in data:
        if key not in Playbook.model_fields:
            raise RulesetError(
                f"unknown playbook key '{key}'{did_you_mean(key, Playbook.model_fields)}",
                file=file,
                line=data.line_of(key) if isinstance(data, LineDict) else None,
            )
    data.setdefault("name", Path(path).stem)
    try:
        playbook = Playbook.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        top = str(err["loc"][0]) if err["loc"] else ""
        line = data.line_of(top) if isinstance(data, LineDict) and top else None
        where = ".".join(str(p) for p in err["loc"])
        raise RulesetError(f"{where}: {err['msg']}", file=file, line=line) from None
    _check(playbook, file, data)
    return playbook


def builtin_playbooks() -> dict[str, Path]:
    """The example playbooks shipped in ``rulesets/playbooks/``, by name."""
    from ._ruleset import builtin_ruleset_dir

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
            raise RulesetError(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", file="<playbook>") from None
    if isinstance(playbook, (str, Path)):
        path = Path(playbook)
        try:
            exists = path.exists()
        except (OSError, ValueError):  # a name too long, a NUL byte
            raise RulesetError("not a usable playbook path", file=_cut(str(playbook))) from None
        if not exists and isinstance(playbook, str) and path.name == playbook:
            named = builtin_playbooks().get(playbook)
            if named is None:
                hint = did_you_mean(playbook, builtin_playbooks())
                name = _cut(playbook)
                raise RulesetError(f"no playbook file or built-in playbook '{name}'{hint}", file=name)
            path = named
        return load_playbook(path)
    raise TypeError(f"playbook must be a Playbook, a dict, a path or None, not {type(playbook).__name__}")


def _cut(text: str, limit: int = 200) -> str:
    """A name for an error message, cut to a bounded length."""
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"
