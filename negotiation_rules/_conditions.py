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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ._errors import RulesetError, closest
from ._fields import SITUATION_PREFIX, UNKNOWN, FieldSpec, item_fields, state_fields
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
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Test:
    """``path op value`` on one fact key; ``op`` is an OPERATORS key or ``exists``."""

    __test__ = False  # not a pytest test class

    path: str
    op: str
    value: Any
    line: int | None = None

    @property
    def key(self) -> str:
        return self.path.replace(".", "__")


@dataclass(frozen=True)
class Count:
    """How many items of a list (``history``, ``issues``) match ``where``, compared by ``op``."""

    path: str
    where: Condition | None
    op: str
    value: int
    line: int | None = None

    @property
    def key(self) -> str:
        """Fact key holding the count; identical (path, where) share one key."""
        digest = hashlib.sha1(repr((self.path, self.where and _canon(self.where))).encode()).hexdigest()[:10]
        return f"n__{self.path}__{digest}"


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]
    line: int | None = None


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    line: int | None = None


@dataclass(frozen=True)
class Not:
    item: Condition
    line: int | None = None


Condition = Union[Test, Count, All, AnyOf, Not]  # noqa: UP007 - a runtime alias, works on 3.10


def _canon(cond: Condition) -> Any:
    """A line-free form of a condition, for identity (count keys, duplicate detection)."""
    if isinstance(cond, Test):
        value = tuple(cond.value) if isinstance(cond.value, (list, tuple)) else cond.value
        return ("t", cond.path, cond.op, value)
    if isinstance(cond, Count):
        return ("c", cond.path, cond.where and _canon(cond.where), cond.op, cond.value)
    if isinstance(cond, Not):
        return ("not", _canon(cond.item))
    kind = "all" if isinstance(cond, All) else "any"
    return (kind, tuple(sorted((_canon(c) for c in cond.items), key=repr)))


def canonical(cond: Condition | None) -> Any:
    """Public handle on the canonical form (None stays None)."""
    return None if cond is None else _canon(cond)


def evaluate(cond: Condition, fact: Mapping[str, Any]) -> bool:
    """Evaluate on a flat fact (the same dict the engine gets): the Python mirror of the engine.

    A ``not`` is evaluated as its negation pushed to the tests (as the engine runs it), so a
    negated test on an unknown value does not hold either.
    """
    if isinstance(cond, Test):
        present = cond.key in fact and fact[cond.key] is not None
        if cond.op == "exists":
            return present is bool(cond.value)
        return present and OPERATORS[cond.op](fact[cond.key], cond.value)
    if isinstance(cond, Count):
        return OPERATORS[cond.op](fact.get(cond.key, 0), cond.value)
    if isinstance(cond, All):
        return all(evaluate(c, fact) for c in cond.items)
    if isinstance(cond, AnyOf):
        return any(evaluate(c, fact) for c in cond.items)
    return evaluate(negate(cond.item), fact)


def evaluate_item(cond: Condition, item: Any) -> bool:
    """Evaluate a ``where`` condition on one list item (an Issue or an Event model)."""
    return evaluate(cond, {name: getattr(item, name) for name in type(item).model_fields})


def negate(cond: Condition) -> Condition:
    """Push a negation down to the leaves (durable-rules has no ``not`` over a pattern)."""
    if isinstance(cond, Test):
        if cond.op == "exists":
            return Test(cond.path, "exists", not cond.value, cond.line)
        return Test(cond.path, NEGATED[cond.op], cond.value, cond.line)
    if isinstance(cond, Count):
        return Count(cond.path, cond.where, NEGATED[cond.op], cond.value, cond.line)
    if isinstance(cond, All):
        return AnyOf(tuple(negate(c) for c in cond.items), cond.line)
    if isinstance(cond, AnyOf):
        return All(tuple(negate(c) for c in cond.items), cond.line)
    return cond.item


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
    memo = {} if _memo is None else _memo
    if isinstance(cond, Not):
        return possibly(negate(cond.item), situations, memo)
    if isinstance(cond, (All, AnyOf)):
        return type(cond)(tuple(possibly(c, situations, memo) for c in cond.items), cond.line)
    if isinstance(cond, Count) or cond.op == "exists":
        return cond
    if cond.path.startswith(SITUATION_PREFIX):
        name = cond.path[len(SITUATION_PREFIX) :]
        inner = situations.get(name)
        if inner is not None and cond.op == "eq" and cond.value is True:
            if name not in memo:
                memo[name] = cond  # a cycle (refused at load) meets the test itself, not an endless expansion
                memo[name] = possibly(inner, situations, memo)
            return memo[name]
        return cond
    spec = state_fields().get(cond.path)
    if spec is None or not spec.can_be_unknown:
        return cond
    return AnyOf((cond, Test(cond.path, "exists", False, cond.line)), cond.line)


