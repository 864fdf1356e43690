"""Tests of the optional extras (dataframe, dask) skip when the extra is not installed, except in CI.

CI installs the extras and sets NEGOTIATION_RULES_REQUIRE_EXTRAS=1, so there a missing package is
an error, never a silent skip.
"""

from __future__ import annotations

import importlib
import json
import os
import random
from types import ModuleType
from typing import Any

import pytest

REQUIRED = bool(os.environ.get("NEGOTIATION_RULES_REQUIRE_EXTRAS"))


def need(module: str) -> ModuleType:
    """The module, or skip the test module when it is not installed (an ImportError when extras are required)."""
    if REQUIRED:
        return importlib.import_module(module)
    return pytest.importorskip(module)


PHASES = ("preparation", "opening", "bargaining", "closing", "post_agreement")
LEVELS = ("low", "medium", "high")


def crm_rows(count: int, seed: int = 15) -> list[dict[str, Any]]:
    """Seeded rows of a CRM export: a deal id, state columns named by their paths, empty cells, JSON columns."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        claims = rng.choice((0, 0, 1, 2))
        history = [{"kind": "authority_claimed", "by": "them"} for _ in range(claims)]
        if rng.random() < 0.3:
            history.append({"kind": "concession", "by": rng.choice(("us", "them")), "issue": "price", "value": 2.0})
        rows.append(
            {
                "deal_id": 1000 + i,
                "phase": rng.choice(PHASES),
                "our_side": rng.choice(("buyer", "seller")),
                "trust": rng.choice((*LEVELS, None)),
                "relationship": rng.choice(("one_off", "long_term", None)),
                "deadlock": rng.choice((True, False, None)),
                "alternatives": rng.choice((0, 1, 2, 3, None)),
                "bottom_line_set": rng.choice((True, False, None)),
                "counterpart.authority": rng.choice(("unknown", "full", "limited", "claimed_higher", None)),
                "counterpart.experience": rng.choice(("novice", "experienced", None)),
                "counterpart.researched": rng.choice((True, False, None)),
                "history": json.dumps(history) if history else None,
            }
        )
    return rows


def state_of(row: dict[str, Any]) -> dict[str, Any]:
    """The state dict a row stands for: empty cells left out, dotted paths nested, JSON parsed."""

    state: dict[str, Any] = {}
    for key, value in row.items():
        if key == "deal_id" or value is None:
            continue
        if key == "history":
            value = json.loads(value)
        head, _, leaf = key.partition(".")
        if leaf:
            state.setdefault(head, {})[leaf] = value
        else:
            state[key] = value
    return state
