"""A linter for rulesets: every mistake of a set of rule files, each with its code, file, line and rule id.

The loader (``_loader.py``) yields every mistake it refuses (unknown paths and keys, enum
values outside their field, missing sources ...), each with a code of ``ERROR_CODES``; the
linter reports them as error findings with the same code. On top of that it finds what is
well formed but wrong, which no loader can refuse:

======================== ======== ==========================================================
code                     severity what it means
======================== ======== ==========================================================
unknown-tactic           warning  the tactic is neither in the catalog nor declared in a
                                  ``tactics:`` list (an error in the built-in rules)
never-holds              error    a ``when`` (or a situation) can never hold: contradictory
                                  values or ranges on one field; a warning for an ``unless``
                                  or an alternative of an ``any``
unless-always-blocks     error    the ``unless`` holds whenever the ``when`` does: the rule can
                                  never recommend its tactic
unless-never-applies     warning  the ``unless`` can never hold when the ``when`` does
duplicate-conditions     warning  two rules for one tactic have identical ``when``
tactic-without-rule      warning  a catalog tactic no built-in rule recommends
not-checked              info     a condition with too many combinations to decide
======================== ======== ==========================================================

For rules built in Python, which no loader saw, the loader's checks are made here and
reported with the loader's codes (``duplicate-id``, ``situation-cycle``, ``unknown-path``,
``unknown-situation``, ``invalid-value``, ``no-source``, ``unknown-placeholder``).

Whether a condition can hold is decided by evaluating it (``conditions.evaluate``, compiled
into closures by ``facts.predicate``: the same Python mirror of the engine that explain.py
uses) on every combination of values of the fields it names: enums and booleans over all
their values, numbers over the points that separate the constants the condition compares
with. Situations are expanded into their own conditions, so ``situation.low_trust: true``
next to ``trust: medium`` is seen to clash. What the history implies
(facts.effective_state) is not modelled: fields are taken as independent.

``lint(paths)`` takes every mistake the loader yields (``read_ruleset``: every mistake of
every rule, each with its code, file, line and rule id) as a finding of the same code, and
runs the checks a loader cannot make on the rules that did load.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ._catalog import CATALOG
from ._conditions import (
    OPERATOR_WORDS,
    ORDER_OPS,
    All,
    AnyOf,
    Condition,
    Count,
    Not,
    Test,
    canonical,
    describe,
    leaves,
    negate,
    possibly,
)
from ._engine import engine_for
from ._errors import ERROR_CODES, NegotiationRulesError, RulesetError, closest
from ._facts import predicate
from ._fields import (
    NUMBER_WORDS,
    OTHER_TEXT,
    PLACEHOLDER_RE,
    SITUATION_PREFIX,
    FieldSpec,
    cut_points,
    item_fields,
    state_fields,
)
from ._history import TREND_PREFIX, TRENDS
from ._loader import read_ruleset, read_sources
from ._model import MAX_SITUATION_LEVELS, Rule, Situation, iter_cycle_errors, iter_duplicate_errors
from ._packaged import BUILTIN, builtin_ruleset_dir
from ._render import finding_text
from ._ruleset import Ruleset, builtin_ruleset

Severity = Literal["error", "warning", "info"]
PathLike = str | Path

#: The codes of the checks only the linter makes (the loader's are ``ERROR_CODES``).
FINDING_CODES: dict[str, str] = {
    "unknown-tactic": "the tactic id is neither in the catalog nor declared in a tactics: list",
    "never-holds": "a condition that can never hold",
    "unless-always-blocks": "the unless holds whenever the when does, so the rule never recommends",
    "unless-never-applies": "the unless can never hold when the when does",
    "duplicate-conditions": "two rules for one tactic with identical conditions",
    "tactic-without-rule": "a catalog tactic with no rule",
    "not-checked": "too many combinations to decide whether the condition can hold",
}
#: Every finding code and what it means: the linter's own, then the loader's (for the CLI and the docs).
CODES: dict[str, str] = {**FINDING_CODES, **ERROR_CODES}
#: Combinations evaluated at most to decide one question about a condition.
MAX_COMBINATIONS = 100_000
#: Combinations one lint run evaluates in all (a few seconds); past it, the questions left read
#: ``not-checked``: a file of rules built to be expensive cannot tie up the linter (or the service).
MAX_TOTAL_COMBINATIONS = 1_000_000
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class Finding(BaseModel):
    """One mistake (or doubt) in a ruleset, located by file, line and rule id."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    file: str
    line: int | None = None
    rule_id: str | None = None
    message: str
    #: What ``rule_id`` names: a rule, a situation or a tactic a rule file declares.
    kind: Literal["rule", "situation", "tactic"] = "rule"
    #: The nearest valid word (the "did you mean" of the message), as data; None when there is none.
    suggestion: str | None = None

    @field_validator("line")
    @classmethod
    def _no_line_zero(cls, line: int | None) -> int | None:
        """Lines are 1-based; a rule built in Python has line 0, which means "no line"."""
        return line or None

    @field_validator("code")
    @classmethod
    def _known_code(cls, code: str) -> str:
        """Every code is in CODES, so docs/errors.md (tested against CODES) lists every code lint emits."""
        if code not in CODES:
            raise ValueError(f"finding code {code!r} is not in CODES")
        return code

    def __str__(self) -> str:
        """``file:line: severity [code] rule 'id': message`` (``_render.finding_text``)."""
        return finding_text(self)


