"""The compiled evaluator (``engine="compiled"``) fires exactly what durable-rules fires, and is safe to generate.

The proof of equality is differential: on random states (with unknowns) and on random rulesets
(random conditions over the real fields and operators, chained situations, unless,
``unless_unknown: set_aside``) the compiled evaluator, durable-rules and the tree interpreter
conclude the same situations, matches, blocks and doubts; and ``advise(engine="compiled")``
equals ``advise()``.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation_rules import Negotiation, NegotiationState, StateError, advise
from negotiation_rules._advisor import facts_for
from negotiation_rules._batch import advise_many
from negotiation_rules._compiled import CHUNK, compiled_for, interpret
from negotiation_rules._conditions import Test
from negotiation_rules._engine import engine_for
from negotiation_rules._evaluator import ENGINES, evaluator_for
from negotiation_rules._fields import state_fields
from negotiation_rules._firing import Firing, subscribe
from negotiation_rules._model import Rule, Situation, SourceRef
from negotiation_rules._ruleset import Ruleset, builtin_ruleset
from negotiation_rules.testing import Advisor
from negotiation_rules.testing.strategies import states

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def all_three(rules: Ruleset, state: NegotiationState) -> tuple[Firing, Firing, Firing]:
    """What durable-rules, the compiled evaluator and the tree interpreter conclude for one state."""
    _, fact = facts_for(state, rules)
    return engine_for(rules).evaluate(fact), compiled_for(rules).evaluate(fact), interpret(rules, fact)


# -- equality on the built-in rules --------------------------------------------------------------


@FAST
@given(states())
def test_on_the_builtin_rules_the_compiled_evaluator_fires_what_durable_rules_fires(state: NegotiationState) -> None:
    durable, compiled, interpreted = all_three(builtin_ruleset(), state)
    assert compiled == durable
    assert interpreted == durable


@FEW
@given(states())
def test_advise_on_the_compiled_engine_equals_advise_on_durable_rules(state: NegotiationState) -> None:
    assert advise(state, engine="compiled") == advise(state)  # questions included: their answers too


def test_the_benchmark_states_fire_the_same_on_both_engines() -> None:
    """The differential check over benchmarks/workload.py's states (the examples and 240 seeded states)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from workload import flat_facts
        from workload import states as benchmark_states
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rules = builtin_ruleset()
    facts = flat_facts(rules, benchmark_states())
    assert len(facts) > 240
    assert compiled_for(rules).evaluate_many(facts) == engine_for(rules).evaluate_many(facts)
    assert [compiled_for(rules).evaluate(f) for f in facts] == [engine_for(rules).evaluate(f) for f in facts]


# -- equality on random rulesets -----------------------------------------------------------------

FIELDS = {path: spec for path, spec in state_fields().items() if spec.kind != "list"}


def _leaf(path: str) -> st.SearchStrategy[Any]:
    """A valid test on one state path, with every operator its kind allows (``unknown`` included)."""
    spec = FIELDS[path]
    if spec.kind == "enum":
        value: st.SearchStrategy[Any] = st.sampled_from(spec.choices)
        many = st.lists(value, min_size=1, max_size=4, unique=True)
        ops = st.sampled_from(["eq", "ne", "in", "not_in", "exists"])
        return ops.flatmap(
            lambda op: (st.booleans() if op == "exists" else many if op in ("in", "not_in") else value).map(
                lambda v: {path: {op: v}}
            )
        )
    if spec.kind == "bool":
        plain = st.booleans().map(lambda v: {path: v})
        odd = [{path: {"exists": True}}, {path: [True, False]}] + ([{path: "unknown"}] if spec.can_be_unknown else [])
        return plain | st.sampled_from(odd)
    op = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"])
    numbers = st.tuples(op, st.integers(0, 5)).map(lambda t: {path: {t[0]: t[1]}})
    if spec.can_be_unknown:
        numbers = numbers | st.just({path: "unknown"})
    return numbers | st.lists(st.integers(0, 4), min_size=2, max_size=3, unique=True).map(lambda v: {path: v})


