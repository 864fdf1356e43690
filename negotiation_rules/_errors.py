"""The library's errors: every mistake a user can make ends in one of these, with a location.

The hierarchy (all exported from ``negotiation_rules``; docs/errors.md lists each code)::

    NegotiationRulesError               every error this library raises on purpose
    ├── StateError(ValueError)          a bad state or event; ``path`` names the field
    ├── RulesetError(ValueError)        a bad rule, playbook or catalog file; ``file``, ``line``, ``rule_id``
    ├── UnknownTacticError(ValueError)  explain/what-if/assert_* asked about a tactic no rule has
    ├── ScenarioError(ValueError)       a bad ``*.scenarios.yaml`` file; ``problems`` lists every mistake
    ├── ScoreError(ValueError)          ``negotiation-rules score`` cannot run as asked
    └── EngineError(RuntimeError)       durable-rules refused or failed; wraps the engine's own error
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

#: Longest error message: a message quoting a huge input is cut in the middle.
MAX_MESSAGE = 600
#: Longest word "did you mean" compares (difflib is quadratic).
MAX_SUGGEST = 100


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut in the middle to at most about ``limit`` characters."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} ...[{len(text) - limit} characters cut]... {text[-half:]}"


class NegotiationRulesError(Exception):
    """Base class of every error this library raises on purpose."""


class StateError(NegotiationRulesError, ValueError):
    """A negotiation state (or event) is invalid; ``path`` names the field, e.g. ``counterpart.trust``."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = bounded(path, 200)
        self.reason = bounded(message)
        super().__init__(f"{self.path}: {self.reason}" if path else self.reason)


class RulesetError(NegotiationRulesError, ValueError):
    """A rule file is invalid; the message reads ``file:line: rule 'id': what is wrong``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
        kind: str = "rule",
    ) -> None:
        self.kind = kind  # "rule" or "situation": what ``rule_id`` names
        self.file = file
        self.line = line
        self.rule_id = rule_id if rule_id is None else bounded(rule_id, 200)
        self.reason = bounded(message)
        where = bounded(file, 300) if file else "<rules>"
        if line is not None:
            where += f":{line}"
        who = f" {kind} '{self.rule_id}':" if rule_id else ""
        super().__init__(f"{where}:{who} {self.reason}")


class EngineError(NegotiationRulesError, RuntimeError):
    """durable-rules refused or failed on something; wraps the engine's own error."""


class UnknownTacticError(NegotiationRulesError, ValueError):
    """The tactic or rule id is not in the ruleset."""


class ScenarioError(NegotiationRulesError, ValueError):
    """A scenario file is invalid; ``problems`` lists each mistake as ``file:line: case 'name': what``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ScoreError(NegotiationRulesError, ValueError):
    """``score`` cannot run as asked (no input, an output folder of another job ...); one line for the user."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    word = str(word)
    if len(word) > MAX_SUGGEST:
        return ""
    close = difflib.get_close_matches(word, sorted({c for c in choices if len(c) <= MAX_SUGGEST}), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
