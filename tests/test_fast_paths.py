"""The fast paths give exactly what the plain ones give: one pass over the history, JSON text validated in one
step, remembered bases, threads interleaving between any two durable-rules calls without a lock per shard."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import durable_rules_engine as drl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation_rules import Event, NegotiationState, StateError, advise
from negotiation_rules._conditions import AnyOf, Test, evaluate, evaluate_item
from negotiation_rules._engine import engine_for
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._facts import FactBuilder, effective_state, predicate
from negotiation_rules._fields import state_fields, value_at
from negotiation_rules._history import TRENDS, summary, trends
from negotiation_rules._ranking import TRACE_LIMIT, _Trace
from negotiation_rules._ruleset import builtin_ruleset
from negotiation_rules._state import parse_state
from negotiation_rules.testing.strategies import states as any_states

events = st.builds(
    Event,
    kind=st.sampled_from(["concession", "concession", "offer", "authority_claimed", "deadlock", "agreement", "note"]),
    by=st.sampled_from(["us", "them"]),
    value=st.one_of(st.none(), st.sampled_from([1.0, 2.0, 3.0, 2.5])),
)


def naive_trends(history: list[Event]) -> dict[str, bool]:
    """The trends exactly as the module docstring defines them, one list per question."""
    ours = [e for e in history if e.kind == "concession" and e.by == "us"]
    theirs = [e for e in history if e.kind == "concession" and e.by == "them"]
    last_theirs = max((i for i, e in enumerate(history) if e.kind == "concession" and e.by == "them"), default=-1)
    since = sum(1 for e in history[last_theirs + 1 :] if e.kind == "concession" and e.by == "us")
    pair = [e.value for e in ours[-2:]]
    three = [e.value for e in theirs[-3:]]
    return {
        "concessions_unanswered": since >= 2,
        "our_concessions_not_shrinking": len(pair) == 2 and None not in pair and pair[1] >= pair[0],  # type: ignore[operator]
        "their_concessions_shrinking": len(three) == 3 and None not in three and three[0] > three[1] > three[2],  # type: ignore[operator]
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=12))
def test_one_pass_over_the_history_finds_what_one_list_per_question_finds(history: list[Event]) -> None:
    read = summary(history)
    assert read.trends == naive_trends(history) == trends(history)
    assert read.claims == sum(1 for e in history if e.kind == "authority_claimed" and e.by == "them")
    outcomes = [e.kind for e in history if e.kind in ("deadlock", "agreement")]
    assert read.outcome == (outcomes[-1] if outcomes else None)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, max_size=8), st.booleans())
def test_the_effective_state_reads_the_history_in_one_pass_with_the_same_result(
    history: list[Event], deadlock: bool
) -> None:
    state = NegotiationState(history=history, deadlock=deadlock)
    effective = effective_state(state)
    outcomes = [e.kind for e in history if e.kind in ("deadlock", "agreement")]
    assert effective.deadlock is (deadlock or (outcomes[-1:] == ["deadlock"]))
    claims = sum(1 for e in history if e.kind == "authority_claimed" and e.by == "them")
    assert effective.counterpart.authority_claims == claims
    assert effective.counterpart.authority == ("claimed_higher" if claims else "unknown")


class Text(str):
    """A str subclass: the rule format's eq tells it from a str."""


values = st.sampled_from(["offer", "concession", "us", "x", Text("offer"), True, False, 0, 1, 1.0, 2.5, None])


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["eq", "ne", "in", "not_in", "gt", "lte", "exists"]),
    st.one_of(values, st.lists(values, min_size=1, max_size=3)),
    st.dictionaries(st.sampled_from(["kind", "by", "value"]), values, max_size=3),
)
def test_a_where_predicate_says_what_the_condition_says(op: str, value: Any, item: dict[str, Any]) -> None:
    if op in ("in", "not_in") and not isinstance(value, list):
        value = [value]
    if op == "exists":
        value = bool(value)
    if op not in ("in", "not_in") and isinstance(value, list):
        value = value[0]
    if op in ("gt", "lte") and not isinstance(value, (int, float)):
        value = 1
    cond = Test("kind", op, value)
    assert predicate(cond)(item) is evaluate(cond, item)
    either = AnyOf((cond, Test("by", "eq", "us")))
    assert predicate(either)(item) is evaluate(either, item)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_states(), st.booleans())
def test_the_fact_builder_gives_the_fact_field_by_field(state: NegotiationState, with_trends: bool) -> None:
    rules = builtin_ruleset()
    counts = rules.compiled().counts
    given_trends = trends(state.history) if with_trends else None
    expected: dict[str, Any] = {f"trend__{name}": bool((given_trends or {}).get(name)) for name in TRENDS}
    for path, spec in state_fields().items():
        if spec.kind != "list" and not spec.is_unknown(value_at(state, path)):
            expected[spec.fact_key] = value_at(state, path)
    for count in counts:
        items = value_at(state, count.path)
        expected[count.key] = sum(1 for i in items if count.where is None or evaluate_item(count.where, i))
    fact = FactBuilder(counts)(state, given_trends)
    assert fact == expected
    assert list(fact) == list(expected)  # the same order too
    assert [type(v) for v in fact.values()] == [type(v) for v in expected.values()]