def _conditions(situations: list[str]) -> st.SearchStrategy[Any]:
    """Random conditions over the real fields, ``situations``, a trend and a history count."""
    leaves = (
        st.sampled_from(sorted(FIELDS)).flatmap(_leaf)
        | st.booleans().map(lambda v: {"trend.concessions_unanswered": v})
        | st.integers(0, 3).map(lambda n: {"history": {"count": {"where": {"kind": "deadlock"}, "gte": n}}})
        | st.integers(0, 2).map(lambda n: {"issues": {"count": {"eq": n}}})
    )
    if situations:
        leaves = leaves | st.tuples(st.sampled_from(situations), st.booleans()).map(
            lambda t: {f"situation.{t[0]}": t[1]}
        )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs})
            | st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs})
            | inner.map(lambda x: {"not": x})
        ),
        max_leaves=6,
    )


@st.composite
def rulesets(draw: st.DrawFn) -> dict[str, Any]:
    """A valid rule file: a chain of situations (each may build on the earlier ones) and rules on them."""
    names: list[str] = []
    situations = []
    for i in range(draw(st.integers(0, 4))):
        situations.append({"id": f"s{i}", "when": draw(_conditions(names))})
        names.append(f"s{i}")
    rules = []
    for i in range(draw(st.integers(1, 6))):
        rule: dict[str, Any] = {
            "id": f"gen.r{i}",
            "tactic": f"gen.t{draw(st.integers(0, 3))}",
            "move": "m",
            "rationale": "r",
            "weight": 0.5,
            "when": draw(_conditions(names)),
            "sources": [{"document": "d.txt", "section": "s"}],
        }
        if draw(st.booleans()):
            rule["unless"], rule["unless_reason"] = draw(_conditions(names)), "no"
            if draw(st.booleans()):
                rule["unless_unknown"] = "set_aside"
        rules.append(rule)
    return {"situations": situations, "rules": rules} if situations else {"rules": rules}


@FEW
@given(rulesets(), st.lists(states(), min_size=1, max_size=4))
def test_on_random_rulesets_the_compiled_evaluator_fires_what_durable_rules_fires(
    data: dict[str, Any], batch: list[NegotiationState]
) -> None:
    rules = Ruleset.from_text(json.dumps(data), file="generated.yaml")
    for state in batch:
        durable, compiled, interpreted = all_three(rules, state)
        assert compiled == durable, json.dumps(data)
        assert interpreted == durable
    facts = [facts_for(state, rules)[1] for state in batch]
    assert compiled_for(rules).evaluate_many(facts) == engine_for(rules).evaluate_many(facts)


def test_a_rule_waiting_on_a_chain_of_situations_is_doubtful_exactly_as_in_durable_rules() -> None:
    """``unless_unknown: set_aside`` over a situation built on a situation: the shared expansion, once per call."""
    text = """
situations:
  - id: cold
    when: {trust: low}
  - id: colder
    when: {situation.cold: true, relationship: one_off}
rules:
  - id: gen.r
    tactic: gen.t
    move: m
    rationale: r
    when: {phase: bargaining}
    unless: {situation.colder: true}
    unless_reason: not now
    unless_unknown: set_aside
    sources: [{document: d.txt, section: s}]
"""
    rules = Ruleset.from_text(text, file="chain.yaml")
    cases = {
        "low, one_off": ({"trust": "low", "relationship": "one_off"}, {"blocked"}),
        "low, unknown": ({"trust": "low"}, {"doubtful"}),
        "unknown, unknown": ({}, {"doubtful"}),
        "high, unknown": ({"trust": "high"}, set()),
        "low, long_term": ({"trust": "low", "relationship": "long_term"}, set()),
    }
    for name, (fields, expected) in cases.items():
        state = NegotiationState(phase="bargaining", **fields)
        durable, compiled, _ = all_three(rules, state)
        assert compiled == durable, name
        found = {"blocked"} if "gen.r" in compiled.blocked else {"doubtful"} if "gen.r" in compiled.doubtful else set()
        assert found == expected, name


