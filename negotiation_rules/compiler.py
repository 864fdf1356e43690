"""Ruleset -> durable-rules definitions: one engine rule per situation, per ``when`` and per ``unless``.

Forward chaining runs in stages. Stage ``L`` is a fact holding the flat state plus every
situation derived at lower stages; the engine fires the situation rules of level ``L`` on it,
and their conclusions go into the stage ``L + 1`` fact. The last stage fires the tactic rules
(``when``) and their "never when" rules (``unless``). Each rule is a single pattern on the
stage fact, so durable-rules evaluates every condition and we only read which rules fired.

durable-rules' C core has hard limits: a ruleset holds at most 4096 actions; more than 256
rules sharing one pattern node are refused; and while matching a fact it keeps the alpha
nodes still to visit on a fixed stack of 64 (``MAX_STACK_SIZE``), so more than about 60
sibling tests that hold at once (say 64 rules ``alternatives >= k``) fail the call with error
303. Rules are therefore packed into shards of at most 48 engine rules, each its own
durable-rules ruleset; a rulebook of any size runs as several shards and ranks as one.
Nested ``$or``/``$and`` expressions also hit a limit of 32 expressions per pattern
(error 113, already at six levels of any/all), so each condition is first rewritten into
disjunctive normal form: one flat engine rule per alternative (``r:<id>#<k>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .conditions import All, AnyOf, Condition, Count, Not, Test, canonical, leaves, negate
from .errors import RulesetError
from .history import TREND_PREFIX

if TYPE_CHECKING:
    from .ruleset import Ruleset

#: Engine rules per shard (under the 64-entry match stack), and distinct tests per shard.
MAX_RULES_PER_SHARD = 48
MAX_ATOMS_PER_SHARD = 200
STAGE_TAG = "nr-stage"
#: Alternatives one condition may expand to, and tests in one alternative.
MAX_ALTERNATIVES = 256
MAX_TESTS_PER_ALTERNATIVE = 28

Leaf = Test | Count


@dataclass(frozen=True)
class EngineRule:
    """One durable-rules rule: ``name`` is ``s:<situation>``, ``r:<rule>`` or ``u:<rule>``."""

    name: str
    level: int
    pattern: dict[str, Any]
    atoms: frozenset[Any]


@dataclass(frozen=True)
class Shard:
    """A bounded group of engine rules that becomes one durable-rules ruleset."""

    rules: tuple[EngineRule, ...]

    @property
    def levels(self) -> frozenset[int]:
        return frozenset(r.level for r in self.rules)

    def definition(self) -> dict[str, Any]:
        """The JSON-ready ruleset definition durable-rules' ``create_ruleset`` takes."""
        return {r.name: {"all": [{"m": r.pattern}]} for r in self.rules}


@dataclass(frozen=True)
class CompiledRuleset:
    """Everything the engine needs: the shards, the stage count, the counts to put in facts."""

    shards: tuple[Shard, ...]
    tactic_level: int
    situation_ids: tuple[str, ...]
    counts: tuple[Count, ...]
    uses_trends: bool = False


def compile_condition(cond: Condition) -> dict[str, Any]:
    """One condition as a durable-rules expression over the flat stage fact."""
    if isinstance(cond, Not):
        return compile_condition(negate(cond.item))
    if isinstance(cond, All):
        return {"$and": [compile_condition(c) for c in cond.items]}
    if isinstance(cond, AnyOf):
        return {"$or": [compile_condition(c) for c in cond.items]}
    return _compare(cond.key, cond.op, cond.value)


def _compare(key: str, op: str, value: Any) -> dict[str, Any]:
    if op == "exists":
        return {"$ex" if value else "$nex": {key: 1}}
    if op == "eq":
        return {key: value}
    if op == "ne":
        return {"$neq": {key: value}}
    if op == "in":
        return {"$or": [{key: v} for v in value]}
    if op == "not_in":
        return {"$and": [{"$neq": {key: v}} for v in value]}
    return {f"${op}": {key: value}}


