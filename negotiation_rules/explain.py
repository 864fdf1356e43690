"""Why, why not: each condition of each rule for a tactic, with the state's actual value and the verdict.

The per-condition detail comes from a Python evaluator over the very fact durable-rules
received (see ``python_firing``); a property test checks that both always agree on which
situations hold and which rules match or are blocked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .advisor import PlaybookArg, RulesetArg, fire
from .conditions import All, AnyOf, Condition, Count, Not, Test, describe, evaluate
from .engine import Firing, engine_for
from .errors import NegotiationRulesError, did_you_mean
from .facts import build_fact
from .fields import SITUATION_PREFIX
from .playbook import resolve_playbook
from .ranking import fit_factor, rank
from .ruleset import Rule, Ruleset, resolve_ruleset
from .state import NegotiationState, parse_state


class UnknownTacticError(NegotiationRulesError, ValueError):
    """The tactic or rule id is not in the ruleset."""


class ConditionCheck(BaseModel):
    """One line of a condition tree: what it asks, the actual value, whether it held."""

    model_config = ConfigDict(frozen=True)

    text: str
    held: bool
    depth: int = 0
    path: str | None = None
    actual: Any = None
    line: int | None = None


class RuleExplanation(BaseModel):
    """How one rule fared on this state."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    file: str
    line: int
    matched: bool
    blocked: bool
    when: list[ConditionCheck]
    unless: list[ConditionCheck] = Field(default_factory=list)
    unless_reason: str = ""
    weight: float
    specificity: int
    score: float | None = None


class Explanation(BaseModel):
    """The verdict on one tactic for one state, and the evidence for it."""

    model_config = ConfigDict(frozen=True)

    tactic: str
    verdict: Literal["recommended", "set_aside", "not_matched"]
    summary: str
    rank: int | None = None
    score: float | None = None
    score_formula: str = ""
    rule_id: str | None = None
    rules: list[RuleExplanation]

    def failing_conditions(self) -> list[ConditionCheck]:
        """The leaf conditions that did not hold, over every rule (the "why not")."""
        return [c for r in self.rules for c in r.when if not c.held and c.path is not None]

    def __str__(self) -> str:
        return format_explanation(self)


def python_firing(ruleset: Ruleset, fact: dict[str, Any]) -> Firing:
    """What the engine should conclude for ``fact``, computed in plain Python (same stages)."""
    situations: set[str] = set()
    stage = dict(fact)
    for sit in sorted(ruleset.situations, key=lambda s: s.level):
        _stage_situations(stage, ruleset, situations)
        if evaluate(sit.when, stage):
            situations.add(sit.id)
    _stage_situations(stage, ruleset, situations)
    matched = {r.id for r in ruleset.rules if evaluate(r.when, stage)}
    blocked = {r.id for r in ruleset.rules if r.unless is not None and evaluate(r.unless, stage)}
    return Firing(frozenset(situations), frozenset(matched), frozenset(blocked))


def _stage_situations(stage: dict[str, Any], ruleset: Ruleset, held: set[str]) -> None:
    for sit in ruleset.situations:
        stage[f"situation__{sit.id}"] = sit.id in held


def _checks(cond: Condition, stage: dict[str, Any], depth: int = 0) -> list[ConditionCheck]:
    held = evaluate(cond, stage)
    if isinstance(cond, Test):
        actual = stage.get(cond.key)
        text = describe(cond)
        if cond.path.startswith(SITUATION_PREFIX):
            text = f"situation '{cond.path[len(SITUATION_PREFIX) :]}' is {'true' if cond.value else 'false'}"
        return [ConditionCheck(text=text, held=held, depth=depth, path=cond.path, actual=actual, line=cond.line)]
    if isinstance(cond, Count):
        actual = stage.get(cond.key, 0)
        return [
            ConditionCheck(text=describe(cond), held=held, depth=depth, path=cond.path, actual=actual, line=cond.line)
        ]
    if isinstance(cond, Not):
        head = ConditionCheck(text="not:", held=held, depth=depth, line=cond.line)
        return [head, *_checks(cond.item, stage, depth + 1)]
    if isinstance(cond, AnyOf):
        head = ConditionCheck(text="any of:", held=held, depth=depth, line=cond.line)
        return [head, *(c for item in cond.items for c in _checks(item, stage, depth + 1))]
    assert isinstance(cond, All)
    if depth == 0:
        return [c for item in cond.items for c in _checks(item, stage, depth)]
    head = ConditionCheck(text="all of:", held=held, depth=depth, line=cond.line)
    return [head, *(c for item in cond.items for c in _checks(item, stage, depth + 1))]