# -- the engine option everywhere --------------------------------------------------------------


@pytest.mark.parametrize("bad", ["Compiled", "rete", "", None, 1])
def test_an_unknown_engine_is_a_value_error_naming_the_choices(bad: Any) -> None:
    state = NegotiationState(phase="opening")
    for call in (
        lambda: advise(state, engine=bad),
        lambda: advise_many([state], engine=bad),
        lambda: Negotiation(state, engine=bad),
        lambda: Advisor(engine=bad),
        lambda: evaluator_for(builtin_ruleset(), bad),
    ):
        with pytest.raises(ValueError, match="'durable', 'compiled'"):
            call()
    assert ENGINES == ("durable", "compiled")


def test_advise_many_and_a_negotiation_give_the_same_advice_on_both_engines() -> None:
    batch = [NegotiationState(phase=p, trust=t) for p in ("opening", "bargaining", "closing") for t in ("low", "high")]
    assert advise_many(batch, engine="compiled") == advise_many(batch)
    assert advise_many(batch, engine="compiled", questions=2) == advise_many(batch, questions=2)
    fast, reference = Negotiation(batch[3], engine="compiled"), Negotiation(batch[3])
    for session in (fast, reference):
        session.record(kind="concession", by="us", issue="price", value=5.0)
        session.record(kind="authority_claimed", by="them")
    assert fast.advise() == reference.advise()
    restored = Negotiation.from_json(fast.to_json(), engine="compiled")
    assert restored.advise() == reference.advise()


def test_the_advisor_helpers_run_on_the_engine_they_were_given() -> None:
    state = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}
    assert Advisor(engine="compiled")(state) == Advisor()(state)
    Advisor(engine="compiled").assert_not_recommends({"phase": "preparation"}, "authority.provoke")


def test_a_bad_value_slipped_past_validation_is_the_same_state_error_on_both_engines() -> None:
    base = NegotiationState(phase="bargaining", alternatives=2)
    for update in ({"alternatives": 1.5}, {"trust": "bogus"}, {"alternatives": 2**60}, {"deadlock": 1}):
        state = base.model_copy(update=update)
        with pytest.raises(StateError) as durable:
            advise(state)
        with pytest.raises(StateError) as compiled:
            advise(state, engine="compiled")
        assert (compiled.value.path, compiled.value.reason) == (durable.value.path, durable.value.reason)
    odd = base.model_copy(update={"trust": None})  # accepted by both: the slow path agrees
    assert advise(odd, engine="compiled") == advise(odd)
    # the one difference: durable-rules reads a boolean slipped into a number field as 1; the compiled engine refuses it
    with pytest.raises(StateError, match="not a valid int") as refused:
        advise(base.model_copy(update={"alternatives": True}), engine="compiled")
    assert refused.value.path == "alternatives"


def test_rule_coverage_observers_are_told_by_the_compiled_engine_as_by_durable_rules() -> None:
    seen: list[tuple[Ruleset, Firing]] = []
    stop = subscribe(lambda ruleset, firing: seen.append((ruleset, firing)))
    try:
        state = NegotiationState(phase="opening", trust="low")
        advise(state, questions=3)
        advise(state, questions=3, engine="compiled")  # the questions' what-ifs are not reported
    finally:
        stop()
    assert len(seen) == 2
    assert seen[0] == seen[1]


