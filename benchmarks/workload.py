"""What the benchmarks run: a fixed, varied set of states, synthetic rulebooks, and the baselines.

Everything here is deterministic (seeded), so two runs measure the same work. The baselines are
(a) ``CReplay``: exactly the ``durable_rules_engine`` calls one evaluation makes, recorded once
per state and replayed alone, and (b) the compiled evaluator's bare generated function
(``negotiation_rules._compiled``, when the library has it).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import durable_rules_engine as drl

from negotiation_rules import NegotiationState, Ruleset, load_ruleset
from negotiation_rules._compiled import compiled_for
from negotiation_rules._engine import engine_for
from negotiation_rules._examples import EXAMPLES
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
#: Numeric tests (path, operator, thresholds): these pin nothing, so no shard guard can use them.
NUMERIC: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("alternatives", "gte", (1, 2)),
    ("alternatives", "lte", (0, 1)),
    ("counterpart.authority_claims", "gte", (1, 2)),
)
#: How a synthetic rule is anchored, as the built-in rules are: on the phase, on a built-in
#: situation (``situation.at_the_table: true``), or on neither (only the other tests).
ANCHORS = (("phase", 0.45), ("situation", 0.40), ("none", 0.15))


def _anchor(rng: random.Random, situations: Sequence[str]) -> dict[str, Any]:
    roll, kind = rng.random(), "none"
    for name, share in ANCHORS:
        if roll < share:
            kind = name
            break
        roll -= share
    if kind == "phase":
        return {"phase": rng.choice(PHASES) if rng.random() < 0.8 else rng.sample(PHASES, 2)}
    if kind == "situation":
        return {f"situation.{rng.choice(situations)}": True}
    return {}


def _condition(rng: random.Random, extra: int, situations: Sequence[str]) -> dict[str, Any]:
    """An anchor (phase, situation or none) and ``extra`` other tests: equalities, ``in`` lists, numbers."""
    when = _anchor(rng, situations)
    for path, values in rng.sample(TESTS, extra):
        if rng.random() < 0.15:
            number, op, cuts = rng.choice(NUMERIC)
            if number not in when:
                when[number] = {op: rng.choice(cuts)}
                continue
        when[path] = rng.choice(values) if len(values) == 2 or rng.random() < 0.7 else rng.sample(values, 2)
    return when


def _holds(when: dict[str, Any], stage: dict[str, Any]) -> bool:
    """The synthetic condition on a stage fact (flat fact plus situations); an unknown matches nothing."""
    for path, want in when.items():
        value = stage.get(path.replace(".", "__"))
        if value is None:  # unknown: only ``field: unknown`` (or a list naming it) holds
            if want == "unknown" or (isinstance(want, list) and "unknown" in want):
                continue
            return False
        if isinstance(want, dict):
            ((op, cut),) = want.items()
            if not (value >= cut if op == "gte" else value <= cut):
                return False
        elif value not in want if isinstance(want, list) else value != want:
            return False
    return True


def stage_facts(ruleset: Ruleset, facts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each flat fact with the situations the ruleset derives for it (``situation__<id>: bool``)."""
    engine = engine_for(ruleset)
    out = []
    for fact in facts:
        held = engine.evaluate(fact).situations
        out.append({**fact, **{f"situation__{s.id}": s.id in held for s in ruleset.situations}})
    return out


