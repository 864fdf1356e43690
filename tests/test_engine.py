"""The durable-rules wrapper: isolation between calls, threads, large rulebooks, and the C core's limits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import durable_rules_engine as drl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation_rules import EngineError, NegotiationState, Ruleset, RulesetError, advise, load_ruleset
from negotiation_rules._compiler import MAX_RULES_PER_SHARD
from negotiation_rules._engine import Engine, _ShardEngine, _whose, engine_for
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._explain import python_firing
from negotiation_rules._pipeline import facts_for, fire
from negotiation_rules._ruleset import builtin_ruleset
from negotiation_rules.testing.strategies import states


def synthetic(n: int, when: str = "{{alternatives: {{gte: {i}}}}}", tactics: int = 50) -> Ruleset:
    """n rules, rule i with condition ``when`` (formatted with i), spread over ``tactics`` tactic ids."""
    rows = [
        f"  - {{id: r{i}, tactic: synth.t{i % tactics}, move: m, rationale: r{i}, weight: {0.1 + (i % 9) / 10},"
        f" when: {when.format(i=i)}, sources: [{{document: d.txt, section: s}}]}}"
        for i in range(n)
    ]
    return Ruleset.from_text("rules:\n" + "\n".join(rows), file="synthetic.yaml")


def no_facts_left(engine: Engine) -> bool:
    """Every session of every shard is empty (or was never created)."""
    for shard in engine.shards:
        for sid in engine._sessions:
            try:
                facts = json.loads(drl.get_facts(shard.handle, sid))
            except drl.error:
                continue
            if facts:
                return False
    return True


def test_a_call_leaves_no_facts_behind_in_the_engine() -> None:
    engine = engine_for(builtin_ruleset())
    for _, state in EXAMPLES.values():
        advise(state)
    assert engine._sessions and no_facts_left(engine)


def test_a_stage_fact_that_matched_no_rule_is_not_retracted_and_nothing_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    """durable-rules keeps a fact only once it reaches a rule (assert code 0); one that matched none (code 1) is not
    retracted, and every session is still empty after each call."""
    engine = engine_for(builtin_ruleset())
    calls: list[tuple[str, int]] = []
    real_assert, real_retract = drl.assert_fact, drl.retract_fact

    def asserting(handle: int, text: str) -> Any:
        out = real_assert(handle, text)
        if '"id":"stage' in text:  # not a session being opened
            calls.append(("assert", out[0]))
        return out

    def retracting(handle: int, text: str) -> Any:
        if '"id":"stage' in text:  # not a probe for a session's state handle
            calls.append(("retract", 0))
        return real_retract(handle, text)

    monkeypatch.setattr(drl, "assert_fact", asserting)
    monkeypatch.setattr(drl, "retract_fact", retracting)
    for state in [s for _, s in EXAMPLES.values()] + [NegotiationState(phase=p) for p in ("opening", "closing")]:
        calls.clear()
        advise(state, questions=0)
        codes = [code for what, code in calls if what == "assert"]
        assert sum(1 for what, _ in calls if what == "retract") == codes.count(0)
        assert no_facts_left(engine)
    assert 1 in codes  # the case is exercised


def test_the_state_a_batch_message_is_about_is_found_wherever_its_fact_id_is() -> None:
    assert _whose('{"r:x.y#0":{"m":{"sid":"nr1","id":"Ms3","t":"nr-stage"}}}') == 12
    assert _whose('{"r:x.y#0":{"m":{"t":"nr-stage","level":3,"id":"Hs3","sid":"nr1"}}}') == 7


def test_an_engine_failure_is_a_library_error_and_the_next_call_is_right(monkeypatch: pytest.MonkeyPatch) -> None:
    state = EXAMPLES["imaginary_authority"][1]
    expected = advise(state)
    real_run = _ShardEngine.run
    calls = {"n": 0}

    def failing_run(self: _ShardEngine, stage: str) -> list[str]:
        calls["n"] += 1
        names = real_run(self, stage)
        if calls["n"] == 2:
            raise drl.error("simulated failure inside durable-rules")
        return names

    monkeypatch.setattr(_ShardEngine, "run", failing_run)
    with pytest.raises(EngineError, match="simulated failure"):
        advise(state)
    monkeypatch.undo()
    assert advise(state) == expected
    assert no_facts_left(engine_for(builtin_ruleset()))


def test_eight_threads_get_exactly_the_sequential_results() -> None:
    states = [s for _, s in EXAMPLES.values()] + [NegotiationState(phase=p) for p in ("opening", "closing")]
    expected = [advise(s) for s in states]
    errors: list[BaseException] = []
    results: dict[tuple[int, int], Any] = {}

    def work(t: int) -> None:
        try:
            for i in range(100):
                k = (t + i) % len(states)
                results[(t, i)] = advise(states[k]) == expected[k]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(results) == 800 and all(results.values())
    assert no_facts_left(engine_for(builtin_ruleset()))


def test_a_rulebook_larger_than_one_engine_ruleset_is_split_and_ranks_as_one() -> None:
    rules = synthetic(1000)
    engine = engine_for(rules)
    assert len(engine.shards) >= 1000 // MAX_RULES_PER_SHARD
    advice = advise({"alternatives": 700}, ruleset=rules)
    assert len(advice.tactics) == len(set(advice.tactics)) == 50
    # each tactic shows its best rule, wherever in the rulebook it was
    fitting = [r for r in rules.rules if int(r.id[1:]) <= 700]
    best = {t: min((r for r in fitting if r.tactic == t), key=lambda r: (-r.weight, r.id)) for t in advice.tactics}
    assert all(rec.rule_id == best[rec.tactic].id for rec in advice.recommendations)


@settings(max_examples=30, deadline=None)
@given(states(alternatives=st.integers(0, 1200)))
def test_a_split_rulebook_fires_exactly_what_its_conditions_say(state: NegotiationState) -> None:
    rules = _mixed()
    _, firing = fire(state, rules)
    assert firing == python_firing(rules, facts_for(state, rules)[1])


_MIXED: list[Ruleset] = []


def _mixed() -> Ruleset:
    if not _MIXED:
        _MIXED.append(
            synthetic(
                1200, when="{{any: [{{alternatives: {i}}}, {{alternatives: {{lt: {i}}}, phase: [opening, closing]}}]}}"
            )
        )
    return _MIXED[0]


def test_more_matching_tests_than_the_c_match_stack_holds_still_work() -> None:
    """64+ rules whose tests all hold at once overflow durable-rules' 64-entry stack in one ruleset (error 303)."""
    rules = synthetic(300, tactics=300)
    assert len(advise({"alternatives": 1000}, ruleset=rules).recommendations) == 300


