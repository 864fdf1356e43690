"""Why, why not: each condition of each rule for a tactic, with the state's actual value and the verdict.

The per-condition detail comes from a Python evaluator over the very fact durable-rules
received; ``python_firing`` is the same decision made by the compiled evaluator
(``_compiled``), which tests prove equal to durable-rules on which situations hold and which
rules match, are blocked or wait for unknown facts.

Besides the full condition tree, every rule carries ``because``: the few facts that decided
it. For a rule that did not match, the leaf conditions that failed (followed through the
situations they use down to the state's own fields, so "situation 'x' is false" comes with
the field that made it false); for a blocked rule, the conditions of its ``unless`` that held.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from ._compiled import compiled_for
from ._conditions import Condition, Count, Test, describe, evaluate, possibly
from ._derived import derived
from ._errors import UnknownTacticError, did_you_mean
from ._fields import SITUATION_PREFIX
from ._firing import Firing
from ._model import Rule, Situation
from ._pipeline import PlaybookArg, RulesetArg, facts_for, fire
from ._playbook import resolve_playbook
from ._ranking import fit_factor, rank, score
from ._render import explanation_blocks, show, to_text
from ._ruleset import Ruleset, resolve_ruleset
from ._state import NegotiationState, parse_state


class Reason(BaseModel):
    """One leaf condition that decided a rule's fate, with the state's actual value.

    ``via`` names the situation the condition belongs to when it was reached through a
    ``situation.<id>`` test (its ``file``/``line`` are then the situation's).
    """

    model_config = ConfigDict(frozen=True)

    text: str
    held: bool
    path: str
    actual: Any = None
    via: str | None = None
    file: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = f" in situation '{self.via}'" if self.via else ""
        return f"{self.plain()}{where}"

    def plain(self) -> str:
        """``text holds (actual: v)`` or ``text does not hold (actual: v)``, without the situation."""
        verb = "holds" if self.held else "does not hold"
        return f"{self.text} {verb} (actual: {show(self.actual)})"


class ConditionCheck(BaseModel):
    """One line of a condition tree: what it asks, the actual value, whether it held.

    A ``situation.<id>`` test that decided the outcome carries ``because``: the conditions of
    the situation that made it true or false.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    held: bool
    depth: int = 0
    path: str | None = None
    actual: Any = None
    line: int | None = None
    because: list[Reason] = Field(default_factory=list)


class RuleExplanation(BaseModel):
    """How one rule fared on this state; ``because`` lists what kept it from matching, or what blocked it."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    file: str
    line: int
    matched: bool
    blocked: bool
    waiting: bool = Field(default=False, description="matched, and its unless could hold once unknown facts are known")
    when: list[ConditionCheck]
    unless: list[ConditionCheck] = Field(default_factory=list)
    unless_reason: str = ""
    weight: float
    specificity: int
    score: float | None = None
    because: list[Reason] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Literal["matched", "blocked", "waiting", "not matched"]:
        """``matched``, ``blocked`` (unless held), ``waiting`` (unless could hold: facts unknown), ``not matched``."""
        if self.matched:
            return "blocked" if self.blocked else "waiting" if self.waiting else "matched"
        return "not matched"


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

    def reasons(self) -> list[Reason]:
        """What decided the verdict, over every rule: failed conditions, or the unless that blocked."""
        return [reason for r in self.rules for reason in r.because]

    def __str__(self) -> str:
        """The verdict, then every rule's conditions with [x]/[ ] (``_render.explanation_blocks``)."""
        return to_text(explanation_blocks(self))


def python_firing(ruleset: Ruleset, fact: dict[str, Any]) -> Firing:
    """What the engine concludes for ``fact``, computed by the compiled evaluator (no observers are told)."""
    return compiled_for(ruleset).conclude(fact)


def situations_by_id(ruleset: Ruleset) -> dict[str, Situation]:
    """The ruleset's situations by id (kept per ruleset, see _derived.py)."""
    return {s.id: s for s in ruleset.situations}


def _stage_situations(stage: dict[str, Any], ruleset: Ruleset, held: set[str]) -> None:
    for sit in ruleset.situations:
        stage[f"situation__{sit.id}"] = sit.id in held


def _actual(cond: Test | Count, stage: Mapping[str, Any], situations: Mapping[str, Situation]) -> Any:
    """What a leaf reads, as the explanation shows it: a situation that does not hold but could once the
    unknown facts it reads are known is unknown (None), not false: unknown is not false."""
    actual = stage.get(cond.key, cond.absent)
    sit = situations.get(cond.situation) if cond.situation is not None else None
    if sit is not None and actual is False:
        whens = {s.id: s.when for s in situations.values()}
        if evaluate(possibly(sit.when, whens), stage):
            return None
    return actual


def _leaf_text(cond: Test | Count) -> str:
    """A leaf as the explanation reads it (a situation test as "situation 'x' is true")."""
    if cond.situation is not None and cond.op == "eq":
        return f"situation '{cond.situation}' is {'true' if cond.value else 'false'}"
    return describe(cond)


def blame(
    cond: Condition,
    stage: Mapping[str, Any],
    want: bool,
    situations: Mapping[str, Situation],
    file: str = "",
    via: str | None = None,
    _trail: tuple[str, ...] = (),
) -> list[Reason]:
    """The leaf conditions that make ``cond`` evaluate to ``not want`` on ``stage`` (empty if it is ``want``).

    ``not``/``any``/``all`` are followed with the right polarity: an ``all`` that fails is
    blamed on its failing parts, an ``any`` that fails on every branch, a ``not`` on what it
    wraps. A situation test is followed into the situation's own condition, so the reasons
    end at the state's fields.
    """
    if evaluate(cond, stage) == want:
        return []
    if not isinstance(cond, (Test, Count)):
        # all that should hold / any that should not: the parts that went the wrong way;
        # any that should hold / all that should not: every part went the wrong way;
        # a not is its negation pushed to the tests (unknown is not false).
        return [r for part in cond.parts for r in blame(part, stage, want, situations, file, via, _trail)]
    actual = _actual(cond, stage, situations)
    out = [
        Reason(text=_leaf_text(cond), held=not want, path=cond.path, actual=actual, via=via, file=file, line=cond.line)
    ]
    sit = situations.get(cond.situation) if cond.situation is not None else None
    if sit is not None and sit.id not in _trail:
        value = bool(stage.get(cond.key))
        out += blame(sit.when, stage, not value, situations, sit.file, sit.id, (*_trail, sit.id))
    return out


#: How a group of conditions is headed in the explanation's tree.
_HEADS = {"all": "all of:", "any": "any of:", "not": "not:"}


def _checks(
    cond: Condition, stage: dict[str, Any], situations: Mapping[str, Situation], depth: int = 0
) -> list[ConditionCheck]:
    """The condition as the lines of a tree: a leaf with its actual value, a group headed by all/any/not."""
    held = evaluate(cond, stage)
    if isinstance(cond, (Test, Count)):
        because: list[Reason] = []
        sit = situations.get(cond.situation) if cond.situation is not None else None
        if sit is not None:
            because = blame(sit.when, stage, not bool(stage.get(cond.key)), situations, sit.file, sit.id, (sit.id,))
        actual = _actual(cond, stage, situations)
        return [
            ConditionCheck(
                text=_leaf_text(cond),
                held=held,
                depth=depth,
                path=cond.path,
                actual=actual,
                line=cond.line,
                because=because,
            )
        ]
    if cond.keyword == "all" and depth == 0:  # the top-level "all" is the rule's list of conditions
        return [c for child in cond.children for c in _checks(child, stage, situations, depth)]
    inner = [c for child in cond.children for c in _checks(child, stage, situations, depth + 1)]
    return [ConditionCheck(text=_HEADS[cond.keyword], held=held, depth=depth, line=cond.line), *inner]


def find_rules(ruleset: Ruleset, what: str) -> tuple[str, list[Rule]]:
    """The tactic and its rules for a tactic id or a rule id; UnknownTacticError (with a suggestion) otherwise."""
    rules = ruleset.rules_for(what)
    if rules:
        return what, rules
    if what in {r.id for r in ruleset.rules}:
        rule = ruleset.rule(what)
        return rule.tactic, [rule]
    names = [*ruleset.tactics, *(r.id for r in ruleset.rules)]
    raise UnknownTacticError(f"no tactic or rule '{what}' in ruleset '{ruleset.name}'{did_you_mean(what, names)}")


def _explain_rule(
    rule: Rule,
    ruleset: Ruleset,
    stage: dict[str, Any],
    firing: Firing,
    multiplier: float,
    situations: Mapping[str, Situation],
) -> RuleExplanation:
    matched = rule.id in firing.matched
    blocked = rule.id in firing.blocked
    spec = ruleset.specificity(rule)
    if not matched:
        because = blame(rule.when, stage, True, situations, rule.file)
    elif blocked and rule.unless is not None:
        because = blame(rule.unless, stage, False, situations, rule.file)
    else:
        because = []
    return RuleExplanation(
        rule_id=rule.id,
        file=rule.file,
        line=rule.line,
        matched=matched,
        blocked=blocked,
        waiting=matched and not blocked and rule.id in firing.doubtful,
        when=_checks(rule.when, stage, situations),
        unless=_checks(rule.unless, stage, situations) if rule.unless is not None else [],
        unless_reason=rule.unless_reason,
        weight=rule.weight,
        specificity=spec,
        score=score(rule.weight, multiplier, fit_factor(spec)) if matched else None,
        because=because,
    )


def _state_reasons(reasons: list[Reason]) -> list[Reason]:
    """The reasons worth a summary: the state's own fields (situation tests are only their carriers)."""
    leaves = [r for r in reasons if not r.path.startswith(SITUATION_PREFIX)]
    return leaves or reasons


def explain(
    state: NegotiationState | dict[str, Any] | str,
    tactic_or_rule_id: str,
    *,
    ruleset: RulesetArg = None,
    playbook: PlaybookArg = None,
) -> Explanation:
    """Why a tactic was (or was not) recommended for this state: every condition, its value, the verdict.

    ``tactic_or_rule_id`` is a tactic id (every rule recommending it is explained) or one rule's
    id. The verdict is the one ``advise()`` reaches with the same ruleset and playbook.
    """
    parsed = parse_state(state)
    rules_set = resolve_ruleset(ruleset)
    policy = resolve_playbook(playbook)
    tactic, rules = find_rules(rules_set, tactic_or_rule_id)
    effective, firing = fire(parsed, rules_set)
    advice = rank(rules_set, effective, firing, policy)
    _, fact = facts_for(parsed, rules_set)
    stage = dict(fact)
    _stage_situations(stage, rules_set, set(firing.situations))
    situations = derived(rules_set, situations_by_id)
    multiplier = policy.multiplier(tactic) if policy else 1.0
    explained = [_explain_rule(rule, rules_set, stage, firing, multiplier, situations) for rule in rules]
    rec = advice.get(tactic)
    aside = advice.set_aside_for(tactic)
    if rec is not None:
        best = next(r for r in explained if r.rule_id == rec.rule_id)
        formula = (
            f"{best.weight} (weight) x {multiplier:g} (playbook) x (0.6 + 0.4 x {best.specificity}/"
            f"({best.specificity}+2)) (fit of {best.specificity} facts) = {rec.score}"
        )
        rank_no = advice.rank_of(tactic)
        total = len(advice.recommendations)
        summary = f"recommended at rank {rank_no} of {total} with score {rec.score} by rule '{rec.rule_id}'"
        if rec.other_rules:
            summary += f" (also matched: {', '.join(rec.other_rules)})"
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
        if aside.by == "playbook":
            summary = f"set aside by the playbook: {aside.reason}"
        elif aside.by == "unknown":
            summary = f"set aside until known, by rule '{aside.rule_id}' (its never when could hold): {aside.reason}"
        else:
            blocking = next((r for r in explained if r.rule_id == aside.rule_id), None)
            held = _state_reasons(blocking.because) if blocking else []
            because = f" (because {' and '.join(str(r) for r in held)})" if held else ""
            summary = f"set aside by rule '{aside.rule_id}' (never when): {aside.reason}{because}"
        return Explanation(tactic=tactic, verdict="set_aside", summary=summary, rule_id=aside.rule_id, rules=explained)
    parts = [
        f"rule '{r.rule_id}': " + " and ".join(str(reason) for reason in _state_reasons(r.because))
        for r in explained
        if r.because
    ]
    summary = "not matched: " + ("; ".join(parts) if parts else "no rule's conditions held")
    return Explanation(tactic=tactic, verdict="not_matched", summary=summary, rules=explained)