def from_error(exc: RulesetError) -> Finding:
    """A loader error as an error finding with the loader's own code, file, line and rule id."""
    return Finding(
        severity="error",
        code=exc.code,
        file=exc.file or "<rules>",
        line=exc.line,
        rule_id=exc.rule_id,
        message=exc.reason,
        kind=exc.kind if exc.kind in ("situation", "tactic") else "rule",
        suggestion=exc.suggestion,
    )


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    """The findings without repeats, by file, line, severity and code."""
    unique = list(dict.fromkeys(findings))
    return sorted(
        unique,
        key=lambda f: (f.file, f.line or 0, _SEVERITY_ORDER[f.severity], f.code, f.rule_id or "", f.message),
    )


# -- entry points ------------------------------------------------------------------------------


def lint(
    ruleset: Ruleset | PathLike | Sequence[PathLike] | None = None,
    *,
    builtin: bool | None = None,
) -> list[Finding]:
    """Every finding for a ruleset, sorted by file and line.

    ``ruleset`` is a Ruleset, a rule file or folder, a list of them (loaded together, see
    ``lint_paths``), or None for the built-in rulesets. ``builtin`` says whether to hold it to
    the built-in standard (every catalog tactic covered, no tactic outside the catalog); by
    default it is True for the built-in rulesets and False otherwise.
    """
    if ruleset is None:
        return lint_ruleset(builtin_ruleset(), builtin=True if builtin is None else builtin)
    if isinstance(ruleset, Ruleset):
        return lint_ruleset(ruleset, builtin=builtin)
    paths = [ruleset] if isinstance(ruleset, (str, Path)) else list(ruleset)
    return lint_paths(paths, builtin=builtin)


def lint_paths(paths: Sequence[PathLike], *, builtin: bool | None = None) -> list[Finding]:
    """Lint rule files and folders loaded together; every mistake the loader finds becomes a finding.

    The loader reports every mistake of every rule (with its code, file, line and rule id); the
    rules that did load are linted too. When the files are free of mistakes, durable-rules is
    asked to take them, as ``load_ruleset`` would.
    """
    if not paths:
        raise ValueError("lint_paths needs at least one rule file or folder")
    folders = [builtin_ruleset_dir() if str(p) == BUILTIN else Path(p) for p in paths]  # "builtin": the built-in rules
    sources, errors = read_sources(folders)
    if builtin is None:
        home = builtin_ruleset_dir().resolve()
        builtin = bool(sources) and all(Path(f).resolve().parent == home for f, _ in sources)
    parts = read_ruleset(sources)
    errors += parts.errors
    name = folders[0].stem if len(folders) == 1 else "rules"
    ruleset = Ruleset(parts.rules, parts.situations, name, parts.declared)
    findings = [from_error(exc) for exc in errors]
    if not errors:
        findings += _engine_findings(ruleset, folders[0])
    return _sorted([*findings, *lint_ruleset(ruleset, builtin=builtin, compile_check=False, loaded=True)])


