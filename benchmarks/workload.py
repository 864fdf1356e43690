"""What the benchmarks run: a fixed, varied set of states, synthetic rulebooks, and the two baselines.

Everything here is deterministic (seeded), so two runs measure the same work.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import durable_rules_engine as drl

from negotiation_rules import NegotiationState, Ruleset, load_ruleset
from negotiation_rules._compiler import STAGE_TAG
from negotiation_rules._engine import Engine, engine_for
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._explain import python_firing
from negotiation_rules._pipeline import facts_for

PHASES = ("preparation", "opening", "bargaining", "closing", "post_agreement")
LEVELS = ("low", "medium", "high")
EVENT_KINDS = ("offer", "concession", "concession", "authority_claimed", "deadlock", "agreement", "note")
#: Share of the fields a user may not know that a benchmark state leaves unknown (contract 0.2).
UNKNOWN_SHARE = 0.3
ISSUES = ("price", "rebate", "volume", "payment_terms", "delivery")


def _event(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(EVENT_KINDS)
    event: dict[str, Any] = {"kind": kind, "by": rng.choice(("us", "them"))}
    if kind in ("offer", "concession"):
        event["issue"] = rng.choice(ISSUES)
        event["value"] = round(rng.uniform(0.5, 20.0), 1)
    if rng.random() < 0.2:
        event["note"] = "noted in the meeting"
    return event


def states(count: int = 240, seed: int = 6) -> list[NegotiationState]:
    """The built-in examples plus ``count`` seeded random states: every phase, with and without history."""
    rng = random.Random(seed)
    out = [state for _, state in EXAMPLES.values()]
    for _ in range(count):
        length = rng.choice((0, 0, 0, 1, 2, 3, 4, 6, 8, 12))
        data: dict[str, Any] = {
            "phase": rng.choice(PHASES),
            "our_side": rng.choice(("buyer", "seller")),
            "trust": rng.choice(LEVELS),
            "relationship": rng.choice(("one_off", "long_term")),
            "outlook": rng.choice(("winning", "even", "losing", "unknown")),
            "deadlock": rng.random() < 0.25,
            "alternatives": rng.choice((0, 0, 1, 2, 3)),
            "our_time_pressure": rng.choice(LEVELS),
            "their_time_pressure": rng.choice(LEVELS),
            "bottom_line_set": rng.random() < 0.5,
            "top_leader_available": rng.random() < 0.3,
            "counterpart": {
                "authority": rng.choice(("unknown", "full", "limited", "claimed_higher")),
                "authority_verified": rng.random() < 0.2,
                "authority_claims": rng.choice((0, 0, 1, 2)),
                "experience": rng.choice(("novice", "experienced", "unknown")),
                "known_weakness": rng.random() < 0.3,
                "researched": rng.random() < 0.5,
                "style_known": rng.random() < 0.5,
            },
            "issues": [
                {"name": name, "our_target": float(rng.randint(50, 150)), "unit": "EUR"}
                for name in rng.sample(ISSUES, rng.choice((0, 1, 2, 3)))
            ],
            "history": [_event(rng) for _ in range(length)],
        }
        for key in (
            "our_side",
            "trust",
            "relationship",
            "alternatives",
            "our_time_pressure",
            "their_time_pressure",
            "bottom_line_set",
            "top_leader_available",
        ):
            if rng.random() < UNKNOWN_SHARE:
                del data[key]  # left unknown, as real users leave a field
        for key in ("authority_verified", "known_weakness", "researched", "style_known", "experience"):
            if rng.random() < UNKNOWN_SHARE:
                del data["counterpart"][key]
        out.append(NegotiationState.model_validate(data))
    return out


# -- synthetic rulebooks -------------------------------------------------------------------------

#: Tests a synthetic rule draws from (path, values): one value means ``path: value``, two ``path: [a, b]``.
TESTS: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("trust", LEVELS),
    ("relationship", ("one_off", "long_term")),
    ("outlook", ("winning", "even", "losing", "unknown")),
    ("our_side", ("buyer", "seller")),
    ("our_time_pressure", LEVELS),
    ("their_time_pressure", LEVELS),
    ("counterpart.authority", ("unknown", "full", "limited", "claimed_higher")),
    ("counterpart.experience", ("novice", "experienced", "unknown")),
    ("deadlock", (True, False)),
    ("bottom_line_set", (True, False)),
    ("top_leader_available", (True, False)),
    ("counterpart.known_weakness", (True, False)),
    ("counterpart.researched", (True, False)),
    ("counterpart.style_known", (True, False)),
    ("counterpart.authority_verified", (True, False)),
)


def _condition(rng: random.Random, extra: int) -> dict[str, Any]:
    """A phase (one or two) and ``extra`` other tests, some of them ``in`` two values."""
    when: dict[str, Any] = {"phase": rng.choice(PHASES) if rng.random() < 0.8 else rng.sample(PHASES, 2)}
    for path, values in rng.sample(TESTS, extra):
        when[path] = rng.choice(values) if len(values) == 2 or rng.random() < 0.7 else rng.sample(values, 2)
    return when


def _holds(when: dict[str, Any], fact: dict[str, Any]) -> bool:
    for path, want in when.items():
        value = fact.get(path.replace(".", "__"))  # an unknown is left out of the fact and matches nothing
        if value is None:
            return False
        if value not in want if isinstance(want, list) else value != want:
            return False
    return True


def _yaml(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML


def synthetic(size: int, facts: Sequence[dict[str, Any]], fire: float, seed: int = 6) -> Ruleset:
    """``size`` rules over 60 tactics where on average about ``fire`` rules match one of ``facts``.

    Larger rulebooks get more specific rules (more tests each), the way a bigger company's
    rulebook is more detailed: the number of extra tests is chosen so that the expected number
    of matching rules over the benchmark states is ``fire``. One rule in eight has an ``unless``.
    """
    rng = random.Random(seed * 1000 + size)

    def rate(extra: int) -> float:
        sample = [_condition(random.Random(k), extra) for k in range(200)]
        return sum(_holds(w, f) for w in sample for f in facts) / (len(sample) * len(facts))

    rates = [rate(extra) for extra in range(8)]
    target = fire / size
    low = max((k for k in range(8) if rates[k] >= target), default=0)
    high = min(low + 1, 7)
    share_high = 0.0 if rates[low] == rates[high] else (rates[low] - target) / (rates[low] - rates[high])
    rows = []
    for i in range(size):
        extra = high if rng.random() < share_high else low
        rule: dict[str, Any] = {
            "id": f"synth.r{i}",
            "tactic": f"synth.t{i % 60}",
            "move": f"Move {i}.",
            "rationale": f"Rule {i} fits: phase {{phase}}, trust {{trust}}.",
            "weight": round(0.2 + (i % 8) / 10, 2),
            "when": _condition(rng, extra),
            "sources": [{"document": "synthetic.txt", "section": f"Section {i % 17}"}],
        }
        if i % 8 == 0:  # a never-when that narrows the rule's own situation, as real ones do
            path, values = rng.choice([t for t in TESTS if t[0] not in rule["when"]])
            rule["unless"] = {**rule["when"], path: values[0]}
            rule["unless_reason"] = "A synthetic never-when."
        rows.append("  - " + _yaml(rule))
    with tempfile.TemporaryDirectory() as folder:  # a rule file holds at most 1 MB: 500 rules per file
        for start in range(0, size, 500):
            text = "ruleset: synthetic\nrules:\n" + "\n".join(rows[start : start + 500])
            (Path(folder) / f"synthetic_{start // 500:03}.yaml").write_text(text, encoding="utf-8")
        ruleset = load_ruleset(folder)
    ruleset.name = f"synthetic-{size}"
    return ruleset


# -- baselines -----------------------------------------------------------------------------------


def flat_facts(ruleset: Ruleset, states: Sequence[NegotiationState]) -> list[dict[str, Any]]:
    """The flat fact advise() gives the engine for each state (history trends included)."""
    return [facts_for(state, ruleset)[1] for state in states]


class RawDurableRules:
    """Baseline (a): the engine's own C handles driven the plain way, nothing else.

    Per call: for each stage, the stage fact (the flat fact plus the situations concluded so far,
    restricted to the keys each shard reads, as the engine sends it) is written with
    ``json.dumps``, asserted into the shards the engine would ask, and the names of the rules
    that fired are collected; at the end every fact is retracted. No ranking, no Advice, no
    cache; the flat fact is computed beforehand.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self.engine: Engine = engine_for(ruleset)
        self.sid = "raw1"

    def __call__(self, state: NegotiationState, fact: dict[str, Any]) -> list[str]:
        engine = self.engine
        fired: list[str] = []
        stage = dict(fact)
        stage.update({f"situation__{name}": False for name in engine.situation_ids})
        asserted: list[tuple[int, str]] = []
        for level in range(engine.compiled.tactic_level + 1):
            stage.update(sid=self.sid, id=f"stage{level}", t=STAGE_TAG, level=level)
            derived: list[str] = []
            for shard in engine._select(level, stage):
                text = json.dumps({k: stage[k] for k in (*shard.keys, "sid", "id", "t", "level") if k in stage})
                code, handle = drl.assert_fact(shard.handle, text)
                asserted.append((shard.handle, stage["id"]))
                message = drl.start_action_for_state(shard.handle, handle) if code == 0 else None
                message = message[1] if message else None
                while message:
                    derived.append(message[2 : message.index('"', 2)])
                    message = drl.complete_and_start_action(shard.handle, handle)
            for name in derived:
                if name.startswith("s:"):
                    stage[f"situation__{name[2:].rpartition('#')[0]}"] = True
            fired += derived
        for handle, fact_id in asserted:
            drl.retract_fact(handle, json.dumps({"sid": self.sid, "id": fact_id}))
        return fired


def python_floor(ruleset: Ruleset) -> Callable[[NegotiationState, dict[str, Any]], Any]:
    """Baseline (b): the same compiled conditions evaluated in plain Python (explain.python_firing)."""
    return lambda state, fact: python_firing(ruleset, fact)
