"""Where the data shipped with the package lives (the built-in rule files, catalog, playbooks)."""

from __future__ import annotations

from pathlib import Path

from ._errors import RulesetError

#: In a list of rule paths, this name stands for the built-in rule files ("the built-in rules plus these").
BUILTIN = "builtin"


def builtin_ruleset_dir() -> Path:
    """The folder of built-in rule files: inside the installed package, or the repository's ``rulesets/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rulesets", here.parent / "rulesets"):
        if candidate.is_dir():
            return candidate
    raise RulesetError(
        "the built-in rulesets are missing from this installation", file=str(here / "rulesets"), code="cannot-read"
    )
