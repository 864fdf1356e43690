"""The rule model: rules, situations, sources and declared tactics, and the checks that need all of them.

Plain frozen dataclasses, built by the loader (``_loader.py``) from rule files or by users in
Python. The checks here (duplicate ids, situations that build on each other in a cycle) look
at a whole set of rules at once, so the loader and the linter share them: each yields coded,
located ``RulesetError``s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ._conditions import Condition, situations_named
from ._errors import RulesetError

#: How deep situations may build on each other (each level is one more engine stage per evaluation).
MAX_SITUATION_LEVELS = 100


@dataclass(frozen=True)
class SourceRef:
    """Where a tactic comes from: a source document's file name and a section heading in it."""

    document: str
    section: str


@dataclass(frozen=True)
class DeclaredTactic:
    """A tactic a rule file declares for itself (a company's own move), known like the catalog's."""

    id: str
    move: str
    fits: str
    never: str
    sources: tuple[SourceRef, ...]
    file: str
    line: int

    @property
    def family(self) -> str:
        """The tactic family (``house`` for ``house.free-shipping``)."""
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class Situation:
    """A derived situation ("we have leverage") that rules build on through ``situation.<id>``."""

    id: str
    description: str
    when: Condition
    file: str
    line: int
    level: int = 0


@dataclass(frozen=True)
class Rule:
    """One rule: when it fits, the tactic it recommends, why, and from which source."""

    id: str
    tactic: str
    move: str
    rationale: str
    when: Condition
    weight: float
    sources: tuple[SourceRef, ...]
    file: str
    line: int
    unless: Condition | None = None
    unless_reason: str = ""
    #: ``set_aside``: while the unknown facts its ``unless`` reads could still make it hold, set the tactic aside.
    unless_unknown: str = "recommend"
    cautions: tuple[str, ...] = ()
    #: Per side (``buyer``/``seller``): the move and rationale worded for it; ``move``/``rationale`` are side-neutral.
    by_side: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False, hash=False)
    ruleset: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def family(self) -> str:
        """The tactic family (``authority`` for ``authority.provoke``)."""
        return self.tactic.split(".", 1)[0]


def iter_duplicate_errors(rules: Sequence[Rule], situations: Sequence[Situation]) -> Iterator[RulesetError]:
    """A ``duplicate-id`` error for every rule or situation whose id came before, naming the first place."""
    seen: dict[str, tuple[str, int]] = {}
    items: list[Rule | Situation] = [*situations, *rules]
    for item in items:
        kind = "situation" if isinstance(item, Situation) else "rule"
        key = f"{kind}:{item.id}"
        if key in seen:
            first_file, first_line = seen[key]
            yield RulesetError(
                f"duplicate {kind} id, first defined at {first_file or '<python>'}"
                + (f":{first_line}" if first_line else ""),
                file=item.file or None,
                line=item.line or None,
                rule_id=item.id,
                kind=kind,
                code="duplicate-id",
            )
        else:
            seen[key] = (item.file, item.line)


def _cycle_error(sit: Situation, message: str) -> RulesetError:
    """A ``situation-cycle`` error located at ``sit``."""
    return RulesetError(
        message, file=sit.file or None, line=sit.line or None, rule_id=sit.id, kind="situation", code="situation-cycle"
    )


def stratify(situations: Sequence[Situation]) -> list[Situation]:
    """Give each situation a level above every situation it builds on; a cycle, or more than
    ``MAX_SITUATION_LEVELS`` levels, is a ``situation-cycle`` error. Iterative: any chain length is fine."""
    by_id = {s.id: s for s in situations}
    deps = {s.id: sorted(d for d in situations_named(s.when) if d in by_id) for s in situations}
    too_deep = f"situations build on each other more than {MAX_SITUATION_LEVELS} levels deep"
    levels: dict[str, int] = {}
    for start in by_id:
        if start in levels:
            continue
        trail: list[str] = [start]
        on_trail = {start}
        while trail:
            sid = trail[-1]
            pending = next((d for d in deps[sid] if d not in levels), None)
            if pending is None:
                levels[sid] = 1 + max((levels[d] for d in deps[sid]), default=-1)
                if levels[sid] >= MAX_SITUATION_LEVELS:
                    raise _cycle_error(by_id[sid], too_deep)
                trail.pop()
                on_trail.discard(sid)
            elif pending in on_trail:
                cycle = " -> ".join((*trail[trail.index(pending) :], pending))
                raise _cycle_error(by_id[pending], f"situations build on each other in a cycle: {cycle}")
            else:
                if len(trail) > MAX_SITUATION_LEVELS:
                    raise _cycle_error(by_id[pending], too_deep)
                trail.append(pending)
                on_trail.add(pending)
    return [Situation(s.id, s.description, s.when, s.file, s.line, levels[s.id]) for s in situations]


def iter_cycle_errors(situations: Sequence[Situation]) -> Iterator[RulesetError]:
    """A ``situation-cycle`` error for each distinct cycle among ``situations`` (all of them, not the first)."""
    by_id = {s.id: s for s in situations}
    deps = {s.id: set(situations_named(s.when)) & set(by_id) for s in situations}
    reported: set[frozenset[str]] = set()
    for start in deps:
        trail = _cycle_from(start, deps)
        if trail and frozenset(trail) not in reported:
            reported.add(frozenset(trail))
            cycle = " -> ".join([*trail, trail[0]])
            yield _cycle_error(by_id[trail[0]], f"situations build on each other in a cycle: {cycle}")


def _cycle_from(start: str, deps: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle through ``start`` (as a list of ids beginning with ``start``), or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in sorted(deps.get(node, ())):
            if nxt == start:
                return trail
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return None
