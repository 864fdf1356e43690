"""What if: the smallest changes to a state that would get a tactic recommended (or ranked first).

``what_if(state, tactic)`` searches breadth first: every single change, then every pair, ...
up to ``max_changes``, and stops at the first size that reaches the goal, so every solution it
returns is minimal. Each solution is checked by re-running ``advise()`` on the changed state,
built afresh from plain data as a caller would, and carries the ranking before and after.

The search only changes what a user can change in a state: the enum, boolean and
small-integer fields (0..5) of NegotiationState. It never edits the history or the issues;
conditions on them (counts, trends) are taken as they are, and said so in ``notes``.

It is pruned without losing minimal solutions:

- only fields that can matter are tried: the fields named by the tactic's rules (``when`` and
  ``unless``) and by the situations they build on; for ``goal="first"`` also those of every
  rule of another tactic that could score at least as high; and any field that changes one
  of these through what the history implies (``facts.effective_state``: an authority claim
  turns an ``unknown`` authority into ``claimed_higher``), found by probing;
- values of one small-integer field that every test on it treats alike are tried once (the
  one nearest the current value; the others are listed as ``same_effect``), and values the
  engine cannot tell from the current one are not tried at all.

When nothing within ``max_changes`` reaches the goal the answer says so ("no change within N
steps"); when the evaluation budget runs out first, ``complete`` is False and the summary says
the search stopped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._advice import Advice
from ._advisor import advise
from ._conditions import Condition, Test, evaluate, leaves
from ._derived import derived
from ._explain import find_rules
from ._facts import effective_state
from ._fields import FieldSpec, state_fields, value_at
from ._model import Rule, Situation
from ._pipeline import PlaybookArg, RulesetArg
from ._playbook import Playbook, resolve_playbook
from ._ranking import rule_score
from ._render import plural, show, to_text, what_if_blocks
from ._ruleset import Ruleset, resolve_ruleset
from ._state import NegotiationState, parse_state

Goal = Literal["recommended", "first"]
GOALS: tuple[Goal, ...] = ("recommended", "first")
#: Small-integer fields are searched over this range.
SMALL_INTS = tuple(range(6))
#: At most this many changes at once (the search grows fast beyond).
MAX_CHANGES = 5
#: Changed states evaluated at most, by default.
DEFAULT_BUDGET = 20_000

Status = Literal["recommended", "set_aside", "not_matched"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Change(_Out):
    """One field set to another value. In JSON ``from_`` is written ``from``."""

    path: str
    from_: Any = Field(serialization_alias="from", validation_alias="from")
    to: Any
    same_effect: list[Any] = Field(
        default_factory=list, description="other values of this field every rule treats the same as `to`"
    )

    def __str__(self) -> str:
        also = f" (or {', '.join(show(v) for v in self.same_effect)})" if self.same_effect else ""
        return f"{self.path}: {show(self.from_)} -> {show(self.to)}{also}"


class Standing(_Out):
    """Where the tactic stands in one Advice."""

    status: Status
    rank: int | None = None
    score: float | None = None
    rule_id: str | None = None
    first: str | None = Field(default=None, description="the tactic ranked first")

    def __str__(self) -> str:
        if self.status == "recommended":
            return f"rank {self.rank}, score {self.score}"
        return self.status.replace("_", " ")


class Solution(_Out):
    """A minimal set of changes that reaches the goal, and what it does to the ranking."""

    changes: list[Change]
    before: Standing
    after: Standing
    entered: list[str] = Field(default_factory=list, description="tactics recommended after, not before")
    left: list[str] = Field(default_factory=list, description="tactics recommended before, not after")
    verified: bool = Field(description="advise() re-run on the changed state agrees")

    def __str__(self) -> str:
        return f"{'; '.join(str(c) for c in self.changes)}  =>  {self.before} -> {self.after}"


class WhatIf(_Out):
    """The answer to "what would it take for this tactic to be recommended (or first)?"."""

    tactic: str
    goal: Goal
    max_changes: int
    status: Literal["already", "found", "none"]
    summary: str
    before: Standing
    solutions: list[Solution] = Field(default_factory=list)
    changes_needed: int | None = Field(default=None, description="size of the smallest solutions")
    found: int = Field(default=0, description="minimal solutions found (solutions lists at most max_solutions)")
    searched: list[str] = Field(default_factory=list, description="the fields the search changed")
    evaluated: int = Field(default=0, description="changed states evaluated with advise()")
    complete: bool = Field(default=True, description="False when the evaluation budget stopped the search")
    notes: list[str] = Field(default_factory=list)

    def __str__(self) -> str:
        """The summary, then the minimal changes with their effect on the ranking (``_render.what_if_blocks``)."""
        return to_text(what_if_blocks(self))


def standing(advice: Advice, tactic: str) -> Standing:
    """The tactic's status, rank and score in ``advice``."""
    first = advice.recommendations[0].tactic if advice.recommendations else None
    rec = advice.get(tactic)
    if rec is not None:
        return Standing(
            status="recommended", rank=advice.rank_of(tactic), score=rec.score, rule_id=rec.rule_id, first=first
        )
    aside = advice.set_aside_for(tactic)
    if aside is not None:
        return Standing(status="set_aside", rule_id=aside.rule_id, first=first)
    return Standing(status="not_matched", first=first)