def dnf(cond: Condition) -> list[tuple[Leaf, ...]]:
    """The condition as alternatives of plain conjunctions (negations pushed to the leaves)."""
    if isinstance(cond, (Test, Count)):
        return [(cond,)]
    if isinstance(cond, Not):
        return dnf(negate(cond.item))
    if isinstance(cond, AnyOf):
        return [alt for item in cond.items for alt in dnf(item)]
    out: list[tuple[Leaf, ...]] = [()]
    for item in cond.items:
        out = [left + right for left in out for right in dnf(item)]
        if len(out) > MAX_ALTERNATIVES:
            break
    return out


def _engine_rules(name: str, level: int, cond: Condition, where: Any) -> list[EngineRule]:
    """One engine rule per alternative of ``cond``; ``where`` (a Rule or Situation) locates errors."""
    alternatives = list(dict.fromkeys(dnf(cond)))
    if len(alternatives) > MAX_ALTERNATIVES:
        raise RulesetError(
            f"condition expands to more than {MAX_ALTERNATIVES} alternatives; simplify its any/not nesting",
            file=where.file,
            line=where.line,
            rule_id=where.id,
        )
    out = []
    for k, alt in enumerate(alternatives):
        if len(alt) > MAX_TESTS_PER_ALTERNATIVE:
            raise RulesetError(
                f"more than {MAX_TESTS_PER_ALTERNATIVE} tests must hold together; split the rule",
                file=where.file,
                line=where.line,
                rule_id=where.id,
            )
        pattern = {"$and": [{"t": STAGE_TAG}, {"level": level}, *(compile_condition(t) for t in alt)]}
        out.append(EngineRule(f"{name}#{k}", level, pattern, frozenset(canonical(t) for t in alt)))
    return out


def plan_shards(rules: Sequence[EngineRule]) -> tuple[Shard, ...]:
    """Pack engine rules, in order, into shards under both per-shard bounds."""
    shards: list[Shard] = []
    current: list[EngineRule] = []
    atoms: set[Any] = set()
    for rule in rules:
        if current and (len(current) >= MAX_RULES_PER_SHARD or len(atoms | rule.atoms) > MAX_ATOMS_PER_SHARD):
            shards.append(Shard(tuple(current)))
            current, atoms = [], set()
        current.append(rule)
        atoms |= rule.atoms
    if current:
        shards.append(Shard(tuple(current)))
    return tuple(shards)


def compile_ruleset(ruleset: Ruleset) -> CompiledRuleset:
    """Compile a validated ruleset; rules of one stage are kept together where they fit."""
    engine_rules: list[EngineRule] = []
    for sit in sorted(ruleset.situations, key=lambda s: s.level):
        engine_rules += _engine_rules(f"s:{sit.id}", sit.level, sit.when, sit)
    top = 1 + max((s.level for s in ruleset.situations), default=-1)
    for rule in ruleset.rules:
        engine_rules += _engine_rules(f"r:{rule.id}", top, rule.when, rule)
        if rule.unless is not None:
            engine_rules += _engine_rules(f"u:{rule.id}", top, rule.unless, rule)
    counts: dict[str, Count] = {}
    for cond in [s.when for s in ruleset.situations] + [c for r in ruleset.rules for c in (r.when, r.unless) if c]:
        for leaf in leaves(cond):
            if isinstance(leaf, Count):
                counts.setdefault(leaf.key, leaf)
    return CompiledRuleset(
        shards=plan_shards(engine_rules),
        tactic_level=top,
        situation_ids=tuple(s.id for s in ruleset.situations),
        counts=tuple(counts.values()),
        uses_trends=_uses_trends(ruleset),
    )


def _uses_trends(ruleset: Ruleset) -> bool:
    """Whether any condition tests a ``trend.*`` (only then is the history correlated)."""
    conds = [s.when for s in ruleset.situations] + [c for r in ruleset.rules for c in (r.when, r.unless) if c]
    return any(isinstance(leaf, Test) and leaf.path.startswith(TREND_PREFIX) for c in conds for leaf in leaves(c))
