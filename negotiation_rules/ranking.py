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
"""

from __future__ import annotations

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


def rank(
    ruleset: Ruleset,
    state: NegotiationState,
    firing: Firing,
    playbook: Playbook | None = None,
    top: int | None = None,
) -> Advice:
    """Build the Advice for the rules that fired on ``state`` (the effective state)."""
    by_tactic: dict[str, list[tuple[float, Rule]]] = {}
    for rule in ruleset.rules:
        if rule.id in firing.matched:
            by_tactic.setdefault(rule.tactic, []).append((rule_score(ruleset, rule, playbook), rule))
    recommendations: list[Recommendation] = []
    set_aside: list[SetAside] = []
    for tactic in sorted(by_tactic):
        candidates = sorted(by_tactic[tactic], key=lambda c: (-c[0], c[1].id))
        blocking = next((rule for _, rule in candidates if rule.id in firing.blocked), None)
        if blocking is not None:
            set_aside.append(SetAside(tactic=tactic, rule_id=blocking.id, reason=blocking.unless_reason))
            continue
        score, best = candidates[0]
        reason = playbook.disabled_reason(tactic) if playbook else None
        if reason is None and playbook is not None and score < playbook.min_score:
            reason = f"score {score} is below the playbook's minimum of {playbook.min_score}"
        if reason is not None:
            set_aside.append(SetAside(tactic=tactic, rule_id=best.id, reason=reason, by="playbook"))
            continue
        recommendations.append(
            Recommendation(
                tactic=tactic,
                move=best.move,
                rationale=fill(best.rationale, state),
                score=score,
                rule_id=best.id,
                sources=[Source(document=s.document, section=s.section) for s in best.sources],
                cautions=list(best.cautions),
                family=best.family,
                other_rules=[rule.id for _, rule in candidates[1:]],
            )
        )
    recommendations.sort(key=lambda r: (-r.score, r.tactic))
    if top is not None:
        recommendations = recommendations[:top]
    return Advice(
        recommendations=recommendations,
        set_aside=set_aside,
        situations=sorted(firing.situations),
        ruleset=ruleset.name,
    )