def _reached(st: Standing, goal: Goal) -> bool:
    return st.status == "recommended" and (goal == "recommended" or st.rank == 1)


# -- what may change ---------------------------------------------------------------------------


def searchable_fields() -> dict[str, FieldSpec]:
    """The state fields the search may change: enums, booleans and integers (searched over 0..5)."""
    return {p: s for p, s in state_fields().items() if s.kind in ("enum", "bool", "int")}


def _domain(spec: FieldSpec) -> tuple[Any, ...]:
    """The known values a field may be set to (a change never "forgets" a fact back to unknown): every value
    of an enum or a boolean, the small integers within a number's bounds."""
    if spec.closed_values is not None:
        return spec.closed_values
    return tuple(v for v in SMALL_INTS if spec.allows(v))


def _fields_of(
    cond: Condition | None, situations: Mapping[str, Situation], out: set[str], skipped: set[str], trail: frozenset[str]
) -> None:
    """Collect the searchable fields ``cond`` depends on, through the situations it names."""
    if cond is None:
        return
    fields = searchable_fields()
    for path in cond.fields():
        (out if path in fields else skipped).add(path)
    for name in sorted(cond.situations() - trail):
        sit = situations.get(name)
        if sit is not None:
            _fields_of(sit.when, situations, out, skipped, trail | {name})


def _rules_that_matter(ruleset: Ruleset, tactic: str, goal: Goal, playbook: Playbook | None) -> list[Rule]:
    """The tactic's rules; for ``first`` also every rule of another tactic that could outrank it."""
    own = ruleset.rules_for(tactic)
    if goal == "recommended":
        return own
    floor = min(rule_score(ruleset, r, playbook) for r in own)
    rivals = [
        r
        for r in ruleset.rules
        if r.tactic != tactic
        and not (playbook and playbook.disabled_reason(r.tactic))
        and (
            rule_score(ruleset, r, playbook) > floor
            or (rule_score(ruleset, r, playbook) == floor and r.tactic < tactic)
        )
    ]
    return [*own, *rivals]


