"""advise_many(): the same advice as a loop of advise(), in input order, for any mix of inputs, in one or several
processes; plus the fast paths it shares with advise() (trusted output models, the result cache)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation_rules import Advice, EngineError, NegotiationState, Recommendation, Ruleset, SetAside, StateError
from negotiation_rules import _batch as batch_module
from negotiation_rules import advise as advise_with_questions
from negotiation_rules._advice import trusted
from negotiation_rules._batch import advise_many
from negotiation_rules._engine import engine_for, set_result_cache_size
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._ruleset import builtin_ruleset
from negotiation_rules.testing.strategies import states

from .conftest import rule_yaml


def advise(state: Any, **options: Any) -> Advice:
    """``advise()`` as ``advise_many()`` runs it by default: without questions (they cost a few evaluations)."""
    return advise_with_questions(state, questions=0, **options)


EXAMPLE_STATES = [state for _, state in EXAMPLES.values()]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(states(), max_size=12), st.none() | st.integers(0, 5))
def test_a_batch_gives_exactly_the_advice_of_a_loop_in_input_order(
    batch: list[NegotiationState], top: int | None
) -> None:
    assert advise_many(batch, top=top) == [advise(state, top=top) for state in batch]


def test_models_dicts_json_texts_and_bytes_can_be_mixed() -> None:
    state = EXAMPLES["imaginary_authority"][1]
    inputs = [state, state.model_dump(), state.model_dump_json(), state.model_dump_json().encode()]
    assert advise_many(inputs) == [advise(state)] * 4


def test_repeated_states_are_evaluated_once_but_every_position_gets_its_own_advice() -> None:
    state = EXAMPLES["stuck_with_supplier"][1]
    evaluations: list[object] = []
    from negotiation_rules._firing import subscribe

    unsubscribe = subscribe(lambda ruleset, firing: evaluations.append(firing))
    try:
        first, second, third = advise_many([state, state.model_dump(), state])
    finally:
        unsubscribe()
    assert len(evaluations) == 1
    assert first == second == third == advise(state)
    assert first is not second
    first.recommendations.clear()  # a caller changing one result changes no other
    assert second.recommendations and third.recommendations


def test_the_first_invalid_state_by_position_is_named_with_its_index() -> None:
    good = EXAMPLE_STATES[0]
    with pytest.raises(StateError) as info:
        advise_many([good, good, {"phase": "bargainin"}, {"trust": "never"}])
    assert info.value.path == "states[2].phase"
    assert "did you mean 'bargaining'" in str(info.value)
    with pytest.raises(StateError) as info:
        advise_many([good, "[1, 2]"])
    assert info.value.path == "states[1]"


def test_a_ruleset_a_playbook_and_top_apply_to_every_state(tmp_path: Path) -> None:
    (tmp_path / "house.yaml").write_text(rule_yaml(id="house.firm", tactic="house.firm"), encoding="utf-8")
    playbook = {"weights": {"house": 0.5}}
    batch = [{"phase": "bargaining"}, {"phase": "opening"}]
    expected = [advise(s, ruleset=tmp_path, playbook=playbook, top=1) for s in batch]
    assert advise_many(batch, ruleset=tmp_path, playbook=playbook, top=1) == expected
    assert expected[0].tactics == ["house.firm"] and expected[1].tactics == []


def test_progress_reports_each_chunk_and_ends_at_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "CHUNK", 4)
    calls: list[tuple[int, int]] = []
    advise_many(EXAMPLE_STATES * 2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(4, 12), (8, 12), (12, 12)]


def test_an_exception_in_the_progress_callback_stops_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "CHUNK", 2)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        advise_many(EXAMPLE_STATES, progress=stop)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: advise_many(EXAMPLE_STATES[0]), TypeError),  # type: ignore[arg-type]
        (lambda: advise_many('{"phase": "opening"}'), TypeError),  # type: ignore[arg-type]
        (lambda: advise_many(EXAMPLE_STATES, processes=0), ValueError),
        (lambda: advise_many(EXAMPLE_STATES, top=-1), ValueError),
    ],
)
def test_wrong_arguments_are_refused_before_any_work(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


def test_an_empty_batch_is_an_empty_list() -> None:
    assert advise_many([]) == []
    assert advise_many(iter(())) == []


# -- several processes -------------------------------------------------------------------------------
# Workers are fresh interpreters (spawn), so these tests cost about a second each. They use states
# without concession events: kept from when the trends were durable-rules join rules that read out of
# bounds (see docs/performance.md); the trends are plain Python now.

CALM = [s for s in EXAMPLE_STATES if not any(e.kind == "concession" for e in s.history)]


@pytest.fixture(params=["fork", "spawn"])
def pool(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Let small batches use worker processes, on any machine; workers forked, and spawned (the other way)."""
    monkeypatch.setattr(batch_module, "MIN_PARALLEL", 10)
    monkeypatch.setattr(batch_module, "_cores", lambda: 8)
    if request.param == "spawn":
        monkeypatch.setattr(batch_module, "_can_fork", lambda: False)


