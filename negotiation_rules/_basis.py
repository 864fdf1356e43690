"""What a verdict rests on: the state facts behind a match or a block, traced through situations.

A recommendation shows its ``basis`` ("because: phase is bargaining, they claimed a superior
twice"), so the basis must name only what the user gave or what follows from it: it is read
off the tests that *held* (an unknown never makes a test hold), with each situation followed
down to the state fields that made it true.
"""

from __future__ import annotations

from collections.abc import Mapping
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
                out[path] = trusted(Fact, {"path": path, "value": fact.get(test.key, 0), "stated": True})
        elif path.startswith(TREND_PREFIX):
            out[path] = trusted(Fact, {"path": path, "value": bool(fact.get(test.key)), "stated": False})
        else:
            value = value_at(effective, path)
            if value is None or (value == "unknown" and state_fields()[path].kind == "enum"):
                continue  # never a basis: an unknown
            if path in derived or value_at(given, path) != value:
                out[path] = trusted(Fact, {"path": path, "value": value, "stated": False})
            elif was_given(given, path):
                out[path] = trusted(Fact, {"path": path, "value": value, "stated": True})
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
