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

Everything about a rule that does not depend on the state (its fit factor, its score, where it
sorts, its Source objects, the literal parts of its rationale) is worked out once per ruleset
and playbook (``_plans_of``, ``_scoring``). What does depend on the state is remembered per value
of the few keys it reads (``_Trace``): a rule's basis (which facts, with their values: only who
set each one is worked out per call, ``_basis.Stated``), why it waits for an unknown, its filled
rationale. Facts are frozen and hold a str, number or bool, so one Fact instance is shared by
every Advice (``_basis.shared_fact``); every list in an Advice is its own. Recommendation objects
are only built for the ``top`` that are kept.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ._advice import Advice, Fact, Recommendation, SetAside, Source, validated
from ._basis import Entry, Stated, entries, support, unknown_fields
from ._conditions import Condition, Test, leaves, negate
from ._derived import derived
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


#: Distinct key values one trace remembers before it starts over (a bound on memory, not on correctness).
TRACE_LIMIT = 1024


class _Trace:
    """What ``support`` (or ``unknown_fields``) gives for one condition, remembered per value of the keys it reads.

    Both read nothing of the stage fact but the keys of the condition's tests, followed into
    the situations it names (``reads``), and compare them with the rule format's operators,
    which tell a bool from a number: so the values and their types decide the answer, and a
    rule that reads three keys has few distinct answers even over thousands of distinct states.
    """

    __slots__ = ("fact_keys", "flag_ids", "keys", "memo")

    def __init__(self, keys: tuple[str, ...], flags: Mapping[str, str] | None = None) -> None:
        """An empty memo for a condition that reads ``keys`` (see ``reads``); ``flags``: situation key -> id."""
        flags = flags or {}
        self.fact_keys = tuple(key for key in keys if key not in flags)  # read off the flat fact ...
        self.flag_ids = tuple(flags[key] for key in keys if key in flags)  # ... and the situations that held
        self.keys = (*self.fact_keys, *(key for key in keys if key in flags))
        self.memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def get(self, stage: Mapping[str, Any], compute: Callable[[], list[Any]]) -> tuple[Any, ...]:
        """The remembered answer for these values of the keys, else ``compute()`` (then remembered)."""
        return self.remember(tuple(map(stage.get, self.keys)), compute)

    def values(self, fact: Mapping[str, Any], held: frozenset[str]) -> tuple[Any, ...]:
        """The values of the keys in the stage fact (``fact`` with a flag per situation) without building it."""
        return (*map(fact.get, self.fact_keys), *map(held.__contains__, self.flag_ids))

    def remember(self, values: tuple[Any, ...], compute: Callable[[], list[Any]]) -> tuple[Any, ...]:
        """The remembered answer for these values (and their types), else ``compute()`` (then remembered)."""
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


class _Wording:
    """A move and its rationale, the rationale's placeholders found once."""

    __slots__ = ("literals", "move", "paths")

    def __init__(self, move: str, rationale: str) -> None:
        """The wording of one rule, for one side or for both."""
        parts = PLACEHOLDER_RE.split(rationale)
        self.move = move
        self.literals = tuple(parts[0::2])
        self.paths = tuple(parts[1::2])

    def fill(self, state: NegotiationState) -> str:
        """The rationale with each ``{path}`` placeholder's value in plain words (paths were checked at load time)."""
        out = [self.literals[0]]
        for path, literal in zip(self.paths, self.literals[1:], strict=True):
            out.append(label(path, value_at(state, path)))
            out.append(literal)
        return "".join(out)


@dataclass(frozen=True)
class _RulePlan:
    """What ranking needs of one rule, worked out once per ruleset."""

    rule: Rule
    tactic: str
    family: str
    fit: float
    score: float  # without a playbook
    specificity: int
    sources: tuple[Source, ...]  # frozen models, safely shared by every Recommendation
    wording: _Wording  # the side-neutral move and rationale
    by_side: dict[str, _Wording]  # ... and per side, when the rule words them per side
    words: operator.attrgetter[Any]  # what the wording reads of the state: the side (if worded per side), placeholders
    ruled_out: Condition | None  # the never-when negated (what rules it out), once
    recommend: _Trace  # a recommendation's move, rationale and basis entries (``when`` held, never-when ruled
    #: out), per value of the keys the conditions read and of what the wording reads
    when: _Trace  # the basis entries of ``when`` alone ...
    unless: _Trace  # ... of the never-when ...
    unknown: _Trace  # ... and the reason the rule waits for unknown facts (one text)


