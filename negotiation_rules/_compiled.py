"""Ruleset -> one generated Python function: the compiled evaluator, proven to fire what durable-rules fires.

``advise(..., engine="compiled")`` evaluates a ruleset with Python code generated from its
validated condition tree instead of asking durable-rules. The code is built like this:

- no text a user wrote is ever part of the generated source. Every field key, rule id,
  situation id and compared value is a *constant* handed to a factory function in a tuple
  and bound to a generated name (``k12``); the source holds only generated names, small
  integers and Python keywords, so a rule value such as ``"__import__('os').system('x')"`` is
  just a string compared with ``==``;
- the fact's values are read once into locals; a guard checks that each has the type its
  field allows (what ``FactCheck`` would accept). When one does not (a state changed with
  ``model_copy(update=...)``), the call takes the slow path: the same checks the engine makes
  (so the same ``StateError``), then the tree interpreter (``interpret``). On guarded values
  each test is the plain Python comparison that ``_conditions.OPERATORS`` reduces to;
- situations are evaluated once per call, in level order, each into a local; ``situation.x``
  reads that local. Rules' ``when`` (matched), ``unless`` (blocked) and, for
  ``unless_unknown: set_aside``, ``_conditions.possibly(unless)`` (doubtful) are tested
  independently, as the engine fires its ``r:``, ``u:`` and ``p:`` rules. ``possibly`` expands
  a ``situation.x: true`` into what could make ``x`` hold; each expansion is computed once
  per call into a local shared by every rule that needs it;
- the tactic conditions are split like a decision tree on the values they pin (``phase:
  bargaining``), as the compiler splits shards, so a call tests only the rules that can hold;
- a big ruleset is split into chunk functions of at most ``CHUNK`` statements, each compiled
  on its own (CPython's compile time grows faster than the size of one function: 30,000
  statements in one function take 6 s, in chunks about 1 s), reading and writing the values in
  a list ``V``.

The result is a ``Firing`` equal to durable-rules' (tests/test_compiled.py checks it on the
built-in and on random rulesets, with unknowns). ``compiled_for(ruleset)`` returns the
evaluator, cached weakly per ruleset; its ``bare`` is the generated function itself.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._compiler import CompiledRuleset
from ._conditions import All, AnyOf, Condition, Count, Not, Test, evaluate, leaves, negate, possibly
from ._derived import derived
from ._factcheck import MAX_NUMBER, MAX_TEXT, FactCheck
from ._facts import FactBuilder
from ._fields import SITUATION_PREFIX, state_fields
from ._firing import Firing, notify, observed
from ._history import TREND_PREFIX
from ._ruleset import Ruleset

__all__ = ["CompiledEvaluator", "compiled_for", "interpret"]

#: Statements one generated function holds at most; a bigger ruleset is split into chunk functions.
CHUNK = 120
#: A ruleset of at most this many statements is compiled into the one function, without chunks.
INLINE_LIMIT = 400
#: Conditions a decision-tree leaf holds before it is split on a pinned key, and how many keys deep.
LEAF = 48
MAX_SPLIT_DEPTH = 8
#: The domain size taken for keys with many possible values (numbers, counts), as the compiler does.
OPEN_DOMAIN = 16

#: ``(situations, matched, blocked, doubtful)``: collections of ids, as the generated function returns them.
Bare = Callable[[Mapping[str, Any]], tuple[Any, Any, Any, Any]]


def interpret(ruleset: Ruleset, fact: Mapping[str, Any]) -> Firing:
    """The tree-walking reference: the engine's stages evaluated with ``_conditions.evaluate`` (slow, exact)."""
    stage = dict(fact)
    order = sorted(ruleset.situations, key=lambda s: s.level)
    for sit in order:
        stage[f"situation__{sit.id}"] = False
    held: set[str] = set()
    for sit in order:  # a situation reads only situations of lower levels: those are final when it is evaluated
        if evaluate(sit.when, stage):
            held.add(sit.id)
            stage[f"situation__{sit.id}"] = True
    conditions = {s.id: s.when for s in ruleset.situations}
    matched = {r.id for r in ruleset.rules if evaluate(r.when, stage)}
    blocked = {r.id for r in ruleset.rules if r.unless is not None and evaluate(r.unless, stage)}
    doubtful = {
        r.id
        for r in ruleset.rules
        if r.unless is not None and r.unless_unknown == "set_aside" and evaluate(possibly(r.unless, conditions), stage)
    }
    return Firing(frozenset(held), frozenset(matched), frozenset(blocked), frozenset(doubtful))


