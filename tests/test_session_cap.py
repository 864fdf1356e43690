"""Issue 13: the engine sessions of a big ruleset are capped by their memory, callers beyond the cap wait in
line (an interrupted one loses no session, a fork inherits no waiter), and durable-rules' rulesets are only
checked at load time and built on the first durable-rules call."""

from __future__ import annotations

import gc
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import durable_rules_engine as drl
import pytest

from negotiation_rules import EngineError, Ruleset, RulesetError, advise
from negotiation_rules import _engine as engine_module
from negotiation_rules._engine import (
    MAX_SESSIONS,
    MIN_SESSIONS,
    Engine,
    engine_for,
    live_handles,
    session_limit,
)
from negotiation_rules._ruleset import builtin_ruleset
from tests.conftest import forked_answer

from .test_reliability import CHAIN, Interrupting

STATE = {"deadlock": True}


def capped(monkeypatch: pytest.MonkeyPatch, sessions: int, tactic: str = "chain.t") -> Ruleset:
    """A fresh ruleset (a 40-situation chain: slow enough to overlap) whose engine opens at most ``sessions``."""
    monkeypatch.setattr(engine_module, "session_limit", lambda shards, rules: sessions)
    return Ruleset.from_text(CHAIN.replace("chain.t", tactic), file=f"{tactic}.yaml")