class _Plans(NamedTuple):
    """A ruleset's ranking plans: per rule id, the situations' conditions (for the basis), scorings per playbook."""

    rules: dict[str, _RulePlan]
    situations: dict[str, Condition]
    flags: dict[str, str]  # the stage key of every situation -> its id
    tactic_of: dict[str, str]  # rule id -> its tactic
    scorings: dict[Any, _Scoring]  # per playbook (its content) or None: see ``_scoring``


def _plans_of(ruleset: Ruleset) -> _Plans:
    """The ranking plans of a ruleset (built on first use, kept as long as the ruleset lives; see _derived.py)."""
    return derived(ruleset, _build_plans)


def _build_plans(ruleset: Ruleset) -> _Plans:
    """What ranking needs of each rule that does not depend on the state, and the situations' conditions."""
    situations: dict[str, Condition] = {s.id: s.when for s in ruleset.situations}
    plans = {}
    flags = {Test(f"{SITUATION_PREFIX}{s.id}", "eq", True).key: s.id for s in ruleset.situations}
    for rule in ruleset.rules:
        when, unless = reads(rule.when, situations), reads(rule.unless, situations)
        spec = ruleset.specificity(rule)
        fit = fit_factor(spec)
        sources = tuple(
            Source(document=s.document, section=s.section, title=source_title(s.document) or s.document)
            for s in rule.sources
        )
        wording = _Wording(rule.move, rule.rationale)
        by_side = {side: _Wording(move, rationale) for side, (move, rationale) in rule.by_side.items()}
        words = list(dict.fromkeys(path for w in (wording, *by_side.values()) for path in w.paths))
        if by_side:
            words.insert(0, "our_side")
        plans[rule.id] = _RulePlan(
            rule=rule,
            tactic=rule.tactic,
            family=rule.family,
            fit=fit,
            score=score(rule.weight, 1.0, fit),
            specificity=spec,
            sources=sources,
            wording=wording,
            by_side=by_side,
            words=operator.attrgetter(*words, *["__class__"] * (2 - len(words))),  # >= 2 names: it gives a tuple
            ruled_out=None if rule.unless is None else negate(rule.unless),
            recommend=_Trace(tuple(dict.fromkeys((*when, *unless))), flags),
            when=_Trace(when, flags),
            unless=_Trace(unless, flags),
            unknown=_Trace(unless, flags),
        )
    return _Plans(plans, situations, flags, {rid: plan.tactic for rid, plan in plans.items()}, {})


class _Scoring(NamedTuple):
    """Per playbook (or none): each rule's score and where it sorts, and each tactic's disabled reason."""

    points: dict[str, float]  # rule id -> its score
    order: dict[str, int]  # rule id -> position by tactic, then best first (score, specificity, rule id)
    kept: dict[str, int]  # rule id -> position among recommendations: score, specificity, tactic, rule id
    disabled: dict[str, str | None]  # tactic -> the playbook's reason for disabling it (None: not disabled)
    min_score: float | None  # the playbook's minimum (None: no playbook)


#: Distinct playbooks one ruleset keeps scorings for before it starts over (a bound on memory).
SCORING_LIMIT = 64


def _scoring(plans: _Plans, playbook: Playbook | None) -> _Scoring:
    """The scoring of a ruleset's rules under ``playbook``, built once per playbook content.

    The key is what the playbook's methods read (its weights, what it disables, its minimum) and
    its class, so an equal playbook loaded again, or read from a file on every call, shares it.
    """
    key: Any = None
    if playbook is not None:
        key = (type(playbook), tuple(playbook.weights.items()), tuple(playbook.disabled.items()), playbook.min_score)
    found = plans.scorings.get(key)
    if found is None:
        found = _build_scoring(plans, playbook)
        if len(plans.scorings) >= SCORING_LIMIT:
            plans.scorings.clear()
        plans.scorings[key] = found
    return found