def leaves(cond: Condition | None) -> list[Test | Count]:
    """Every test of a condition, left to right."""
    if cond is None:
        return []
    if isinstance(cond, (Test, Count)):
        return [cond]
    if isinstance(cond, Not):
        return leaves(cond.item)
    return [leaf for c in cond.items for leaf in leaves(c)]


def situations_named(cond: Condition | None) -> set[str]:
    """The situation ids a condition refers to."""
    return {
        leaf.path[len(SITUATION_PREFIX) :]
        for leaf in leaves(cond)
        if isinstance(leaf, Test) and leaf.path.startswith(SITUATION_PREFIX)
    }


def specificity(cond: Condition | None, situation_specificity: Mapping[str, int]) -> int:
    """How many facts a condition pins down: tests in ``all`` add up, ``any`` counts its loosest branch,
    and a test that a field is unknown counts for nothing (it pins no fact).

    A referenced situation counts as the specificity of its own condition, so building on a
    situation ranks the same as writing it out.
    """
    if cond is None:
        return 0
    if isinstance(cond, Test):
        if cond.path.startswith(SITUATION_PREFIX):
            return max(1, situation_specificity.get(cond.path[len(SITUATION_PREFIX) :], 1))
        if cond.op == "exists" and not cond.value:
            return 0  # "unknown" pins no fact: a check on what we do not know is no closer fit
        return 1
    if isinstance(cond, Count):
        return 1
    if isinstance(cond, Not):
        return specificity(cond.item, situation_specificity)
    parts = [specificity(c, situation_specificity) for c in cond.items]
    if isinstance(cond, All):
        return sum(parts)
    return min(parts) if parts else 0


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def describe(cond: Condition) -> str:
    """A short human reading of a condition, e.g. ``phase in [bargaining, closing]``."""
    if isinstance(cond, Test):
        if cond.op == "exists":
            return f"{cond.path} {'is known' if cond.value else 'is unknown'}"
        if cond.op in ("in", "not_in"):
            word = "in" if cond.op == "in" else "not in"
            return f"{cond.path} {word} [{_fmt(cond.value)}]"
        return f"{cond.path} {SYMBOLS[cond.op]} {_fmt(cond.value)}"
    if isinstance(cond, Count):
        where = f" where {describe(cond.where)}" if cond.where is not None else ""
        return f"count of {cond.path}{where} {SYMBOLS[cond.op]} {cond.value}"
    if isinstance(cond, Not):
        return f"not ({describe(cond.item)})"
    joiner = " and " if isinstance(cond, All) else " or "
    inner = joiner.join(describe(c) if isinstance(c, (Test, Count)) else f"({describe(c)})" for c in cond.items)
    return inner


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
            return self._join(All, [self.parse(item, ln) for item, ln in zip(node, lines, strict=True)], line)
        if not isinstance(node, dict) or not node:
            raise self.error(f"a condition must be a non-empty mapping, got {_fmt_type(node)}", line)
        parts: list[Condition] = []
        for key, value in node.items():
            key_line = node.line_of(key) if isinstance(node, LineDict) else line
            parts.append(self._entry(str(key), value, key_line))
        return self._join(All, parts, line)

    @staticmethod
    def _join(kind: type[All] | type[AnyOf], parts: list[Condition], line: int | None) -> Condition:
        return parts[0] if len(parts) == 1 else kind(tuple(parts), line)

    def _entry(self, key: str, value: Any, line: int | None) -> Condition:
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise self.error(f"'{key}' needs a non-empty list of conditions", line)
            lines = getattr(value, "item_lines", [line] * len(value))
            items = [self.parse(item, ln) for item, ln in zip(value, lines, strict=True)]
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
                raise self.error(f"'{spec.path}' takes a number, got {value!r}", line, "invalid-value")
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
