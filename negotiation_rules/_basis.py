"""What a verdict rests on: the state facts behind a match or a block, traced through situations.

A recommendation shows its ``basis`` ("because: phase is bargaining, they claimed a superior
twice"), so the basis must name only what the user gave or what follows from it: it is read
off the tests that *held* (an unknown never makes a test hold), with each situation followed
down to the state fields that made it true.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from ._advice import Fact, trusted
from ._conditions import Condition, Count, Test, evaluate, possibly
from ._fields import state_fields, value_at
from ._history import TREND_PREFIX
from ._state import NegotiationState


def support(cond: Condition, fact: Mapping[str, Any], situations: Mapping[str, Condition]) -> list[Test | Count]:
    """The tests that make ``cond`` hold on ``fact`` (empty when it does not hold), situations expanded.

    ``all``: every part's support; ``any``: the first branch that holds; ``not``: its negation
    pushed to the tests. A ``situation.x: true`` test stands for what made the situation hold,
    ``situation.x: false`` for the known facts that rule it out (nothing, when it fails only for
    want of a fact); ``exists: false`` (an explicit "unknown") rests on no stated fact.
    """
    if not evaluate(cond, fact):
        return []
    return _support(cond, fact, situations, (), {})


Memo = dict[tuple[str, bool], list[Test | Count]]


def _support(
    cond: Condition,
    fact: Mapping[str, Any],
    situations: Mapping[str, Condition],
    trail: tuple[str, ...],
    memo: Memo,
) -> list[Test | Count]:
    """``support`` with each situation's support worked out once (chains of situations may share them)."""
    if not isinstance(cond, (Test, Count)):
        parts = cond.holding_parts(fact)
        return list(dict.fromkeys(leaf for part in parts for leaf in _support(part, fact, situations, trail, memo)))
    name = cond.situation
    if name is None:  # a count, or a test on the state; "exists: false" (unknown) rests on no stated fact
        return [] if cond.op == "exists" and not cond.value else [cond]
    inner = situations.get(name)
    if inner is None or name in trail:
        return []
    positive = (cond.op == "eq") == (cond.value is True)
    key = (name, positive)
    if key not in memo:
        if not positive:  # situation.x: false (or ne true): known to be false only when its negation holds
            inner = inner.negate()
        memo[key] = _support(inner, fact, situations, (*trail, name), memo) if inner.holds(fact) else []
    return memo[key]


def unknown_fields(cond: Condition, fact: Mapping[str, Any], situations: Mapping[str, Condition]) -> list[str]:
    """The unknown state fields that could still make ``cond`` hold, in order (situations expanded).

    Only branches that could hold once the unknowns are known count: in ``trust: low and
    relationship: long_term`` with the relationship known to be one-off, trust decides nothing.
    """
    out: dict[str, None] = {}
    _unknown(cond, fact, situations, out, ())
    return list(out)


def _unknown(
    cond: Condition,
    fact: Mapping[str, Any],
    situations: Mapping[str, Condition],
    out: dict[str, None],
    trail: tuple[str, ...],
) -> None:
    """``unknown_fields`` into ``out``, following the parts that could still hold and the situations they name."""
    if not evaluate(possibly(cond, situations), fact):
        return
    for part in cond.parts:
        _unknown(part, fact, situations, out, trail)
    if not isinstance(cond, Test):
        return
    name = cond.situation
    if name is not None:
        inner = situations.get(name)
        if inner is not None and name not in trail and cond.op == "eq" and cond.value is True:
            _unknown(inner, fact, situations, out, (*trail, name))
        return
    spec = state_fields().get(cond.path)
    if spec is not None and spec.can_be_unknown and fact.get(cond.key) is None:
        out.setdefault(cond.path)


def facts_of(
    tests: list[Test | Count],
    given: NegotiationState,
    effective: NegotiationState,
    derived: frozenset[str],
    fact: Mapping[str, Any],
) -> list[Fact]:
    """The Facts the tests rest on, once per path, in order: value from the effective state, stated or derived."""
    out: dict[str, Fact] = {}
    for test in tests:
        path = test.path
        if path in out:
            continue
        if isinstance(test, Count):
            # a count over a list the user gave (history, issues): the number of items that matched
            if was_given(given, path):
                out[path] = shared_fact(path, fact.get(test.key, 0), True)
        elif path.startswith(TREND_PREFIX):
            out[path] = shared_fact(path, bool(fact.get(test.key)), False)
        else:
            value = value_at(effective, path)
            if value is None or (value == "unknown" and state_fields()[path].kind == "enum"):
                continue  # never a basis: an unknown
            if path in derived or value_at(given, path) != value:
                out[path] = shared_fact(path, value, False)
            elif was_given(given, path):
                out[path] = shared_fact(path, value, True)
            # else: a default the user did not set (deadlock false, the preparation phase): not a basis
    return list(out.values())


