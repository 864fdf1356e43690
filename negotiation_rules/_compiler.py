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

Every shard holds the rules of one stage only, and knows the fact keys its rules read
(``Shard.keys``: its stage fact carries just those, which keeps durable-rules' JSON parsing
short, and under its limit of 255 properties per fact) and the values its rules need
(``Shard.guard``). When a stage has more rules than one shard holds, they are split like a
decision tree on the keys they pin (``phase: bargaining``, ``situation.x: true``), so that for
most states the engine can tell from the guards alone that most shards cannot fire, and skips
them (see ``_groups``). A third bound keeps durable-rules from hanging: it loops forever
creating a ruleset in which one alpha node has 512 children, and every value of an ``in``
list is one (``MAX_WIDTH_PER_SHARD``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from ._conditions import Condition, Count, Leaf, leaves, possibly
from ._errors import RulesetError
from ._fields import state_fields
from ._history import TREND_PREFIX

if TYPE_CHECKING:
    from ._ruleset import Ruleset

#: Engine rules per shard (under the 64-entry match stack), and distinct tests per shard.
MAX_RULES_PER_SHARD = 48
MAX_ATOMS_PER_SHARD = 200
#: Alpha-node children one shard may create: durable-rules loops forever (in create_ruleset) once a
#: node has 512 children, and each value of an ``in`` list becomes a child (``$or``). A shard's
#: width (its rules' tests plus ``in`` values) stays under this, and so does each rule's.
MAX_WIDTH_PER_SHARD = 400
STAGE_TAG = "nr-stage"
#: Alternatives one condition may expand to, and tests in one alternative.
MAX_ALTERNATIVES = 256
MAX_TESTS_PER_ALTERNATIVE = 28
#: A stage is grouped by pinned keys only when its rules need more shards than this ...
GROUP_ABOVE_SHARDS = 1
#: ... and a key is split on only when at least this many of the rules pin it, at most this many keys deep.
MIN_GROUP_RULES = 16
#: ... and a value of that key gets a branch (its own shards) only when at least this many rules pin it.
MIN_BRANCH_RULES = MAX_RULES_PER_SHARD // 2
MAX_SPLIT_DEPTH = 8
#: Pinned values that are compared exactly by both durable-rules and Python (ints as doubles).
_EXACT_INT = 2**53

Pins = tuple[tuple[str, frozenset[Any]], ...]


@dataclass(frozen=True, slots=True)
class EngineRule:
    """One durable-rules rule: ``name`` is ``s:<situation>``, ``r:<rule>``, ``u:<rule>`` (its unless) or
    ``p:<rule>`` (its unless could hold once unknown facts are known).

    It keeps only its tests (``alt``, shared with the condition tree); the durable-rules pattern,
    its distinct tests and the keys it reads are derived from them when needed, which is once,
    while the shards are planned and loaded (kept, they were most of a big rulebook's Python memory).
    """

    name: str
    level: int
    #: Its tests in the order of the pattern: what the rules of its shard share first (``shared_order``).
    alt: tuple[Leaf, ...]
    #: For keys tested with ``eq``/``in``: the values the key must have for the rule to hold.
    pins: Pins = ()
    #: How many alpha-node children it can add under one node: 1 plus the values of its ``in`` lists.
    width: int = 1

    @property
    def pattern(self) -> dict[str, Any]:
        """The durable-rules expression of the rule, on its stage's fact."""
        return {"$and": [{"t": STAGE_TAG}, {"level": self.level}, *(compile_leaf(t) for t in self.alt)]}

    @property
    def atoms(self) -> frozenset[Any]:
        """Its distinct tests (a shard holds at most ``MAX_ATOMS_PER_SHARD``)."""
        return frozenset(t.canon() for t in self.alt)

    @property
    def keys(self) -> frozenset[str]:
        """The fact keys its tests read."""
        return frozenset(t.key for t in self.alt)


@dataclass(frozen=True)
class Shard:
    """A bounded group of engine rules of one stage that becomes one durable-rules ruleset."""

    rules: tuple[EngineRule, ...]

    @property
    def levels(self) -> frozenset[int]:
        return frozenset(r.level for r in self.rules)

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The fact keys its rules read: its stage fact needs no others."""
        return tuple(sorted(frozenset().union(*(r.keys for r in self.rules))))

    @cached_property
    def guard(self) -> Pins:
        """A necessary condition for any of its rules to fire, most selective key first.

        For each key that every rule of the shard pins, the union of the values they allow:
        unless the stage fact's value for each such key is one of these, no rule of the shard
        can hold and the shard need not be asked. Keys whose values cover their whole domain
        are left out (they exclude nothing).
        """
        if not self.rules:
            return ()
        pinned = [dict(r.pins) for r in self.rules]
        common = set(pinned[0]).intersection(*pinned[1:])
        out = []
        for key in common:
            values = frozenset().union(*(p[key] for p in pinned))
            if len(values) < domain_size(key) or domain_size(key) == OPEN_DOMAIN:
                out.append((key, values))
        out.sort(key=lambda kv: (len(kv[1]) / domain_size(kv[0]), kv[0]))
        return tuple(out)

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


def compile_leaf(leaf: Leaf) -> dict[str, Any]:
    """One test (of one alternative) as a durable-rules expression over the flat stage fact."""
    key, op, value = leaf.key, leaf.op, leaf.value
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


def shared_order(alts: Sequence[tuple[Leaf, ...]]) -> list[tuple[Leaf, ...]]:
    """The tests of each alternative, reordered so that the alternatives share the longest prefixes.

    durable-rules builds one chain of test (alpha) nodes per rule and shares a node between
    rules only while all their tests up to it are the same. Greedily, the test that most of a
    group's alternatives have goes first for all of those (ties: the global ``_test_order``,
    most selective first), and each part is ordered the same way: for the 4,000-rule benchmark
    book 16,700 test nodes instead of 24,600 (each about 3.5 KB): durable-rules' rulesets 98.9
    MB instead of 126.7. The order of the tests of a conjunction does not change what it matches.
    """
    # A test's identity is what durable-rules is given (key, operator, value with its type), numbered in the
    # global order; taking two tests for one would only share less, never change a rule.
    text_of: dict[int, str] = {}
    first: dict[str, Leaf] = {}
    for alt in alts:
        for leaf in alt:
            if id(leaf) not in text_of:
                text = text_of[id(leaf)] = f"{leaf.key}\0{leaf.op}\0{leaf.value!r}"
                first.setdefault(text, leaf)
    rank = {text: k for k, text in enumerate(sorted(first, key=lambda text: _test_order(first[text])))}
    left: list[dict[int, list[Leaf]]] = []
    for alt in alts:
        tests: dict[int, list[Leaf]] = {}
        for leaf in alt:
            tests.setdefault(rank[text_of[id(leaf)]], []).append(leaf)
        left.append(tests)
    out: list[list[Leaf]] = [[] for _ in alts]
    width = len(rank) + 1

    def place(group: list[int]) -> None:
        if len(group) == 1:  # a tail no other alternative shares: its tests in the global order
            (i,) = group
            out[i].extend(leaf for test in sorted(left[i]) for leaf in left[i][test])
            left[i].clear()
            return
        counts: dict[int, int] = {}
        for i in group:
            for test in left[i]:
                counts[test] = counts.get(test, 0) + 1
        while counts:
            best = min(test - width * n for test, n in counts.items()) % width  # most shared, then first in order
            having = [i for i in group if best in left[i]]
            for i in having:
                out[i].extend(left[i].pop(best))
                for test in left[i]:  # what the rest of the group has left in common
                    counts[test] -= 1
            del counts[best]
            counts = {test: n for test, n in counts.items() if n}
            place([i for i in having if left[i]])
            taken = set(having)
            group = [i for i in group if i not in taken]

    place([i for i in range(len(alts)) if alts[i]])
    return [tuple(tests) for tests in out]


def dnf(cond: Condition) -> list[tuple[Leaf, ...]]:
    """The condition as alternatives of plain conjunctions (negations pushed to the leaves)."""
    return cond.alternatives(MAX_ALTERNATIVES)


def count_alternatives(cond: Condition, cap: int = MAX_ALTERNATIVES) -> int:
    """How many alternatives ``dnf(cond)`` would make (before duplicates are dropped), counted
    without making them; any count above ``cap`` is returned as ``cap + 1``. A node shared in the
    condition (an expanded situation) is counted once."""
    return cond.count_alternatives(cap)


def _engine_rules(name: str, level: int, cond: Condition, where: Any) -> list[EngineRule]:
    """One engine rule per alternative of ``cond``; ``where`` (a Rule or Situation) locates errors."""
    too_many = count_alternatives(cond) > MAX_ALTERNATIVES  # counted first: expanding could take gigabytes
    alternatives = [] if too_many else list(dict.fromkeys(dnf(cond)))
    if too_many or len(alternatives) > MAX_ALTERNATIVES:
        raise RulesetError(
            f"condition expands to more than {MAX_ALTERNATIVES} alternatives; simplify its any/not nesting",
            file=where.file,
            line=where.line,
            rule_id=where.id,
            code="engine-limit",
        )
    out = []
    for k, unordered in enumerate(alternatives):
        alt = tuple(sorted(unordered, key=_test_order))
        if len(alt) > MAX_TESTS_PER_ALTERNATIVE:
            raise RulesetError(
                f"more than {MAX_TESTS_PER_ALTERNATIVE} tests must hold together; split the rule",
                file=where.file,
                line=where.line,
                rule_id=where.id,
                code="engine-limit",
            )
        width = 1 + sum(len(t.value) for t in alt if t.op == "in")
        if width > MAX_WIDTH_PER_SHARD:
            raise RulesetError(
                f"its 'in' lists hold {width - 1} values that must be tried together; durable-rules takes at most"
                f" {MAX_WIDTH_PER_SHARD - 1} (compare numbers with gte/lte instead of listing them)",
                file=where.file,
                line=where.line,
                rule_id=where.id,
                code="engine-limit",
            )
        out.append(EngineRule(f"{name}#{k}", level, alt, _pins(alt), width))
    return out


#: The domain size used for keys with many possible values (numbers, counts).
OPEN_DOMAIN = 16


def _test_order(leaf: Leaf) -> tuple[float, str, str, str]:
    """Tests least likely to hold first, in one global order.

    durable-rules walks a pattern's tests in order and, at every test that holds, looks at
    each property of the fact again; rules whose first tests are the same share those alpha
    nodes. Putting the most selective test first (``phase: x`` before ``deadlock: true``
    before ``alternatives >= 1``) makes a fact stop at the first test that fails and lets
    rules share their prefixes (about 15% off the cost of a busy shard of 48 rules). Within a
    shard, ``shared_order`` then puts first what most of its rules test, in this order.
    """
    domain = domain_size(leaf.key)
    if leaf.op in ("eq", "in", "ne", "not_in"):
        share = (len(leaf.value) if leaf.op in ("in", "not_in") else 1) / domain
        share = share if leaf.op in ("eq", "in") else 1.0 - share
    else:
        share = 0.5 if leaf.op != "exists" else 0.9
    return max(0.0, min(1.0, share)), leaf.key, leaf.op, repr(leaf.value)


@cache
def _closed_domains() -> dict[str, int]:
    """Fact key -> domain size, for the state fields with a closed domain (enums, booleans)."""
    return {spec.fact_key: spec.domain_size for spec in state_fields().values() if spec.domain_size is not None}


def domain_size(key: str) -> int:
    """How many values a fact key can take (``OPEN_DOMAIN`` for numbers and counts)."""
    if key.startswith(("situation__", "trend__")):
        return 2
    return _closed_domains().get(key, OPEN_DOMAIN)


def _pinnable(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -_EXACT_INT < value < _EXACT_INT
    return isinstance(value, (str, bool))


def _pins(alt: tuple[Leaf, ...]) -> Pins:
    """The values each key must have for this conjunction to hold, from its ``eq``/``in`` tests.

    Only values that Python and durable-rules compare alike are used (text, booleans, whole
    numbers below 2**53), and Python's ``==`` is never stricter than the engine's (``True ==
    1``), so a pin never rules out a fact the engine would match.
    """
    out: dict[str, frozenset[Any]] = {}
    for leaf in alt:
        if leaf.op not in ("eq", "in"):  # a count is never "in"
            continue
        values = tuple(leaf.value) if leaf.op == "in" else (leaf.value,)
        if all(_pinnable(v) for v in values):
            out[leaf.key] = out[leaf.key] & frozenset(values) if leaf.key in out else frozenset(values)
    return tuple(_pin(key, values) for key, values in sorted(out.items()))


#: Pins already made, shared by every rule that pins the same values (at most ``_PIN_LIMIT`` kept).
_pins_made: dict[tuple[str, frozenset[tuple[type, Any]]], tuple[str, frozenset[Any]]] = {}
_PIN_LIMIT = 8192


def _pin(key: str, values: frozenset[Any]) -> tuple[str, frozenset[Any]]:
    """One shared object per pin: thousands of rules pin ``phase: bargaining`` (6 MB of copies for 4,000 rules).

    Values are told apart by type too (``True == 1`` in Python, not in a pin)."""
    token = (key, frozenset((type(v), v) for v in values))
    found = _pins_made.get(token)
    if found is None:
        if len(_pins_made) >= _PIN_LIMIT:
            _pins_made.clear()
        found = _pins_made[token] = (key, values)
    return found


def _selectivity(key: str, values: frozenset[Any]) -> float:
    """The share of the key's values a pin lets through (1.0: it excludes nothing)."""
    return min(1.0, len(values) / domain_size(key))


