"""Scenario files (``*.scenarios.yaml``): named states and what the advice for each must (not) contain.

    ruleset: ../rules              # optional: file, folder or list of them, relative to this file
    playbook: ../playbook.yaml     # optional: a playbook file (relative) or an inline mapping; {}: none
    cases:
      - name: an experienced opponent hiding behind the boss is provoked
        state: {phase: bargaining, counterpart: {authority: claimed_higher, experience: experienced}}
        recommends: [authority.provoke]
        recommends_top: 3          # with `recommends`: each of them is within the 3 best
        first: authority.tit_for_tat
        not_recommends: [pressure.ultimatum]
        set_aside: [pressure.strong_posture, {tactic: authority.provoke, reason_contains: long-term}]
        ranks_before: [[authority.provoke, authority.set_easy_premises]]

``load_scenarios(path)`` reads and checks a file completely before anything runs: YAML, keys
(with a "did you mean"), the states (a ``StateError`` pointed at its line), the rulesets and
playbooks (loaded), and every tactic id against the case's ruleset. A case that could never
pass (no expectation, or a tactic both expected and not expected) is refused too. Every
problem found is reported at once, each as ``file:line: case 'name': what is wrong``.

The pytest plugin turns each case into a test item; ``Scenario.run()`` works without pytest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._advice import Advice
from .._errors import RulesetError, ScenarioError, StateError
from .._loader import SCENARIO_SUFFIX
from .._packaged import BUILTIN, builtin_ruleset_dir
from .._playbook import Playbook, load_playbook, resolve_playbook
from .._ruleset import Ruleset, builtin_ruleset, load_ruleset, resolve_ruleset
from .._state import NegotiationState, parse_state
from .._yaml import Entry, LineDict, LineList, line_of, load_yaml
from . import Expectation, check, unknown_tactic_hint

__all__ = ["SCENARIO_SUFFIX", "Scenario", "ScenarioError", "load_scenarios"]

FILE_KEYS = ("ruleset", "playbook", "description", "cases")
CASE_KEYS = (
    "name",
    "description",
    "state",
    "ruleset",
    "playbook",
    "recommends",
    "recommends_top",
    "first",
    "not_recommends",
    "set_aside",
    "ranks_before",
)
EXPECTATION_KEYS = ("recommends", "first", "not_recommends", "set_aside", "ranks_before")
SET_ASIDE_KEYS = ("tactic", "reason_contains")


@dataclass(frozen=True)
class Scenario:
    """One case of a scenario file, loaded and checked: run it to check its expectations."""

    name: str
    file: Path
    line: int
    state: NegotiationState
    ruleset: Ruleset
    playbook: Playbook | None
    expectations: tuple[Expectation, ...]
    description: str = ""
    label: str = ""  # the file as shown in messages (relative to where pytest runs)
    engine: str = "durable"  # the engine advise() uses (pytest --rules-engine)

    def run(self) -> Advice:
        """Advise once and check every expectation (AssertionError with the whole story if one is missed)."""
        context = f"(scenario '{self.name}', {self.label}:{self.line})"
        return check(
            self.state,
            self.expectations,
            ruleset=self.ruleset,
            playbook=self.playbook,
            context=context,
            engine=self.engine,
        )


def _plain(value: Any) -> Any:
    """LineDict/LineList -> dict/list, so the state validator sees ordinary data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _line_of_path(node: Any, path: str, default: int) -> int:
    """The line of ``counterpart.authority`` / ``history[3].by`` inside a loaded YAML mapping."""
    line = default
    for name, index in _PATH_PART.findall(path):
        if name and isinstance(node, LineDict) and name in node:
            line = node.line_of(name)
            node = node[name]
        elif index and isinstance(node, LineList) and int(index) < len(node):
            line = node.item_lines[int(index)]
            node = node[int(index)]
        else:
            break
    return line