@pytest.mark.usefixtures("pool")
def test_several_processes_give_the_same_advice_in_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "CHUNK", 8)
    batch = [s.model_dump() for s in CALM] * 6
    progress: list[int] = []
    got = advise_many(batch, processes=2, progress=lambda done, total: progress.append(done))
    assert got == [advise(s) for s in batch]
    assert progress[-1] == len(batch) and progress == sorted(progress)


@pytest.mark.usefixtures("pool")
def test_workers_reload_a_ruleset_path_and_rebuild_a_ruleset_object(tmp_path: Path) -> None:
    (tmp_path / "house.yaml").write_text(rule_yaml(id="house.firm", tactic="house.firm"), encoding="utf-8")
    in_memory = Ruleset.from_text(rule_yaml(id="mem.move", tactic="mem.move", when="phase: opening"), file="m.yaml")
    batch = [{"phase": p} for p in ("bargaining", "opening", "closing")] * 5
    assert advise_many(batch, ruleset=tmp_path, processes=2) == [advise(s, ruleset=tmp_path) for s in batch]
    assert advise_many(batch, ruleset=in_memory, processes=2, top=1) == [
        advise(s, ruleset=in_memory, top=1) for s in batch
    ]


@pytest.mark.usefixtures("pool")
def test_an_invalid_state_in_a_worker_is_the_same_state_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "CHUNK", 4)
    batch: list[object] = [{"phase": "opening"}] * 20
    batch[13] = {"phase": "opening", "alternatives": -1}
    batch[17] = {"trust": "never"}
    with pytest.raises(StateError) as info:
        advise_many(batch, processes=2)  # type: ignore[arg-type]
    assert info.value.path == "states[13].alternatives"


def test_a_small_batch_or_a_one_core_machine_stays_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> object:
        raise AssertionError("started worker processes")

    monkeypatch.setattr(batch_module, "ProcessPoolExecutor", no_pool)
    monkeypatch.setattr(batch_module, "_cores", lambda: 8)
    assert advise_many(EXAMPLE_STATES, processes=4) == [advise(s) for s in EXAMPLE_STATES]
    monkeypatch.setattr(batch_module, "MIN_PARALLEL", 1)
    monkeypatch.setattr(batch_module, "_cores", lambda: 1)
    assert advise_many(EXAMPLE_STATES, processes=4) == [advise(s) for s in EXAMPLE_STATES]