# -- code generation ---------------------------------------------------------------------------------


@dataclass
class _Unit:
    """One generated factory: its constants (passed in, never written into the source) and its lines."""

    consts: list[Any] = field(default_factory=list)
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    #: Slots read in this unit (a chunk loads them from ``V``).
    used: set[int] = field(default_factory=set)

    def const(self, value: Any) -> str:
        """The generated name bound to ``value`` in this unit (equal values of one type share a name)."""
        key = (type(value).__qualname__, repr(value))
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"k{len(self.consts)}"
            self.consts.append(value)
        return name

    def build(self, signature: str, sources: list[str]) -> Callable[..., Any]:
        """Compile ``def fn(<signature>)`` over this unit's lines, its constants bound by a factory (source kept)."""
        head = ["def _factory(K):"]
        if self.consts:
            head.append("    " + ", ".join(f"k{i}" for i in range(len(self.consts))) + ", = K")
        source = "\n".join(
            [*head, f"    def fn({signature}):", *("        " + ln for ln in self.lines), "    return fn"]
        )
        sources.append(source)
        namespace: dict[str, Any] = {"__builtins__": {"len": len, "zip": zip, "int": int, "float": float, "str": str}}
        exec(compile(source, "<negotiation_rules compiled ruleset>", "exec"), namespace)
        return namespace["_factory"](tuple(self.consts))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Item:
    """One tactic-stage conclusion: append rule ``ident`` to list ``into`` (m, b or d) when ``cond`` holds."""

    into: str
    ident: str
    cond: Condition
    pins: tuple[tuple[int, frozenset[Any]], ...]


def _kind_of(key: str, counts: frozenset[str]) -> str:
    """The kind of value a fact key holds: a field's kind, ``bool`` for trends, ``count`` for counts."""
    if key in counts:
        return "count"
    if key.startswith(TREND_PREFIX.replace(".", "__")):
        return "bool"
    for spec in state_fields().values():
        if spec.fact_key == key:
            return spec.kind
    return ""


_TYPES: dict[str, tuple[type, ...]] = {
    "sit": (bool,),
    "bool": (bool,),
    "enum": (str,),
    "str": (str,),
    "int": (int, float),
    "float": (int, float),
    "count": (int, float),
}


def _fits(kind: str, value: Any) -> bool:
    """Whether a rule's value has the type the fast comparison for this kind of key assumes."""
    wanted = _TYPES.get(kind)
    if wanted is None:
        return False
    values = value if isinstance(value, tuple) else (value,)
    return all(isinstance(v, wanted) and (bool in wanted or not isinstance(v, bool)) for v in values)


