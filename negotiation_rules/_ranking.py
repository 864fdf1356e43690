"""Fired rules -> ranked Advice: one entry per tactic, scored, sorted, with what was set aside.

Score of a rule that fired::

    score = weight * playbook multiplier * (0.6 + 0.4 * s / (s + 2))

where ``s`` is the rule's specificity: how many facts its ``when`` pins down (tests under
``all`` add up, an ``any`` counts its loosest branch, a ``situation.x`` counts as the
specificity of that situation). A rule that fits on one fact keeps 73% of its weight, one
that fits on four facts 87%: weight says how central the move is, specificity how closely
this state is the situation the source describes. Scores are rounded to 4 decimals; ties
break by specificity (the closer fit first), and only last by tactic id, so the order is
fully deterministic.

A tactic appears once, from its best-scoring rule. If any rule of a tactic matched and its
``unless`` also held, the tactic is set aside (a "never when" is binding); if its ``unless``
could still hold once unknown facts are known and the rule says ``unless_unknown: set_aside``,
it is set aside saying what is not known; and so is a tactic the playbook disables or scores
below its ``min_score``. Every recommendation and set-aside carries its ``basis``: the facts
it rests on (_basis.py). Placeholders render plain words (_vocabulary.py), never raw values.

Everything about a rule that does not depend on the state (its fit factor, its score without
a playbook, its Source objects, the literal parts of its rationale) is worked out once per
ruleset (``_plan``), and Recommendation objects are only built for the ``top`` that are kept.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ._advice import Advice, Fact, Recommendation, SetAside, Source, trusted
from ._basis import facts_of, support, unknown_fields
from ._conditions import Condition, Count, Test, leaves, negate
from ._derived import derived
from ._facts import derived_paths
from ._fields import PLACEHOLDER_RE, SITUATION_PREFIX, value_at
from ._firing import Firing
from ._ruleset import Ruleset
from ._state import NegotiationState
from ._vocabulary import about, label, source_title

if TYPE_CHECKING:
    from ._model import Rule
    from ._playbook import Playbook


def fit_factor(specificity: int) -> float:
    """How much of a rule's weight its specificity keeps (0.6 .. 1.0)."""
    return 0.6 + 0.4 * specificity / (specificity + 2)


def score(weight: float, multiplier: float, fit: float) -> float:
    """The score formula above (the only place it is written): weight * playbook multiplier * fit, rounded."""
    return round(weight * multiplier * fit, 4)


def rule_score(ruleset: Ruleset, rule: Rule, playbook: Playbook | None) -> float:
    """The score of one rule under a playbook (or none)."""
    multiplier = playbook.multiplier(rule.tactic) if playbook else 1.0
    return score(rule.weight, multiplier, fit_factor(ruleset.specificity(rule)))


def fill(text: str, state: NegotiationState) -> str:
    """Fill ``{path}`` placeholders with this state's values in plain words (paths were checked at load time)."""
    return PLACEHOLDER_RE.sub(lambda m: label(m.group(1), value_at(state, m.group(1))), text)


@dataclass(frozen=True)
class _RulePlan:
    """What ranking needs of one rule, worked out once per ruleset."""

    rule: Rule
    family: str
    fit: float
    score: float  # without a playbook
    sources: tuple[Source, ...]  # frozen models, safely shared by every Recommendation
    specificity: int
    literals: tuple[str, ...]  # the rationale's text around its placeholders
    paths: tuple[str, ...]  # the placeholders' state paths
    getters: tuple[operator.attrgetter[Any], ...]  # ... and their getters
    fields: dict[str, Any]  # a Recommendation's fields that do not depend on the state, in field order
    ruled_out: Condition | None  # the never-when negated (what rules it out), once
    when: _Trace  # the support of ``when``, remembered per value of the keys it reads
    unless: _Trace  # the same for ``unless`` ...
    not_unless: _Trace  # ... for what rules the never-when out ...
    unknown: _Trace  # ... and for the unknown fields that could still make the never-when hold

    def fill(self, state: NegotiationState) -> str:
        """``fill(rule.rationale, state)``, with the placeholders found once."""
        if not self.getters:
            return self.literals[0]
        out = [self.literals[0]]
        for path, getter, literal in zip(self.paths, self.getters, self.literals[1:], strict=True):
            out.append(label(path, getter(state)))
            out.append(literal)
        return "".join(out)


_MISSING: Any = object()
#: Distinct key values one trace remembers before it starts over (a bound on memory, not on correctness).
TRACE_LIMIT = 1024