def test_on_two_cores_two_processes_are_this_one_and_one_worker_both_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    """``processes=2`` on two cores uses both: one forked worker and this process claim chunks from one queue."""
    monkeypatch.setattr(batch_module, "MIN_PARALLEL", 10)
    monkeypatch.setattr(batch_module, "CHUNK", 4)
    monkeypatch.setattr(batch_module, "_cores", lambda: 2)
    here: list[int] = []
    score = batch_module._score
    parent = os.getpid()

    def counted(start: int, *args: Any) -> Any:
        if os.getpid() == parent:  # a forked worker runs its own copy of this function
            here.append(start)
            time.sleep(0.02)  # slower here, so the worker surely claims chunks too
        return score(start, *args)

    monkeypatch.setattr(batch_module, "_score", counted)
    started: list[object] = []
    start_process = multiprocessing.process.BaseProcess.start

    def one_more(process: multiprocessing.process.BaseProcess) -> None:
        started.append(process)
        start_process(process)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", one_more)
    batch = [s.model_dump() for s in CALM] * 20
    assert advise_many(batch, processes=2) == [advise(s) for s in batch]
    assert len(started) == 1
    chunks = -(-len(batch) // max(4, -(-len(batch) // 16)))
    assert 0 < len(here) < chunks  # both scored: neither took every chunk


def _forked_pool(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Small batches go to one forked worker; returns the list the batch's outbox directory is recorded in."""
    monkeypatch.setattr(batch_module, "MIN_PARALLEL", 10)
    monkeypatch.setattr(batch_module, "CHUNK", 4)
    monkeypatch.setattr(batch_module, "_cores", lambda: 2)
    made: list[str] = []
    mkdtemp = tempfile.mkdtemp

    def recorded(*args: Any, **kwargs: Any) -> str:
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(batch_module.tempfile, "mkdtemp", recorded)
    return made


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_worker_that_dies_is_an_engine_error_and_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash inside a worker (durable-rules is C) loses its chunk: the batch says so instead of returning less."""
    made = _forked_pool(monkeypatch)
    score = batch_module._score
    parent = os.getpid()

    def crash(start: int, *args: Any) -> Any:
        if os.getpid() != parent:
            os._exit(7)
        time.sleep(0.02)
        return score(start, *args)

    monkeypatch.setattr(batch_module, "_score", crash)
    with pytest.raises(EngineError, match=r"worker process died.*exit codes 7"):
        advise_many([s.model_dump() for s in CALM] * 20, processes=2)
    assert multiprocessing.active_children() == []
    assert made and not os.path.exists(made[0])


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_an_interrupt_in_this_process_stops_the_workers_and_removes_the_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _forked_pool(monkeypatch)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    descriptors = set(os.listdir("/proc/self/fd"))
    with pytest.raises(KeyboardInterrupt):
        advise_many([s.model_dump() for s in CALM] * 20, processes=2, progress=stop)
    assert multiprocessing.active_children() == []
    assert set(os.listdir("/proc/self/fd")) <= descriptors  # the pipes are closed
    assert made and not os.path.exists(made[0])


# -- the fast paths --------------------------------------------------------------------------------


def test_trusted_output_models_equal_validated_ones() -> None:
    blocked = NegotiationState(phase="bargaining", alternatives=0, trust="low", counterpart={"authority": "limited"})
    playbook = {"disabled": {"prep": "Not now."}}
    for state in [*EXAMPLE_STATES, blocked]:
        advice = advise(state, playbook=playbook)
        rebuilt = Advice.model_validate_json(advice.model_dump_json())
        assert rebuilt == advice
        assert rebuilt.model_dump_json() == advice.model_dump_json()
        assert rebuilt.model_fields_set == advice.model_fields_set
        for ours, validated in zip(advice.set_aside, rebuilt.set_aside, strict=True):
            again = SetAside(tactic=ours.tactic, rule_id=ours.rule_id, reason=ours.reason, by=ours.by, basis=ours.basis)
            assert ours.model_fields_set == again.model_fields_set and ours == validated
    assert any(a.by == "rule" for a in advise(blocked).set_aside)
    fields = {
        "tactic": "a.b",
        "move": "m",
        "rationale": "r",
        "score": 0.5,
        "rule_id": "a.b.c",
        "basis": [],
        "sources": [],
        "cautions": [],
        "family": "a",
        "other_rules": [],
    }
    assert trusted(Recommendation, dict(fields)) == Recommendation.model_construct(**fields)


def test_the_result_cache_is_exact_bounded_and_off_by_default() -> None:
    engine = engine_for(builtin_ruleset())
    assert engine.cache_info()[3] == 0
    expected = [advise(s) for s in EXAMPLE_STATES]
    previous = set_result_cache_size(3)
    try:
        engine.clear_cache()
        for _ in range(3):
            assert [advise(s) for s in EXAMPLE_STATES] == expected
        hits, misses, entries, size = engine.cache_info()
        assert size == 3 and entries <= 3 and misses >= len(EXAMPLE_STATES)
        same = EXAMPLE_STATES[-1]
        advise(same)
        assert engine.cache_info()[0] == hits + 1  # the last state is still cached
    finally:
        set_result_cache_size(previous)
    assert engine.cache_info()[2] == 0
    with pytest.raises(ValueError):
        set_result_cache_size(-1)


def test_a_batch_equals_single_evaluations_at_the_engine_level() -> None:
    from negotiation_rules._pipeline import facts_for

    rules = builtin_ruleset()
    engine = engine_for(rules)
    facts = [facts_for(s, rules)[1] for s in EXAMPLE_STATES] * 7  # more than one BATCH_CHUNK
    assert engine.evaluate_many(facts) == [engine.evaluate(f) for f in facts]
    assert json.dumps(engine.evaluate_many([])) == "[]"


def test_a_batch_of_states_alike_but_for_one_field_equals_single_evaluations() -> None:
    """The engine asks each shard once per distinct stage fact in a batch; states that differ in one field
    (as the questions' answers do) must still each get exactly their own single evaluation."""
    from negotiation_rules._pipeline import facts_for
    from negotiation_rules._questions import with_value
    from negotiation_rules._vocabulary import words

    rules = builtin_ruleset()
    engine = engine_for(rules)
    for state in EXAMPLE_STATES:
        variants = [with_value(state, path, value) for path, entry in words().items() for value in entry.answers]
        facts = [facts_for(v, rules)[1] for v in [state, *variants, state]]
        assert engine.evaluate_many(facts) == [engine.evaluate(f) for f in facts]


def test_a_batch_asked_for_questions_gives_exactly_what_advise_gives() -> None:
    batch = [state for _, state in EXAMPLES.values()] + [NegotiationState(phase="bargaining")]
    assert advise_many(batch, questions=3) == [advise_with_questions(s) for s in batch]
    assert any(a.questions for a in advise_many(batch, questions=3))


def test_advice_pickled_as_field_values_comes_back_equal_with_the_same_set_fields() -> None:
    import pickle

    from negotiation_rules._batch import dumps_outcome

    def dumps_advice(advice: list[Any]) -> bytes:
        return dumps_outcome(("ok", 0, advice))

    sent = [advise_with_questions(s) for s in EXAMPLE_STATES]  # questions, answers, set-asides, facts, sources
    sent.append(sent[0].model_copy(update={"ruleset": "renamed"}))
    back = pickle.loads(dumps_advice(sent))[2]
    assert back == sent
    assert [a.model_dump_json() for a in back] == [a.model_dump_json() for a in sent]
    for got, want in zip(back, sent, strict=True):
        assert type(got) is Advice and got.model_fields_set == want.model_fields_set
        for rec, rec_want in zip(got.recommendations, want.recommendations, strict=True):
            assert rec.model_fields_set == rec_want.model_fields_set
            assert all(type(f).__name__ == "Fact" for f in rec.basis)
    partial = Recommendation.model_construct(tactic="t", move="m", rationale="r", score=1.0, rule_id="x")
    assert pickle.loads(dumps_advice([partial]))[2][0].model_fields_set == partial.model_fields_set  # type: ignore[list-item]
    reordered = trusted(SetAside, {"rule_id": "r", "tactic": "t", "reason": "why", "by": "rule", "basis": []})
    assert pickle.loads(dumps_advice([reordered]))[2][0] == reordered  # type: ignore[list-item]


def test_a_value_changed_past_validation_is_a_state_error_naming_its_state_in_both_modes() -> None:
    """From the attacker review: the engine's own check used to give a bare ValueError with two processes."""
    base = [NegotiationState(phase="bargaining", alternatives=i % 5) for i in range(2_400)]
    base[10] = base[0].model_copy(update={"alternatives": 2**60})
    for processes in (None, 2):
        with pytest.raises(StateError) as info:
            advise_many(base, processes=processes)
        assert info.value.path == "states[10].alternatives"


def test_equal_looking_values_of_different_types_are_not_merged_in_a_batch() -> None:
    """1 and 1.0 read the same to a dict key but not to the checks: the batch answers as advise() does."""
    good = NegotiationState(phase="bargaining", alternatives=1)
    bad = good.model_copy(update={"alternatives": 1.0})
    with pytest.raises(StateError):
        advise(bad)
    for batch, index in (([good, bad], 1), ([bad, good], 0)):
        with pytest.raises(StateError) as info:
            advise_many(batch)
        assert info.value.path == f"states[{index}].alternatives"