CRASH_REPRO = textwrap.dedent(
    """
    from negotiation_rules import Ruleset, advise
    rows = [f"  - {{id: r{i}, tactic: t.x{i}, move: m, rationale: r, when: {{alternatives: {i}}}, "
            f"sources: [{{document: d, section: s}}]}}" for i in range(400)]
    rules = Ruleset.from_text("rules:\\n" + "\\n".join(rows))
    for k in range(0, 400, 3):
        assert advise({"alternatives": k}, ruleset=rules).tactics == [f"t.x{k}"]
    print("ok")
    """
)


def test_many_rules_over_several_engine_rulesets_do_not_corrupt_memory() -> None:
    """durable-rules' delete_state corrupted the heap in exactly this setup; we retract facts instead."""
    out = subprocess.run([sys.executable, "-c", CRASH_REPRO], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def _one_rule(when: str, rid: str = "deep.one") -> str:
    source = "sources: [{document: d, section: s}]"
    return f"rules:\n  - {{id: {rid}, tactic: a.b, move: m, rationale: r, when: {when}, {source}}}"


def test_deeply_nested_any_and_all_run_as_flat_alternatives() -> None:
    """durable-rules refuses six levels of nested $or/$and (error 113); we compile to flat alternatives."""
    cond = "{phase: opening}"
    for _ in range(12):
        cond = f"{{any: [{cond}, {{alternatives: 1}}], trust: [low, high]}}"
    rules = Ruleset.from_text(_one_rule(cond), file="deep.yaml")
    assert advise({"alternatives": 1, "trust": "low"}, ruleset=rules).tactics == ["a.b"]
    assert advise({"alternatives": 1}, ruleset=rules).tactics == []
    assert advise({"phase": "opening", "trust": "high"}, ruleset=rules).tactics == ["a.b"]


def test_a_condition_that_expands_too_far_is_refused_at_load_naming_the_rule() -> None:
    cond = "{all: [" + ", ".join(f"{{any: [{{alternatives: {i}}}, {{trust: low}}]}}" for i in range(10)) + "]}"
    with pytest.raises(RulesetError, match="more than 256 alternatives") as info:
        Ruleset.from_text(_one_rule(cond, "wide.one"), file="wide.yaml")
    assert info.value.rule_id == "wide.one" and info.value.line == 2


def test_a_rule_durable_rules_refuses_is_found_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = drl.create_ruleset

    def picky(name: str, definition: str) -> int:
        if '"r:synth.bad#0"' in definition:
            raise drl.error("Could not create ruleset, error code: 999")
        return int(real(name, definition))

    monkeypatch.setattr(drl, "create_ruleset", picky)
    rows = [_one_rule("{phase: opening}", f"ok.r{i}").split("\n")[1] for i in range(100)]
    rows.insert(57, _one_rule("{phase: closing}", "synth.bad").split("\n")[1])
    with pytest.raises(RulesetError, match="error code: 999") as info:
        Ruleset.from_text("rules:\n" + "\n".join(rows), file="big.yaml")
    assert info.value.rule_id == "synth.bad" and info.value.line == 59


def test_two_situations_whose_names_durable_rules_hashes_alike_are_refused_at_load(tmp_path: Path) -> None:
    """From the second attacker pass: durable-rules finds a fact's field by the 32-bit FNV-1a hash of its name
    alone, and 'situation__zwlf' hashes like 'situation__2qdh': a rule on one read the other (wrong advice)."""
    from negotiation_rules._engine import id_hash

    assert id_hash("situation__zwlf") == id_hash("situation__2qdh")
    source = "sources: [{document: d.txt, section: s}]"
    (tmp_path / "collide.yaml").write_text(
        "situations:\n"
        "  - id: zwlf\n    when: {phase: opening}\n"
        "  - id: 2qdh\n    when: {phase: bargaining}\n"
        "rules:\n"
        f"  - id: gen.on_a\n    tactic: gen.t\n    move: m\n    rationale: r\n    when: {{situation.zwlf: true}}\n"
        f"    {source}\n"
        f"  - id: gen.on_b\n    tactic: gen.u\n    move: m\n    rationale: r\n    when: {{situation.2qdh: true}}\n"
        f"    {source}\n"
    )
    with pytest.raises(RulesetError) as info:
        load_ruleset(tmp_path / "collide.yaml")
    assert info.value.code == "engine-limit" and info.value.kind == "situation"
    assert info.value.rule_id in {"zwlf", "2qdh"} and info.value.line in {2, 4}
    assert "32-bit hash" in str(info.value)
