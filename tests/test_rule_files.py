"""Rule files: safe loading, validation against the state model, errors with file, line and rule id."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from negotiation_rules import Ruleset, RulesetError, advise, load_ruleset
from negotiation_rules._catalog import CATALOG
from negotiation_rules._conditions import All, AnyOf, Count, Test

from .conftest import rule_yaml

Make = Callable[..., Ruleset]


def error_of(ruleset_from: Make, **files: str) -> RulesetError:
    with pytest.raises(RulesetError) as info:
        ruleset_from(**files)
    return info.value


def test_the_example_of_the_rule_format_loads(ruleset_from: Make) -> None:
    text = """
ruleset: imaginary-authority
rules:
  - id: authority.provoke.experienced
    tactic: authority.provoke
    move: Test whether their superior really follows their advice
    rationale: >-
      They claim a superior must approve ({counterpart.authority_claims} times), and an experienced
      negotiator dislikes admitting a weak position.
    when:
      phase: [bargaining, closing]
      counterpart.authority: claimed_higher
      counterpart.experience: experienced
    unless:
      all:
        - trust: low
        - relationship: long_term
    unless_reason: Face-threatening with a long-term partner we do not trust.
    weight: 0.7
    cautions:
      - Keep it light; the aim is to let them save face by deciding.
    sources:
      - document: 000_b924a11848c92eba.txt
        section: Facing experienced opponents
"""
    rs = ruleset_from(a=text)
    (rule,) = rs.rules
    assert rule.tactic == "authority.provoke" and rule.weight == 0.7 and rule.line == 4
    assert rule.ruleset == "imaginary-authority"
    state = {"phase": "closing", "counterpart": {"authority": "claimed_higher", "experience": "experienced"}}
    rec = advise(state, ruleset=rs).recommendations[0]
    assert rec.rationale.startswith("They claim a superior must approve (0 times)")
    blocked = advise({**state, "trust": "low", "relationship": "long_term"}, ruleset=rs)
    assert blocked.recommendations == []
    assert blocked.set_aside[0].reason == "Face-threatening with a long-term partner we do not trust."


def test_conditions_parse_into_all_any_and_count(ruleset_from: Make) -> None:
    rs = ruleset_from(
        a=rule_yaml(
            when="any:\n  - phase: opening\n  - alternatives: {gte: 2, lt: 5}\n"
            "history: {count: {where: {kind: authority_claimed, by: them}, gte: 2}}"
        )
    )
    when = rs.rules[0].when
    assert isinstance(when, All)
    anyof, count = when.items
    assert isinstance(anyof, AnyOf) and isinstance(count, Count)
    assert anyof.items[0] == Test("phase", "eq", "opening", anyof.items[0].line)
    assert count.op == "gte" and count.value == 2


@pytest.mark.parametrize(
    ("when", "line", "words"),
    [
        (
            "counterpart.authorty: full",
            9,
            "unknown path 'counterpart.authorty' (did you mean 'counterpart.authority'?)",
        ),
        ("phase: bargainig", 9, "'bargainig' is not a value of 'phase'"),
        ("alternatives: {gtee: 1}", 9, "unknown operator 'gtee' (did you mean 'gte'?)"),
        ("trust: {gt: low}", 9, "'gt' compares numbers"),
        ("deadlock: yes please", 9, "true or false"),
        ("alternatives: two", 9, "takes a whole number"),
        ("alternatives: 2.5", 9, "'alternatives' takes a whole number, got 2.5"),
        ("phase: []", 9, "non-empty list"),
        ("any: []", 9, "non-empty list"),
        ("history: offer", 9, "is a list"),
        ("history: {count: {where: {knd: offer}, gte: 1}}", 9, "unknown path 'knd' (did you mean 'kind'?)"),
        ("history: {count: {gte: -1}}", 9, "whole number"),
        ("situation.leverage: true", 9, "unknown situation 'leverage'"),
    ],
)
def test_a_bad_condition_names_file_line_and_rule(ruleset_from: Make, when: str, line: int, words: str) -> None:
    err = error_of(ruleset_from, bad=rule_yaml(id="custom.bad", when=when))
    assert err.rule_id == "custom.bad"
    assert err.file is not None and err.file.endswith("bad.yaml")
    assert err.line == line
    assert words in str(err)
    assert str(err).startswith(f"{err.file}:{line}: rule 'custom.bad':")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            rule_yaml().replace(
                "    sources:\n      - document: 000_b924a11848c92eba.txt\n        section: Opening confirmation\n", ""
            ),
            "missing 'sources'",
        ),
        (rule_yaml().replace("section: Opening confirmation", "chapter: x"), "unknown source key 'chapter'"),
        (rule_yaml().replace("weight: 0.5", "weight: 1.5"), "'weight' is a number in [0, 1]"),
        (rule_yaml().replace("move: Do the thing", "mvoe: Do the thing"), "unknown key 'mvoe' (did you mean 'move'?)"),
        (
            rule_yaml().replace("Because it fits now.", "They have {alternative} options."),
            "did you mean 'alternatives'",
        ),
        (rule_yaml().replace("tactic: custom.move", "tactic: Custom Move"), "'tactic' is an id"),
        (rule_yaml() + "    unless: {trust: low}\n", "needs an 'unless_reason'"),
        ("rules: [1, 2]", "each entry of 'rules' is a mapping"),
        ("rulez: []", "unknown top-level key 'rulez' (did you mean 'rules'?)"),
        ("", "file is empty"),
        ("rules:\n  - id: a\n    id: b\n", "duplicate key 'id'"),
        ("rules: [\n", "invalid YAML"),
    ],
)
def test_a_bad_rule_file_is_a_ruleset_error(ruleset_from: Make, text: str, words: str) -> None:
    err = error_of(ruleset_from, bad=text)
    assert words in str(err)
    assert err.file is not None and err.file.endswith("bad.yaml")


def test_duplicate_rule_ids_across_files_name_both_places(ruleset_from: Make) -> None:
    err = error_of(ruleset_from, a=rule_yaml(id="same.id"), b=rule_yaml(id="same.id"))
    assert err.rule_id == "same.id" and err.file is not None and err.file.endswith("b.yaml")
    assert "a.yaml:4" in str(err)


def test_situations_build_on_each_other_but_not_in_a_cycle(ruleset_from: Make) -> None:
    text = """
