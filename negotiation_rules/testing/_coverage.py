"""Rule coverage: how often each rule fired, was set aside or never matched, over every evaluation watched.

    from negotiation_rules.testing._coverage import RuleCoverage

    with RuleCoverage() as coverage:
        ...  # anything that calls advise(), explain(), the CLI ...
    report = coverage.report(scope=["rules/"])
    print(report.format())
    assert report.share == 100.0

It counts through ``negotiation_rules._firing``, so it sees every evaluation in the process,
not only those made through the test helpers. A rule is identified by its file and id, so
the same rule files loaded twice (``advise(state, ruleset="rules/")`` and a fixture's
``load_ruleset("rules")``) count as one set of rules. This is what ``pytest --rules-coverage``
prints; it is per process (under pytest-xdist each worker counts only its own tests).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .._errors import RulesetError
from .._firing import Firing, subscribe
from .._ruleset import Ruleset, load_ruleset

RuleKey = tuple[str, str]  # (rule file, resolved when it exists; rule id)


@dataclass
class RuleStats:
    """What became of one rule over the evaluations watched."""

    id: str
    tactic: str
    file: str
    line: int
    has_unless: bool
    evaluated: int = 0
    fired: int = 0
    set_aside: int = 0

    @property
    def status(self) -> str:
        """``fired``, ``only set aside``, ``never matched`` or ``never evaluated``."""
        if self.fired:
            return "fired"
        if self.set_aside:
            return "only set aside"
        return "never matched" if self.evaluated else "never evaluated"


@dataclass
class _Record:
    """One Ruleset object watched: its rules (snapshot) and per-rule counts."""

    name: str
    rules: tuple[tuple[RuleKey, str, int, bool], ...]  # key, tactic, line, has an unless
    evaluations: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    set_aside: Counter[str] = field(default_factory=Counter)


@dataclass
class CoverageReport:
    """Rule coverage of the rules in scope, and a summary of the rulesets outside it."""

    rules: list[RuleStats]
    evaluations: int
    rulesets: int
    scope: list[Path] = field(default_factory=list)
    other_rulesets: int = 0
    other_rules: int = 0
    notes: list[str] = field(default_factory=list)
    count_unless: bool = False

    @property
    def never_fired(self) -> list[str]:
        """Ids of the rules in scope that never fired (never matched, or only ever set aside)."""
        return [r.id for r in self.rules if not r.fired]

    @property
    def unless_never_blocked(self) -> list[str]:
        """Ids of the rules in scope with an ``unless`` that never set the tactic aside."""
        return [r.id for r in self.rules if r.has_unless and not r.set_aside]

    @property
    def share(self) -> float | None:
        """Percent covered (None when no rule is in scope): the rules that fired at least once, and
        with ``count_unless`` also the ``unless`` conditions that set their tactic aside at least once."""
        done = sum(1 for r in self.rules if r.fired)
        total = len(self.rules)
        if self.count_unless:
            done += sum(1 for r in self.rules if r.has_unless and r.set_aside)
            total += sum(1 for r in self.rules if r.has_unless)
        return 100.0 * done / total if total else None

    def below(self, percent: float) -> bool:
        """The share is under ``percent`` (no rule in scope counts as under anything)."""
        share = self.share
        return share is None or share < percent

    def summary(self) -> str:
        """The last line: ``rules fired: 39 of 40 (97.5%)``, with ``count_unless`` also the unless blocked."""
        if not self.rules:
            return "rules fired: no rules in scope"
        text = f"rules fired: {sum(1 for r in self.rules if r.fired)} of {len(self.rules)}"
        if self.count_unless:
            with_unless = [r for r in self.rules if r.has_unless]
            text += f", unless blocked: {sum(1 for r in with_unless if r.set_aside)} of {len(with_unless)}"
        return f"{text} ({self.share:.1f}%)"

    def format(self, relative_to: Path | None = None) -> str:
        """The report as text: one row per rule, then the never fired ids, then the share."""
        where = f" ({', '.join(_shorten(str(p), relative_to) for p in self.scope)})" if self.scope else ""
        head = (
            f"{_count(len(self.rules), 'rule')} in scope{where}; "
            f"{_count(self.evaluations, 'evaluation')} of {_count(self.rulesets, 'ruleset')}"
        )
        lines = [head]
        if self.rules:
            width = max(len(r.id) for r in self.rules)
            lines.append(f"{'evaluated':>9}  {'fired':>6}  {'set aside':>9}  {'rule':<{width}}  where")
            places = [f"{_shorten(r.file, relative_to)}:{r.line}" for r in self.rules]
            place_width = max(len(p) for p in places)
            for r, place in zip(self.rules, places, strict=True):
                status = "" if r.status == "fired" else f"  {r.status}"
                counts = f"{r.evaluated:>9}  {r.fired:>6}  {r.set_aside:>9}"
                lines.append(f"{counts}  {r.id:<{width}}  {place:<{place_width}}{status}".rstrip())
        lines.append(f"never fired: {', '.join(self.never_fired) or 'none'}")
        lines.append(f"unless never blocked: {', '.join(self.unless_never_blocked) or 'none'}")
        if self.other_rulesets:
            lines.append(
                f"not in scope: {_count(self.other_rules, 'rule')} of {_count(self.other_rulesets, 'other ruleset')}"
                " evaluated"
                " (--rules-coverage-of PATH adds rule files to the scope)"
            )
        lines.extend(self.notes)
        lines.append(self.summary())
        return "\n".join(lines)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _shorten(file: str, base: Path | None) -> str:
    """``file`` relative to ``base`` when inside it (files are stored resolved, so ``base`` is resolved too)."""
    if base is not None:
        for root in (base, base.resolve()):
            try:
                return Path(file).relative_to(root).as_posix()
            except ValueError:
                continue
    return file


def _inside(file: str, scope: Sequence[Path]) -> bool:
    path = Path(file)
    return any(path == s or s in path.parents for s in scope)


class RuleCoverage:
    """Counts, for every rule of every ruleset evaluated while it is started, how often it fired or was set aside.

    ``start()``/``stop()`` (or ``with``) subscribe to the engine; ``report(scope)`` sums up.
    Thread-safe: evaluations on several threads are counted exactly.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ruleset: weakref.WeakKeyDictionary[Ruleset, _Record] = weakref.WeakKeyDictionary()
        self._records: list[_Record] = []  # outlives the Ruleset objects, which tests drop early
        self._files: dict[str, str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        _instances.add(self)

    def start(self) -> None:
        """Begin counting every evaluation in this process."""
        if self._unsubscribe is None:
            self._unsubscribe = subscribe(self.record)

    def stop(self) -> None:
        """Stop counting (the counts so far stay)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def __enter__(self) -> RuleCoverage:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _file(self, file: str) -> str:
        known = self._files.get(file)
        if known is None:
            path = Path(file)
            known = str(path.resolve()) if path.exists() else file
            self._files[file] = known
        return known

    def _snapshot(self, ruleset: Ruleset) -> _Record:
        rules = tuple(((self._file(r.file), r.id), r.tactic, r.line, r.unless is not None) for r in ruleset.rules)
        return _Record(ruleset.name, rules)

    def record(self, ruleset: Ruleset, firing: Firing) -> None:
        """Count one evaluation (the engine's observer callback)."""
        with self._lock:
            rec = self._by_ruleset.get(ruleset)
            if rec is None:
                rec = self._by_ruleset[ruleset] = self._snapshot(ruleset)
                self._records.append(rec)
            rec.evaluations += 1
            for rule_id in firing.matched:
                (rec.set_aside if rule_id in firing.blocked else rec.fired)[rule_id] += 1

    def stats(self) -> dict[RuleKey, RuleStats]:
        """Per rule (file, id), summed over every ruleset object that contained it."""
        out: dict[RuleKey, RuleStats] = {}
        with self._lock:
            records = list(self._records)
            for rec in records:
                for key, tactic, line, has_unless in rec.rules:
                    stats = out.get(key)
                    if stats is None:
                        stats = out[key] = RuleStats(key[1], tactic, key[0], line, has_unless)
                    stats.evaluated += rec.evaluations
                    stats.fired += rec.fired[key[1]]
                    stats.set_aside += rec.set_aside[key[1]]
        return out

    def report(self, scope: Iterable[str | Path] | None = None, *, count_unless: bool = False) -> CoverageReport:
        """Coverage of the rules in ``scope`` (rule files or folders; None: every rule evaluated).

        ``count_unless``: the share also counts each ``unless`` that must set its tactic aside once.

        Every rule file in scope is loaded, so a rule none of the tests evaluated still counts
        (as never evaluated) instead of silently leaving the denominator.
        """
        stats = self.stats()
        with self._lock:
            records = list(self._records)
        if scope is None:
            rules = sorted(stats.values(), key=lambda r: (r.file, r.line, r.id))
            evaluations = sum(r.evaluations for r in records)
            return CoverageReport(rules, evaluations, len(records), count_unless=count_unless)
        paths = [Path(p).resolve() for p in scope]
        notes: list[str] = []
        for path in paths:
            try:
                loaded = load_ruleset(path)
            except RulesetError as exc:
                notes.append(f"note: could not load {path} to list its rules, counting the rules evaluated: {exc}")
                continue
            for rule in loaded.rules:
                key = (self._file(rule.file), rule.id)
                if key not in stats:
                    stats[key] = RuleStats(rule.id, rule.tactic, key[0], rule.line, rule.unless is not None)
        inside = [r for r in stats.values() if _inside(r.file, paths)]
        scoped: list[_Record] = []
        others: list[_Record] = []
        for rec in records:
            files = {key[0] for key, *_ in rec.rules}
            (scoped if any(_inside(f, paths) for f in files) else others).append(rec)
        return CoverageReport(
            rules=sorted(inside, key=lambda r: (r.file, r.line, r.id)),
            evaluations=sum(rec.evaluations for rec in scoped),
            rulesets=len(scoped),
            scope=paths,
            other_rulesets=len(others),
            other_rules=sum(len(rec.rules) for rec in others),
            notes=notes,
            count_unless=count_unless,
        )


_instances: weakref.WeakSet[RuleCoverage] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child must not inherit a lock another thread held while recording."""
    for coverage in list(_instances):
        coverage._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