def in_threads(count: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(k)`` in ``count`` threads released together; what they returned and what they raised."""
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def body(k: int) -> None:
        try:
            barrier.wait()
            results.append(work(k))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results, errors


def waiting(engine: Engine, count: int) -> None:
    """Block until ``count`` callers wait in the engine's line (fails after 10 s)."""
    deadline = time.monotonic() + 10
    while len(engine._pool.waiters) < count:
        assert time.monotonic() < deadline, "the callers never started waiting"
        time.sleep(0.001)


# -- the cap -------------------------------------------------------------------------------------


def test_the_session_cap_shrinks_as_the_ruleset_grows() -> None:
    assert session_limit(1, 1) == MAX_SESSIONS
    builtin = session_limit(6, 157)
    book_4000 = session_limit(158, 5258)  # the 4,000-rule benchmark book: about 63 MB per session
    assert 200 <= builtin < MAX_SESSIONS
    assert MIN_SESSIONS <= book_4000 <= 10
    assert session_limit(10_000, 1_000_000) == MIN_SESSIONS >= 2
    engine = engine_for(builtin_ruleset())
    rules = sum(len(shard.rules) for shard in engine.compiled.shards)
    assert engine._pool.limit == session_limit(len(engine.shards), rules)


def test_more_threads_than_the_cap_wait_in_line_and_get_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = capped(monkeypatch, 3)
    engine = engine_for(rules)
    want = advise(STATE, ruleset=rules)
    pool = engine._pool
    held, most = [0], [0]
    acquire, release = pool.acquire, pool.release

    def counting_acquire(timeout: float) -> Any:
        lease = acquire(timeout)
        held[0] += 1
        most[0] = max(most[0], held[0])
        return lease

    def counting_release(lease: Any, clean: bool) -> None:
        held[0] -= 1
        release(lease, clean)

    monkeypatch.setattr(pool, "acquire", counting_acquire)
    monkeypatch.setattr(pool, "release", counting_release)
    results, errors = in_threads(32, lambda k: [advise(STATE, ruleset=rules) for _ in range(8)])
    assert not errors
    assert len(results) == 32 and all(r == want for batch in results for r in batch)
    assert most[0] <= 3 and engine.session_count() <= 3


def test_a_session_given_back_goes_to_the_caller_that_waited_longest(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = capped(monkeypatch, 1)
    monkeypatch.setattr(engine_module, "_WAIT_SLICE", 0.005)  # a waiter wakes often: it must keep its place
    engine = engine_for(rules)
    advise(STATE, ruleset=rules)
    lease = engine._pool.acquire(1.0)
    order: list[str] = []

    def call(name: str) -> None:
        advise(STATE, ruleset=rules)
        order.append(name)

    first = threading.Thread(target=call, args=("first",))
    first.start()
    waiting(engine, 1)
    time.sleep(0.1)
    second = threading.Thread(target=call, args=("second",))
    second.start()
    waiting(engine, 2)
    time.sleep(0.1)
    engine._pool.release(lease, True)
    first.join(30)
    second.join(30)
    assert order == ["first", "second"] and engine.session_count() == 1


def test_a_caller_interrupted_while_waiting_loses_no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = capped(monkeypatch, 1)
    monkeypatch.setattr(engine_module, "SESSION_WAIT_SECONDS", 5.0)
    engine = engine_for(rules)
    want = advise(STATE, ruleset=rules)
    lease = engine._pool.acquire(1.0)

    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError("the caller's own timeout")

    previous = signal.signal(signal.SIGALRM, timeout)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(TimeoutError):
            advise(STATE, ruleset=rules)  # waits in line for the session held above
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not engine._pool.waiters
    engine._pool.release(lease, True)
    started = time.monotonic()
    assert advise(STATE, ruleset=rules) == want
    assert time.monotonic() - started < 2.0 and engine.session_count() == 1


class _Gate:
    """A waiter's lock that raises KeyboardInterrupt right after it was released to it (once armed)."""

    armed = False

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self.lock.acquire(blocking, timeout)
        if got and _Gate.armed:
            _Gate.armed = False
            raise KeyboardInterrupt("interrupted just as a session was handed over")
        return got

    def release(self) -> None:
        self.lock.release()


def test_a_caller_interrupted_just_as_it_is_handed_a_session_passes_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = capped(monkeypatch, 1)
    engine = engine_for(rules)
    want = advise(STATE, ruleset=rules)
    lease = engine._pool.acquire(1.0)
    real_waiter = engine_module._Waiter

    def rigged(ref: Any) -> Any:
        waiter = real_waiter(ref)
        gate = _Gate()
        gate.acquire()
        waiter.gate = gate  # type: ignore[assignment]
        _Gate.armed = True
        return waiter

    outcome: dict[str, Any] = {}

    def call(name: str) -> None:
        try:
            outcome[name] = advise(STATE, ruleset=rules)
        except BaseException as exc:
            outcome[name] = exc

    monkeypatch.setattr(engine_module, "_Waiter", rigged)
    first = threading.Thread(target=call, args=("first",))
    first.start()
    waiting(engine, 1)
    monkeypatch.setattr(engine_module, "_Waiter", real_waiter)
    second = threading.Thread(target=call, args=("second",))
    second.start()
    waiting(engine, 2)
    engine._pool.release(lease, True)
    first.join(30)
    second.join(30)
    assert isinstance(outcome["first"], KeyboardInterrupt)
    assert outcome["second"] == want
    assert advise(STATE, ruleset=rules) == want and engine.session_count() == 1


@pytest.mark.parametrize("name", ["assert_fact", "start_action_for_state", "complete_and_start_action", "retract_fact"])
def test_interrupted_calls_never_use_up_the_cap(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    rules = capped(monkeypatch, 2, tactic=f"cap.{name}")
    engine = engine_for(rules)
    want = advise(STATE, ruleset=rules)
    for at in (1, 3, 7):
        monkeypatch.setattr(engine_module, "_drl", Interrupting(name, at))
        with pytest.raises(KeyboardInterrupt):
            for _ in range(10):
                advise(STATE, ruleset=rules)
        monkeypatch.setattr(engine_module, "_drl", drl)
    results, errors = in_threads(8, lambda k: [advise(STATE, ruleset=rules) for _ in range(5)])
    assert not errors and all(r == want for batch in results for r in batch)
    assert engine.session_count() <= 2


def test_the_wait_is_bounded_and_says_how_many_sessions_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = capped(monkeypatch, 2)
    monkeypatch.setattr(engine_module, "SESSION_WAIT_SECONDS", 0.2)
    engine = engine_for(rules)
    leases = [engine._pool.acquire(1.0) for _ in range(2)]
    try:
        with pytest.raises(EngineError, match=r"all 2 engine sessions of this ruleset stayed in use for 0\.2 s"):
            advise(STATE, ruleset=rules)
    finally:
        for lease in leases:
            engine._pool.release(lease, True)
    assert not engine._pool.waiters and advise(STATE, ruleset=rules).tactics == ["chain.t"]


def _fork_child(queue: Any, rules: Ruleset) -> None:
    queue.put([advise(STATE, ruleset=rules).tactics, advise({"phase": "opening"}).tactics])


def test_a_process_forked_while_callers_wait_in_line_can_advise(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = capped(monkeypatch, 1)
    engine = engine_for(rules)
    want = [advise(STATE, ruleset=rules).tactics, advise({"phase": "opening"}).tactics]
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            advise(STATE, ruleset=rules)

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        waiting(engine, 1)
        for _ in range(4):
            assert forked_answer(_fork_child, rules) == want
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert engine.session_count() == 1


# -- durable-rules rulesets built on first use ------------------------------------------------------


def test_loading_checks_on_durable_rules_but_keeps_nothing_there_until_it_is_used() -> None:
    gc.collect()
    before = live_handles()
    rules = Ruleset.from_text(CHAIN.replace("chain.t", "lazy.t"), file="lazy.yaml")
    engine = engine_for(rules)
    assert not engine.opened and live_handles() == before
    assert all(shard.handle == 0 for shard in engine.shards)
    compiled = advise(STATE, ruleset=rules, engine="compiled")
    assert live_handles() == before and engine.session_count() == 0
    assert advise(STATE, ruleset=rules) == compiled
    assert engine.opened and live_handles() == before | {shard.handle for shard in engine.shards}


def test_a_rule_durable_rules_refuses_fails_at_load_for_either_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    real = drl.create_ruleset
    built: list[str] = []

    def picky(name: str, definition: str) -> int:
        if '"r:picky.bad#0"' in definition:
            raise drl.error("Could not create ruleset, error code: 999")
        built.append(definition)
        return int(real(name, definition))

    monkeypatch.setattr(drl, "create_ruleset", picky)
    bad = CHAIN.replace("id: r, tactic: chain.t", "id: picky.bad, tactic: chain.t")
    with pytest.raises(RulesetError, match="error code: 999") as info:
        Ruleset.from_text(bad, file="picky.yaml")
    assert info.value.rule_id == "picky.bad"
    good = Ruleset.from_text(CHAIN.replace("chain.t", "picky.t"), file="picky.yaml")
    checked = list(built)
    assert advise(STATE, ruleset=good).tactics == ["picky.t"]
    assert sorted(built[len(checked) :]) == sorted(checked[-len(engine_for(good).shards) :])  # the texts checked


def test_an_interrupted_build_is_finished_by_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = Ruleset.from_text(CHAIN.replace("chain.t", "build.t") + _MORE, file="build.yaml")
    engine = engine_for(rules)
    assert len(engine.shards) >= 3
    want = advise(STATE, ruleset=rules, engine="compiled")
    for at in (1, 2):
        monkeypatch.setattr(engine_module, "_drl", Interrupting("create_ruleset", at))
        with pytest.raises(KeyboardInterrupt):
            advise(STATE, ruleset=rules)
        monkeypatch.setattr(engine_module, "_drl", drl)
        assert not engine.opened
    assert advise(STATE, ruleset=rules) == want
    handles = [shard.handle for shard in engine.shards]
    assert all(handles) and len(set(handles)) == len(handles) and set(handles) <= live_handles()


#: Rules on other stages than the chain's, so the ruleset has several shards to build.
_MORE = "".join(
    f"  - {{id: more.r{i}, tactic: more.t{i}, move: m, rationale: r, when: {{alternatives: {{gte: {i}}}}},"
    " sources: [{document: d, section: s}]}\n"
    for i in range(60)
)


def _advise_in_child(queue: Any, rules: Ruleset) -> None:
    queue.put(advise(STATE, ruleset=rules).tactics)


def test_a_ruleset_loaded_before_a_fork_is_built_in_the_child_and_in_the_parent_apart() -> None:
    rules = Ruleset.from_text(CHAIN.replace("chain.t", "forked.t"), file="forked.yaml")
    engine = engine_for(rules)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_advise_in_child, args=(queue, rules))
    child.start()
    child.join(30)
    assert child.exitcode == 0 and queue.get(timeout=5) == ["forked.t"]
    assert not engine.opened  # what the child built is the child's
    assert advise(STATE, ruleset=rules).tactics == ["forked.t"] and engine.opened
