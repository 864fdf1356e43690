"""Fuzzing: whatever a caller sends as a state, and whatever a rule file holds, the library answers with advice or
with StateError / RulesetError, never another exception; and the very next valid call still gets the right answer.

Example counts are bounded so the whole file runs in well under a minute (CI runs it on every push).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from negotiation_rules import Advice, NegotiationState, Ruleset, RulesetError, StateError, advise
from negotiation_rules._examples import EXAMPLES
from negotiation_rules._explain import python_firing
from negotiation_rules._fields import state_fields
from negotiation_rules._pipeline import facts_for, fire
from negotiation_rules.testing.strategies import states

from .conftest import rule_yaml

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KNOWN = EXAMPLES["imaginary_authority"][1]
EXPECTED = advise(KNOWN)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
#: Words that mean something in a state or a rule file, so mutations hit real fields and operators.
words = st.sampled_from(
    [
        *NegotiationState.model_fields,
        "authority",
        "authority_claims",
        "kind",
        "by",
        "value",
        "note",
        "name",
        "our_target",
        "concession",
        "authority_claimed",
        "deadlock",
        "them",
        "us",
        "id",
        "tactic",
        "when",
        "unless",
        "unless_reason",
        "weight",
        "sources",
        "all",
        "any",
        "not",
        "in",
        "not_in",
        "gte",
        "lt",
        "eq",
        "exists",
        "count",
        "where",
        "situation.low_trust",
        "trend.concessions_unanswered",
        "{phase}",
    ]
)


def _containers(node: Any) -> list[Any]:
    """Every dict and list inside ``node``, ``node`` first."""
    if not isinstance(node, (dict, list)):
        return []
    children = node.values() if isinstance(node, dict) else node
    return [node, *(c for child in children for c in _containers(child))]


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` (JSON-like) with a few random edits: a key set, replaced or deleted, an item changed or added."""
    value = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        containers = _containers(value)
        if not containers:
            return draw(json_values)
        node = draw(st.sampled_from(containers))
        new = draw(json_values | words)
        if isinstance(node, dict):
            key = draw(st.sampled_from(sorted(node)) | words) if node else draw(words)
            if node and draw(st.booleans()) and key in node:
                del node[key]
            else:
                node[key] = new
        elif node and draw(st.booleans()):
            node[draw(st.integers(0, len(node) - 1))] = new
        else:
            node.append(new)
    return value


state_dumps = states().map(lambda s: s.model_dump(mode="json"))
state_inputs = (
    json_values
    | state_dumps.flatmap(mutated)
    | state_dumps.flatmap(mutated).map(lambda v: json.dumps(v))
    | st.text(max_size=200)
    | st.binary(max_size=200)
)


@FUZZ
@given(state_inputs, st.none() | st.integers(0, 3))
def test_any_state_input_gives_advice_or_a_state_error_and_the_next_call_is_right(value: Any, top: int | None) -> None:
    try:
        result = advise(value, top=top)
    except StateError as exc:
        assert str(exc) and isinstance(exc, ValueError)
        event("refused")
    else:
        event("advised")
        assert isinstance(result, Advice)
        assert len(result.tactics) == len(set(result.tactics))
    assert advise(KNOWN) == EXPECTED


# -- rule files -----------------------------------------------------------------------------------

VALID_RULE: dict[str, Any] = yaml.safe_load(
    rule_yaml(
        id="fuzz.rule",
        tactic="fuzz.move",
        when="phase: [bargaining, closing]\nalternatives: {gte: 1}\n"
        "history: {count: {where: {kind: deadlock}, gte: 1}}",
    )
)
VALID_RULE["rules"][0]["unless"] = {"any": [{"trust": "low"}, {"not": {"counterpart.authority": "full"}}]}
VALID_RULE["rules"][0]["unless_reason"] = "Not with them."
VALID_RULE["situations"] = [{"id": "stuck", "when": {"deadlock": True}}]
VALID_RULE["rules"].append(
    {
        "id": "fuzz.second",
        "tactic": "fuzz.other",
        "move": "m",
        "rationale": "r {alternatives}",
        "when": {"situation.stuck": True, "trust": {"not_in": ["low"]}},
        "sources": [{"document": "d.txt", "section": "s"}],
    }
)


def _printable(text: str) -> bool:
    """YAML forbids most control characters; such a file raises PyYAML's ReaderError before load_yaml's own
    error handling starts (see test_control_characters_in_a_rule_file_are_a_ruleset_error below)."""
    return not yaml.reader.Reader.NON_PRINTABLE.search(text)


FIELDS = {path: spec for path, spec in state_fields().items() if spec.kind != "list"}


def _leaf(path: str) -> st.SearchStrategy[Any]:
    """A valid test on one state path: ``path: value`` or ``path: {op: value}``."""
    spec = FIELDS[path]
    if spec.kind == "enum":
        value: st.SearchStrategy[Any] = st.sampled_from(spec.choices)
        ops = st.sampled_from(["eq", "ne", "in", "not_in"])
        many = st.lists(value, min_size=1, max_size=4, unique=True)
        return ops.flatmap(lambda op: (many if op in ("in", "not_in") else value).map(lambda v: {path: {op: v}}))
    if spec.kind == "bool":
        return st.booleans().map(lambda v: {path: v})
    number = st.integers(0, 6)
    op = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"])
    return st.tuples(op, number).map(lambda t: {path: {t[0]: t[1]}})