# -- the checks on a loaded (or Python-built) ruleset --------------------------------------------


def lint_ruleset(
    ruleset: Ruleset, *, builtin: bool | None = None, compile_check: bool = True, loaded: bool = False
) -> list[Finding]:
    """Every finding for a Ruleset (loaded from files or built in Python), sorted by file and line.

    ``loaded`` says the loader already checked duplicate ids and cycles (and reported them).
    """
    if builtin is None:
        builtin = ruleset is builtin_ruleset()
    checker = _Checker(ruleset, builtin, loaded)
    findings = list(checker.run())
    if compile_check and not any(f.severity == "error" for f in findings):
        findings += _engine_findings(ruleset, None)
    return _sorted(findings)


def _engine_findings(ruleset: Ruleset, where: PathLike | None) -> list[Finding]:
    """What durable-rules refuses of a ruleset free of other mistakes (an ``engine-limit`` finding)."""
    try:
        engine_for(ruleset)
    except RulesetError as exc:
        return [from_error(exc)]
    except NegotiationRulesError as exc:
        return [Finding(severity="error", code="engine-limit", file=str(where or "<rules>"), message=str(exc))]
    return []


def _file(item: Rule | Situation) -> str:
    """Where a rule or situation comes from (``<python>`` for one built in Python)."""
    return item.file or "<python>"


