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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ._advice import Advice, Fact, Recommendation, SetAside, Source
from ._basis import facts_of, support, unknown_fields
from ._conditions import Condition, negate
from ._derived import derived
from ._facts import derived_paths
from ._fields import value_at
from ._firing import Firing
from ._playbook import Playbook
from ._ruleset import PLACEHOLDER_RE, Rule, Ruleset
from ._state import NegotiationState
from ._vocabulary import about, label, source_title


def fit_factor(specificity: int) -> float:
    """How much of a rule's weight its specificity keeps (0.6 .. 1.0)."""
    return 0.6 + 0.4 * specificity / (specificity + 2)


def rule_score(ruleset: Ruleset, rule: Rule, playbook: Playbook | None) -> float:
    """The score formula above, for one rule."""
    multiplier = playbook.multiplier(rule.tactic) if playbook else 1.0
    return round(rule.weight * multiplier * fit_factor(ruleset.specificity(rule)), 4)


def fill(text: str, state: NegotiationState) -> str:
    """Fill ``{path}`` placeholders with this state's values in plain words (paths were checked at load time)."""
    return PLACEHOLDER_RE.sub(lambda m: label(m.group(1), value_at(state, m.group(1))), text)


M = TypeVar("M", bound=BaseModel)


def trusted(model: type[M], fields: dict[str, Any], fields_set: set[str] | None = None) -> M:
    """``model.model_construct(**fields)``: output valid by construction is not validated again.

    Ranking builds its Recommendations from rules validated at load time, so validating them
    again on every call only costs time (it was the largest part of ranking). ``fields`` names
    every field; ``fields_set`` (default: all of them) is what ``model_fields_set`` reports
    (tests/test_batch.py checks the result equals the validated model).
    """
    return model.model_construct(set(fields) if fields_set is None else fields_set, **fields)


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

    def fill(self, state: NegotiationState) -> str:
        """``fill(rule.rationale, state)``, with the placeholders found once."""
        if not self.getters:
            return self.literals[0]
        out = [self.literals[0]]
        for path, getter, literal in zip(self.paths, self.getters, self.literals[1:], strict=True):
            out.append(label(path, getter(state)))
            out.append(literal)
        return "".join(out)


def _plan(ruleset: Ruleset) -> dict[str, _RulePlan]:
    """Per rule id, its ranking plan (built on first use, kept as long as the ruleset lives; see _derived.py)."""
    return derived(ruleset, _plans)


def _plans(ruleset: Ruleset) -> dict[str, _RulePlan]:
    """Per rule id, what ranking needs of the rule that does not depend on the state."""
    plans = {}
    for rule in ruleset.rules:
        spec = ruleset.specificity(rule)
        fit = fit_factor(spec)
        paths = tuple(PLACEHOLDER_RE.split(rule.rationale)[1::2])
        plans[rule.id] = _RulePlan(
            rule=rule,
            family=rule.family,
            fit=fit,
            score=round(rule.weight * fit, 4),
            sources=tuple(
                Source(document=s.document, section=s.section, title=source_title(s.document) or s.document)
                for s in rule.sources
            ),
            specificity=spec,
            literals=tuple(PLACEHOLDER_RE.split(rule.rationale)[0::2]),
            paths=paths,
            getters=tuple(operator.attrgetter(p) for p in paths),
            fields=dict.fromkeys(Recommendation.model_fields) | {"move": rule.move, "rule_id": rule.id},
        )
    return plans


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
        ruleset: Ruleset,
        given: NegotiationState,
        effective: NegotiationState,
        fact: Mapping[str, Any],
        firing: Firing,
    ) -> None:
        self.given = given
        self.effective = effective
        self.situations: dict[str, Condition] = {s.id: s.when for s in ruleset.situations}
        self.stage: dict[str, Any] = dict(fact)
        for sit in ruleset.situations:
            self.stage[f"situation__{sit.id}"] = sit.id in firing.situations
        self._derived: frozenset[str] | None = None

    @property
    def derived(self) -> frozenset[str]:
        if self._derived is None:
            self._derived = (
                derived_paths(self.given, self.effective) if self.given is not self.effective else frozenset()
            )
        return self._derived

    def of(self, cond: Condition | None, ruled_out: Condition | None = None) -> list[Fact]:
        """The facts ``cond`` rests on in this evaluation (and those that rule out ``ruled_out``, a never-when)."""
        if cond is None:
            return []
        tests = support(cond, self.stage, self.situations)
        if ruled_out is not None:
            tests += support(negate(ruled_out), self.stage, self.situations)
        return facts_of(tests, self.given, self.effective, self.derived, self.stage)

    def unknown(self, cond: Condition) -> list[str]:
        return unknown_fields(cond, self.stage, self.situations)


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
        # the same arithmetic as rule_score(): weight * multiplier * fit, rounded
        score = plan.score if playbook is None else round(rule.weight * playbook.multiplier(rule.tactic) * plan.fit, 4)
        by_tactic.setdefault(rule.tactic, []).append((score, rule_id, plan))
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
    basis = _Basis(ruleset, given if given is not None else state, state, fact, firing)
    verdicts = _verdicts(ruleset, firing, playbook)
    set_aside: list[SetAside] = []
    for verdict in verdicts:
        if not verdict.by:
            continue
        rule = verdict.rule
        if verdict.by == "rule" and rule is not None:
            reason, facts = rule.unless_reason, basis.of(rule.unless)
        elif verdict.by == "unknown" and rule is not None and rule.unless is not None:
            reason, facts = unknown_reason(rule, basis.unknown(rule.unless)), basis.of(rule.when)
        else:
            assert playbook is not None
            rule = verdict.candidates[0][2].rule
            reason = playbook.disabled_reason(verdict.tactic) or (
                f"score {verdict.score} is below the playbook's minimum of {playbook.min_score}"
            )
            facts = basis.of(rule.when)
        aside = {"tactic": verdict.tactic, "rule_id": rule.id, "reason": reason, "by": verdict.by, "basis": facts}
        set_aside.append(trusted(SetAside, aside))
    kept = [
        (v.score, v.tactic, v.candidates[0][2], [rule_id for _, rule_id, _ in v.candidates[1:]])
        for v in _best(verdicts)
    ]
    if top is not None:
        kept = kept[:top]
    recommendations = []
    for score, tactic, plan, others in kept:
        fields: dict[str, Any] = plan.fields.copy()
        fields["tactic"] = tactic
        worded = plan.rule.by_side.get(state.our_side) if plan.rule.by_side else None
        if worded is None:
            fields["rationale"] = plan.fill(state)
        else:
            fields["move"], fields["rationale"] = worded[0], fill(worded[1], state)
        fields["score"] = score
        fields["basis"] = basis.of(plan.rule.when, plan.rule.unless)
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