class _Trace:
    """What ``support`` (or ``unknown_fields``) gives for one condition, remembered per value of the keys it reads.

    Both read nothing of the stage fact but the keys of the condition's tests, followed into
    the situations it names (``reads``), and compare them with the rule format's operators,
    which tell a bool from a number: so the values and their types decide the answer, and a
    rule that reads three keys has few distinct answers even over thousands of distinct states.
    """

    __slots__ = ("keys", "memo")

    def __init__(self, keys: tuple[str, ...]) -> None:
        """An empty memo for a condition that reads ``keys`` (see ``reads``)."""
        self.keys = keys
        self.memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def get(self, stage: Mapping[str, Any], compute: Callable[[], list[Any]]) -> tuple[Any, ...]:
        """The remembered answer for these values of the keys, else ``compute()`` (then remembered)."""
        values = tuple([stage.get(key) for key in self.keys])
        try:
            found = self.memo.get(at := (*values, *map(type, values)))
        except TypeError:  # an unhashable value (a state changed past validation): no memo
            return tuple(compute())
        if found is None:
            found = tuple(compute())
            if len(self.memo) >= TRACE_LIMIT:
                self.memo.clear()
            self.memo[at] = found
        return found


def reads(cond: Condition | None, situations: Mapping[str, Condition]) -> tuple[str, ...]:
    """The stage keys a condition reads, situations followed (their own key, then what they rest on)."""
    out: dict[str, None] = {}
    todo = [cond]
    seen: set[str] = set()
    while todo:
        for leaf in leaves(todo.pop()):
            out[leaf.key] = None
            if isinstance(leaf, Test) and leaf.path.startswith(SITUATION_PREFIX):
                name = leaf.path[len(SITUATION_PREFIX) :]
                if name not in seen and name in situations:
                    seen.add(name)
                    todo.append(situations[name])
    return tuple(out)


class _Plans(NamedTuple):
    """A ruleset's ranking plans: per rule id, and the situations' conditions (for the basis)."""

    rules: dict[str, _RulePlan]
    situations: dict[str, Condition]
    flags: tuple[tuple[str, str], ...]  # (stage key, situation id) of every situation


def _plan(ruleset: Ruleset) -> dict[str, _RulePlan]:
    """Per rule id, its ranking plan (built on first use, kept as long as the ruleset lives)."""
    return _plans_of(ruleset).rules


def _plans_of(ruleset: Ruleset) -> _Plans:
    """The ranking plans of a ruleset (built on first use, kept as long as the ruleset lives; see _derived.py)."""
    return derived(ruleset, _build_plans)


def _build_plans(ruleset: Ruleset) -> _Plans:
    """What ranking needs of each rule that does not depend on the state, and the situations' conditions."""
    situations: dict[str, Condition] = {s.id: s.when for s in ruleset.situations}
    plans = {}
    for rule in ruleset.rules:
        spec = ruleset.specificity(rule)
        fit = fit_factor(spec)
        paths = tuple(PLACEHOLDER_RE.split(rule.rationale)[1::2])
        plans[rule.id] = _RulePlan(
            rule=rule,
            family=rule.family,
            fit=fit,
            score=score(rule.weight, 1.0, fit),
            sources=tuple(
                trusted(
                    Source,
                    {"document": s.document, "section": s.section, "title": source_title(s.document) or s.document},
                )
                for s in rule.sources
            ),
            specificity=spec,
            literals=tuple(PLACEHOLDER_RE.split(rule.rationale)[0::2]),
            paths=paths,
            getters=tuple(operator.attrgetter(p) for p in paths),
            fields=dict.fromkeys(Recommendation.model_fields) | {"move": rule.move, "rule_id": rule.id},
            ruled_out=None if rule.unless is None else negate(rule.unless),
            when=_Trace(reads(rule.when, situations)),
            unless=_Trace(reads(rule.unless, situations)),
            not_unless=_Trace(reads(rule.unless, situations)),
            unknown=_Trace(reads(rule.unless, situations)),
        )
    flags = tuple((Test(f"{SITUATION_PREFIX}{s.id}", "eq", True).key, s.id) for s in ruleset.situations)
    return _Plans(plans, situations, flags)


def _best_first(candidate: tuple[float, str, _RulePlan]) -> tuple[float, int, str]:
    return -candidate[0], -candidate[2].specificity, candidate[1]


