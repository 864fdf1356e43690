"""Many threads at once get exactly the sequential results: advise(), advise_many(), Negotiation sessions, and with
the result cache on; and the engine is left without a single fact afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import durable_rules_engine as drl

from negotiation_rules import Advice, Event, Negotiation, NegotiationState
from negotiation_rules import advise as advise_with_questions
from negotiation_rules._batch import advise_many
from negotiation_rules._engine import Engine, engine_for, set_result_cache_size
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._ruleset import builtin_ruleset


def advise(state: Any, **options: Any) -> Advice:
    """``advise()`` as ``advise_many()`` runs it by default: without questions (they cost a few evaluations)."""
    return advise_with_questions(state, questions=0, **options)


THREADS = 8
CALLS = 500

MIX: list[NegotiationState] = [state for _, state in EXAMPLES.values()] + [
    NegotiationState(phase="opening", trust="low"),
    NegotiationState(phase="closing", outlook="winning", relationship="one_off"),
    NegotiationState(
        phase="bargaining",
        history=[
            Event(kind="concession", by="us", value=5.0),
            Event(kind="concession", by="us", value=5.0),
            Event(kind="deadlock", by="them"),
        ],
    ),
    NegotiationState(phase="bargaining", alternatives=3, deadlock=True, top_leader_available=True),
]


def run_threads(work: Callable[[int], None], threads: int = THREADS) -> list[BaseException]:
    """Start all threads together (a barrier), wait for them, return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def body(t: int) -> None:
        try:
            barrier.wait()
            work(t)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    pool = [threading.Thread(target=body, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in pool), "a thread hung"
    return errors


def engine_is_empty(engine: Engine) -> bool:
    """No idle session of any shard holds a fact."""
    for shard in engine.shards:
        for sid in list(engine._sessions):
            try:
                if json.loads(drl.get_facts(shard.handle, sid)):
                    return False
            except drl.error:  # a session this shard never saw
                continue
    return True


def test_eight_threads_of_five_hundred_calls_get_exactly_the_sequential_results() -> None:
    expected = [advise(state) for state in MIX]
    got: dict[tuple[int, int], Advice] = {}

    def work(t: int) -> None:
        for i in range(CALLS):
            got[(t, i)] = advise(MIX[(t * 7 + i) % len(MIX)])

    assert run_threads(work) == []
    assert len(got) == THREADS * CALLS
    assert all(advice == expected[(t * 7 + i) % len(MIX)] for (t, i), advice in got.items())
    assert engine_is_empty(engine_for(builtin_ruleset()))


def test_negotiation_sessions_batches_and_advise_run_at_the_same_time() -> None:
    moves = [
        Event(kind="offer", by="us", value=120.0),
        Event(kind="authority_claimed", by="them"),
        Event(kind="concession", by="us", value=4.0),
        Event(kind="concession", by="us", value=5.0),
        Event(kind="authority_claimed", by="them"),
        Event(kind="deadlock", by="them"),
    ]
    start = NegotiationState(phase="bargaining", counterpart={"experience": "experienced"})
    after = [advise(start.model_copy(update={"history": moves[: k + 1]})) for k in range(len(moves))]
    expected = [advise(state) for state in MIX]
    results: dict[str, Any] = {}

    def work(t: int) -> None:
        if t % 3 == 0:  # a session recording moves one by one
            for round_ in range(20):
                with Negotiation(start) as talk:
                    for k, move in enumerate(moves):
                        talk.record(move)
                        assert talk.advise(questions=0) == after[k], (t, round_, k)
            results[f"session{t}"] = True
        elif t % 3 == 1:  # batches
            for _ in range(5):
                assert advise_many(MIX * 5) == expected * 5
            results[f"batch{t}"] = True
        else:
            for i in range(CALLS):
                assert advise(MIX[i % len(MIX)]) == expected[i % len(MIX)]
            results[f"advise{t}"] = True

    assert run_threads(work) == []
    assert len(results) == THREADS
    assert engine_is_empty(engine_for(builtin_ruleset()))


def test_threads_sharing_the_result_cache_get_the_sequential_results() -> None:
    expected = [advise(state) for state in MIX]
    previous = set_result_cache_size(4)  # smaller than the mix: entries come and go under contention
    try:
        got: list[bool] = []

        def work(t: int) -> None:
            for i in range(CALLS // 2):
                k = (t + i) % len(MIX)
                got.append(advise(MIX[k]) == expected[k])

        assert run_threads(work) == []
        assert len(got) == THREADS * (CALLS // 2) and all(got)
        hits, _, entries, size = engine_for(builtin_ruleset()).cache_info()
        assert entries <= size == 4 and hits > 0
    finally:
        set_result_cache_size(previous)


FIRST_USE = """
import json, threading
from negotiation_rules import Advice, NegotiationState, advise
states = [{"phase": "bargaining", "trust": "low", "history": [{"kind": "deadlock", "by": "them"}]},
          '{"phase": "preparation", "issues": [{"name": "price", "our_limit": 3.5}]}']
out, errors, barrier = {}, [], threading.Barrier(8)
def body(t):
    try:
        barrier.wait()
        state = states[t % 2]
        text = json.dumps(state) if isinstance(state, dict) else state
        advice = advise(state)
        dumped = advice.model_dump_json()
        again = Advice.model_validate_json(dumped) == advice
        out[t] = [NegotiationState.model_validate_json(text).model_dump_json(), dumped, again]
    except BaseException as exc:
        errors.append(repr(exc))
pool = [threading.Thread(target=body, args=(t,)) for t in range(8)]
[p.start() for p in pool]
[p.join() for p in pool]
print(json.dumps({"errors": errors, "out": [out[t] for t in sorted(out)]}))
"""


def test_threads_that_first_validate_states_and_dump_advice_together_in_a_fresh_process_agree() -> None:
    """pydantic builds the models on first use (defer_build): 8 threads making that first use at once in a
    fresh interpreter each get what one thread gets, and the dumped advice validates back to itself."""
    run = subprocess.run([sys.executable, "-c", FIRST_USE], capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(run.stdout)
    assert result["errors"] == []
    outs = [tuple(o) for o in result["out"]]
    assert len(outs) == THREADS and all(o[2] for o in outs)
    assert set(outs[0::2]) == {outs[0]} and set(outs[1::2]) == {outs[1]}