def sample_states() -> Iterator[NegotiationState]:
    """The built-in examples and a few states with histories."""
    yield from (state for _, state in EXAMPLES.values())
    yield NegotiationState(phase="bargaining", trust="low", history=[Event(kind="concession", by="us", value=2.0)] * 2)
    yield NegotiationState(phase="opening", counterpart={"authority": "full", "researched": True})  # type: ignore[arg-type]


@pytest.mark.parametrize("state", list(sample_states()))
def test_json_text_gives_the_state_its_dict_gives_fields_set_included(state: NegotiationState) -> None:
    text = state.model_dump_json(exclude_unset=True)
    from_text, from_dict = parse_state(text), parse_state(json.loads(text))
    assert from_text == from_dict
    assert from_text.model_fields_set == from_dict.model_fields_set
    assert from_text.counterpart.model_fields_set == from_dict.counterpart.model_fields_set
    assert parse_state(text.encode()) == from_dict


@pytest.mark.parametrize(
    "text",
    [
        '{"phase": "bargain"}',
        '{"alternatives": "2"}',
        '{"history": [{"kind": "offer", "by": "us", "value": NaN}]}',
        '{"trust": "high",}',
        "[1, 2]",
        '{"counterpart": {"authority": "ful"}}',
    ],
)
def test_invalid_json_text_is_worded_exactly_as_the_two_step_path_words_it(text: str) -> None:
    with pytest.raises(StateError) as from_text:
        parse_state(text)
    try:
        data: Any = json.loads(text)
    except ValueError:
        assert "not valid JSON" in str(from_text.value)
        return
    with pytest.raises(StateError) as from_data:
        parse_state(data)
    assert str(from_text.value) == str(from_data.value)
    assert from_text.value.path == from_data.value.path


def test_a_trace_tells_true_from_one_and_recomputes_for_new_values() -> None:
    trace = _Trace(("k",))
    calls: list[Any] = []

    def compute(value: Any) -> list[Any]:
        calls.append(value)
        return [value]

    assert trace.get({"k": True}, lambda: compute(True)) == (True,)
    assert trace.get({"k": 1}, lambda: compute(1)) == (1,)  # the rule format's eq: true is not 1
    assert trace.get({"k": True}, lambda: compute("again")) == (True,)  # remembered
    assert trace.get({"k": [1]}, lambda: compute("unhashable")) == ("unhashable",)  # not remembered, still right
    assert calls == [True, 1, "unhashable"]


def test_a_trace_stays_bounded() -> None:
    trace = _Trace(("k",))
    for i in range(TRACE_LIMIT * 3):
        trace.get({"k": i}, lambda: [])
    assert len(trace.memo) <= TRACE_LIMIT


def test_advice_is_the_same_whether_the_bases_are_remembered_or_not() -> None:
    from negotiation_rules._ranking import _plans_of

    states = list(sample_states())
    warm = [advise(s, questions=0) for s in states] + [advise(s, questions=0) for s in states]
    plans = _plans_of(builtin_ruleset())
    for plan in plans.rules.values():
        for trace in (plan.recommend, plan.when, plan.unless, plan.unknown):
            trace.memo.clear()
    plans.scorings.clear()
    cold = [advise(s, questions=0) for s in states]
    assert warm[: len(states)] == warm[len(states) :] == cold
    assert [a.model_dump_json() for a in warm[: len(states)]] == [a.model_dump_json() for a in cold]


def test_threads_switching_between_any_two_durable_rules_calls_get_the_sequential_answers() -> None:
    """No lock per shard: a thread may be switched out between any two C calls of its session, and nothing mixes."""
    states = list(sample_states())
    expected = [advise(s, questions=0) for s in states]
    engine = engine_for(builtin_ruleset())
    errors: list[BaseException] = []
    wrong: list[int] = []
    barrier = threading.Barrier(4)

    def work(offset: int) -> None:
        try:
            barrier.wait()
            for i in range(120):
                k = (offset + i) % len(states)
                if advise(states[k], questions=0) != expected[k]:
                    wrong.append(k)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython will
    try:
        pool = [threading.Thread(target=work, args=(t * 3,)) for t in range(4)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=300)
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and wrong == []
    for shard in engine.shards:
        for sid in engine._sessions:
            assert json.loads(drl.get_facts(shard.handle, sid)) == []


def test_remembered_fragments_never_let_a_value_past_its_check() -> None:
    """The engine remembers the JSON of values it checked; a value changed past validation is still refused."""
    good = NegotiationState(phase="bargaining", alternatives=2)
    advise(good, questions=0)
    for bad in ({"alternatives": "2"}, {"alternatives": 2.0}, {"phase": "bargain"}, {"alternatives": [2]}):
        for _ in range(2):  # refused again: a refused value is never remembered
            with pytest.raises(StateError):
                advise(good.model_copy(update=bad), questions=0)
    assert advise(good, questions=0) == advise(NegotiationState(phase="bargaining", alternatives=2), questions=0)


def test_remembered_fragments_stay_bounded() -> None:
    from negotiation_rules._engine import FRAGMENT_LIMIT

    engine = engine_for(builtin_ruleset())
    for n in range(FRAGMENT_LIMIT + 50):
        engine.encode({"alternatives": n})
    assert len(engine._frags) <= FRAGMENT_LIMIT
