"""The library's errors: every mistake a user can make ends in one of these, with a location."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NegotiationRulesError(Exception):
    """Base class of every error this library raises on purpose."""


class StateError(NegotiationRulesError, ValueError):
    """A negotiation state (or event) is invalid; ``path`` names the field, e.g. ``counterpart.trust``."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class RulesetError(NegotiationRulesError, ValueError):
    """A rule file is invalid; the message reads ``file:line: rule 'id': what is wrong``."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, rule_id: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.rule_id = rule_id
        self.reason = message
        where = file or "<rules>"
        if line is not None:
            where += f":{line}"
        who = f" rule '{rule_id}':" if rule_id else ""
        super().__init__(f"{where}:{who} {message}")


class EngineError(NegotiationRulesError, RuntimeError):
    """durable-rules refused or failed on something; wraps the engine's own error."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