def _groups(rules: list[EngineRule], used: frozenset[str] = frozenset()) -> list[list[EngineRule]]:
    """Split one stage's rules, like a decision tree, into groups that are packed into shards apart.

    The key whose pins exclude the most (summed over the rules) splits the rules into one branch
    per value, plus the rest: rules that do not pin it to a single value (a rule is never copied
    into two branches: every engine rule costs durable-rules memory in every session). A branch
    of fewer than ``MIN_BRANCH_RULES`` rules joins the rest: a shard of its own would cost
    durable-rules about 60 KB, and 68 KB more in every session, to skip a few rules. Each
    group is split again on another key, until it fits in ``GROUP_ABOVE_SHARDS`` shards or
    ``MAX_SPLIT_DEPTH`` keys are used. Each shard's guard then names the values on its
    branch's path, and a state meets the guards of one branch per key.
    """
    if len(used) >= MAX_SPLIT_DEPTH or len(rules) <= GROUP_ABOVE_SHARDS * MAX_RULES_PER_SHARD:
        return [rules]
    benefit: dict[str, float] = {}
    for rule in rules:
        for key, values in rule.pins:
            share = _selectivity(key, values)
            if key not in used and len(values) == 1 and share <= 0.5:
                benefit[key] = benefit.get(key, 0.0) + 1.0 - share
    for key in sorted(benefit, key=lambda k: (-benefit[k], k)):
        branches: dict[Any, list[EngineRule]] = {}
        rest: list[EngineRule] = []
        for rule in rules:
            allowed = dict(rule.pins).get(key)
            if allowed is None or len(allowed) != 1 or _selectivity(key, allowed) > 0.5:
                rest.append(rule)
            else:
                branches.setdefault(next(iter(allowed)), []).append(rule)
        for value in [value for value, branch in branches.items() if len(branch) < MIN_BRANCH_RULES]:
            rest.extend(branches.pop(value))
        if len(rules) - len(rest) < MIN_GROUP_RULES:
            continue  # this key splits off too little: the next best one may not
        groups = [group for value in sorted(branches, key=repr) for group in _groups(branches[value], used | {key})]
        return groups + (_groups(rest, used | {key}) if rest else [])
    return [rules]