def _build_scoring(plans: _Plans, playbook: Playbook | None) -> _Scoring:
    """Every rule's score under ``playbook``, the two orders ranking sorts by, every tactic's disabled reason."""
    points = {
        rid: plan.score if playbook is None else score(plan.rule.weight, playbook.multiplier(plan.tactic), plan.fit)
        for rid, plan in plans.rules.items()
    }
    specificity = {rid: plan.specificity for rid, plan in plans.rules.items()}
    tactic = plans.tactic_of
    by_tactic = sorted(points, key=lambda rid: (tactic[rid], -points[rid], -specificity[rid], rid))
    by_score = sorted(points, key=lambda rid: (-points[rid], -specificity[rid], tactic[rid], rid))
    disabled = {t: None if playbook is None else playbook.disabled_reason(t) for t in tactic.values()}
    return _Scoring(
        points,
        {rid: i for i, rid in enumerate(by_tactic)},
        {rid: i for i, rid in enumerate(by_score)},
        disabled,
        None if playbook is None else playbook.min_score,
    )


def unknown_reason(rule: Rule, unknown: list[str]) -> str:
    """Why a tactic waits for facts: its never-when, and what is not known yet, in plain words."""
    missing = "; ".join(about(path) for path in unknown) or "a fact it depends on"
    return f"{rule.unless_reason} Not known yet: {missing}."


class _Basis:
    """Builds ``basis`` lists for one evaluation (from the flat fact, the situations that held, who set each path)."""

    def __init__(
        self,
        plans: _Plans,
        given: NegotiationState,
        effective: NegotiationState,
        fact: Mapping[str, Any],
        held: frozenset[str],
    ) -> None:
        self.effective = effective
        self.situations = plans.situations
        self.flags = plans.flags
        self.fact = fact
        self.held = held
        self._stage: dict[str, Any] | None = None
        self.stated = Stated(given)

    @property
    def stage(self) -> dict[str, Any]:
        """The flat fact with ``situation__<id>`` for every situation (built when a trace needs working out)."""
        if self._stage is None:
            self._stage = dict(self.fact)
            self._stage.update((key, sid in self.held) for key, sid in self.flags.items())
        return self._stage

    def _entries(self, conds: tuple[Condition | None, ...]) -> list[Entry]:
        stage = self.stage
        tests = [test for cond in conds if cond is not None for test in support(cond, stage, self.situations)]
        return list(entries(tests, self.effective, stage))

    def recommendation(self, plan: _RulePlan, state: NegotiationState) -> tuple[str, str, list[Fact]]:
        """A recommended rule's move, rationale and basis: what made ``when`` hold and what rules its never-when out."""
        trace = plan.recommend
        values = (*map(self.fact.get, trace.fact_keys), *map(self.held.__contains__, trace.flag_ids))
        found = trace.remember((*values, *plan.words(state)), lambda: self._recommendation(plan, state))
        return found[0], found[1], self.stated.facts(found[2])

    def _recommendation(self, plan: _RulePlan, state: NegotiationState) -> list[Any]:
        wording = plan.by_side.get(state.our_side, plan.wording) if plan.by_side else plan.wording
        return [wording.move, wording.fill(state), tuple(self._entries((plan.rule.when, plan.ruled_out)))]

    def facts(self, trace: _Trace, cond: Condition | None) -> list[Fact]:
        """The Facts behind what makes ``cond`` hold, stated or derived, once per path (``facts_of``)."""
        found = trace.remember(trace.values(self.fact, self.held), lambda: self._entries((cond,)))
        return self.stated.facts(found)

    def unknown_reason(self, plan: _RulePlan) -> str:
        """Why the rule waits: its never-when and the unknown fields that could still make it hold."""
        rule = plan.rule
        cond = rule.unless
        assert cond is not None
        found = plan.unknown.remember(
            plan.unknown.values(self.fact, self.held),
            lambda: [unknown_reason(rule, unknown_fields(cond, self.stage, self.situations))],
        )
        reason: str = found[0]
        return reason


#: A recommended tactic in one evaluation: where it sorts, the tactic, its matched rule ids best first.
_Kept = tuple[int, str, list[str]]
#: A tactic set aside: the tactic, its matched rule ids best first, by whom ("rule", "unknown",
#: "playbook"), and the rule id that sets it aside (for the playbook: its best rule).
_Aside = tuple[str, list[str], str, str]


