"""State -> facts: derive what the history implies (in one place), then flatten for the engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .conditions import Count, evaluate_item
from .fields import state_fields, value_at
from .history import TRENDS
from .state import NegotiationState


def effective_state(state: NegotiationState) -> NegotiationState:
    """The state with what its history implies filled in; the only place facts are derived.

    - ``counterpart.authority_claims`` is at least the number of ``authority_claimed`` events by them;
    - an authority claim (in the history or counted in ``authority_claims``) makes an ``unknown``
      authority ``claimed_higher``;
    - ``deadlock`` is true when the latest ``deadlock``/``agreement`` event is a deadlock.
    """
    if not state.history:
        if state.counterpart.authority_claims and state.counterpart.authority == "unknown":
            return state.model_copy(
                update={"counterpart": state.counterpart.model_copy(update={"authority": "claimed_higher"})}
            )
        return state
    claims = sum(1 for e in state.history if e.kind == "authority_claimed" and e.by == "them")
    counterpart = state.counterpart
    cp_update: dict[str, Any] = {}
    if claims > counterpart.authority_claims:
        cp_update["authority_claims"] = claims
    if max(claims, counterpart.authority_claims) and counterpart.authority == "unknown":
        cp_update["authority"] = "claimed_higher"
    update: dict[str, Any] = {}
    if cp_update:
        update["counterpart"] = counterpart.model_copy(update=cp_update)
    last = next((e.kind for e in reversed(state.history) if e.kind in ("deadlock", "agreement")), None)
    if last == "deadlock" and not state.deadlock:
        update["deadlock"] = True
    return state.model_copy(update=update) if update else state


def build_fact(
    state: NegotiationState, counts: Iterable[Count], trends: Mapping[str, bool] | None = None
) -> dict[str, Any]:
    """One flat fact of the (effective) state: every scalar path, each count a rule asks for, the trends."""
    fact: dict[str, Any] = {f"trend__{name}": bool(trends and trends.get(name)) for name in TRENDS}
    for path, spec in state_fields().items():
        if spec.kind != "list":
            fact[spec.fact_key] = value_at(state, path)
    for count in counts:
        if count.key in fact:
            continue
        items = value_at(state, count.path)
        fact[count.key] = (
            len(items) if count.where is None else sum(1 for item in items if evaluate_item(count.where, item))
        )
    return fact
