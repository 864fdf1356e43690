"""Rule conditions: parsed from YAML into a small tree, checked against the state model.

The same tree is compiled for durable-rules (compiler.py) and evaluated in Python for
explanations (explain.py); both read the same flat fact, so they cannot disagree on values.

Unknown is not false: the flat fact leaves out every unknown value, a test on a missing key
never holds (whatever its operator), and negations are pushed down to the tests, so ``not``
over an unknown does not hold either. Saying ``field: unknown`` in a rule is parsed as
``{exists: false}``, the one test that holds exactly when the field is unknown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Union, cast

from ._errors import RulesetError, closest
from ._fields import NUMBER_WORDS, SITUATION_PREFIX, UNKNOWN, FieldSpec, item_fields, state_fields
from ._history import TREND_PREFIX, TRENDS
from ._yaml import LineDict, line_of

Scalar = str | int | float | bool

#: The comparison operators of the rule format and their meaning on a present value.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: (a == b and type(a) is type(b)) or (_num(a) and _num(b) and a == b),
    "ne": lambda a, b: not OPERATORS["eq"](a, b),
    "in": lambda a, b: any(OPERATORS["eq"](a, x) for x in b),
    "not_in": lambda a, b: not any(OPERATORS["eq"](a, x) for x in b),
    "gt": lambda a, b: _num(a) and a > b,
    "gte": lambda a, b: _num(a) and a >= b,
    "lt": lambda a, b: _num(a) and a < b,
    "lte": lambda a, b: _num(a) and a <= b,
}
ORDER_OPS = ("gt", "gte", "lt", "lte")
NEGATED = {
    "eq": "ne",
    "ne": "eq",
    "in": "not_in",
    "not_in": "in",
    "gt": "lte",
    "lte": "gt",
    "lt": "gte",
    "gte": "lt",
}
ALL_KEYWORDS = ("all", "any", "not")
OPERATOR_WORDS = (*OPERATORS, "exists")
SYMBOLS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
#: Values one ``in``/``not_in`` list may hold (durable-rules hangs on a node of 512 children; see compiler.py).
MAX_LIST_VALUES = 399


def _num(value: Any) -> bool:
    """A number, not a boolean (``True > 0`` must not hold)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    """A condition's value as a rule author wrote it (``true``, ``a, b``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


#: What ``count_alternatives`` has counted: id of a node -> (the node, kept alive so its id stays its own, count).
AltMemo = dict[int, tuple["Condition", int]]


class Node:
    """What every condition node offers; each node class implements its own meaning, so no caller
    needs to switch on node types. ``children`` is the tree as written; ``parts`` the same with a
    ``not`` pushed through to its negation (what walks that follow the condition's truth use).
    """

    __slots__ = ()

    @property
    def children(self) -> tuple[Condition, ...]:
        """The nodes directly under this one, as written (a count's ``where`` reads list items, not the fact)."""
        return ()

    @property
    def parts(self) -> tuple[Condition, ...]:
        """The children with a ``not`` replaced by its negation pushed down (a leaf has none)."""
        return self.children

    def holding_parts(self, fact: Mapping[str, Any]) -> tuple[Condition, ...]:
        """The parts that make this node hold on ``fact``: all of an ``all``, the first ``any`` branch that holds."""
        return self.parts

    def walk(self) -> Iterator[Condition]:
        """This node and every node under it, depth first, left to right."""
        yield cast("Condition", self)
        for child in self.children:
            yield from child.walk()

    def leaves(self) -> list[Test | Count]:
        """Every test of the condition (a test or a count), left to right."""
        return [node for node in self.walk() if isinstance(node, (Test, Count))]

    def situations(self) -> set[str]:
        """The situation ids the condition names."""
        return {leaf.situation for leaf in self.leaves() if leaf.situation is not None}

    def fields(self) -> set[str]:
        """The state paths its tests read (``phase``, ``history``, ``trend.x``), situation tests aside."""
        return {leaf.path for leaf in self.leaves() if leaf.situation is None}


class Leaf(Node):
    """A test on one fact key (a ``Test`` or a ``Count``): it has no children."""

    __slots__ = ()
    keyword: ClassVar[str] = ""
    #: What the test reads when its key is absent from the fact (a count of nothing is 0).
    absent: ClassVar[Any] = None
    path: str
    op: str
    value: Any
    line: int | None

    @property
    def key(self) -> str:
        """The flat fact key the test reads."""
        raise NotImplementedError

    def canon(self) -> Any:
        """A line-free form, for identity."""
        raise NotImplementedError

    @property
    def situation(self) -> str | None:
        """The situation id when this tests ``situation.<id>``, else None."""
        return self.path[len(SITUATION_PREFIX) :] if self.path.startswith(SITUATION_PREFIX) else None

    def count_alternatives(self, cap: int = 0, memo: AltMemo | None = None) -> int:
        """A test is one alternative of one test."""
        return 1

    def alternatives(self, cap: int) -> list[tuple[Leaf, ...]]:
        """The test alone is its only alternative."""
        return [(self,)]


@dataclass(frozen=True)
class Test(Leaf):
    """``path op value`` on one fact key; ``op`` is an OPERATORS key or ``exists``."""

    __test__ = False  # not a pytest test class

    path: str
    op: str
    value: Any
    line: int | None = None

    @property
    def key(self) -> str:
        """The flat fact key: the path with dots as ``__``."""
        return self.path.replace(".", "__")

    def holds(self, fact: Mapping[str, Any]) -> bool:
        """Holds only on a present, known value (``exists`` asks exactly whether there is one)."""
        present = self.key in fact and fact[self.key] is not None
        if self.op == "exists":
            return present is bool(self.value)
        return present and OPERATORS[self.op](fact[self.key], self.value)

    def negate(self) -> Test:
        """The opposite comparison (``exists`` flips)."""
        if self.op == "exists":
            return Test(self.path, "exists", not self.value, self.line)
        return Test(self.path, NEGATED[self.op], self.value, self.line)

    def canon(self) -> Any:
        """A line-free form, for identity."""
        value = tuple(self.value) if isinstance(self.value, (list, tuple)) else self.value
        return ("t", self.path, self.op, value)

    def describe(self) -> str:
        """``phase in [bargaining, closing]``, ``trust is unknown``, ``alternatives ≥ 2``."""
        if self.op == "exists":
            return f"{self.path} {'is known' if self.value else 'is unknown'}"
        if self.op in ("in", "not_in"):
            word = "in" if self.op == "in" else "not in"
            return f"{self.path} {word} [{_fmt(self.value)}]"
        return f"{self.path} {SYMBOLS[self.op]} {_fmt(self.value)}"

    def specificity(self, situation_specificity: Mapping[str, int]) -> int:
        """One fact; a situation counts as its own condition; "unknown" pins nothing."""
        if self.situation is not None:
            return max(1, situation_specificity.get(self.situation, 1))
        if self.op == "exists" and not self.value:
            return 0  # "unknown" pins no fact: a check on what we do not know is no closer fit
        return 1

    def possibly(self, situations: Mapping[str, Condition], memo: dict[str, Condition]) -> Condition:
        """The test, or "it holds or the field is unknown"; ``situation.x: true`` is what could make x hold."""
        if self.op == "exists":
            return self
        name = self.situation
        if name is not None:
            inner = situations.get(name)
            if inner is not None and self.op == "eq" and self.value is True:
                if name not in memo:
                    memo[name] = self  # a cycle (refused at load) meets the test itself, not an endless expansion
                    memo[name] = inner.possibly(situations, memo)
                return memo[name]
            return self
        spec = state_fields().get(self.path)
        if spec is None or not spec.can_be_unknown:
            return self
        return AnyOf((self, Test(self.path, "exists", False, self.line)), self.line)


@dataclass(frozen=True)
class Count(Leaf):
    """How many items of a list (``history``, ``issues``) match ``where``, compared by ``op``."""

    absent: ClassVar[Any] = 0

    path: str
    where: Condition | None
    op: str
    value: int
    line: int | None = None

    @cached_property
    def key(self) -> str:
        """Fact key holding the count; identical (path, where) share one key."""
        digest = hashlib.sha1(repr((self.path, self.where and self.where.canon())).encode()).hexdigest()[:10]
        return f"n__{self.path}__{digest}"

    def holds(self, fact: Mapping[str, Any]) -> bool:
        """An absent count is 0."""
        return OPERATORS[self.op](fact.get(self.key, self.absent), self.value)

    def negate(self) -> Count:
        """The opposite comparison of the same count."""
        return Count(self.path, self.where, NEGATED[self.op], self.value, self.line)

    def canon(self) -> Any:
        """A line-free form, for identity."""
        return ("c", self.path, self.where and self.where.canon(), self.op, self.value)

    def describe(self) -> str:
        """``count of history where kind = offer ≥ 2``."""
        where = f" where {self.where.describe()}" if self.where is not None else ""
        return f"count of {self.path}{where} {SYMBOLS[self.op]} {self.value}"

    def specificity(self, situation_specificity: Mapping[str, int]) -> int:
        """One fact."""
        return 1

    def possibly(self, situations: Mapping[str, Condition], memo: dict[str, Condition]) -> Condition:
        """A count is always known (an absent list counts 0)."""
        return self


@dataclass(frozen=True)
class All(Node):
    """Every item holds."""

    #: The rule format's keyword for this node.
    keyword: ClassVar[str] = "all"
    items: tuple[Condition, ...]
    line: int | None = None

    @property
    def children(self) -> tuple[Condition, ...]:
        """Its items."""
        return self.items

    def holds(self, fact: Mapping[str, Any]) -> bool:
        """Every item holds (an empty ``all`` holds)."""
        return all(item.holds(fact) for item in self.items)

    def negate(self) -> Condition:
        """Not all: any item's negation."""
        return AnyOf(tuple(item.negate() for item in self.items), self.line)

    def canon(self) -> Any:
        """A line-free, order-free form, for identity."""
        return ("all", tuple(sorted((item.canon() for item in self.items), key=repr)))

    def describe(self) -> str:
        """The items joined by "and" (nested groups in brackets)."""
        return _joined(self.items, " and ")

    def specificity(self, situation_specificity: Mapping[str, int]) -> int:
        """Tests that must all hold add up."""
        return sum(item.specificity(situation_specificity) for item in self.items)

    def possibly(self, situations: Mapping[str, Condition], memo: dict[str, Condition]) -> Condition:
        """Each item as it could hold."""
        return All(tuple(item.possibly(situations, memo) for item in self.items), self.line)

    def alternatives(self, cap: int) -> list[tuple[Leaf, ...]]:
        """Every combination of one alternative per item (stops growing once over ``cap``)."""
        out: list[tuple[Leaf, ...]] = [()]
        for item in self.items:
            out = [left + right for left in out for right in item.alternatives(cap)]
            if len(out) > cap:
                break
        return out

    def count_alternatives(self, cap: int, memo: AltMemo | None = None) -> int:
        """The product of the items' counts (capped at ``cap + 1``)."""
        return _memoised(self, cap, memo, lambda m: _product(self.items, cap, m))


@dataclass(frozen=True)
class AnyOf(Node):
    """At least one item holds."""

    #: The rule format's keyword for this node.
    keyword: ClassVar[str] = "any"
    items: tuple[Condition, ...]
    line: int | None = None

    @property
    def children(self) -> tuple[Condition, ...]:
        """Its items."""
        return self.items

    def holds(self, fact: Mapping[str, Any]) -> bool:
        """Some item holds (an empty ``any`` never does)."""
        return any(item.holds(fact) for item in self.items)

    def holding_parts(self, fact: Mapping[str, Any]) -> tuple[Condition, ...]:
        """The first item that holds (none when no item does)."""
        return next(((item,) for item in self.items if item.holds(fact)), ())

    def negate(self) -> Condition:
        """None holds: every item's negation."""
        return All(tuple(item.negate() for item in self.items), self.line)

    def canon(self) -> Any:
        """A line-free, order-free form, for identity."""
        return ("any", tuple(sorted((item.canon() for item in self.items), key=repr)))

    def describe(self) -> str:
        """The items joined by "or" (nested groups in brackets)."""
        return _joined(self.items, " or ")

    def specificity(self, situation_specificity: Mapping[str, int]) -> int:
        """Only the loosest branch is sure to be pinned down."""
        parts = [item.specificity(situation_specificity) for item in self.items]
        return min(parts) if parts else 0

    def possibly(self, situations: Mapping[str, Condition], memo: dict[str, Condition]) -> Condition:
        """Each item as it could hold."""
        return AnyOf(tuple(item.possibly(situations, memo) for item in self.items), self.line)

    def alternatives(self, cap: int) -> list[tuple[Leaf, ...]]:
        """The items' alternatives, one after the other."""
        return [alt for item in self.items for alt in item.alternatives(cap)]

    def count_alternatives(self, cap: int, memo: AltMemo | None = None) -> int:
        """The sum of the items' counts (capped at ``cap + 1``)."""
        return _memoised(
            self, cap, memo, lambda m: min(cap + 1, sum(item.count_alternatives(cap, m) for item in self.items))
        )


@dataclass(frozen=True)
class Not(Node):
    """The item does not hold; evaluated as its negation pushed to the tests (unknown is not false)."""

    #: The rule format's keyword for this node.
    keyword: ClassVar[str] = "not"
    item: Condition
    line: int | None = None

    @property
    def children(self) -> tuple[Condition, ...]:
        """The one item it negates."""
        return (self.item,)

    @property
    def parts(self) -> tuple[Condition, ...]:
        """The item's negation pushed down (how the engine runs a ``not``)."""
        return (self.item.negate(),)

    def holds(self, fact: Mapping[str, Any]) -> bool:
        """The negation of the item holds (so a ``not`` over an unknown does not)."""
        return self.item.negate().holds(fact)

    def negate(self) -> Condition:
        """Two negations cancel."""
        return self.item

    def canon(self) -> Any:
        """A line-free form, for identity."""
        return ("not", self.item.canon())

    def describe(self) -> str:
        """``not (...)``."""
        return f"not ({self.item.describe()})"

    def specificity(self, situation_specificity: Mapping[str, int]) -> int:
        """As specific as what it negates."""
        return self.item.specificity(situation_specificity)

    def possibly(self, situations: Mapping[str, Condition], memo: dict[str, Condition]) -> Condition:
        """The negation, pushed down first, as it could hold."""
        return self.item.negate().possibly(situations, memo)

    def alternatives(self, cap: int) -> list[tuple[Leaf, ...]]:
        """The alternatives of the negation pushed down."""
        return self.item.negate().alternatives(cap)

    def count_alternatives(self, cap: int, memo: AltMemo | None = None) -> int:
        """As many as its negation pushed down."""
        return _memoised(self, cap, memo, lambda m: self.item.negate().count_alternatives(cap, m))


Condition = Union[Test, Count, All, AnyOf, Not]  # noqa: UP007 - a runtime alias, works on 3.10


def _joined(items: tuple[Condition, ...], joiner: str) -> str:
    """Items read one after the other, groups in brackets."""
    return joiner.join(item.describe() if isinstance(item, Leaf) else f"({item.describe()})" for item in items)


def _product(items: tuple[Condition, ...], cap: int, memo: AltMemo) -> int:
    """How many alternatives an ``all`` of ``items`` has: their product, capped at ``cap + 1``."""
    total = 1
    for item in items:
        total = min(cap + 1, total * item.count_alternatives(cap, memo))
    return total


def _memoised(node: Condition, cap: int, memo: AltMemo | None, count: Callable[[AltMemo], int]) -> int:
    """``count`` once per node: a node shared in the condition (an expanded situation) is counted once."""
    memo = {} if memo is None else memo
    found = memo.get(id(node))
    if found is not None and found[0] is node:
        return found[1]
    total = count(memo)
    memo[id(node)] = (node, total)
    return total


def canonical(cond: Condition | None) -> Any:
    """A line-free form of a condition, for identity (count keys, duplicate detection); None stays None."""
    return None if cond is None else cond.canon()


def evaluate(cond: Condition, fact: Mapping[str, Any]) -> bool:
    """Evaluate on a flat fact (the same dict the engine gets): the Python mirror of the engine.

    A ``not`` is evaluated as its negation pushed to the tests (as the engine runs it), so a
    negated test on an unknown value does not hold either.
    """
    return cond.holds(fact)


def evaluate_item(cond: Condition, item: Any) -> bool:
    """Evaluate a ``where`` condition on one list item (an Issue or an Event model)."""
    return cond.holds({name: getattr(item, name) for name in type(item).model_fields})


def negate(cond: Condition) -> Condition:
    """Push a negation down to the leaves (durable-rules has no ``not`` over a pattern)."""
    return cond.negate()


def possibly(
    cond: Condition, situations: Mapping[str, Condition], _memo: dict[str, Condition] | None = None
) -> Condition:
    """A condition that holds when ``cond`` holds or could hold once the unknown facts it reads are known.

    Each test on a field that may be unknown also accepts "unknown" (``{exists: false}``);
    a ``situation.x: true`` test is replaced by what could make the situation hold (situations
    are derived, so ``situation.x: false`` is known as it stands). Negations are pushed down
    first. It is a positive condition, so durable-rules runs it like any other. Each situation
    is expanded once and shared, so a chain of situations stays a small graph.
    """
    return cond.possibly(situations, {} if _memo is None else _memo)


def leaves(cond: Condition | None) -> list[Test | Count]:
    """Every test of a condition, left to right."""
    return [] if cond is None else cond.leaves()


def situations_named(cond: Condition | None) -> set[str]:
    """The situation ids a condition refers to."""
    return set() if cond is None else cond.situations()


def specificity(cond: Condition | None, situation_specificity: Mapping[str, int]) -> int:
    """How many facts a condition pins down: tests in ``all`` add up, ``any`` counts its loosest branch,
    and a test that a field is unknown counts for nothing (it pins no fact).

    A referenced situation counts as the specificity of its own condition, so building on a
    situation ranks the same as writing it out.
    """
    return 0 if cond is None else cond.specificity(situation_specificity)


def describe(cond: Condition) -> str:
    """A short human reading of a condition, e.g. ``phase in [bargaining, closing]``."""
    return cond.describe()


class ConditionErrors(RulesetError):
    """Every mistake of one ``when``/``unless`` block (``errors``, in file order); reads as the first."""

    def __init__(self, errors: Sequence[RulesetError]) -> None:
        first = errors[0]
        super().__init__(
            first.what,
            file=first.file,
            line=first.line,
            rule_id=first.rule_id,
            kind=first.kind,
            code=first.code,
            suggestion=first.suggestion,
        )
        self.errors = list(errors)


class _Reported(Exception):
    """A part of the block failed and its mistakes are already collected: skip up to the next list."""


class ConditionParser:
    """Parses a ``when``/``unless`` block, reporting every mistake with file, line and rule id."""

    def __init__(
        self,
        file: str,
        rule_id: str | None,
        situations: Sequence[str] | None = None,
        fields: Mapping[str, FieldSpec] | None = None,
    ) -> None:
        self.file = file
        self.rule_id = rule_id
        self.situations = situations
        self.fields = fields if fields is not None else state_fields()
        #: While ``parse_all`` runs: the mistakes found so far (parsing goes on past each one).
        self.collected: list[RulesetError] | None = None

    def parse_all(self, node: Any, line: int | None) -> Condition:
        """``parse``, but every mistake of the block (each key, each list item): ConditionErrors if any."""
        self.collected = []
        try:
            cond = self.parse(node, line)
        except _Reported:
            cond = None
        except RulesetError as exc:
            self.collected.append(exc)
            cond = None
        found, self.collected = self.collected, None
        if found or cond is None:
            raise ConditionErrors(found)
        return cond

    def _each(
        self, parse: Callable[[Any, int | None], Condition], pairs: Iterable[tuple[Any, int | None]]
    ) -> list[Condition]:
        """``parse`` each (node, line); collecting, a failed one is recorded and the rest still parsed."""
        if self.collected is None:
            return [parse(node, ln) for node, ln in pairs]
        out: list[Condition] = []
        failed = False
        for node, ln in pairs:
            try:
                out.append(parse(node, ln))
            except _Reported:
                failed = True
            except RulesetError as exc:
                self.collected.append(exc)
                failed = True
        if failed:
            raise _Reported
        return out

    def error(
        self, message: str, line: int | None, code: str = "bad-condition", suggestion: str | None = None
    ) -> RulesetError:
        """A located error; ``code`` is one of ``ERROR_CODES`` (``bad-condition`` unless said)."""
        return RulesetError(message, file=self.file, line=line, rule_id=self.rule_id, code=code, suggestion=suggestion)

    def parse(self, node: Any, line: int | None) -> Condition:
        """Parse one condition node (a mapping, or a list meaning "all of")."""
        line = line_of(node, line)
        if isinstance(node, list):
            if not node:
                raise self.error("an empty list of conditions", line)
            lines = getattr(node, "item_lines", [line] * len(node))
            return self._join(All, self._each(self.parse, zip(node, lines, strict=True)), line)
        if not isinstance(node, dict) or not node:
            raise self.error(f"a condition must be a non-empty mapping, got {_fmt_type(node)}", line)
        at = node.line_of if isinstance(node, LineDict) else (lambda _key: line)
        keyed = [((str(key), value), at(key)) for key, value in node.items()]
        parts = self._each(lambda kv, ln: self._entry(kv[0], kv[1], ln), keyed)
        return self._join(All, parts, line)

    @staticmethod
    def _join(kind: type[All] | type[AnyOf], parts: list[Condition], line: int | None) -> Condition:
        return parts[0] if len(parts) == 1 else kind(tuple(parts), line)

    def _entry(self, key: str, value: Any, line: int | None) -> Condition:
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise self.error(f"'{key}' needs a non-empty list of conditions", line)
            lines = getattr(value, "item_lines", [line] * len(value))
            items = self._each(self.parse, zip(value, lines, strict=True))
            return self._join(All if key == "all" else AnyOf, items, line)
        if key == "not":
            return Not(self.parse(value, line), line)
        if key.startswith(SITUATION_PREFIX) and self.situations is not None:
            return self._situation(key, value, line)
        if key.startswith(TREND_PREFIX) and self.situations is not None:
            name = key[len(TREND_PREFIX) :]
            if name not in TRENDS:
                raise self.error(
                    f"unknown trend '{name}' (one of {', '.join(TRENDS)})", line, "unknown-path", closest(name, TRENDS)
                )
            return self._test(FieldSpec(key, "bool"), value, line)
        spec = self.fields.get(key)
        if spec is None:
            names = [*self.fields, *ALL_KEYWORDS]
            if self.situations:
                names += [SITUATION_PREFIX + s for s in self.situations]
            raise self.error(f"unknown path '{key}'", line, "unknown-path", closest(key, names))
        if spec.kind == "list":
            return self._list(spec, value, line)
        return self._test(spec, value, line)

    def _situation(self, key: str, value: Any, line: int | None) -> Condition:
        name = key[len(SITUATION_PREFIX) :]
        assert self.situations is not None
        if name not in self.situations:
            raise self.error(f"unknown situation '{name}'", line, "unknown-situation", closest(name, self.situations))
        spec = FieldSpec(key, "bool")
        return self._test(spec, value, line)

    def _list(self, spec: FieldSpec, value: Any, line: int | None) -> Condition:
        if not isinstance(value, dict) or not value or not set(value) <= {"count", "exists"}:
            raise self.error(
                f"'{spec.path}' is a list: use {{count: {{where: ..., gte: N}}}} or {{exists: true}}", line
            )
        parts: list[Condition] = []
        if "exists" in value:
            if not isinstance(value["exists"], bool):
                raise self.error("'exists' takes true or false", line, "invalid-value")
            parts.append(Count(spec.path, None, "gte" if value["exists"] else "eq", 1 if value["exists"] else 0, line))
        if "count" in value:
            parts.extend(self._count(spec, value["count"], line_of(value["count"], line)))
        return self._join(All, parts, line)

    def _count(self, spec: FieldSpec, body: Any, line: int | None) -> list[Condition]:
        if not isinstance(body, dict) or not body:
            raise self.error("'count' takes a mapping like {where: {...}, gte: 2}", line)
        where: Condition | None = None
        if "where" in body:
            assert spec.item_model is not None
            sub = ConditionParser(self.file, self.rule_id, None, item_fields(spec.item_model))
            where = sub.parse(body["where"], body.line_of("where") if isinstance(body, LineDict) else line)
        comparisons = {k: v for k, v in body.items() if k != "where"}
        if not comparisons:
            raise self.error("'count' needs a comparison, e.g. gte: 2", line)
        out: list[Condition] = []
        for op, number in comparisons.items():
            if op not in ("eq", *ORDER_OPS, "ne"):
                raise self.error(
                    f"unknown count operator '{op}'", line, "unknown-operator", closest(op, ["eq", "ne", *ORDER_OPS])
                )
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise self.error(f"'{op}' in a count takes a whole number >= 0, got {number!r}", line, "invalid-value")
            out.append(Count(spec.path, where, op, number, line))
        return out

    def _test(self, spec: FieldSpec, value: Any, line: int | None) -> Condition:
        if spec.can_be_unknown and _means_unknown(value):
            return Test(spec.path, "exists", False, line)
        if isinstance(value, list):
            return self._op(spec, "in", value, line)
        if isinstance(value, dict):
            if not value:
                raise self.error(f"empty operator mapping for '{spec.path}'", line)
            parts = [
                self._op(spec, str(op), arg, value.line_of(op) if isinstance(value, LineDict) else line)
                for op, arg in value.items()
            ]
            return self._join(All, parts, line)
        return self._op(spec, "eq", value, line)

    def _op(self, spec: FieldSpec, op: str, arg: Any, line: int | None) -> Condition:
        if op not in OPERATOR_WORDS:
            raise self.error(f"unknown operator '{op}'", line, "unknown-operator", closest(op, OPERATOR_WORDS))
        if op == "exists":
            if not isinstance(arg, bool):
                raise self.error("'exists' takes true or false", line, "invalid-value")
            return Test(spec.path, op, arg, line)
        if spec.can_be_unknown and op in ("eq", "ne") and _means_unknown(arg):
            return Test(spec.path, "exists", op == "ne", line)
        if op in ("in", "not_in"):
            if not isinstance(arg, list) or not arg:
                raise self.error(f"'{op}' takes a non-empty list of values", line, "invalid-value")
            if len(arg) > MAX_LIST_VALUES:
                raise self.error(
                    f"its '{op}' lists hold {len(arg)} values; at most {MAX_LIST_VALUES} may be listed"
                    " (compare numbers with gte/lte instead)",
                    line,
                    "engine-limit",
                )
            if spec.can_be_unknown and any(_means_unknown(v) for v in arg):
                return self._with_unknown(spec, op, [v for v in arg if not _means_unknown(v)], line)
            values = tuple(self._value(spec, v, line) for v in arg)
            if len(values) == 1:
                return Test(spec.path, "eq" if op == "in" else "ne", values[0], line)
            return Test(spec.path, op, values, line)
        if op in ORDER_OPS and spec.kind not in ("int", "float"):
            raise self.error(f"'{op}' compares numbers, but '{spec.path}' is {spec.kind}", line, "invalid-value")
        return Test(spec.path, op, self._value(spec, arg, line), line)

    def _with_unknown(self, spec: FieldSpec, op: str, known: list[Any], line: int | None) -> Condition:
        """``in``/``not_in`` a list that names ``unknown``: the known values, or-ed/and-ed with ``exists``."""
        unknown = Test(spec.path, "exists", op == "not_in", line)
        if not known:
            return unknown
        rest = self._op(spec, op, known, line)
        return AnyOf((rest, unknown), line) if op == "in" else All((unknown, rest), line)

    def _value(self, spec: FieldSpec, value: Any, line: int | None) -> Scalar:
        if spec.kind == "enum":
            if not isinstance(value, str) or value not in spec.choices:
                raise self.error(
                    f"{value!r} is not a value of '{spec.path}' (one of {', '.join(spec.choices)})",
                    line,
                    "invalid-value",
                    closest(value, spec.choices),
                )
            return value
        if spec.kind == "bool":
            if not isinstance(value, bool):
                raise self.error(f"'{spec.path}' is true or false, got {value!r}", line, "invalid-value")
            return value
        if spec.kind in ("int", "float"):
            if not _num(value) or (spec.kind == "int" and not isinstance(value, int)):
                raise self.error(f"'{spec.path}' takes {NUMBER_WORDS[spec.kind]}, got {value!r}", line, "invalid-value")
            if isinstance(value, float) and value != value:
                raise self.error(f"'{spec.path}' cannot be compared with NaN", line, "invalid-value")
            return value  # type: ignore[no-any-return]
        if not isinstance(value, str):
            raise self.error(f"'{spec.path}' takes text, got {value!r}", line, "invalid-value")
        return value


def _means_unknown(value: Any) -> bool:
    """``unknown`` (or YAML's null) written as a condition's value."""
    return value is None or value == UNKNOWN


def _fmt_type(node: Any) -> str:
    return "nothing" if node is None else f"{type(node).__name__} {node!r}"[:80]
