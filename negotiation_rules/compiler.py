"""Ruleset -> durable-rules definitions: one engine rule per situation, per ``when`` and per ``unless``.

Forward chaining runs in stages. Stage ``L`` is a fact holding the flat state plus every
situation derived at lower stages; the engine fires the situation rules of level ``L`` on it,
and their conclusions go into the stage ``L + 1`` fact. The last stage fires the tactic rules
(``when``) and their "never when" rules (``unless``). Each rule is a single pattern on the
stage fact, so durable-rules evaluates every condition and we only read which rules fired.

durable-rules' C core has hard limits (a ruleset holds at most 4096 actions; more than 256
rules sharing one pattern node is refused; a very large number of distinct tests in one
ruleset has crashed it in our tests), so rules are packed into shards of bounded size, each
its own engine ruleset; a rulebook of any size runs as several shards and ranks as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .conditions import All, AnyOf, Condition, Count, Not, canonical, leaves, negate

if TYPE_CHECKING:
    from .ruleset import Ruleset

#: Engine rules per shard, and distinct tests per shard. Both far below the C limits we hit.
MAX_RULES_PER_SHARD = 120
MAX_ATOMS_PER_SHARD = 100
STAGE_TAG = "nr-stage"


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


def _pattern(level: int, cond: Condition) -> dict[str, Any]:
    return {"$and": [{"t": STAGE_TAG}, {"level": level}, compile_condition(cond)]}


def _atoms(cond: Condition) -> frozenset[Any]:
    return frozenset(canonical(leaf) for leaf in leaves(cond))


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
        engine_rules.append(EngineRule(f"s:{sit.id}", sit.level, _pattern(sit.level, sit.when), _atoms(sit.when)))
    top = 1 + max((s.level for s in ruleset.situations), default=-1)
    for rule in ruleset.rules:
        engine_rules.append(EngineRule(f"r:{rule.id}", top, _pattern(top, rule.when), _atoms(rule.when)))
        if rule.unless is not None:
            engine_rules.append(EngineRule(f"u:{rule.id}", top, _pattern(top, rule.unless), _atoms(rule.unless)))
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
    )