def _pack(rules: Sequence[EngineRule]) -> list[Shard]:
    """Pack engine rules, in order, into shards under the per-shard bounds (rules, distinct tests, width)."""
    shards: list[Shard] = []
    current: list[EngineRule] = []
    atoms: set[Any] = set()
    width = 0
    for rule in rules:
        rule_atoms = rule.atoms
        if current and (
            len(current) >= MAX_RULES_PER_SHARD
            or len(atoms | rule_atoms) > MAX_ATOMS_PER_SHARD
            or width + rule.width > MAX_WIDTH_PER_SHARD
        ):
            shards.append(_shard(current))
            current, atoms, width = [], set(), 0
        current.append(rule)
        atoms |= rule_atoms
        width += rule.width
    if current:
        shards.append(_shard(current))
    return shards


def _shard(rules: Sequence[EngineRule]) -> Shard:
    """A shard of these rules, each with its tests in the order that shares the most (``shared_order``)."""
    ordered = shared_order([rule.alt for rule in rules])
    return Shard(
        tuple(
            rule if all(map(operator.is_, rule.alt, alt)) else replace(rule, alt=alt)
            for rule, alt in zip(rules, ordered, strict=True)
        )
    )


def plan_shards(rules: Sequence[EngineRule]) -> tuple[Shard, ...]:
    """Pack engine rules into shards under both per-shard bounds, each shard within one stage.

    A stage that needs more than ``GROUP_ABOVE_SHARDS`` shards is first split into groups by
    the values its rules pin (see ``_groups``), so shards get guards that exclude them for
    most states; a small stage stays in as few shards as possible, which is cheaper when all
    of them are asked anyway.
    """
    by_level: dict[int, list[EngineRule]] = {}
    for rule in rules:
        by_level.setdefault(rule.level, []).append(rule)
    return tuple(shard for level in sorted(by_level) for group in _groups(by_level[level]) for shard in _pack(group))


def compile_ruleset(ruleset: Ruleset) -> CompiledRuleset:
    """Compile a validated ruleset; rules of one stage are kept together where they fit."""
    engine_rules: list[EngineRule] = []
    situation_conditions = {s.id: s.when for s in ruleset.situations}
    for sit in sorted(ruleset.situations, key=lambda s: s.level):
        engine_rules += _engine_rules(f"s:{sit.id}", sit.level, sit.when, sit)
    top = 1 + max((s.level for s in ruleset.situations), default=-1)
    for rule in ruleset.rules:
        engine_rules += _engine_rules(f"r:{rule.id}", top, rule.when, rule)
        if rule.unless is not None:
            engine_rules += _engine_rules(f"u:{rule.id}", top, rule.unless, rule)
            if rule.unless_unknown == "set_aside":
                engine_rules += _engine_rules(f"p:{rule.id}", top, possibly(rule.unless, situation_conditions), rule)
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
    return any(path.startswith(TREND_PREFIX) for c in conds for path in c.fields())
