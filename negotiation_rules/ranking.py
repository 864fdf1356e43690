"""Fired rules -> ranked Advice: one entry per tactic, scored, sorted, with what was set aside.

Score of a rule that fired::

    score = weight * playbook multiplier * (0.6 + 0.4 * s / (s + 2))

where ``s`` is the rule's specificity: how many facts its ``when`` pins down (tests under
``all`` add up, an ``any`` counts its loosest branch, a ``situation.x`` counts as the
specificity of that situation). A rule that fits on one fact keeps 73% of its weight, one
that fits on four facts 87%: weight says how central the move is, specificity how closely
this state is the situation the source describes. Scores are rounded to 4 decimals; ties
break by tactic id, so the order is fully deterministic.

A tactic appears once, from its best-scoring rule. If any rule of a tactic matched and its
``unless`` also held, the tactic is set aside (a "never when" is binding), and so is a
tactic the playbook disables or scores below its ``min_score``.

Everything about a rule that does not depend on the state (its fit factor, its score without
a playbook, its Source objects, the literal parts of its rationale) is worked out once per
ruleset (``_plan``), and Recommendation objects are only built for the ``top`` that are kept.
"""

from __future__ import annotations

import operator
import threading
import weakref
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from .advice import Advice, Recommendation, SetAside, Source
from .engine import Firing
from .fields import value_at
from .playbook import Playbook
from .ruleset import PLACEHOLDER_RE, Rule, Ruleset
from .state import NegotiationState


def fit_factor(specificity: int) -> float:
    """How much of a rule's weight its specificity keeps (0.6 .. 1.0)."""
    return 0.6 + 0.4 * specificity / (specificity + 2)


def rule_score(ruleset: Ruleset, rule: Rule, playbook: Playbook | None) -> float:
    """The score formula above, for one rule."""
    multiplier = playbook.multiplier(rule.tactic) if playbook else 1.0
    return round(rule.weight * multiplier * fit_factor(ruleset.specificity(rule)), 4)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fill(text: str, state: NegotiationState) -> str:
    """Fill ``{path}`` placeholders with this state's values (paths were checked at load time)."""
    return PLACEHOLDER_RE.sub(lambda m: _text(value_at(state, m.group(1))), text)


M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(model: type[M], fields: dict[str, Any], fields_set: set[str] | None = None) -> M:
    """``model.model_construct(**fields)`` for output that is valid by construction and names every field.

    Ranking builds its Recommendations from rules validated at load time, so validating them
    again on every call only costs time (it was the largest part of ranking). This is what
    ``model_construct`` does, without its loop over defaults (``fields`` must name every field;
    tests/test_batch.py checks the result equals the validated model).
    """
    obj = model.__new__(model)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", set(fields) if fields_set is None else fields_set)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


@dataclass(frozen=True)
class _RulePlan:
    """What ranking needs of one rule, worked out once per ruleset."""

    rule: Rule
    family: str
    fit: float
    score: float  # without a playbook
    sources: tuple[Source, ...]  # frozen models, safely shared by every Recommendation
    literals: tuple[str, ...]  # the rationale's text around its placeholders
    getters: tuple[operator.attrgetter[Any], ...]  # the placeholders' state paths
    fields: dict[str, Any]  # a Recommendation's fields that do not depend on the state, in field order

    def fill(self, state: NegotiationState) -> str:
        """``fill(rule.rationale, state)``, with the placeholders found once."""
        if not self.getters:
            return self.literals[0]
        out = [self.literals[0]]
        for getter, literal in zip(self.getters, self.literals[1:], strict=True):
            value = getter(state)
            out.append(("yes" if value else "no") if isinstance(value, bool) else str(value))
            out.append(literal)
        return "".join(out)


_plans: weakref.WeakKeyDictionary[Ruleset, dict[str, _RulePlan]] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


def _plan(ruleset: Ruleset) -> dict[str, _RulePlan]:
    """Per rule id, its ranking plan (built on first use, kept as long as the ruleset lives)."""
    plans = _plans.get(ruleset)
    if plans is None:
        plans = {}
        for rule in ruleset.rules:
            fit = fit_factor(ruleset.specificity(rule))
            plans[rule.id] = _RulePlan(
                rule=rule,
                family=rule.family,
                fit=fit,
                score=round(rule.weight * fit, 4),
                sources=tuple(Source(document=s.document, section=s.section) for s in rule.sources),
                literals=tuple(PLACEHOLDER_RE.split(rule.rationale)[0::2]),
                getters=tuple(operator.attrgetter(p) for p in PLACEHOLDER_RE.split(rule.rationale)[1::2]),
                fields=dict.fromkeys(Recommendation.model_fields) | {"move": rule.move, "rule_id": rule.id},
            )
        with _plans_lock:
            plans = _plans.setdefault(ruleset, plans)
    return plans


#: The fields a validated ``SetAside(tactic=..., rule_id=..., reason=...)`` counts as set (``by`` is the default).
_RULE_SET_ASIDE_FIELDS = {"tactic", "rule_id", "reason"}


def _best_first(candidate: tuple[float, str, _RulePlan]) -> tuple[float, str]:
    return -candidate[0], candidate[1]


def rank(
    ruleset: Ruleset,
    state: NegotiationState,
    firing: Firing,
    playbook: Playbook | None = None,
    top: int | None = None,
) -> Advice:
    """Build the Advice for the rules that fired on ``state`` (the effective state)."""
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
    kept: list[tuple[float, str, _RulePlan, list[str]]] = []
    set_aside: list[SetAside] = []
    for tactic in sorted(by_tactic):
        candidates = by_tactic[tactic]
        if len(candidates) > 1:
            candidates.sort(key=_best_first)
        blocking = (
            next((plan.rule for _, rule_id, plan in candidates if rule_id in firing.blocked), None)
            if firing.blocked
            else None
        )
        if blocking is not None:
            aside = {"tactic": tactic, "rule_id": blocking.id, "reason": blocking.unless_reason, "by": "rule"}
            set_aside.append(trusted(SetAside, aside, _RULE_SET_ASIDE_FIELDS.copy()))
            continue
        score, best_id, best = candidates[0]
        reason = playbook.disabled_reason(tactic) if playbook else None
        if reason is None and playbook is not None and score < playbook.min_score:
            reason = f"score {score} is below the playbook's minimum of {playbook.min_score}"
        if reason is not None:
            aside = {"tactic": tactic, "rule_id": best_id, "reason": reason, "by": "playbook"}
            set_aside.append(trusted(SetAside, aside))
            continue
        kept.append((score, tactic, best, [rule_id for _, rule_id, _ in candidates[1:]]))
    kept.sort(key=lambda k: (-k[0], k[1]))
    if top is not None:
        kept = kept[:top]
    recommendations = []
    for score, tactic, plan, others in kept:
        fields: dict[str, Any] = plan.fields.copy()
        fields["tactic"] = tactic
        fields["rationale"] = plan.fill(state)
        fields["score"] = score
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
            "situations": sorted(firing.situations),
            "ruleset": ruleset.name,
        },
    )