situations:
  - id: one
    when: {situation.two: true}
  - id: two
    when: {situation.one: true}
"""
    err = error_of(ruleset_from, sits=text)
    assert "cycle: one -> two -> one" in str(err)


def test_situations_are_shared_by_every_file_loaded_together(ruleset_from: Make) -> None:
    sits = (
        "situations:\n  - id: stuck\n    when: {deadlock: true}\n  - id: stuck_with_options\n"
        "    when: {situation.stuck: true, alternatives: {gte: 1}}\n"
    )
    rs = ruleset_from(sits=sits, rules=rule_yaml(when="situation.stuck_with_options: true"))
    assert [s.level for s in rs.situations] == [0, 1]
    assert advise({"deadlock": True, "alternatives": 1}, ruleset=rs).tactics == ["custom.move"]
    assert advise({"deadlock": True}, ruleset=rs).tactics == []


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['echo pwned > {marker}']",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
    ],
)
def test_a_rule_file_cannot_run_code(ruleset_from: Make, tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "marker"
    text = f"rules:\n  - id: x\n    tactic: a.b\n    move: {payload.format(marker=marker)}\n"
    with pytest.raises(RulesetError):
        ruleset_from(evil=text)
    assert not marker.exists()


def test_yaml_aliases_are_refused_so_a_billion_laughs_cannot_expand(ruleset_from: Make) -> None:
    text = "a: &a [x, x]\nb: &b [*a, *a]\nrules: [*b]\n"
    err = error_of(ruleset_from, laughs=text)
    assert "aliases" in str(err) and err.line == 2


def test_deep_nesting_is_refused_with_a_line(ruleset_from: Make) -> None:
    deep = "phase: opening"
    for _ in range(60):
        deep = "not: {" + deep + "}"
    err = error_of(ruleset_from, deep=rule_yaml(when=deep))
    assert "nested deeper" in str(err)


def test_a_folder_loads_every_rule_file_but_not_scenarios_or_subfolders(write_rules: Callable[..., Path]) -> None:
    folder = write_rules(a=rule_yaml(id="a.one"), b=rule_yaml(id="b.one"))
    (folder / "x.scenarios.yaml").write_text("not: [a, rule, file", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "c.yaml").write_text(rule_yaml(id="c.one"), encoding="utf-8")
    assert [r.id for r in load_ruleset(folder)] == ["a.one", "b.one"]
    assert [r.id for r in load_ruleset([folder / "a.yaml", folder / "sub"])] == ["a.one", "c.one"]


def test_a_link_out_of_the_ruleset_folder_is_not_followed_silently(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(rule_yaml(), encoding="utf-8")
    folder = tmp_path / "rules"
    folder.mkdir()
    os.symlink(outside, folder / "linked.yaml")
    with pytest.raises(RulesetError, match="outside the ruleset folder"):
        load_ruleset(folder)


def test_missing_paths_and_empty_folders_are_errors(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="no such file"):
        load_ruleset(tmp_path / "nope")
    with pytest.raises(RulesetError, match="no rule files"):
        load_ruleset(tmp_path)


def test_the_built_in_rulesets_cover_every_tactic_of_the_catalog(builtin: Ruleset) -> None:
    assert set(builtin.tactics) == set(CATALOG)
    assert len(builtin.rules) >= len(CATALOG)
    for rule in builtin.rules:
        assert rule.sources and rule.rationale and rule.move
        assert rule.sources[0].document in CATALOG[rule.tactic].documents, rule.id
        if rule.family == "pressure":
            assert any("profitable" in c for c in rule.cautions), rule.id


def test_every_never_when_of_the_catalog_is_encoded(builtin: Ruleset) -> None:
    for tactic in CATALOG.values():
        if tactic.never:
            assert any(r.unless is not None for r in builtin.rules_for(tactic.id)), tactic.id


def test_a_path_the_system_cannot_open_is_a_ruleset_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="cannot read"):
        load_ruleset(tmp_path / ("x" * 5000))