class _Generator:
    """Turns one validated ruleset into the generated evaluation function (see the module docstring)."""

    def __init__(self, ruleset: Ruleset, compiled: CompiledRuleset, fallback: Callable[[Mapping[str, Any]], Any]):
        self.ruleset = ruleset
        self.situations = sorted(ruleset.situations, key=lambda s: s.level)
        conditions = {s.id: s.when for s in ruleset.situations}
        counts = frozenset(c.key for c in compiled.counts)
        # the unless of a set_aside rule as the engine's p: rule sees it; expansions shared through one memo
        memo: dict[str, Condition] = {}
        self.doubt = {
            r.id: possibly(r.unless, conditions, memo)
            for r in ruleset.rules
            if r.unless is not None and r.unless_unknown == "set_aside"
        }
        every = [s.when for s in ruleset.situations] + [c for r in ruleset.rules for c in (r.when, r.unless) if c]
        keys = sorted(
            {leaf.key for c in every for leaf in leaves(c)} - {f"situation__{s.id}" for s in ruleset.situations}
        )
        #: slot -> (fact key, kind); situations and shared expansions follow the fact keys.
        self.keys = [(key, _kind_of(key, counts)) for key in keys]
        self.key_slot = {key: i for i, (key, _) in enumerate(self.keys)}
        self.sit_slot = {s.id: len(self.keys) + i for i, s in enumerate(self.situations)}
        expanded = [name for name in (s.id for s in self.situations) if name in memo]
        base = len(self.keys) + len(self.situations)
        self.memo_slot = {id(memo[name]): base + i for i, name in enumerate(expanded)}
        self.memo_defs = [(base + i, memo[name]) for i, name in enumerate(expanded)]
        self.kinds = [kind for _, kind in self.keys] + ["sit"] * len(self.situations) + ["bool"] * len(expanded)
        self.slots = base + len(expanded)
        enums = {spec.fact_key: len(spec.choices) for spec in state_fields().values() if spec.kind == "enum"}
        self.domains = [
            2 if kind in ("sit", "bool") else enums.get(key, OPEN_DOMAIN) if kind == "enum" else OPEN_DOMAIN
            for key, kind in [*self.keys, *(("", kind) for kind in self.kinds[len(self.keys) :])]
        ]
        #: Slots whose value is known where code is being emitted (inside a branch of the decision tree).
        self.known: dict[int, Any] = {}
        self.fallback = fallback
        #: While situations and shared expansions are being defined, the slots already assigned: an
        #: expansion may be the very object inside an earlier definition, and must not be read early.
        self.ready: set[int] | None = None
        self.main = _Unit()
        #: The text of every generated function, main function last (for tests and curious readers).
        self.sources: list[str] = []

    # expressions

    def expr(self, cond: Condition, unit: _Unit, top: bool = True) -> str:
        """A Python expression (over slot locals ``x<i>`` and constants) that holds exactly when ``cond`` holds."""
        shared = self.memo_slot.get(id(cond))
        if shared is not None and not top and (self.ready is None or shared in self.ready):
            unit.used.add(shared)
            return f"x{shared}"
        if isinstance(cond, Not):
            return self.expr(negate(cond.item), unit, False)
        if isinstance(cond, (All, AnyOf)):
            joiner = " and " if isinstance(cond, All) else " or "
            return "(" + joiner.join(self.expr(c, unit, False) for c in cond.items) + ")"
        if isinstance(cond, Count):
            slot = self.key_slot[cond.key]
            unit.used.add(slot)
            return self.leaf(f"x{slot}", "count", cond.op, cond.value, unit)
        slot = (
            self.sit_slot.get(cond.path[len(SITUATION_PREFIX) :], -1) if cond.path.startswith(SITUATION_PREFIX) else -1
        )
        slot = self.key_slot[cond.key] if slot < 0 else slot
        if slot in self.known and (cond.op == "exists" or _fits(self.kinds[slot], cond.value)):
            # inside the branch where this slot holds one known value: the test is decided here
            return "True" if evaluate(Test("", cond.op, cond.value), {"": self.known[slot]}) else "False"
        unit.used.add(slot)
        return self.leaf(f"x{slot}", self.kinds[slot], cond.op, cond.value, unit)

    def leaf(self, x: str, kind: str, op: str, value: Any, unit: _Unit) -> str:
        """One test on a guarded local: ``x`` is None (unknown) or of the type its kind allows."""
        value = tuple(value) if isinstance(value, list) else value
        if op == "exists":
            if kind == "sit":
                return "True" if value else "False"
            return f"({x} is not None)" if value else f"({x} is None)"
        if not _fits(kind, value):  # never for a validated rule; exact all the same
            name = unit.const(_exact_test(op, value, kind == "count"))
            return f"{name}({x})"
        if kind == "sit":
            allowed = {
                "eq": {value},
                "ne": {not value},
                "in": set(value) if isinstance(value, tuple) else set(),
                "not_in": {True, False} - set(value) if isinstance(value, tuple) else set(),
            }.get(op, set())
            if allowed == {True, False}:
                return "True"
            if not allowed:
                return "False"
            return x if allowed == {True} else f"(not {x})"
        known = "" if kind == "count" else f"{x} is not None and "
        if op in ("eq", "ne") and isinstance(value, bool):
            return f"({x} is {value if op == 'eq' else not value})"
        if op == "eq":
            return f"({x} == {unit.const(value)})"
        if op == "ne":
            return f"({known}{x} != {unit.const(value)})"
        if op in ("in", "not_in"):
            members = unit.const(frozenset(value))
            return f"({x} in {members})" if op == "in" else f"({known}{x} not in {members})"
        symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"({known}{x} {symbol} {unit.const(value)})"

    def guard(self, slot: int) -> str:
        """An expression that holds when slot ``slot``'s value is one ``FactCheck`` accepts (or unknown)."""
        x = f"x{slot}"
        kind = self.kinds[slot]
        if kind == "bool":
            return f"({x} is None or {x} is True or {x} is False)"
        if kind == "enum":
            key = self.keys[slot][0]
            spec = next(s for s in state_fields().values() if s.fact_key == key)
            return f"({x} is None or {x}.__class__ is str and {x} in {self.main.const(frozenset(spec.choices))})"
        if kind == "str":
            return f"({x} is None or {x}.__class__ is str and len({x}) <= {MAX_TEXT})"
        if kind in ("int", "count"):
            nullable = "" if kind == "count" else f"{x} is None or "
            return f"({nullable}{x}.__class__ is int and {-MAX_NUMBER} < {x} < {MAX_NUMBER})"
        if kind == "float":
            number = f"({x}.__class__ is float or {x}.__class__ is int)"
            return f"({x} is None or {number} and {-MAX_NUMBER} < {x} < {MAX_NUMBER})"
        return "False"  # a key no field describes: always the slow, checked path

    # statements

    def pins(self, cond: Condition) -> dict[int, frozenset[Any]]:
        """Slots whose value must be one of a few for ``cond`` to hold (a necessary condition, for dispatch)."""
        if id(cond) in self.memo_slot:
            return {}
        if isinstance(cond, Not):
            return self.pins(negate(cond.item))
        if isinstance(cond, All):
            out: dict[int, frozenset[Any]] = {}
            for item in cond.items:
                for slot, values in self.pins(item).items():
                    out[slot] = out[slot] & values if slot in out else values
            return out
        if isinstance(cond, AnyOf):
            parts = [self.pins(item) for item in cond.items]
            common = set(parts[0]).intersection(*parts[1:]) if parts else set()
            return {slot: frozenset().union(*(p[slot] for p in parts)) for slot in common}
        if isinstance(cond, Count) or cond.op not in ("eq", "in"):
            return {}
        found = (
            self.sit_slot.get(cond.path[len(SITUATION_PREFIX) :])
            if cond.path.startswith(SITUATION_PREFIX)
            else self.key_slot.get(cond.key)
        )
        if found is None:
            return {}
        wanted = tuple(cond.value) if isinstance(cond.value, (list, tuple)) else (cond.value,)
        if not _fits(self.kinds[found], wanted) or not all(isinstance(v, (str, int, float)) for v in wanted):
            return {}
        return {found: frozenset(wanted)}

    def domain(self, slot: int) -> int:
        """How many values a slot can take (``OPEN_DOMAIN`` for numbers)."""
        return self.domains[slot]

    def items(self) -> list[_Item]:
        """Every conclusion of the tactic stage, with its pins."""
        out = []
        for rule in self.ruleset.rules:
            conds = [("m", rule.when)]
            if rule.unless is not None:
                conds.append(("b", rule.unless))
            if rule.id in self.doubt:
                conds.append(("d", self.doubt[rule.id]))
            for into, cond in conds:
                out.append(_Item(into, rule.id, cond, tuple(sorted(self.pins(cond).items()))))
        return out

    def split(self, items: list[_Item], used: frozenset[int]) -> tuple[int, list[tuple[Any, list[_Item]]], list[_Item]]:
        """The slot to branch on, its branches (value, items) and the rest; slot -1 when not worth splitting."""
        if len(items) <= LEAF or len(used) >= MAX_SPLIT_DEPTH:
            return -1, [], items
        benefit: dict[int, float] = {}
        for item in items:
            for slot, values in item.pins:
                share = min(1.0, len(values) / self.domain(slot))
                if slot not in used and share <= 0.5:
                    benefit[slot] = benefit.get(slot, 0.0) + 1.0 - share
        if not benefit:
            return -1, [], items
        slot = min(benefit, key=lambda s: (-benefit[s], s))
        branches: dict[Any, list[_Item]] = {}
        rest: list[_Item] = []
        for item in items:
            allowed = dict(item.pins).get(slot)
            if allowed is None or min(1.0, len(allowed) / self.domain(slot)) > 0.5:
                rest.append(item)
            else:  # copied into the branch of each value it allows: one branch runs per call
                for value in allowed:
                    branches.setdefault(value, []).append(item)
        if len(items) - len(rest) < 16:
            return -1, [], items
        return slot, sorted(branches.items(), key=lambda kv: repr(kv[0])), rest

    def item_line(self, item: _Item, unit: _Unit) -> str:
        """``if <cond>: m.append(<id>)`` for one conclusion."""
        return f"if {self.expr(item.cond, unit)}: {item.into}.append({unit.const(item.ident)})"

    def tree(
        self, items: list[_Item], used: frozenset[int], indent: str, emit: Callable[[list[_Item], str], None]
    ) -> None:
        """Emit the decision tree over ``items``: one if/elif per pinned value, the rest after it."""
        slot, branches, rest = self.split(items, used)
        if slot < 0:
            emit(items, indent)
            return
        self.main.used.add(slot)
        for n, (value, members) in enumerate(branches):
            test = f"x{slot} is {value}" if isinstance(value, bool) else f"x{slot} == {self.main.const(value)}"
            self.main.lines.append(f"{indent}{'if' if n == 0 else 'elif'} {test}:")
            self.known[slot] = value
            self.tree(members, used | {slot}, indent + "    ", emit)
            del self.known[slot]
        if rest:
            self.tree(rest, used | {slot}, indent, emit)

    # the whole function

    def build(self) -> Bare:
        """Generate and compile the evaluation function of this ruleset."""
        self.main = _Unit()
        items = self.items()
        statements = len(self.situations) + len(self.memo_defs) + len(items)
        chunked = statements > INLINE_LIMIT
        main = self.main
        body = main.lines
        body.append("g = f.get")
        for slot, (key, kind) in enumerate(self.keys):
            default = ", 0" if kind == "count" else ""
            body.append(f"x{slot} = g({main.const(key)}{default})")
        if self.keys:
            body.append("if not (" + " and ".join(self.guard(slot) for slot in range(len(self.keys))) + "):")
            body.append(f"    return {main.const(self.fallback)}(f)")
        body.append("m = []; b = []; d = []")
        definitions = [(self.sit_slot[s.id], s.when) for s in self.situations] + self.memo_defs
        self.ready = set()
        if not chunked:
            for slot, cond in definitions:
                body.append(f"x{slot} = {self.expr(cond, main)}")
                self.ready.add(slot)
            self.ready = None
            body.append("S = []")
            for sit in self.situations:
                body.append(f"if x{self.sit_slot[sit.id]}: S.append({main.const(sit.id)})")

            def inline(members: list[_Item], indent: str) -> None:
                for item in members:
                    body.append(indent + self.item_line(item, main))

            self.tree(items, frozenset(), "", inline)
        else:
            pad = self.slots - len(self.keys)
            body.append("V = [" + "".join(f"x{slot}, " for slot in range(len(self.keys))) + "]")
            if pad:
                body.append(f"V.extend({main.const((None,) * pad)})")
            for start in range(0, len(definitions), CHUNK):
                part = definitions[start : start + CHUNK]
                body.append(f"{main.const(self.chunk_of_definitions(part))}(V)")
            self.ready = None
            first, count = len(self.keys), len(self.situations)
            ids = main.const(tuple(s.id for s in self.situations))
            body.append(f"S = [i for i, v in zip({ids}, V[{first}:{first + count}]) if v]")
            mark = len(body)

            def call(members: list[_Item], indent: str) -> None:
                for start in range(0, len(members), CHUNK):
                    chunk = self.chunk_of_items(members[start : start + CHUNK])
                    body.append(f"{indent}{main.const(chunk)}(V, m, b, d)")

            self.tree(items, frozenset(), "", call)
            reload = [f"x{slot} = V[{slot}]" for slot in sorted(main.used) if slot >= len(self.keys)]
            body[mark:mark] = reload
        body.append("return S, m, b, d")
        return main.build("f", self.sources)

    def chunk_of_definitions(self, part: list[tuple[int, Condition]]) -> Callable[..., Any]:
        """A chunk function computing some situations (or shared expansions), read from and stored into ``V``."""
        unit = _Unit()
        lines = []
        for slot, cond in part:
            lines.append(f"x{slot} = {self.expr(cond, unit)}")
            if self.ready is not None:
                self.ready.add(slot)
        defined = {slot for slot, _ in part}
        loads = [f"x{slot} = V[{slot}]" for slot in sorted(unit.used - defined)]
        unit.lines = [*loads, *lines, *(f"V[{slot}] = x{slot}" for slot in sorted(defined))]
        return unit.build("V", self.sources)

    def chunk_of_items(self, members: list[_Item]) -> Callable[..., Any]:
        """A chunk function testing some tactic-stage conclusions over the values in ``V``."""
        unit = _Unit()
        lines = [self.item_line(item, unit) for item in members]
        unit.lines = [*(f"x{slot} = V[{slot}]" for slot in sorted(unit.used)), *lines]
        return unit.build("V, m, b, d", self.sources)


