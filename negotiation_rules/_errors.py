"""The library's errors: every mistake a user can make ends in one of these, with a location.

The hierarchy (all exported from ``negotiation_rules``; docs/errors.md lists each code)::

    NegotiationRulesError               every error this library raises on purpose
    ├── StateError(ValueError)          a bad state or event; ``path`` names the field
    ├── RulesetError(ValueError)        a bad rule, playbook or catalog file; ``file``, ``line``, ``rule_id``,
    │                                   ``code`` (one of ``ERROR_CODES``) and ``suggestion`` (the did-you-mean)
    ├── UnknownTacticError(ValueError)  explain/what-if/assert_* asked about a tactic no rule has
    ├── ScenarioError(ValueError)       a bad ``*.scenarios.yaml`` file; ``problems`` lists every mistake
    ├── ScoreError(ValueError)          ``negotiation-rules score`` cannot run as asked
    └── EngineError(RuntimeError)       durable-rules refused or failed; wraps the engine's own error
"""

from __future__ import annotations

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


#: Every code a ``RulesetError`` can carry, with what it means (docs/errors.md lists each one; lint
#: reports a loader error as a finding with the same code).
ERROR_CODES: dict[str, str] = {
    "cannot-read": "the file or folder cannot be read as rule files (missing, not a file, not UTF-8, too many)",
    "invalid-yaml": "the file is not valid YAML, or uses a tag that would build an object",
    "yaml-limit": "a YAML feature or size rule files may not use: aliases, merge keys, deep nesting, huge numbers",
    "duplicate-key": "a mapping names the same key twice",
    "bad-file": "the file is not a mapping with 'rules', 'situations' or 'tactics' lists",
    "unknown-key": "a key the format does not have (with the nearest known key)",
    "missing-key": "a required key is missing",
    "bad-id": "an id that is not lower-case words joined by dots (with the nearest valid spelling)",
    "duplicate-id": "two rules, two situations or two declared tactics share an id",
    "bad-value": "a key holds the wrong kind of value (text, a number in range, a list ...)",
    "bad-condition": "a when/unless is not a condition (an empty list, a list where a mapping belongs ...)",
    "unknown-path": "a condition names a path (or trend) the state does not have",
    "unknown-situation": "a condition names a situation nobody declares",
    "unknown-operator": "a condition uses an operator that does not exist",
    "invalid-value": "a condition compares a field with a value outside it (an enum value, a type)",
    "unknown-placeholder": "the rationale names a field the state does not have",
    "no-source": "a rule without a source (a document and a section)",
    "situation-cycle": "situations that build on each other in a circle, or more than 100 levels deep",
    "catalog-tactic": "a rule file declares a tactic the catalog already has",
    "engine-limit": "durable-rules cannot run the condition (too many alternatives or values, names it mixes up)",
    "unknown-playbook": "no playbook file or built-in playbook of that name",
    "load-error": "any other problem the loader refused",
}


class RulesetError(NegotiationRulesError, ValueError):
    """A rule file is invalid; the message reads ``file:line: rule 'id': what is wrong (did you mean 'x'?)``.

    ``code`` says which mistake it is (a key of ``ERROR_CODES``, stable across wording changes);
    ``suggestion`` is the nearest valid word when there is one (also shown in the message).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
        kind: str = "rule",
        code: str = "load-error",
        suggestion: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"RulesetError code {code!r} is not in ERROR_CODES")
        self.kind = kind  # "rule", "situation", "tactic" or "playbook": what ``rule_id`` names
        self.file = file
        self.line = line
        self.rule_id = rule_id if rule_id is None else bounded(rule_id, 200)
        self.code = code
        self.suggestion = suggestion
        self.what = bounded(message)  # what is wrong, without the location and the suggestion
        hint = f" (did you mean '{suggestion}'?)" if suggestion is not None else ""
        self.reason = bounded(message + hint)
        where = bounded(file, 300) if file else "<rules>"
        if line is not None:
            where += f":{line}"
        who = f" {kind} '{self.rule_id}':" if rule_id else ""
        super().__init__(f"{where}:{who} {self.reason}")

    def located(self, *, file: str | None = None, rule_id: str | None = None, kind: str | None = None) -> RulesetError:
        """This error with the file, owner id and kind filled in where it had none (the driver locates once)."""
        return RulesetError(
            self.what,
            file=self.file or file,
            line=self.line,
            rule_id=self.rule_id or rule_id,
            kind=kind or self.kind,
            code=self.code,
            suggestion=self.suggestion,
        )


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


def closest(word: object, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, or None: the data behind "did you mean".

    A dotted path whose last part is a choice's (``counterpart.trust`` for ``trust``) gets that
    choice. Otherwise difflib proposes up to five choices (cutoff 0.6) and the one fewest typing
    mistakes away wins (``_typos``: two swapped letters are one mistake), then difflib's order:
    ``rulse`` is ``rules``, not ``ruleset``, which difflib alone ranks first.
    """
    text = str(word)
    if len(text) > MAX_SUGGEST:
        return None
    options = sorted({c for c in choices if len(c) <= MAX_SUGGEST})
    if "." in text:
        last = text.rsplit(".", 1)[1]
        same = [c for c in options if c != text and c.rsplit(".", 1)[-1] == last]
        if len(same) == 1:
            return same[0]
    import difflib  # only a mistake needs it: not imported with the library

    close = difflib.get_close_matches(text, options, n=5, cutoff=0.6)
    if not close:
        return None
    return min(enumerate(close), key=lambda pair: (_typos(text, pair[1]), pair[0]))[1]


def _typos(a: str, b: str) -> int:
    """Letters inserted, deleted, replaced or two neighbours swapped to turn ``a`` into ``b`` (optimal alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


class UsageError(Exception):
    """A mistake on the command line (bad file, bad option): one line, exit 2.

    Outside the library's hierarchy on purpose: only the command line (``_cli``, ``_score``)
    raises it, and it never reaches a caller of the library.
    """


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close is not None else ""