class _Parser:
    """Reads one scenario file, collecting every problem before giving up."""

    def __init__(
        self,
        path: Path,
        default_ruleset: Ruleset | Path | list[str | Path] | None,
        cache: dict[Any, Any],
        label: str | None,
    ) -> None:
        self.path = path
        self.file = label or str(path)
        self.base = path.parent
        self.default_ruleset = default_ruleset
        self.cache = cache
        self.found: list[tuple[int, str]] = []

    @property
    def problems(self) -> list[str]:
        """Every problem found so far, in the order of the file's lines."""
        return [text for _, text in sorted(self.found, key=lambda p: p[0])]

    def reported(self, errors: Iterable[RulesetError]) -> None:
        """Keep located errors of the shared reader (``Entry``) as problems, at their lines."""
        for error in errors:
            self.found.append((error.line or 0, str(error)))

    def problem(self, line: int | None, message: str, case: str | None = None) -> None:
        """Keep one problem, located as ``file:line: case 'name': what``."""
        where = f"{self.file}:{line}" if line else self.file
        who = f" case '{case}':" if case else ""
        self.found.append((line or 0, f"{where}:{who} {message}"))

    # -- rulesets and playbooks ---------------------------------------------------------------

    def ruleset(self, value: Any, line: int, case: str | None = None) -> Ruleset | None:
        """The ruleset a ``ruleset:`` value names (paths relative to this file), or None after a problem."""
        if isinstance(value, str) and value:
            paths = [self._path(value)]
        elif isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            paths = [self._path(v) for v in value]
        else:
            self.problem(line, f"'ruleset' is a path or a list of paths (relative to this file), got {value!r}", case)
            return None
        key = ("ruleset", *(str(p.resolve()) for p in paths))  # "builtin" is the built-in folder itself
        try:
            if len(paths) == 1:
                return resolve_ruleset(paths[0])  # cached until one of its files changes
            if key not in self.cache:
                self.cache[key] = load_ruleset(paths)
            ruleset: Ruleset = self.cache[key]
            return ruleset
        except RulesetError as exc:
            self.problem(line, f"ruleset: {exc}", case)
            return None

    def _path(self, value: str) -> Path:
        """A ruleset path relative to this file; ``builtin`` is the built-in rules' folder."""
        return builtin_ruleset_dir() if value == BUILTIN else self.base / value

    def playbook(self, value: Any, line: int, case: str | None = None) -> Playbook | None:
        """The playbook a ``playbook:`` value names or holds inline, or None after a problem."""
        if value is None or value == {}:
            return None  # a case says "no playbook" where its file names one
        try:
            if isinstance(value, str) and value:
                return load_playbook(self.base / value)
            if isinstance(value, dict):
                return resolve_playbook(_plain(value))
        except RulesetError as exc:
            self.problem(line, f"playbook: {exc}", case)
            return None
        self.problem(line, f"'playbook' is a path (relative to this file) or a mapping, got {value!r}", case)
        return None

    def default(self) -> Ruleset | None:
        """The ruleset of cases that name none: the caller's default, or the built-in rules."""
        if isinstance(self.default_ruleset, Ruleset):
            return self.default_ruleset
        try:
            return resolve_ruleset(self.default_ruleset) if self.default_ruleset else builtin_ruleset()
        except RulesetError as exc:
            self.problem(None, f"default ruleset (negotiation_rules_rulesets): {exc}")
            return None

    # -- the file -----------------------------------------------------------------------------

    def parse(self) -> list[Scenario]:
        """Every case of the file; ScenarioError listing every problem found when there is any."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError([f"{self.file}: cannot read: {exc}"]) from None
        try:
            doc = load_yaml(text, self.file)
        except RulesetError as exc:
            raise ScenarioError([str(exc)]) from None
        if not isinstance(doc, LineDict) or "cases" not in doc:
            raise ScenarioError([f"{self.file}:{line_of(doc, 1)}: a scenario file is a mapping with a 'cases' list"])
        self.reported(Entry(doc, self.file, None).unknown_keys(FILE_KEYS, "top-level key"))
        if not isinstance(doc.get("description", ""), str):
            self.problem(doc.line_of("description"), "'description' is text")
        ruleset = self.ruleset(doc["ruleset"], doc.line_of("ruleset")) if "ruleset" in doc else self.default()
        playbook = self.playbook(doc["playbook"], doc.line_of("playbook")) if "playbook" in doc else None
        cases = doc["cases"]
        if not isinstance(cases, LineList) or not cases:
            self.problem(doc.line_of("cases"), "'cases' is a non-empty list of cases")
            raise ScenarioError(self.problems)
        scenarios = []
        seen: dict[str, int] = {}
        for item, line in zip(cases, cases.item_lines, strict=True):
            scenario = self.case(item, line, ruleset, playbook, seen)
            if scenario is not None:
                scenarios.append(scenario)
        if self.problems:
            raise ScenarioError(self.problems)
        return scenarios

    def case(
        self, item: Any, line: int, ruleset: Ruleset | None, playbook: Playbook | None, seen: dict[str, int]
    ) -> Scenario | None:
        """One case as a Scenario, or None after reporting its problems."""
        if not isinstance(item, LineDict):
            self.problem(line, "each case is a mapping with a 'name', a 'state' and expectations")
            return None
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or "::" in name or "\n" in name:
            self.problem(item.line_of("name"), f"each case needs a 'name' (one line of text, no '::'), got {name!r}")
            return None
        if name in seen:
            self.problem(item.line_of("name"), f"duplicate case name, first used on line {seen[name]}", name)
            return None
        seen[name] = item.line_of("name")
        before = len(self.found)
        self.reported(Entry(item, self.file, name, "case").unknown_keys(CASE_KEYS))
        if "ruleset" in item:
            ruleset = self.ruleset(item["ruleset"], item.line_of("ruleset"), name)
        if "playbook" in item:
            playbook = self.playbook(item["playbook"], item.line_of("playbook"), name)
        state = self.state(item, name)
        expectations = list(self.expectations(item, name, ruleset))
        if len(self.found) > before or state is None or ruleset is None:
            return None
        description = item.get("description", "")
        if not isinstance(description, str):
            self.problem(item.line_of("description"), "'description' is text", name)
            return None
        return Scenario(
            name=name,
            file=self.path,
            line=item.line,
            state=state,
            ruleset=ruleset,
            playbook=playbook,
            expectations=tuple(expectations),
            description=description,
            label=self.file,
        )

    def state(self, item: LineDict, name: str) -> NegotiationState | None:
        """The case's ``state`` validated as a NegotiationState, or None (a problem at the field's line)."""
        raw = item.get("state", {})
        line = item.line_of("state")
        if not isinstance(raw, dict):
            self.problem(line, f"'state' is a mapping of state fields, got {raw!r}", name)
            return None
        try:
            return parse_state(_plain(raw))
        except StateError as exc:
            self.problem(_line_of_path(raw, exc.path, line), f"state: {exc}", name)
            return None

    # -- expectations -------------------------------------------------------------------------

    def tactic_list(self, item: LineDict, key: str, name: str) -> list[tuple[str, int]]:
        """A list of tactic ids (or one id) under ``key``, each with its line."""
        value = item[key]
        line = item.line_of(key)
        if isinstance(value, str):
            return [(value, line)]
        if not isinstance(value, LineList) or not all(isinstance(v, str) for v in value):
            self.problem(line, f"'{key}' is a list of tactic ids, got {value!r}", name)
            return []
        return list(zip(value, value.item_lines, strict=True))

    def known(self, ruleset: Ruleset | None, tactic: str, line: int, name: str) -> bool:
        """Whether ``tactic`` is a tactic of ``ruleset`` (a problem with a did-you-mean when not)."""
        if ruleset is None:
            return True  # the ruleset's own error is reported already
        hint = unknown_tactic_hint(ruleset, tactic)
        if hint is None:
            return True
        self.problem(line, f"unknown tactic '{tactic}': not in ruleset '{ruleset.name}'{hint}", name)
        return False

    def expectations(self, item: LineDict, name: str, ruleset: Ruleset | None) -> Iterator[Expectation]:
        """The case's expectations (recommends, first, not_recommends, ...), problems reported as found."""
        if not any(key in item for key in EXPECTATION_KEYS):
            self.problem(item.line, f"no expectation: give at least one of {', '.join(EXPECTATION_KEYS)}", name)
            return
        wanted: dict[str, int] = {}  # tactics that must be recommended, and where
        unwanted: dict[str, int] = {}  # tactics that must not be
        top = item.get("recommends_top")
        if "recommends_top" in item:
            if "recommends" not in item:
                self.problem(item.line_of("recommends_top"), "'recommends_top' needs a 'recommends' list", name)
            if not isinstance(top, int) or isinstance(top, bool) or top < 1:
                self.problem(item.line_of("recommends_top"), f"'recommends_top' is a number >= 1, got {top!r}", name)
                top = None
        if "recommends" in item:
            for tactic, line in self.tactic_list(item, "recommends", name):
                if self.known(ruleset, tactic, line, name):
                    wanted[tactic] = line
                    yield Expectation("recommends", (tactic,), top=top)
        if "first" in item:
            tactic, line = item["first"], item.line_of("first")
            if not isinstance(tactic, str):
                self.problem(line, f"'first' is one tactic id, got {tactic!r}", name)
            elif self.known(ruleset, tactic, line, name):
                wanted[tactic] = line
                yield Expectation("recommends", (tactic,), top=1)
        if "not_recommends" in item:
            for tactic, line in self.tactic_list(item, "not_recommends", name):
                if self.known(ruleset, tactic, line, name):
                    unwanted[tactic] = line
                    yield Expectation("not_recommends", (tactic,))
        if "set_aside" in item:
            yield from self.set_aside(item, name, ruleset, unwanted)
        if "ranks_before" in item:
            yield from self.ranks_before(item, name, ruleset, wanted)
        for tactic, line in unwanted.items():
            if tactic in wanted:
                self.problem(
                    line,
                    f"'{tactic}' is expected both recommended (line {wanted[tactic]}) and not: "
                    "this case could never pass",
                    name,
                )

    def set_aside(
        self, item: LineDict, name: str, ruleset: Ruleset | None, unwanted: dict[str, int]
    ) -> Iterator[Expectation]:
        """The tactics ``set_aside`` expects set aside, with an optional reason text each."""
        value, line = item["set_aside"], item.line_of("set_aside")
        entries = [value] if isinstance(value, (str, LineDict)) else value
        if not isinstance(entries, list):
            self.problem(
                line, f"'set_aside' is a list of tactic ids or {{tactic, reason_contains}}, got {value!r}", name
            )
            return
        lines = entries.item_lines if isinstance(entries, LineList) else [line] * len(entries)
        for entry, entry_line in zip(entries, lines, strict=True):
            reason = None
            if isinstance(entry, LineDict):
                self.reported(Entry(entry, self.file, name, "case").unknown_keys(SET_ASIDE_KEYS))
                reason = entry.get("reason_contains")
                if reason is not None and (not isinstance(reason, str) or not reason):
                    self.problem(entry.line_of("reason_contains"), "'reason_contains' is text", name)
                    reason = None
                entry_line = entry.line_of("tactic")
                entry = entry.get("tactic")
            if not isinstance(entry, str):
                self.problem(entry_line, f"each 'set_aside' entry names a tactic id, got {entry!r}", name)
            elif self.known(ruleset, entry, entry_line, name):
                unwanted[entry] = entry_line
                yield Expectation("set_aside", (entry,), reason_contains=reason)

    def ranks_before(
        self, item: LineDict, name: str, ruleset: Ruleset | None, wanted: dict[str, int]
    ) -> Iterator[Expectation]:
        """The ``[a, b]`` pairs of ``ranks_before``: a must rank above b."""
        value, line = item["ranks_before"], item.line_of("ranks_before")
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            pairs, lines = [value], [line]  # one pair written without the outer list
        elif isinstance(value, LineList):
            pairs, lines = list(value), value.item_lines
        else:
            self.problem(line, f"'ranks_before' is a list of [first, second] pairs, got {value!r}", name)
            return
        for pair, pair_line in zip(pairs, lines, strict=True):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
                self.problem(pair_line, f"each 'ranks_before' entry is a pair [first, second], got {pair!r}", name)
                continue
            if pair[0] == pair[1]:
                self.problem(pair_line, f"'{pair[0]}' cannot rank before itself: this case could never pass", name)
                continue
            if all([self.known(ruleset, t, pair_line, name) for t in pair]):  # report both, not the first
                for tactic in pair:
                    wanted.setdefault(tactic, pair_line)
                yield Expectation("ranks_before", (pair[0], pair[1]))


def load_scenarios(
    path: str | Path,
    *,
    default_ruleset: Ruleset | str | Path | list[str | Path] | None = None,
    cache: dict[Any, Any] | None = None,
    label: str | None = None,
) -> list[Scenario]:
    """Read and check a scenario file; ``default_ruleset`` applies where the file names none (None: built-in).

    Raises ScenarioError listing every problem, each with file and line; ``label`` is how the
    file is named in messages (default: ``path``); ``cache`` keeps rulesets loaded from several
    paths between files.
    """
    default: Ruleset | Path | list[str | Path] | None
    if default_ruleset is None or isinstance(default_ruleset, (Ruleset, list)):
        default = default_ruleset
    else:
        default = Path(default_ruleset)
    return _Parser(Path(path), default, {} if cache is None else cache, label).parse()