def _verdicts(plans: _Plans, scoring: _Scoring, firing: Firing) -> tuple[list[_Kept], list[_Aside]]:
    """Every tactic that matched: the kept ones best first (score, specificity, tactic id), the set-aside ones in
    tactic order.

    A tactic is set aside by the first of its matched rules (best first) that is blocked, else by
    the first that waits for an unknown, else by the playbook (disabled or below its minimum).
    """
    order = scoring.order
    matched = sorted([rid for rid in firing.matched if rid in order], key=order.__getitem__)
    tactic_of = plans.tactic_of
    deciding: dict[str, tuple[str, str]] = {}  # tactic -> (by, rule id), blocked before waiting, best rule first
    for by, which in (("rule", firing.blocked), ("unknown", firing.doubtful)):
        if which:  # most blocked or doubtful rules did not match: only matched ones count
            for rid in sorted(which.intersection(matched), key=order.__getitem__):
                deciding.setdefault(tactic_of[rid], (by, rid))
    points, kept_order, disabled, min_score = scoring.points, scoring.kept, scoring.disabled, scoring.min_score
    kept: list[_Kept] = []
    aside: list[_Aside] = []
    previous = None
    candidates: list[str] = []
    for rid in matched:  # sorted by tactic, so a tactic's rules come together, its best first
        tactic = tactic_of[rid]
        if tactic == previous:
            candidates.append(rid)
            continue
        previous, candidates = tactic, [rid]
        found = deciding.get(tactic) if deciding else None
        if found is not None:
            aside.append((tactic, candidates, *found))
        elif min_score is not None and (disabled[tactic] is not None or points[rid] < min_score):
            aside.append((tactic, candidates, "playbook", rid))
        else:
            kept.append((kept_order[rid], tactic, candidates))
    kept.sort()  # by position alone: no two kept tactics share one
    return kept, aside


def ranked_tactics(
    ruleset: Ruleset, firing: Firing, playbook: Playbook | None = None, top: int | None = None
) -> list[str]:
    """The recommended tactic ids, best first, exactly as ``rank`` orders them (nothing rendered)."""
    plans = _plans_of(ruleset)
    kept, _ = _verdicts(plans, _scoring(plans, playbook), firing)
    return [tactic for _, tactic, _ in (kept if top is None else kept[:top])]


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
    scoring = _scoring(plans, playbook)
    kept, aside = _verdicts(plans, scoring, firing)
    basis = _Basis(plans, given if given is not None else state, state, fact, firing.situations)
    rules = plans.rules
    set_aside: list[SetAside] = []
    for tactic, candidates, by, rule_id in aside:
        plan = rules[rule_id]
        rule = plan.rule
        if by == "rule":
            reason, facts = rule.unless_reason, basis.facts(plan.unless, rule.unless)
        elif by == "unknown" and rule.unless is not None:
            reason, facts = basis.unknown_reason(plan), basis.facts(plan.when, rule.when)
        else:
            assert playbook is not None
            plan = rules[candidates[0]]
            rule = plan.rule
            reason = scoring.disabled[tactic] or (
                f"score {scoring.points[candidates[0]]} is below the playbook's minimum of {playbook.min_score}"
            )
            facts = basis.facts(plan.when, rule.when)
        aside_fields = {"tactic": tactic, "rule_id": rule.id, "reason": reason, "by": by, "basis": facts}
        set_aside.append(validated(SetAside, aside_fields))
    recommendations = []
    points = scoring.points
    for _, _, candidates in kept if top is None else kept[:top]:
        plan = rules[candidates[0]]
        move, rationale, facts = basis.recommendation(plan, state)
        fields = {
            "tactic": plan.tactic,
            "move": move,
            "rationale": rationale,
            "score": points[candidates[0]],
            "rule_id": plan.rule.id,
            "basis": facts,
            "sources": plan.sources,  # tuples: validation makes every list a new one
            "cautions": plan.rule.cautions,
            "family": plan.family,
            "other_rules": candidates[1:],
        }
        recommendations.append(validated(Recommendation, fields))
    return validated(
        Advice,
        {
            "recommendations": recommendations,
            "set_aside": set_aside,
            "questions": (),
            "situations": sorted(firing.situations),
            "ruleset": ruleset.name,
        },
    )