def test_the_cli_advise_takes_engine_compiled(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"phase": "bargaining", "trust": "low"}), encoding="utf-8")
    run = [sys.executable, "-m", "negotiation_rules", "advise", str(path), "--json"]
    durable = subprocess.run(run, capture_output=True, text=True, check=True, cwd=ROOT)
    compiled = subprocess.run([*run, "--engine", "compiled"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert compiled.stdout == durable.stdout
    refused = subprocess.run([*run, "--engine", "fast"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "compiled" in refused.stderr


# -- generating the code safely ------------------------------------------------------------------

HOSTILE = ("__import__('os').system('echo pwned')", '"}); import os #', "'''\nimport os\n'''", "x\\')#")


def _hostile_ruleset() -> Ruleset:
    """Rules whose ids, situation ids and compared values are code, built directly (past the loader's checks)."""
    source = (SourceRef(document="d.txt", section="s"),)
    situations = [Situation(id=HOSTILE[1], description="", when=Test("phase", "in", HOSTILE[:2]), file="h", line=1)]
    rules = [
        Rule(
            id=text,
            tactic="gen.t",
            move="m",
            rationale="r",
            when=Test("phase", "eq", text),
            weight=0.5,
            sources=source,
            file="h",
            line=2,
            unless=Test(f"situation.{HOSTILE[1]}", "eq", True),
            unless_unknown="set_aside",
        )
        for text in HOSTILE
    ]
    return Ruleset(rules, situations, name="hostile")


def test_hostile_rule_values_and_ids_never_become_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> int:
        raise AssertionError("generated code ran a command")

    monkeypatch.setattr("os.system", refuse)
    rules = _hostile_ruleset()
    evaluator = compiled_for(rules)
    for source in evaluator.sources:
        for text in HOSTILE:
            assert text not in source
        assert "import" not in source.replace("__builtins__", "")
    for fact in ({"phase": "bargaining"}, {}):
        assert evaluator.conclude(fact) == interpret(rules, fact)
    assert evaluator.conclude({"phase": "bargaining"}) == Firing(frozenset(), frozenset(), frozenset())
    with pytest.raises(StateError):  # compared as text only: a phase no field allows is refused, as by the engine
        evaluator.conclude({"phase": HOSTILE[0]})


def test_hostile_text_a_rule_file_may_hold_stays_out_of_the_generated_source() -> None:
    """Free text a valid rule file can compare (an event's note in a count's where) is data, never source."""
    text = json.dumps(
        {
            "rules": [
                {
                    "id": "gen.r",
                    "tactic": "gen.t",
                    "move": "m",
                    "rationale": "r",
                    "when": {"history": {"count": {"where": {"note": HOSTILE[0]}, "gte": 1}}},
                    "sources": [{"document": "d.txt", "section": "s"}],
                }
            ]
        }
    )
    rules = Ruleset.from_text(text, file="hostile.yaml")
    assert not any(HOSTILE[0] in source for source in compiled_for(rules).sources)
    state = NegotiationState(history=[{"kind": "note", "by": "them", "note": HOSTILE[0]}])
    durable, compiled, _ = all_three(rules, state)
    assert compiled == durable and compiled.matched == {"gen.r"}


# -- caching and size ----------------------------------------------------------------------------


def test_the_compiled_evaluator_is_made_once_per_ruleset_and_dropped_with_it() -> None:
    rules = Ruleset.from_text(
        "rules:\n  - {id: gen.r, tactic: gen.t, move: m, rationale: r, when: {phase: opening},"
        " sources: [{document: d.txt, section: s}]}\n",
        file="once.yaml",
    )
    evaluator = compiled_for(rules)
    assert compiled_for(rules) is evaluator
    gone = weakref.ref(evaluator)
    del evaluator, rules
    gc.collect()
    assert gone() is None


def _many_rules(count: int) -> Ruleset:
    """``count`` rules over phases, trust and a situation, built directly (no durable-rules load)."""
    phases = ("preparation", "opening", "bargaining", "closing", "post_agreement")
    levels = ("low", "medium", "high")
    source = (SourceRef(document="d.txt", section="s"),)
    stuck = Situation(id="stuck", description="", when=Test("deadlock", "eq", True), file="m", line=1)
    rules = [
        Rule(
            id=f"gen.r{i}",
            tactic=f"gen.t{i % 60}",
            move="m",
            rationale="r",
            when=Test("phase", "eq", phases[i % 5]),
            weight=0.5,
            sources=source,
            file="m",
            line=i + 2,
            unless=Test("situation.stuck", "eq", True) if i % 7 == 0 else Test("trust", "eq", levels[i % 3]),
            unless_unknown="set_aside" if i % 2 else "recommend",
        )
        for i in range(count)
    ]
    return Ruleset(rules, [stuck], name=f"many-{count}")


def test_a_10000_rule_book_compiles_into_chunks_in_bounded_time_and_fires_as_interpreted() -> None:
    rules = _many_rules(10_000)
    start = time.perf_counter()
    evaluator = compiled_for(rules)
    took = time.perf_counter() - start
    assert len(evaluator.sources) > 10_000 // CHUNK  # split: no one function holds the whole book
    assert took < 60, f"compiling 10,000 rules took {took:.1f} s"
    for fact in ({"phase": "opening", "trust": "low"}, {"phase": "closing", "deadlock": True}, {}):
        assert evaluator.conclude(fact) == interpret(rules, fact)


# -- the pytest plugin -------------------------------------------------------------------------

SCENARIOS = """\
cases:
  - name: buyers waiting, we hold our posture
    state: {phase: bargaining, alternatives: 3}
    recommends: [pressure.strong_posture]
  - name: nothing to force in preparation
    state: {phase: preparation}
    not_recommends: [pressure.ultimatum]
"""


def test_the_pytest_plugin_runs_scenarios_and_the_advisor_fixture_on_the_engine_asked_for(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "rules.scenarios.yaml").write_text(SCENARIOS, encoding="utf-8")
    pytester.makepyfile(
        test_engine="""
        def test_the_advisor_uses_the_engine_of_the_command_line(advisor, pytestconfig):
            assert advisor.engine == pytestconfig.getoption("rules_engine")
            advisor.assert_recommends({"phase": "bargaining", "alternatives": 3}, "pressure.strong_posture")

        def test_scenarios_carry_the_engine(request):
            engines = {item.scenario.engine for item in request.session.items if hasattr(item, "scenario")}
            assert engines == {request.config.getoption("rules_engine")}
        """
    )
    for engine in ("compiled", "durable"):
        result = pytester.runpytest_subprocess("--rules-engine", engine, "-p", "no:cacheprovider")
        result.assert_outcomes(passed=4)
    refused = pytester.runpytest_subprocess("--rules-engine", "fast")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR


def test_threads_share_one_compiled_evaluator_and_get_the_sequential_answers() -> None:
    import threading

    rules = builtin_ruleset()
    batch = [NegotiationState(phase=p, trust=t) for p in ("opening", "bargaining", "closing") for t in ("low", "high")]
    facts = [facts_for(state, rules)[1] for state in batch] * 50
    expected = [compiled_for(rules).evaluate(f) for f in facts]
    results: list[list[Firing]] = []

    def work() -> None:
        results.append([compiled_for(rules).evaluate(f) for f in facts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_a_situation_whose_condition_is_also_a_shared_expansion_is_defined_before_it_is_read() -> None:
    """Regression (found by the random-ruleset property): a double negation makes the expansion of the
    situation the very object inside its own definition, and the generated code read that slot before
    assigning it (UnboundLocalError)."""
    text = """
situations:
  - id: s0
    when:
      not:
        not:
          deadlock: true
rules:
  - id: r.one
    tactic: r.one
    move: Do it.
    rationale: Because.
    when:
      issues: {count: {eq: 0}}
    unless:
      all:
        - situation.s0: true
    unless_reason: The talks may be stuck.
    unless_unknown: set_aside
    sources: [{document: d.txt, section: s}]
"""
    rules = Ruleset.from_text(text, file="shared.yaml")
    for deadlock in (None, True, False):
        state = NegotiationState() if deadlock is None else NegotiationState(deadlock=deadlock)
        durable, compiled, interpreted = all_three(rules, state)
        assert compiled == durable == interpreted