leaves = (
    st.sampled_from(sorted(FIELDS)).flatmap(_leaf)
    | st.booleans().map(lambda v: {"situation.stuck": v})
    | st.booleans().map(lambda v: {"trend.concessions_unanswered": v})
    | st.integers(0, 3).map(lambda n: {"history": {"count": {"where": {"kind": "deadlock"}, "gte": n}}})
)
conditions = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs})
        | st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs})
        | inner.map(lambda x: {"not": x})
    ),
    max_leaves=8,
)


@st.composite
def rule_files(draw: st.DrawFn) -> dict[str, Any]:
    """A valid rule file: a situation and one to six rules with random conditions (some with unless)."""
    rules = []
    for i in range(draw(st.integers(1, 6))):
        rule: dict[str, Any] = {
            "id": f"gen.r{i}",
            "tactic": f"gen.t{draw(st.integers(0, 3))}",
            "move": "m",
            "rationale": "r {phase}",
            "weight": draw(st.sampled_from([0.1, 0.5, 1])),
            "when": draw(conditions),
            "sources": [{"document": "d.txt", "section": "s"}],
        }
        if draw(st.booleans()):
            rule["unless"], rule["unless_reason"] = draw(conditions), "no"
        rules.append(rule)
    return {
        "situations": [{"id": "stuck", "when": draw(conditions.filter(lambda c: "situation.stuck" not in str(c)))}],
        "rules": rules,
    }


rule_texts = (
    rule_files().flatmap(mutated).map(json.dumps)
    | st.text(max_size=300).filter(_printable)
    | json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)).filter(_printable)
    | st.just(VALID_RULE).flatmap(mutated).map(lambda v: yaml.safe_dump(v, allow_unicode=True)).filter(_printable)
    | st.just(VALID_RULE).flatmap(mutated).map(json.dumps)  # JSON is YAML too (flow style)
)


@pytest.mark.parametrize("text", ["\x08", "rules: [\x00]", "id: \x1b[31m"])
def test_control_characters_in_a_rule_file_are_a_ruleset_error(text: str) -> None:
    with pytest.raises(RulesetError):
        Ruleset.from_text(text, file="control.yaml")


def _agrees(rules: Ruleset, state: NegotiationState) -> None:
    """A ruleset that loaded runs in durable-rules exactly as its conditions say."""
    _, firing = fire(state, rules)
    assert firing == python_firing(rules, facts_for(state, rules)[1])


@FEW
@given(rule_texts, states())
def test_any_rule_file_loads_or_is_a_ruleset_error_and_what_loads_runs_as_written(
    text: str, state: NegotiationState
) -> None:
    try:
        rules = Ruleset.from_text(text, file="fuzz.yaml")
    except RulesetError as exc:
        assert str(exc).startswith("fuzz.yaml")
        event("refused")
    else:
        event("loaded")
        _agrees(rules, state)
        assert isinstance(advise(state, ruleset=rules), Advice)
    assert advise(KNOWN) == EXPECTED


@FEW
@given(rule_files(), st.lists(states(), min_size=1, max_size=4))
def test_any_valid_rule_file_runs_in_durable_rules_exactly_as_its_conditions_say(
    data: dict[str, Any], batch: list[NegotiationState]
) -> None:
    """Random conditions exercise the compiler's paths (DNF, test order, guards, widths) against plain Python."""
    rules = Ruleset.from_text(json.dumps(data), file="generated.yaml")
    for state in batch:
        _agrees(rules, state)


@FEW
@given(st.lists(st.sampled_from(["all", "any", "not"]), min_size=1, max_size=45), states())
def test_nested_conditions_load_up_to_the_depth_bound_and_then_are_refused(
    nesting: list[str], state: NegotiationState
) -> None:
    cond: Any = {"phase": "bargaining"}
    for kind in nesting:
        cond = {kind: cond} if kind == "not" else {kind: [cond, {"trust": "low"}]}
    text = yaml.safe_dump({"rules": [{**VALID_RULE["rules"][1], "when": cond}]})
    try:
        rules = Ruleset.from_text(text, file="deep.yaml")
    except RulesetError as exc:
        assert "nested deeper" in str(exc) or "alternatives" in str(exc), str(exc)
        event("refused")
    else:
        event("loaded")
        _agrees(rules, state)


TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!binary aGVsbG8=",
    "!!set {{a: null}}",
    "!!timestamp 2001-12-14t21:59:43.10-05:00",
    "&anchor [1, 2]",
]


@FEW
@given(st.sampled_from(TAGS), st.sampled_from(["id", "tactic", "move", "rationale", "when", "weight", "sources"]))
def test_no_tag_anywhere_in_a_rule_file_runs_code(tmp_path_factory: Any, tag: str, key: str) -> None:
    marker = Path(tmp_path_factory.mktemp("tags")) / "marker"
    rule = {**VALID_RULE["rules"][1], key: "TAG_GOES_HERE"}
    text = yaml.safe_dump({"rules": [rule]}).replace("TAG_GOES_HERE", tag.format(marker=marker))
    with contextlib.suppress(RulesetError):
        Ruleset.from_text(text, file="tagged.yaml")
    assert not marker.exists()
    assert advise(KNOWN) == EXPECTED