def _yaml(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML


def write_synthetic(folder: Path, size: int, stages: Sequence[dict[str, Any]], fire: float, seed: int = 6) -> None:
    """Write ``size`` rules over 60 tactics into ``folder`` (500 a file) where about ``fire`` match a stage.

    Rules are anchored as the built-in ones are (45% on the phase, 40% on a built-in situation,
    15% on neither) and carry more tests the bigger the book, the way a bigger company's rulebook
    is more detailed: the number of extra tests is chosen so that the expected number of matching
    rules over ``stages`` (flat facts with the built-in situations) is ``fire``. Some tests are
    numeric (``alternatives: {gte: 1}``), which no shard guard can use; one rule in eight has an
    ``unless``. The rules name built-in situations, so the folder is loaded with ``"builtin"``'s
    situations added by the loader, exactly as a company's rules on top of the built-in ones are.
    ``stages`` may also be plain flat facts (``flat_facts``): the built-in situations are then added.
    """
    if not any(key.startswith("situation__") for key in stages[0]):  # plain flat facts: add the situations
        from negotiation_rules._ruleset import builtin_ruleset

        stages = stage_facts(builtin_ruleset(), stages)
    situations = sorted(k[len("situation__") :] for k in stages[0] if k.startswith("situation__"))

    def hits(when: dict[str, Any]) -> int:
        return sum(_holds(when, stage) for stage in stages)

    def candidate(i: int, extra: int) -> dict[str, Any]:
        when = _condition(random.Random(f"{seed}:{size}:{i}:{extra}"), extra, situations)
        if not when:  # an empty when would match every state
            path, values = TESTS[i % len(TESTS)]
            when[path] = values[0]
        return when

    # Each rule i gets ``low`` or ``high`` extra tests (its draw u[i] below the share: high), and
    # the share is chosen from the exact match counts so the book fires ``fire`` rules per stage.
    rng = random.Random(seed * 1000 + size)
    draws = [rng.random() for _ in range(size)]
    want = fire * len(stages)
    sample = [hits(candidate(-k, 0)) for k in range(1, 101)], [hits(candidate(-k, 4)) for k in range(1, 101)]
    # a first guess from 100 conditions at 0 and 4 extra tests (each test keeps about a constant share)
    keep = (sum(sample[1]) / max(1, sum(sample[0]))) ** 0.25
    start = sum(sample[0]) / 100 * size
    low = max(0, min(6, int(math.log(want / start) / math.log(keep)) if start > want and keep < 1 else 0))
    lows = [hits(candidate(i, low)) for i in range(size)]
    highs = [hits(candidate(i, low + 1)) for i in range(size)]
    while low < 6 and sum(highs) > want:  # even all rules at low + 1 fire too often
        low, lows = low + 1, highs
        highs = [hits(candidate(i, low + 1)) for i in range(size)]
    while low > 0 and sum(lows) < want:  # even all rules at low fire too rarely
        low, highs = low - 1, lows
        lows = [hits(candidate(i, low)) for i in range(size)]
    # switching rules to high, lowest draws first: the number switched that comes closest to ``want``
    order = sorted(range(size), key=draws.__getitem__)
    total, best, share_high = float(sum(lows)), abs(sum(lows) - want), 0.0
    for i in order:
        total += highs[i] - lows[i]
        if abs(total - want) < best:
            best, share_high = abs(total - want), draws[i] + 1e-12
    rows = []
    for i in range(size):
        when = candidate(i, low + 1 if draws[i] < share_high else low)
        rule: dict[str, Any] = {
            "id": f"synth.r{i}",
            "tactic": f"synth.t{i % 60}",
            "move": f"Move {i}.",
            "rationale": f"Rule {i} fits: phase {{phase}}, trust {{trust}}.",
            "weight": round(0.2 + (i % 8) / 10, 2),
            "when": when,
            "sources": [{"document": "synthetic.txt", "section": f"Section {i % 17}"}],
        }
        if i % 8 == 0:  # a never-when that narrows the rule's own situation, as real ones do
            path, values = rng.choice([t for t in TESTS if t[0] not in rule["when"]])
            rule["unless"] = {**rule["when"], path: values[0]}
            rule["unless_reason"] = "A synthetic never-when."
        rows.append("  - " + _yaml(rule))
    for start in range(0, size, 500):  # a rule file holds at most 1 MB
        text = "ruleset: synthetic\nrules:\n" + "\n".join(rows[start : start + 500])
        (folder / f"synthetic_{start // 500:03}.yaml").write_text(text, encoding="utf-8")


def synthetic(size: int, stages: Sequence[dict[str, Any]], fire: float, seed: int = 6) -> Ruleset:
    """``write_synthetic`` into a temporary folder, loaded (which compiles it into durable-rules)."""
    with tempfile.TemporaryDirectory() as folder:
        write_synthetic(Path(folder), size, stages, fire, seed)
        ruleset = load_ruleset(folder)
    ruleset.name = f"synthetic-{size}"
    return ruleset


# -- baseline (a): the C calls alone -----------------------------------------------------------------

#: The durable_rules_engine functions an evaluation may call; anything else recorded is reported.
EVALUATION_CALLS = frozenset(
    {"assert_fact", "assert_facts", "start_action_for_state", "complete_and_start_action"}
    | {"retract_fact", "retract_facts"}
)
#: Calls whose second argument is a session's state handle (returned by an assert).
_STATE_ARG = frozenset({"start_action_for_state", "complete_and_start_action", "abandon_action"})
_SID = re.compile(r'"sid":"[^"]*"')

Call = tuple[str, tuple[Any, ...], Any]


@contextlib.contextmanager
def recording() -> Iterator[list[Call]]:
    """Record every ``durable_rules_engine`` call made inside the block: (name, args, result).

    The module's functions are wrapped for the duration, and so is any library module global
    that is one of them (a ``from durable_rules_engine import assert_fact`` would escape the
    module attribute otherwise).
    """
    calls: list[Call] = []
    originals = {name: getattr(drl, name) for name in dir(drl) if not name.startswith("_") and name != "error"}
    originals = {name: fn for name, fn in originals.items() if callable(fn) and not isinstance(fn, type)}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any) -> Any:
            result = fn(*args)
            calls.append((name, args, result))
            return result

        return recorded

    wrappers = {name: wrap(name, fn) for name, fn in originals.items()}
    by_id = {id(fn): name for name, fn in originals.items()}
    patched: list[tuple[Any, str, Any]] = []
    for name, wrapper in wrappers.items():
        patched.append((drl, name, originals[name]))
        setattr(drl, name, wrapper)
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("negotiation_rules"):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in by_id and value is originals[by_id[id(value)]]:
                patched.append((module, attr, value))
                setattr(module, attr, wrappers[by_id[id(value)]])
    try:
        yield calls
    finally:
        for target, attr, value in reversed(patched):
            setattr(target, attr, value)