def _apply(state: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of a (frozen) model with dotted paths set; nested models are copied, never mutated."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in changes.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    for head, sub in nested.items():
        top[head] = _apply(getattr(state, head), sub)
    return state.model_copy(update=top)


def _effective_values(state: NegotiationState, paths: Iterable[str]) -> tuple[Any, ...]:
    effective = effective_state(state)
    return tuple(value_at(effective, p) for p in paths)


def _linked_fields(state: NegotiationState, relevant: set[str]) -> set[str]:
    """Fields outside ``relevant`` whose change alters a relevant field of the effective state."""
    fields = searchable_fields()
    ordered = sorted(relevant)
    bases = [state] + [_apply(state, {p: v}) for p in ordered for v in _domain(fields[p]) if v != value_at(state, p)]
    linked: set[str] = set()
    for path, spec in fields.items():
        if path in relevant:
            continue
        for base in bases:
            before = _effective_values(base, ordered)
            if any(
                _effective_values(_apply(base, {path: v}), ordered) != before
                for v in _domain(spec)
                if v != value_at(base, path)
            ):
                linked.add(path)
                break
    return linked


def _tests_by_path(ruleset: Ruleset) -> dict[str, list[Test]]:
    """Every test of the ruleset's conditions, by the state path it reads (a per-ruleset index)."""
    conds = [s.when for s in ruleset.situations] + [c for r in ruleset.rules for c in (r.when, r.unless) if c]
    out: dict[str, list[Test]] = {}
    for leaf in (leaf for c in conds for leaf in leaves(c)):
        if isinstance(leaf, Test):
            out.setdefault(leaf.path, []).append(leaf)
    return out


def _tests_on(ruleset: Ruleset, path: str) -> list[Test]:
    """The tests on ``path`` in any condition of the ruleset, in ruleset order."""
    return derived(ruleset, _tests_by_path).get(path, [])


def _candidates(state: NegotiationState, path: str, ruleset: Ruleset) -> list[tuple[Any, list[Any]]]:
    """Values worth trying for ``path``: (value, other values with the same effect).

    Values are grouped by what the engine can see of them: every test on the field (over its
    effective value) and every other field of the effective state. The current value's group
    is dropped (no change the engine could notice); booleans and enums keep one value per
    group member, small integers one per group (the nearest to the current value).
    """
    spec = searchable_fields()[path]
    current = value_at(state, path)
    tests = _tests_on(ruleset, path)
    others = [p for p in state_fields() if p != path and state_fields()[p].kind != "list"]
    key = spec.fact_key

    def signature(value: Any) -> tuple[Any, ...]:
        effective = effective_state(_apply(state, {path: value}))
        seen = value_at(effective, path)
        fact = {} if spec.is_unknown(seen) else {key: seen}
        # whether it is known matters on its own: a rule may wait for an unknown (unless_unknown)
        known = not spec.is_unknown(seen)
        return (tuple(evaluate(t, fact) for t in tests), known, tuple(value_at(effective, p) for p in others))

    unchanged = signature(current)
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for value in _domain(spec):
        if value == current and type(value) is type(current):
            continue
        sig = signature(value)
        if sig != unchanged:
            groups.setdefault(sig, []).append(value)
    out: list[tuple[Any, list[Any]]] = []
    for members in groups.values():
        if spec.kind == "int":
            best = min(members, key=lambda v: (abs(v - (current or 0)), v))
            out.append((best, [v for v in members if v != best]))
        else:
            out.extend((v, []) for v in members)
    return out


# -- the search --------------------------------------------------------------------------------


def _changed_dict(state: NegotiationState, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The state as plain JSON data with the changes written in, as a caller would build it."""
    data: dict[str, Any] = state.model_dump(mode="json")
    for path, value in changes.items():
        *heads, last = path.split(".")
        node = data
        for head in heads:
            node = node[head]
        node[last] = value
    return data


def _solution(
    state: NegotiationState,
    combo: Sequence[tuple[str, Any, list[Any]]],
    before: Standing,
    base: Advice,
    after_advice: Advice,
    tactic: str,
    ruleset: Ruleset,
    playbook: Playbook | None,
) -> Solution:
    after = standing(after_advice, tactic)
    again = standing(
        advise(_changed_dict(state, {p: v for p, v, _ in combo}), ruleset=ruleset, playbook=playbook, questions=0),
        tactic,
    )
    before_set, after_set = set(base.tactics), set(after_advice.tactics)
    return Solution(
        changes=[Change(path=p, from_=value_at(state, p), to=v, same_effect=same) for p, v, same in combo],
        before=before,
        after=after,
        entered=sorted(after_set - before_set),
        left=sorted(before_set - after_set),
        verified=again == after,
    )


def _sort_key(sol: Solution) -> tuple[Any, ...]:
    rank = sol.after.rank if sol.after.rank is not None else 10**9
    return (rank, -(sol.after.score or 0.0), [(c.path, str(c.to)) for c in sol.changes])


def what_if(
    state: NegotiationState | dict[str, Any] | str,
    tactic: str,
    *,
    goal: Goal = "recommended",
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
    max_changes: int = 3,
    max_solutions: int = 10,
    budget: int = DEFAULT_BUDGET,
) -> WhatIf:
    """The smallest sets of changes to ``state`` that get ``tactic`` recommended (``goal="first"``: ranked first).

    ``tactic`` is a tactic id (or a rule id, meaning its tactic). Searches 1 change, then 2,
    ... up to ``max_changes`` (at most 5) and returns every solution of the smallest size
    found (the best ``max_solutions`` of them, best rank first), each verified by re-running
    ``advise()``. ``budget`` bounds how many changed states are evaluated.
    """
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {', '.join(GOALS)}, got {goal!r}")
    for name, value, low, high in (
        ("max_changes", max_changes, 0, MAX_CHANGES),
        ("max_solutions", max_solutions, 1, 10**6),
        ("budget", budget, 1, 10**9),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number in {low}..{high}, got {value!r}")
    parsed = parse_state(state)
    rules = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    tactic, _ = find_rules(rules, tactic)
    base = advise(parsed, ruleset=rules, playbook=policy, questions=0)
    before = standing(base, tactic)
    goal_text = "recommended" if goal == "recommended" else "ranked first"
    notes = _history_notes(parsed)

    def answer(status: Literal["already", "found", "none"], summary: str, **extra: Any) -> WhatIf:
        return WhatIf(
            tactic=tactic,
            goal=goal,
            max_changes=max_changes,
            status=status,
            summary=summary,
            before=before,
            notes=notes,
            **extra,
        )

    if _reached(before, goal):
        return answer("already", f"{tactic} is already {goal_text} ({before}); no change needed")
    disabled = policy.disabled_reason(tactic) if policy else None
    if disabled:
        return answer(
            "none", f"no change to the state can get {tactic} {goal_text}: the playbook disables it ({disabled})"
        )

    situations = {s.id: s for s in rules.situations}
    relevant: set[str] = set()
    skipped: set[str] = set()  # the tactic's own conditions on the history, the issues, the trends
    for rule in _rules_that_matter(rules, tactic, goal, policy):
        own = skipped if rule.tactic == tactic else set()
        _fields_of(rule.when, situations, relevant, own, frozenset())
        _fields_of(rule.unless, situations, relevant, own, frozenset())
    relevant |= _linked_fields(parsed, relevant)
    order = [p for p in searchable_fields() if p in relevant]
    candidates = {p: _candidates(parsed, p, rules) for p in order}
    order = [p for p in order if candidates[p]]
    if skipped:
        notes.append(
            "the search does not change the history or the issues; conditions on them ("
            + ", ".join(sorted(skipped))
            + ") stay as they are"
        )

    evaluated = 0
    complete = True
    minimal: list[tuple[tuple[tuple[str, Any, list[Any]], ...], Advice]] = []
    size = 0
    for size in range(1, max_changes + 1):
        for paths in itertools.combinations(order, size):
            for combo in itertools.product(*([(p, v, same) for v, same in candidates[p]] for p in paths)):
                if evaluated >= budget:
                    complete = False
                    break
                changed = _apply(parsed, {p: v for p, v, _ in combo})
                # searched on the compiled engine (proven equal, far cheaper); solutions are verified on durable-rules
                advice = advise(changed, ruleset=rules, playbook=policy, questions=0, engine="compiled")
                evaluated += 1
                if _reached(standing(advice, tactic), goal):
                    minimal.append((combo, advice))
            if not complete:
                break
        if minimal or not complete:
            break

    searched = {"searched": order, "evaluated": evaluated, "complete": complete}
    if not minimal:
        within = f"no change within {max_changes} step{'s' if max_changes != 1 else ''} gets {tactic} {goal_text}"
        if not complete:
            summary = (
                f"search stopped after {evaluated} states (the budget) at {size} changes: {within} among those tried"
            )
        else:
            summary = f"{within} (searched {plural(len(order), 'field')}, {plural(evaluated, 'state')})"
        return answer("none", summary, **searched)
    solutions = sorted(
        (_solution(parsed, combo, before, base, advice, tactic, rules, policy) for combo, advice in minimal),
        key=_sort_key,
    )
    best = solutions[0]
    verb = "1 change gets" if size == 1 else f"{size} changes get"
    ways = f"{len(solutions)} ways" if len(solutions) > 1 else "1 way"
    summary = f"{verb} {tactic} {goal_text} ({ways}); best: {best}"
    if not complete:
        summary += f" (search stopped after {evaluated} states; there may be more)"
    return answer(
        "found",
        summary,
        solutions=solutions[:max_solutions],
        changes_needed=size,
        found=len(solutions),
        **searched,
    )


def _history_notes(state: NegotiationState) -> list[str]:
    """Fields whose value in effect differs from the state's own, because of what the history implies."""
    effective = effective_state(state)
    notes = []
    for path in searchable_fields():
        raw, eff = value_at(state, path), value_at(effective, path)
        if raw != eff:
            notes.append(
                f"{path} is {show(eff)} in effect (implied by the history), although the state says {show(raw)}"
            )
    return notes