def _exact_test(op: str, value: Any, count: bool) -> Callable[[Any], bool]:
    """A test with ``_conditions.evaluate``'s exact semantics, for a value the fast comparisons do not cover."""
    leaf: Test | Count = Count("", None, op, value) if count else Test("", op, value)
    key = leaf.key
    return lambda x: evaluate(leaf, {key: x})


# -- the evaluator -----------------------------------------------------------------------------------


class CompiledEvaluator:
    """A ruleset compiled to Python: the same interface as durable-rules' ``Engine``, pure Python, thread-safe."""

    def __init__(self, ruleset: Ruleset) -> None:
        self._ruleset = weakref.ref(ruleset)  # the cache is keyed by the ruleset: never keep it alive
        self.compiled: CompiledRuleset = ruleset.compiled()
        #: The flat fact of an effective state, as the engine builds it: ``facts(effective, trends)``.
        self.facts = FactBuilder(self.compiled.counts)
        check = FactCheck(self.compiled.counts)
        generator = _Generator(ruleset, self.compiled, self._slow)
        self._checked = tuple(key for key, _ in generator.keys)  # sorted: the first bad value is the engine's
        self._check = check
        #: The generated function: flat fact -> ``(situations, matched, blocked, doubtful)`` collections of ids.
        self.bare: Bare = generator.build()
        #: The generated source texts (the main function last): generated names and numbers only.
        self.sources: tuple[str, ...] = tuple(generator.sources)

    @property
    def ruleset(self) -> Ruleset | None:
        """The ruleset this evaluator runs (None once it was freed)."""
        return self._ruleset()

    def _slow(self, fact: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
        """A value of an unexpected type: the engine's checks (the same StateError), then the interpreter.

        Unlike the engine, a boolean is checked too: ``alternatives=True`` slipped past validation is a
        StateError here, where durable-rules compares it as the number 1 and Python's operators never would.
        """
        for key in self._checked:
            value = fact.get(key)
            if value is not None:  # a boolean too: durable-rules would read true in a number field as 1
                self._check(key, value)
        ruleset = self._ruleset()
        if ruleset is None:  # only reachable while the ruleset is being freed
            raise ReferenceError("the ruleset of this evaluator was freed")
        firing = interpret(ruleset, fact)
        return firing.situations, firing.matched, firing.blocked, firing.doubtful

    def conclude(self, fact: Mapping[str, Any]) -> Firing:
        """What the ruleset concludes for one flat fact, without telling observers."""
        situations, matched, blocked, doubtful = self.bare(fact)
        return Firing(frozenset(situations), frozenset(matched), frozenset(blocked), frozenset(doubtful))

    def evaluate(self, fact: Mapping[str, Any]) -> Firing:
        """``Engine.evaluate``: the Firing for one flat fact; rule-coverage observers are told."""
        firing = self.conclude(fact)
        if observed():
            notify(self._ruleset(), firing)
        return firing

    def evaluate_many(self, facts: Sequence[Mapping[str, Any]], *, observe: bool = True) -> list[Firing]:
        """``Engine.evaluate_many``: one Firing per fact, in order; ``observe=False`` for hypothetical states."""
        conclude = self.conclude
        out = [conclude(fact) for fact in facts]
        if observe and observed():
            ruleset = self._ruleset()
            for firing in out:
                notify(ruleset, firing)
        return out


def compiled_for(ruleset: Ruleset) -> CompiledEvaluator:
    """The compiled evaluator of a ruleset, generated on first use and dropped with the ruleset (see _derived.py)."""
    return derived(ruleset, CompiledEvaluator)