class _Checker:
    """Runs every check over one ruleset; conditions are decided with a ``_Space``."""

    def __init__(self, ruleset: Ruleset, builtin: bool, loaded: bool = False) -> None:
        self.ruleset = ruleset
        self.builtin = builtin
        self.loaded = loaded
        self.situations = {s.id: s for s in ruleset.situations}
        self.space = _Space(self.situations)

    def run(self) -> Iterator[Finding]:
        """Every finding, rule by rule (duplicates and cycles only when the loader did not check them)."""
        if not self.loaded:
            yield from self.duplicates()
            yield from self.cycles()
        for sit in self.ruleset.situations:
            yield from self.situation(sit)
        for rule in self.ruleset.rules:
            yield from self.rule(rule)
        yield from self.same_conditions()
        if self.builtin:
            yield from self.uncovered()

    def duplicates(self) -> Iterator[Finding]:
        """Rules or situations built in Python that share an id (the loader's own check)."""
        for exc in iter_duplicate_errors(self.ruleset.rules, self.ruleset.situations):
            yield from_error(exc).model_copy(update={"file": exc.file or "<python>"})

    def cycles(self) -> Iterator[Finding]:
        """Situations built in Python that build on each other in a circle (the loader's own check)."""
        for exc in iter_cycle_errors(self.ruleset.situations):
            yield from_error(exc).model_copy(update={"file": exc.file or "<python>"})

    def situation(self, sit: Situation) -> Iterator[Finding]:
        problems = self.validate(sit.when, sit)
        yield from problems
        if problems:
            return
        yield from self.wheres(sit.when, sit)
        yield from self.space.never(sit.when, sit, "error", "the situation can never hold")

    def rule(self, rule: Rule) -> Iterator[Finding]:
        when_line = rule.lines.get("when", rule.line)
        unless_line = rule.lines.get("unless", rule.line)
        if rule.tactic not in CATALOG and rule.tactic not in self.ruleset.declared:
            near = closest(rule.tactic, [*CATALOG, *self.ruleset.declared])
            yield _finding(
                "error" if self.builtin else "warning",
                "unknown-tactic",
                rule,
                rule.lines.get("tactic", rule.line),
                f"tactic '{rule.tactic}' is not in the catalog nor declared in a tactics: list"
                + (f" (did you mean '{near}'?)" if near else ""),
                near,
            )
        if not rule.sources or any(not s.document.strip() or not s.section.strip() for s in rule.sources):
            yield _finding(
                "error",
                "no-source",
                rule,
                rule.lines.get("sources", rule.line),
                "every rule needs at least one source with a document and a section",
            )
        scalar = [p for p, spec in state_fields().items() if spec.kind != "list"]
        for name in PLACEHOLDER_RE.findall(rule.rationale):
            if name not in scalar:
                yield _finding(
                    "error",
                    "unknown-placeholder",
                    rule,
                    rule.lines.get("rationale", rule.line),
                    f"rationale names unknown field '{{{name}}}'",
                )
        problems = self.validate(rule.when, rule)
        if rule.unless is not None:
            problems += self.validate(rule.unless, rule)
        yield from problems
        if problems:
            return
        yield from self.wheres(rule.when, rule)
        if rule.unless is not None:
            yield from self.wheres(rule.unless, rule)
        when_ok = yield from self.space.never(rule.when, rule, "error", "the rule can never match", when_line)
        if rule.unless is None or not when_ok:
            return
        unless_ok = yield from self.space.never(
            rule.unless, rule, "warning", "the unless can never hold, so it never sets the tactic aside", unless_line
        )
        if not unless_ok:
            return
        yield from self.space.unless(rule, unless_line)

    def wheres(self, cond: Condition, owner: Rule | Situation) -> Iterator[Finding]:
        """A count whose ``where`` no list item can satisfy counts nothing, ever: say so."""
        for leaf in leaves(cond):
            if not isinstance(leaf, Count) or leaf.where is None:
                continue
            spec = state_fields().get(leaf.path)
            if spec is None or spec.item_model is None:
                continue
            space = _Space({}, item_fields(spec.item_model))
            yield from space.never(
                leaf.where,
                owner,
                "warning",
                f"the 'where' of this count of {leaf.path} never matches an item, so the count is always 0",
                leaf.line,
            )

    def same_conditions(self) -> Iterator[Finding]:
        first: dict[tuple[str, Any], Rule] = {}
        for rule in self.ruleset.rules:
            key = (rule.tactic, canonical(rule.when))
            earlier = first.setdefault(key, rule)
            if earlier is not rule and earlier.id != rule.id:
                yield _finding(
                    "warning",
                    "duplicate-conditions",
                    rule,
                    rule.lines.get("when", rule.line),
                    (
                        f"same tactic and same 'when' as rule '{earlier.id}' ({_file(earlier)}:{earlier.line}); "
                        "only the better-scoring of the two can ever be recommended: merge them"
                    ),
                )

    def uncovered(self) -> Iterator[Finding]:
        covered = set(self.ruleset.tactics)
        for tactic in CATALOG:
            if tactic not in covered:
                yield Finding(
                    severity="warning",
                    code="tactic-without-rule",
                    file="<catalog>",
                    message=f"catalog tactic '{tactic}' has no rule in the built-in rulesets",
                )

    def validate(
        self, cond: Condition, owner: Rule | Situation, fields: Mapping[str, FieldSpec] | None = None
    ) -> list[Finding]:
        """What the loader would refuse, for conditions built in Python: paths, operators, values.

        ``fields`` are those of the state (default) or, inside a count's ``where``, of a list item.
        """
        top = fields is None
        names = state_fields() if fields is None else fields
        out: list[Finding] = []
        for leaf in leaves(cond):
            if isinstance(leaf, Count):
                spec = names.get(leaf.path)
                if not top or spec is None or spec.kind != "list" or spec.item_model is None:
                    problem: tuple[str, str] | None = ("unknown-path", f"'{leaf.path}' is not a list of the state")
                elif leaf.op not in ("eq", "ne", *ORDER_OPS) or not _whole(leaf.value):
                    problem = ("invalid-value", f"a count compares with a whole number >= 0: {describe(leaf)}")
                else:
                    problem = None
                    if leaf.where is not None:
                        out += self.validate(leaf.where, owner, item_fields(spec.item_model))
            else:
                problem = self._test_problem(leaf, names, top)
            if problem is not None:
                code, message = problem
                out.append(_finding("error", code, owner, leaf.line, message))
        return out

    def _test_problem(self, leaf: Test, fields: Mapping[str, FieldSpec], top: bool) -> tuple[str, str] | None:
        """(code, message) for a test the loader would have refused, or None."""
        path, op, value = leaf.path, leaf.op, leaf.value
        if op not in OPERATOR_WORDS:
            return "invalid-value", f"unknown operator '{op}'"
        if top and path.startswith(SITUATION_PREFIX):
            if path[len(SITUATION_PREFIX) :] not in self.situations:
                return "unknown-situation", f"unknown situation '{path[len(SITUATION_PREFIX) :]}'"
            spec: FieldSpec | None = FieldSpec(path, "bool")
        elif top and path.startswith(TREND_PREFIX):
            if path[len(TREND_PREFIX) :] not in TRENDS:
                return "unknown-path", f"unknown trend '{path}'"
            spec = FieldSpec(path, "bool")
        else:
            spec = fields.get(path)
        if spec is None:
            return "unknown-path", f"unknown path '{path}'"
        if spec.kind == "list":
            return "invalid-value", f"'{path}' is a list: count its items"
        if op == "exists":
            return None if isinstance(value, bool) else ("invalid-value", "'exists' takes true or false")
        if op in ORDER_OPS and spec.kind not in ("int", "float"):
            return "invalid-value", f"'{op}' compares numbers, but '{path}' is {spec.kind}"
        if op in ("in", "not_in"):
            if not isinstance(value, (list, tuple)) or not value:
                return "invalid-value", f"'{op}' takes a non-empty list of values"
            values = list(value)
        else:
            values = [value]
        for v in values:
            problem = _value_problem(spec, v)
            if problem:
                return "invalid-value", problem
        return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _value_problem(spec: FieldSpec, value: Any) -> str | None:
    if spec.kind == "enum":
        if value not in spec.choices:
            return f"{value!r} is not a value of '{spec.path}' (one of {', '.join(spec.choices)})"
        return None
    if spec.kind == "bool":
        return None if isinstance(value, bool) else f"'{spec.path}' is true or false, got {value!r}"
    if spec.kind in ("int", "float"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or (spec.kind == "int" and not isinstance(value, int)) or value != value:
            return f"'{spec.path}' takes {NUMBER_WORDS[spec.kind]}, got {value!r}"
        return None
    return None if isinstance(value, str) else f"'{spec.path}' takes text, got {value!r}"


# -- deciding conditions -----------------------------------------------------------------------

_TRUE: Condition = All(())
_FALSE: Condition = AnyOf(())


class _Undecided(Exception):
    """More combinations than MAX_COMBINATIONS: the question is left open."""


class _Space:
    """Decides whether conditions can hold, by evaluating them over the finite domains of their fields."""

    def __init__(self, situations: Mapping[str, Situation], fields: Mapping[str, FieldSpec] | None = None) -> None:
        self.situations = situations
        self.fields = state_fields() if fields is None else fields
        #: id() of every node created by expanding a situation -> that situation's id.
        self.via: dict[int, str] = {}
        self._keep: list[Condition] = []  # keeps expanded nodes alive, so their id() stays theirs
        #: Combinations this run may still evaluate (MAX_TOTAL_COMBINATIONS in all).
        self.budget = MAX_TOTAL_COMBINATIONS

    # expansion

    def expand(self, cond: Condition, trail: tuple[str, ...] = ()) -> Condition:
        """``cond`` with every ``situation.<id>`` test replaced by the situation's own condition."""
        if isinstance(cond, Test):
            name = cond.path[len(SITUATION_PREFIX) :] if cond.path.startswith(SITUATION_PREFIX) else None
            sit = self.situations.get(name) if name else None
            if sit is None or sit.id in trail or len(trail) >= MAX_SITUATION_LEVELS:
                return cond
            inner = self._relined(self.expand(sit.when, (*trail, sit.id)), cond.line, sit.id)
            return self._situation_test(cond, inner)
        if isinstance(cond, Count):
            return cond
        if isinstance(cond, Not):
            return Not(self.expand(cond.item, trail), cond.line)
        items = tuple(self.expand(c, trail) for c in cond.items)
        return All(items, cond.line) if isinstance(cond, All) else AnyOf(items, cond.line)

    def _situation_test(self, test: Test, inner: Condition) -> Condition:
        # a situation is a known boolean: false whenever its condition does not hold, unknowns included,
        # which is "its negation holds or could hold" (a Not would be the stricter "known to be false")
        unheld = possibly(negate(inner), {})
        self.via.setdefault(id(unheld), self.via.get(id(inner), ""))
        self._keep.append(unheld)
        holds = {True: inner, False: unheld}
        if test.op == "exists":
            return _TRUE if test.value else _FALSE
        if test.op in ("eq", "ne") and isinstance(test.value, bool):
            return holds[test.value if test.op == "eq" else not test.value]
        if test.op in ("in", "not_in") and isinstance(test.value, (list, tuple)):
            wanted = {v for v in test.value if isinstance(v, bool)}
            if test.op == "not_in":
                wanted = {True, False} - wanted
            if wanted == {True, False}:
                return _TRUE
            return holds[wanted.pop()] if wanted else _FALSE
        return test

    def _relined(self, cond: Condition, line: int | None, sit_id: str) -> Condition:
        """The expansion of a situation, located at the test that named it (and remembered as its)."""
        if isinstance(cond, (Test, Count)):
            out: Condition = dataclasses.replace(cond, line=line)
        elif isinstance(cond, Not):
            out = Not(self._relined(cond.item, line, sit_id), line)
        else:
            items = tuple(self._relined(c, line, sit_id) for c in cond.items)
            out = All(items, line) if isinstance(cond, All) else AnyOf(items, line)
        self.via.setdefault(id(out), sit_id)
        self._keep.append(out)
        return out

    # deciding

    def witness(self, cond: Condition) -> dict[str, Any] | None:
        """A flat fact on which ``cond`` holds, or None when there is none; _Undecided when too many."""
        tests = leaves(cond)
        keys = sorted({leaf.key for leaf in tests})
        domains = [_domain(key, [t for t in tests if t.key == key], self.fields) for key in keys]
        if math.prod(len(d) for d in domains) > min(MAX_COMBINATIONS, self.budget):
            raise _Undecided
        holds = predicate(cond)  # conditions.evaluate compiled once into closures: the same answers, cheaper per fact
        tried = 0
        try:
            for values in itertools.product(*domains):
                tried += 1
                fact = dict(zip(keys, values, strict=True))
                if holds(fact):
                    return fact
            return None
        finally:
            self.budget -= tried

    def holds_sometimes(self, cond: Condition) -> bool:
        return self.witness(cond) is not None

    # findings

    def never(
        self,
        cond: Condition,
        owner: Rule | Situation,
        severity: Severity,
        what: str,
        line: int | None = None,
    ) -> Generator[Finding, None, bool]:
        """Findings for a condition that can never hold (and dead ``any`` alternatives).

        A generator whose return value says whether the condition can hold (use ``yield from``).
        """
        expanded = self.expand(cond)
        try:
            if not self.holds_sometimes(expanded):
                why, at = self.why_never(expanded)
                yield _finding(severity, "never-holds", owner, at or line, f"{what}: {why}")
                return False
            for branch in self._dead_branches(expanded):
                why, at = self.why_never(branch)
                yield _finding(
                    "warning", "never-holds", owner, at or line, f"this alternative of 'any' can never hold: {why}"
                )
        except _Undecided:
            yield _finding("info", "not-checked", owner, line, "too many combinations to decide whether it can hold")
        return True

    def unless(self, rule: Rule, line: int) -> Iterator[Finding]:
        """``unless-always-blocks`` / ``unless-never-applies`` for a rule whose when and unless can each hold."""
        assert rule.unless is not None
        when, unless = self.expand(rule.when), self.expand(rule.unless)
        try:
            # the tactic is blocked only when the unless holds; "does not hold" includes "unknown"
            if not self.holds_sometimes(All((when, possibly(negate(unless), {})))):
                yield _finding(
                    "error",
                    "unless-always-blocks",
                    rule,
                    line,
                    "the unless holds whenever the rule matches, so the rule can never recommend "
                    f"'{rule.tactic}': {describe(rule.when)} implies {describe(rule.unless)}",
                )
            elif not self.holds_sometimes(All((when, unless))):
                why, _ = self.why_never(All((when, unless)))
                yield _finding(
                    "warning",
                    "unless-never-applies",
                    rule,
                    line,
                    f"the unless can never hold when the rule matches, so it never sets the tactic aside: {why}",
                )
        except _Undecided:
            yield _finding("info", "not-checked", rule, line, "too many combinations to compare the when and unless")

    def _dead_branches(self, cond: Condition) -> Iterator[Condition]:
        """Alternatives of an ``any`` written in this condition (not inside a situation) that can never hold."""
        if id(cond) in self.via:
            return
        if isinstance(cond, AnyOf):
            for item in cond.items:
                if id(item) in self.via:
                    continue
                if self.holds_sometimes(item):
                    yield from self._dead_branches(item)
                else:
                    yield item
        elif isinstance(cond, All):
            for item in cond.items:
                yield from self._dead_branches(item)

    def why_never(self, cond: Condition) -> tuple[str, int | None]:
        """Why a condition that can never hold cannot, and the line to blame."""
        if isinstance(cond, All):
            flat = list(_flatten(cond))
            by_key: dict[str, list[Test | Count]] = {}
            for leaf in flat:
                if isinstance(leaf, (Test, Count)):
                    by_key.setdefault(leaf.key, []).append(leaf)
            for group in by_key.values():
                clash = self._clash(group)
                if clash is not None:
                    return clash
            for item in flat:
                if not self.holds_sometimes(item):
                    return self.why_never(item)
            return f"{self.text(cond)} can never hold together", _last_line(cond)
        if isinstance(cond, AnyOf):
            if not cond.items:
                return "it is always false", cond.line
            return f"none of the alternatives can hold ({self.text(cond)})", cond.line
        if isinstance(cond, Not):
            return f"{self.text(cond.item)} always holds, so its 'not' never does", cond.line
        return f"{self.text(cond)} can never hold", cond.line

    def _clash(self, group: list[Test | Count]) -> tuple[str, int | None] | None:
        """The first test of one field that no value satisfies together with those before it."""
        for i, leaf in enumerate(group):
            if self.holds_sometimes(All(tuple(group[: i + 1]))):
                continue
            if i == 0:
                return f"{self.text(leaf)} can never hold", leaf.line
            needed = list(group[:i])
            for other in list(needed):
                rest = [t for t in needed if t is not other]
                if rest and not self.holds_sometimes(All((*rest, leaf))):
                    needed = rest
            if self.holds_sometimes(All(tuple(needed))) and self.holds_sometimes(leaf):
                others = " and ".join(self.text(t) for t in needed)
                return f"{self.text(leaf)} contradicts {others}", leaf.line
            return f"{self.text(leaf)} can never hold", leaf.line
        return None

    def text(self, cond: Condition) -> str:
        via = self.via.get(id(cond))
        base = describe(cond) if cond != _TRUE and cond != _FALSE else ("true" if cond == _TRUE else "false")
        return f"{base} (situation '{via}')" if via else base


def _finding(
    severity: Severity,
    code: str,
    owner: Rule | Situation,
    line: int | None,
    message: str,
    suggestion: str | None = None,
) -> Finding:
    return Finding(
        severity=severity,
        code=code,
        file=_file(owner),
        line=line if line is not None else owner.line,
        rule_id=owner.id,
        message=message,
        kind="situation" if isinstance(owner, Situation) else "rule",
        suggestion=suggestion,
    )


def _flatten(cond: All) -> Iterator[Condition]:
    for item in cond.items:
        if isinstance(item, All):
            yield from _flatten(item)
        else:
            yield item


def _last_line(cond: Condition) -> int | None:
    lines = [leaf.line for leaf in leaves(cond) if leaf.line is not None]
    return max(lines) if lines else cond.line


# -- the values a field can take -----------------------------------------------------------------


def _constants(tests: Sequence[Test | Count]) -> list[Any]:
    out: list[Any] = []
    for t in tests:
        if t.op == "exists":
            continue
        out += list(t.value) if isinstance(t.value, (list, tuple)) else [t.value]
    return out


def _domain(key: str, tests: Sequence[Test | Count], fields: Mapping[str, FieldSpec]) -> list[Any]:
    """Values of one fact key that together give every test on it every outcome it can have (FieldSpec.values)."""
    constants = _constants(tests)
    if tests and isinstance(tests[0], Count):
        return cut_points([c for c in constants if _is_number(c)], integer=True, low=0)
    path = tests[0].path if tests else key
    if path.startswith((SITUATION_PREFIX, TREND_PREFIX)):
        return [True, False]
    spec = fields.get(path)
    if spec is None:  # unknown (reported by validate); anything goes
        return [*dict.fromkeys(constants), OTHER_TEXT, None]
    return list(spec.values(constants))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