def was_given(state: NegotiationState, path: str) -> bool:
    """Whether the user set ``path`` explicitly (rather than leaving it to its default)."""
    obj: object = state
    for part in path.split("."):
        if part not in getattr(obj, "model_fields_set", ()):
            return False
        obj = getattr(obj, part)
    return True


@cache
def _parts(path: str) -> tuple[str, ...]:
    """A dotted path split once."""
    return tuple(path.split("."))


@cache
def _getter(path: str) -> operator.attrgetter[Any]:
    """``value_at(·, path)`` as one C call, built once per path."""
    return operator.attrgetter(path)


# -- Facts shared between calls, and the basis worked out once per combination of values ----------

#: The value types a shared Fact may hold: immutable, so no caller can change what another one sees.
_SCALARS = frozenset({str, int, float, bool})
#: Distinct facts kept for sharing before the pool starts over (a bound on memory, not on correctness).
FACT_LIMIT = 4096
_shared: dict[tuple[str, Any, type, bool], Fact] = {}


def shared_fact(path: str, value: Any, stated: bool) -> Fact:
    """The Fact ``(path, value, stated)``: one instance shared by every Advice when the value is immutable.

    A Fact is frozen and a str, int, float or bool cannot be changed, so sharing it is safe and
    saves building the same model again on every call; any other value gets a Fact of its own.
    The lists holding facts (``basis``) are always new per Advice.
    """
    kind = type(value)
    if kind not in _SCALARS:
        return trusted(Fact, {"path": path, "value": value, "stated": stated})
    key = (path, value, kind, stated)
    found = _shared.get(key)
    if found is None:
        if len(_shared) >= FACT_LIMIT:
            _shared.clear()
        found = _shared.setdefault(key, trusted(Fact, {"path": path, "value": value, "stated": stated}))
    return found


#: How a path gives its fact (see ``facts_of``): a state field, a count over a list, a trend of the history.
FIELD, COUNT, TREND = 0, 1, 2
#: The status of a path in one evaluation, and the index of the Fact it gives in an Entry.
DEFAULT, STATED, DERIVED = 0, 1, 2
#: Per path: the path, its kind, its value, the Fact it gives left to its default, stated, derived (None: no
#: fact), and for a field its getter and its parts (to tell a derived value and whether the user set it).
Entry = tuple[str, int, Any, tuple[Fact | None, Fact | None, Fact | None], Any, tuple[str, ...]]


def entries(tests: Sequence[Test | Count], effective: NegotiationState, fact: Mapping[str, Any]) -> tuple[Entry, ...]:
    """``facts_of`` split in two: what the tests give whoever set the values (this), and who did (``Stated``).

    Per path, from its first test, in order: the value (as ``facts_of`` reads it) and the Fact it
    gives in each status; an unknown gives none. The values are those of the keys the tests read,
    so the entries can be remembered per value of those keys; only whether the user set a path
    and whether it was derived differs between states that share them.
    """
    out: dict[str, Entry | None] = {}
    for test in tests:
        path = test.path
        if path in out:
            continue
        if isinstance(test, Count):
            counted = shared_fact(path, fact.get(test.key, 0), True)
            out[path] = (path, COUNT, None, (None, counted, counted), None, _parts(path))
        elif path.startswith(TREND_PREFIX):
            trend = shared_fact(path, bool(fact.get(test.key)), False)
            out[path] = (path, TREND, None, (trend, trend, trend), None, ())
        else:
            value = value_at(effective, path)
            if value is None or (value == "unknown" and state_fields()[path].kind == "enum"):
                out[path] = None  # never a basis: an unknown
            else:
                facts = (None, shared_fact(path, value, True), shared_fact(path, value, False))
                out[path] = (path, FIELD, value, facts, _getter(path), _parts(path))
    return tuple(entry for entry in out.values() if entry is not None)


class Stated:
    """Per evaluation: whether each path was set by the user, derived, or left to its default (each worked out once).

    Together with ``entries`` this gives exactly ``facts_of``: a field is derived when its value
    differs from what the user gave, else stated when the user set it; a count is stated when the
    user gave the list; a trend is always derived.
    """

    __slots__ = ("given", "status")

    def __init__(self, given: NegotiationState) -> None:
        """Nothing worked out yet for the state as the user gave it."""
        self.given = given
        self.status: dict[str, int] = {}

    def facts(self, found: tuple[Entry, ...]) -> list[Fact]:
        """The Facts these entries give in this evaluation, in order (a new list)."""
        out = []
        status = self.status
        given = self.given
        for path, kind, value, facts, getter, parts in found:
            at = status.get(path)
            if at is None:
                if kind == TREND or (kind == FIELD and getter(given) != value):
                    at = DERIVED
                else:  # was_given(given, path)
                    at = STATED
                    obj: object = given
                    for part in parts:
                        if part not in getattr(obj, "model_fields_set", ()):
                            at = DEFAULT
                            break
                        obj = getattr(obj, part)
                status[path] = at
            made = facts[at]
            if made is not None:
                out.append(made)
        return out