def _find_rules(ruleset: Ruleset, what: str) -> tuple[str, list[Rule]]:
    rules = ruleset.rules_for(what)
    if rules:
        return what, rules
    if what in {r.id for r in ruleset.rules}:
        rule = ruleset.rule(what)
        return rule.tactic, [rule]
    names = [*ruleset.tactics, *(r.id for r in ruleset.rules)]
    raise UnknownTacticError(f"no tactic or rule '{what}' in ruleset '{ruleset.name}'{did_you_mean(what, names)}")


def explain(
    state: NegotiationState | dict[str, Any] | str,
    tactic_or_rule_id: str,
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
) -> Explanation:
    """Why a tactic was (or was not) recommended for this state: every condition, its value, the verdict."""
    parsed = parse_state(state)
    rules_set = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    tactic, rules = _find_rules(rules_set, tactic_or_rule_id)
    effective, firing = fire(parsed, rules_set)
    advice = rank(rules_set, effective, firing, policy)
    fact = build_fact(effective, engine_for(rules_set).compiled.counts)
    stage = dict(fact)
    _stage_situations(stage, rules_set, set(firing.situations))
    explained = []
    for rule in rules:
        multiplier = policy.multiplier(rule.tactic) if policy else 1.0
        spec = rules_set.specificity(rule)
        explained.append(
            RuleExplanation(
                rule_id=rule.id,
                file=rule.file,
                line=rule.line,
                matched=rule.id in firing.matched,
                blocked=rule.id in firing.blocked,
                when=_checks(rule.when, stage),
                unless=_checks(rule.unless, stage) if rule.unless is not None else [],
                unless_reason=rule.unless_reason,
                weight=rule.weight,
                specificity=spec,
                score=round(rule.weight * multiplier * fit_factor(spec), 4) if rule.id in firing.matched else None,
            )
        )
    rec = advice.get(tactic)
    aside = advice.set_aside_for(tactic)
    if rec is not None:
        best = next(r for r in explained if r.rule_id == rec.rule_id)
        mult = policy.multiplier(tactic) if policy else 1.0
        formula = (
            f"{best.weight} (weight) x {mult:g} (playbook) x (0.6 + 0.4 x {best.specificity}/"
            f"({best.specificity}+2)) (fit of {best.specificity} facts) = {rec.score}"
        )
        rank_no = advice.rank_of(tactic)
        total = len(advice.recommendations)
        summary = f"recommended at rank {rank_no} of {total} with score {rec.score} by rule '{rec.rule_id}'"
        return Explanation(
            tactic=tactic,
            verdict="recommended",
            summary=summary,
            rank=rank_no,
            score=rec.score,
            score_formula=formula,
            rule_id=rec.rule_id,
            rules=explained,
        )
    if aside is not None:
        who = "the playbook" if aside.by == "playbook" else f"rule '{aside.rule_id}' (never when)"
        summary = f"set aside by {who}: {aside.reason}"
        return Explanation(tactic=tactic, verdict="set_aside", summary=summary, rule_id=aside.rule_id, rules=explained)
    reasons = []
    for r in explained:
        failing = [c for c in r.when if not c.held and c.path is not None]
        if failing:
            first = failing[0]
            reasons.append(f"rule '{r.rule_id}': {first.text} does not hold ({first.path} is {_show(first.actual)})")
    summary = "not matched: " + ("; ".join(reasons) if reasons else "no rule's conditions held")
    return Explanation(tactic=tactic, verdict="not_matched", summary=summary, rules=explained)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_explanation(expl: Explanation) -> str:
    """The explanation as readable text: verdict first, then every rule's conditions with [x]/[ ]."""
    lines = [f"{expl.tactic}: {expl.summary}"]
    if expl.score_formula:
        lines.append(f"  score: {expl.score_formula}")
    for rule in expl.rules:
        status = "blocked" if rule.matched and rule.blocked else "matched" if rule.matched else "not matched"
        lines.append(f"  rule {rule.rule_id} ({rule.file}:{rule.line}): {status}")
        lines.append("    when:")
        for c in rule.when:
            actual = f"   (actual: {_show(c.actual)})" if c.path is not None else ""
            lines.append(f"      {'  ' * c.depth}[{'x' if c.held else ' '}] {c.text}{actual}")
        if rule.unless:
            lines.append(f"    unless ({rule.unless_reason}):")
            for c in rule.unless:
                actual = f"   (actual: {_show(c.actual)})" if c.path is not None else ""
                lines.append(f"      {'  ' * c.depth}[{'x' if c.held else ' '}] {c.text}{actual}")
    return "\n".join(lines)
