"""State -> facts: derive what the history implies (in one place), then flatten for the engine."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._conditions import OPERATORS, All, AnyOf, Condition, Count, Not, Test, negate
from ._fields import state_fields, value_at
from ._history import TRENDS, Summary, summary
from ._state import NegotiationState


def effective_state(state: NegotiationState, read: Summary | None = None) -> NegotiationState:
    """The state with what its history and its other fields imply filled in; the only place facts are derived.

    ``read``: ``summary(state.history)`` when the caller has it already (it is read once per call).

    - ``counterpart.authority_claims`` is at least the number of ``authority_claimed`` events by them;
    - an authority claim (in the history or counted in ``authority_claims``) makes an ``unknown``
      authority ``claimed_higher``;
    - ``deadlock`` is true when the latest ``deadlock``/``agreement`` event is a deadlock;
    - an issue with ``our_limit`` means our bottom line is set (``bottom_line_set`` unknown -> true).
    """
    counterpart = state.counterpart
    if read is None and state.history:
        read = summary(state.history)  # one pass over the history
    claims = read.claims if read is not None else 0
    cp_update: dict[str, Any] = {}
    if claims > counterpart.authority_claims:
        cp_update["authority_claims"] = claims
    if max(claims, counterpart.authority_claims) and counterpart.authority == "unknown":
        cp_update["authority"] = "claimed_higher"
    update: dict[str, Any] = {}
    if cp_update:
        update["counterpart"] = counterpart.model_copy(update=cp_update)
    if read is not None and not state.deadlock and read.outcome == "deadlock":
        update["deadlock"] = True
    if state.bottom_line_set is None and any(issue.our_limit is not None for issue in state.issues):
        update["bottom_line_set"] = True
    return state.model_copy(update=update) if update else state


def derived_paths(state: NegotiationState, effective: NegotiationState) -> frozenset[str]:
    """The scalar paths whose value in ``effective`` was derived rather than given by the user."""
    out = set()
    for path, spec in state_fields().items():
        if spec.kind != "list" and value_at(state, path) != value_at(effective, path):
            out.add(path)
    return frozenset(out)


def build_fact(
    state: NegotiationState, counts: Iterable[Count], trends: Mapping[str, bool] | None = None
) -> dict[str, Any]:
    """One flat fact of the (effective) state: every scalar path, each count a rule asks for, the trends."""
    return FactBuilder(counts)(state, trends)


class FactBuilder:
    """``build_fact`` for one fixed set of counts, planned once: the engine of a ruleset keeps one.

    Planning reads the field paths and hashes each count's key (``Count.key``) once, instead of
    on every call; the scalar fields are then read in one C call (``operator.attrgetter``).
    """

    def __init__(self, counts: Iterable[Count]) -> None:
        scalars = [(spec.fact_key, path) for path, spec in state_fields().items() if spec.kind != "list"]
        self._no_trends: dict[str, Any] = {f"trend__{name}": False for name in TRENDS}
        self._trend_keys = tuple((f"trend__{name}", name) for name in TRENDS)
        self._keys = tuple(key for key, _ in scalars)
        #: Keys that may hold ``"unknown"``, left out of the fact when they do.
        self._unknown_keys = tuple(
            spec.fact_key for spec in state_fields().values() if spec.kind != "list" and spec.can_be_unknown
        )
        #: Keys whose value may be unknown: an unknown is left out of the fact (no test holds on it).
        self._maybe_unknown = frozenset(
            spec.fact_key for spec in state_fields().values() if spec.kind != "list" and spec.can_be_unknown
        )
        getter = operator.attrgetter(*(path for _, path in scalars))
        self._values = getter if len(scalars) > 1 else lambda state: (getter(state),)
        seen = {*self._no_trends, *self._keys}
        plan: list[tuple[str, Any, Predicate | None]] = []
        for count in counts:
            if count.key not in seen:
                seen.add(count.key)
                where = predicate(count.where) if count.where is not None else None
                plan.append((count.key, operator.attrgetter(count.path), where))
        self._counts = tuple(plan)

    def scalars(self, state: NegotiationState) -> dict[str, Any]:
        """Only the state's own fields of the fact (no counts, no trends), unknowns left out."""
        maybe_unknown = self._maybe_unknown
        return {
            key: value
            for key, value in zip(self._keys, self._values(state), strict=True)
            if value is not None and not (value == "unknown" and key in maybe_unknown)
        }

    def __call__(self, state: NegotiationState, trends: Mapping[str, bool] | None = None) -> dict[str, Any]:
        """The flat fact of ``state`` (the effective state) with these counts and ``trends``."""
        if trends:
            fact: dict[str, Any] = {key: bool(trends.get(name)) for key, name in self._trend_keys}
        else:
            fact = dict(self._no_trends)
        values = self._values(state)
        fact.update(zip(self._keys, values, strict=True))
        if None in values:  # only a field that may be unknown is None in a valid state: any other, left out too
            for key, value in zip(self._keys, values, strict=True):
                if value is None:
                    del fact[key]
        for key in self._unknown_keys:
            if fact.get(key) == "unknown":
                del fact[key]
        for key, items_of, where in self._counts:
            items = items_of(state)
            # an item's __dict__ holds exactly its fields, the mapping evaluate_item() would build
            fact[key] = len(items) if where is None else sum(map(where, map(_fields_of, items)))
        return fact


Predicate = Callable[[Mapping[str, Any]], bool]
_fields_of = operator.attrgetter("__dict__")


def predicate(cond: Condition) -> Predicate:
    """``conditions.evaluate(cond, ·)`` as one closure, built once: counting a long history calls it per event.

    The same semantics, case by case: a test holds only on a present, known value (``exists``
    asks exactly that), with the same OPERATORS; a count reads 0 when absent. Item fields that
    may be unknown (``Event.phase``) are ``None`` when unknown.
    """
    if isinstance(cond, Test):
        key, value = cond.key, cond.value
        if cond.op == "exists":
            want = bool(value)
            return lambda fact: (fact.get(key) is not None) is want
        if cond.op in ("eq", "in") and _plain(value if cond.op == "eq" else tuple(value)):
            # OPERATORS' eq on a text or a boolean: the same type and equal (what the general case below does)
            if cond.op == "eq":
                kind = type(value)
                return lambda fact: type(found := fact.get(key)) is kind and found == value
            kinds, among = {type(v) for v in value}, frozenset(value)
            return lambda fact: type(found := fact.get(key)) in kinds and found in among
        compare = OPERATORS[cond.op]
        return lambda fact: (found := fact.get(key)) is not None and bool(compare(found, value))
    if isinstance(cond, Count):
        count_key, compare_count, number = cond.key, OPERATORS[cond.op], cond.value
        return lambda fact: bool(compare_count(fact.get(count_key, 0), number))
    if isinstance(cond, Not):
        return predicate(negate(cond.item))  # pushed to the tests, as evaluate() and the engine do
    parts = tuple(predicate(c) for c in cond.items)
    if isinstance(cond, All):
        return lambda fact: all(p(fact) for p in parts)
    assert isinstance(cond, AnyOf)
    return lambda fact: any(p(fact) for p in parts)


def _plain(value: Any) -> bool:
    """A text or a boolean, or a non-empty tuple of them: values OPERATORS' eq compares by type and equality alone."""
    if isinstance(value, tuple):
        return bool(value) and all(_plain(v) for v in value)
    return type(value) in (str, bool)