class CReplay:
    """Baseline (a): exactly the durable-rules calls one evaluation made, replayed alone.

    ``record`` runs ``evaluation()`` once with the calls recorded (it must make only
    ``EVALUATION_CALLS``: asserts, the action loop, retractions). The calls are then rewritten
    for a session of their own (``"sid":"bench-replay"``; each assert's state handle mapped to
    the one the replay gets) and checked: replayed once untimed, every assert must return the
    recorded code and the action loop must start and stop where it did. ``__call__`` then does
    only ``fn(a, b)`` per recorded call: no JSON, no dict, no Python work of the library.
    """

    def __init__(self, evaluation: Callable[[], Any], sid: str = "bench-replay") -> None:
        with recording() as calls:
            evaluation()
        odd = sorted({name for name, _, _ in calls} - EVALUATION_CALLS)
        if odd:
            raise RuntimeError(f"an evaluation made calls other than asserts, actions and retractions: {odd}")
        self.recorded = calls
        self.sid = sid
        self.asserts = sum(1 for name, _, _ in calls if name in ("assert_fact", "assert_facts"))
        self.calls = self._prepare(calls)

    def _prepare(self, calls: list[Call]) -> list[tuple[Callable[..., Any], Any, Any]]:
        """Rewrite the calls for the replay session and check them by replaying them once."""
        handles: dict[tuple[int, int], int] = {}
        prepared = []
        for name, args, result in calls:
            fn = getattr(drl, name)
            handle, second = args
            if name in _STATE_ARG:
                second = handles[(handle, second)]
            elif isinstance(second, str):
                second = _SID.sub(f'"sid":"{self.sid}"', second)
            got = fn(handle, second)
            if name in ("assert_fact", "assert_facts"):
                if got[0] != result[0]:
                    raise RuntimeError(f"replayed {name} returned {got[0]}, recorded {result[0]}")
                handles[(handle, result[1])] = got[1]
            elif name in _STATE_ARG and bool(got) != bool(result):
                raise RuntimeError(f"replayed {name} {'started' if got else 'ended'} where the recording did not")
            prepared.append((fn, handle, second))
        return prepared

    def __call__(self) -> None:
        for fn, handle, second in self.calls:
            fn(handle, second)


def flat_facts(ruleset: Ruleset, states: Sequence[NegotiationState]) -> list[dict[str, Any]]:
    """The flat fact advise() gives the engine for each state (history trends included)."""
    return [facts_for(state, ruleset)[1] for state in states]


def compiled_available() -> bool:
    """Whether the library has the compiled evaluator and ``advise(..., engine=...)``."""
    import inspect

    from negotiation_rules import advise

    return compiled_for is not None and "engine" in inspect.signature(advise).parameters