def unknown_reason(rule: Rule, unknown: list[str]) -> str:
    """Why a tactic waits for facts: its never-when, and what is not known yet, in plain words."""
    missing = "; ".join(about(path) for path in unknown) or "a fact it depends on"
    return f"{rule.unless_reason} Not known yet: {missing}."


class _Basis:
    """Builds ``basis`` lists for one evaluation (the flat fact, the situations, which values were derived)."""

    def __init__(
        self,
        plans: _Plans,
        given: NegotiationState,
        effective: NegotiationState,
        fact: Mapping[str, Any],
        firing: Firing,
    ) -> None:
        self.given = given
        self.effective = effective
        self.situations = plans.situations
        self.stage: dict[str, Any] = dict(fact)
        held = firing.situations
        for key, ident in plans.flags:
            self.stage[key] = ident in held
        self._derived: frozenset[str] | None = None
        self._facts: dict[int, Fact | None] = {}  # per test (by id), what facts_of makes of it in this call
        self._held: list[tuple[Test | Count, ...]] = []

    @property
    def derived(self) -> frozenset[str]:
        """The paths whose effective value was derived (worked out on first use)."""
        if self._derived is None:
            self._derived = (
                derived_paths(self.given, self.effective) if self.given is not self.effective else frozenset()
            )
        return self._derived

    def support(self, trace: _Trace, cond: Condition | None) -> tuple[Test | Count, ...]:
        """The tests ``cond`` rests on in this evaluation (``support``, remembered by ``trace``)."""
        if cond is None:
            return ()
        return trace.get(self.stage, lambda: support(cond, self.stage, self.situations))

    def facts(self, tests: tuple[Test | Count, ...]) -> list[Fact]:
        """The Facts behind these tests, stated or derived, once per path (``facts_of``, each test worked out once).

        Recommendations of one call share most of their tests (the phase, the trust ...), so
        what ``facts_of`` says of one test is kept for the call; the first test of a path that
        gives a fact gives the path's fact, as in ``facts_of``.
        """
        out: dict[str, Fact] = {}
        known = self._facts
        self._held.append(tests)  # the tests stay alive for the call, so no id is reused while it is a key
        for test in tests:
            path = test.path
            if path in out:
                continue
            found = known.get(id(test), _MISSING)
            if found is _MISSING:
                made = facts_of([test], self.given, self.effective, self.derived, self.stage)
                found = known[id(test)] = made[0] if made else None
            if found is not None:
                out[path] = found
        return list(out.values())

    def of(self, plan: _RulePlan) -> list[Fact]:
        """The facts a recommended rule rests on: what made its ``when`` hold and what rules its never-when out."""
        tests = self.support(plan.when, plan.rule.when)
        if plan.ruled_out is not None:
            tests += self.support(plan.not_unless, plan.ruled_out)
        return self.facts(tests)

    def unknown(self, plan: _RulePlan) -> list[str]:
        """The unknown fields that could still make the rule's never-when hold."""
        cond = plan.rule.unless
        if cond is None:
            return []
        return list(plan.unknown.get(self.stage, lambda: unknown_fields(cond, self.stage, self.situations)))


class _Verdict:
    """A tactic's fate in one evaluation: kept with its score, or set aside (by whom, which rule)."""

    __slots__ = ("by", "candidates", "rule", "score", "tactic")

    def __init__(
        self, tactic: str, candidates: list[tuple[float, str, _RulePlan]], by: str = "", rule: Rule | None = None
    ) -> None:
        self.tactic = tactic
        self.candidates = candidates
        self.by = by  # "" kept, else "rule" / "unknown" / "playbook"
        self.rule = rule
        self.score = candidates[0][0]


def _verdicts(ruleset: Ruleset, firing: Firing, playbook: Playbook | None) -> list[_Verdict]:
    """Every tactic that matched, in tactic order: its candidates best first, and whether it is set aside."""
    plans = _plan(ruleset)
    by_tactic: dict[str, list[tuple[float, str, _RulePlan]]] = {}
    for rule_id in firing.matched:
        plan = plans.get(rule_id)
        if plan is None:
            continue
        rule = plan.rule
        points = plan.score if playbook is None else score(rule.weight, playbook.multiplier(rule.tactic), plan.fit)
        by_tactic.setdefault(rule.tactic, []).append((points, rule_id, plan))
    out = []
    for tactic in sorted(by_tactic):
        candidates = by_tactic[tactic]
        if len(candidates) > 1:
            candidates.sort(key=_best_first)
        if firing.blocked:
            blocking = next((plan.rule for _, rid, plan in candidates if rid in firing.blocked), None)
            if blocking is not None:
                out.append(_Verdict(tactic, candidates, "rule", blocking))
                continue
        if firing.doubtful:
            waiting = next((plan.rule for _, rid, plan in candidates if rid in firing.doubtful), None)
            if waiting is not None:
                out.append(_Verdict(tactic, candidates, "unknown", waiting))
                continue
        verdict = _Verdict(tactic, candidates)
        if playbook is not None and (
            playbook.disabled_reason(tactic) is not None or verdict.score < playbook.min_score
        ):
            verdict.by = "playbook"
        out.append(verdict)
    return out


def _best(verdicts: list[_Verdict]) -> list[_Verdict]:
    """The kept verdicts, best first: score, then specificity, then tactic id."""
    kept = [v for v in verdicts if not v.by]
    kept.sort(key=lambda v: (-v.score, -v.candidates[0][2].specificity, v.tactic))
    return kept


def ranked_tactics(
    ruleset: Ruleset, firing: Firing, playbook: Playbook | None = None, top: int | None = None
) -> list[str]:
    """The recommended tactic ids, best first, exactly as ``rank`` orders them (nothing rendered)."""
    kept = _best(_verdicts(ruleset, firing, playbook))
    return [v.tactic for v in (kept if top is None else kept[:top])]


def rank(
    ruleset: Ruleset,
    state: NegotiationState,
    firing: Firing,
    playbook: Playbook | None = None,
    top: int | None = None,
    *,
    given: NegotiationState | None = None,
    fact: Mapping[str, Any] | None = None,
) -> Advice:
    """Build the Advice for the rules that fired on ``state`` (the effective state).

    ``given`` is the state as the user gave it (to tell stated facts from derived ones) and
    ``fact`` the flat fact the engine read; both default to what ``state`` alone gives.
    """
    if fact is None:
        from ._facts import build_fact

        fact = build_fact(state, ruleset.compiled().counts)
    plans = _plans_of(ruleset)
    basis = _Basis(plans, given if given is not None else state, state, fact, firing)
    verdicts = _verdicts(ruleset, firing, playbook)
    set_aside: list[SetAside] = []
    for verdict in verdicts:
        if not verdict.by:
            continue
        rule = verdict.rule
        if verdict.by == "rule" and rule is not None:
            plan = plans.rules[rule.id]
            reason, facts = rule.unless_reason, basis.facts(basis.support(plan.unless, rule.unless))
        elif verdict.by == "unknown" and rule is not None and rule.unless is not None:
            plan = plans.rules[rule.id]
            reason = unknown_reason(rule, basis.unknown(plan))
            facts = basis.facts(basis.support(plan.when, rule.when))
        else:
            assert playbook is not None
            plan = verdict.candidates[0][2]
            rule = plan.rule
            reason = playbook.disabled_reason(verdict.tactic) or (
                f"score {verdict.score} is below the playbook's minimum of {playbook.min_score}"
            )
            facts = basis.facts(basis.support(plan.when, rule.when))
        aside = {"tactic": verdict.tactic, "rule_id": rule.id, "reason": reason, "by": verdict.by, "basis": facts}
        set_aside.append(trusted(SetAside, aside))
    kept = [
        (v.score, v.tactic, v.candidates[0][2], [rule_id for _, rule_id, _ in v.candidates[1:]])
        for v in _best(verdicts)
    ]
    if top is not None:
        kept = kept[:top]
    recommendations = []
    for points, tactic, plan, others in kept:
        fields: dict[str, Any] = plan.fields.copy()
        fields["tactic"] = tactic
        worded = plan.rule.by_side.get(state.our_side) if plan.rule.by_side else None
        if worded is None:
            fields["rationale"] = plan.fill(state)
        else:
            fields["move"], fields["rationale"] = worded[0], fill(worded[1], state)
        fields["score"] = points
        fields["basis"] = basis.of(plan)
        fields["sources"] = list(plan.sources)
        fields["cautions"] = list(plan.rule.cautions)
        fields["family"] = plan.family
        fields["other_rules"] = others
        recommendations.append(trusted(Recommendation, fields))
    return trusted(
        Advice,
        {
            "recommendations": recommendations,
            "set_aside": set_aside,
            "questions": [],
            "situations": sorted(firing.situations),
            "ruleset": ruleset.name,
        },
    )
