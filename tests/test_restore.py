"""Issue 9, findings 3 and 4: restoring a saved negotiation reads only files the caller allowed, never echoes
their content, raises only the library's errors, and does not reload rule files it already loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from negotiation_rules import Negotiation, NegotiationRulesError, RulesetError, StateError
from negotiation_rules._ruleset import load_ruleset

RULES = (
    "rules:\n  - {id: c.one, tactic: c.one, move: m, rationale: r, when: {deadlock: true},"
    " sources: [{document: d, section: s}]}\n"
)


def saved(**changes: Any) -> str:
    data: dict[str, Any] = {
        "format": "negotiation-rules/session",
        "version": 1,
        "state": {"deadlock": True},
        "ruleset": {"kind": "builtin"},
        "playbook": None,
    }
    data.update(changes)
    return json.dumps(data)


def rule_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "house.yaml").write_text(RULES, encoding="utf-8")
    return folder


def test_a_saved_negotiation_cannot_make_the_restore_read_any_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the-first-line-of-a-secret\n", encoding="utf-8")
    text = saved(ruleset={"kind": "files", "files": [str(secret)]})
    with pytest.raises(StateError, match="rule_folders") as caught:
        Negotiation.from_json(text)
    assert "the-first-line-of-a-secret" not in str(caught.value)
    with pytest.raises(StateError, match="outside") as caught:
        Negotiation.from_json(text, rule_folders=[rule_folder(tmp_path)])
    assert "the-first-line-of-a-secret" not in str(caught.value)


def test_a_file_inside_the_allowed_folder_that_is_no_rule_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    folder = rule_folder(tmp_path)
    (folder / "config.yaml").write_text("database_password: hunter2-secret\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("rules: [\n  password: {hunter3-secret\n", encoding="utf-8")
    for name in ("config.yaml", "broken.yaml"):
        text = saved(ruleset={"kind": "files", "files": [str(folder / name)]})
        with pytest.raises(StateError) as caught:
            Negotiation.from_json(text, rule_folders=[folder])
        assert "secret" not in str(caught.value) and "password" not in str(caught.value)


def test_a_huge_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    folder = rule_folder(tmp_path)
    huge = folder / "huge.yaml"
    with huge.open("wb") as fh:
        fh.truncate(1_500_000_000)  # sparse: no disk used
    text = saved(ruleset={"kind": "files", "files": [str(huge)]})
    with pytest.raises(StateError, match="larger than"):
        Negotiation.from_json(text, rule_folders=[folder])
    with pytest.raises(RulesetError, match="larger than"):
        load_ruleset(huge)


def test_the_caller_can_supply_the_ruleset_instead_of_allowing_files(tmp_path: Path) -> None:
    folder = rule_folder(tmp_path)
    rules = load_ruleset(folder)
    text = saved(ruleset={"kind": "files", "files": ["/etc/passwd"]})
    assert Negotiation.from_json(text, ruleset=rules).advise().tactics == ["c.one"]


BAD = [
    {"ruleset": 5},
    {"ruleset": "files"},
    {"ruleset": {"kind": "files"}},
    {"ruleset": {"kind": "files", "files": "house.yaml"}},
    {"ruleset": {"kind": "files", "files": [1, 2]}},
    {"ruleset": {"kind": "files", "files": []}},
    {"ruleset": {"kind": "files", "files": ["x" * 5000]}},
    {"ruleset": {"kind": "files", "files": ["a\x00b"]}},
    {"ruleset": {"kind": "nonsense"}},
    {"playbook": 5},
    {"playbook": "relationship_first"},
    {"playbook": {"weights": {"pressure": "NaN"}}},
    {"playbook": {"weights": {"pressure": float("inf")}}},
    {"playbook": {"bogus": 1}},
    {"state": 5},
    {"state": {"phase": "nonsense"}},
    {"state": "x" * 100},
]


@pytest.mark.parametrize("changes", BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_malformed_saved_negotiation_is_only_ever_a_state_error(tmp_path: Path, changes: dict[str, Any]) -> None:
    with pytest.raises(StateError):
        Negotiation.from_json(saved(**changes), rule_folders=[rule_folder(tmp_path)])


@pytest.mark.parametrize("text", ["[" * 100_000, "", "null", '"x"', json.dumps({"format": 1})])
def test_malformed_json_is_a_state_error(text: str) -> None:
    with pytest.raises(StateError):
        Negotiation.from_json(text)


def test_any_other_error_is_one_of_the_library_errors(tmp_path: Path) -> None:
    with pytest.raises(NegotiationRulesError):
        Negotiation.from_json(saved(ruleset={"kind": "files", "files": ["rules/house.yaml"]}), rule_folders=["\x00"])


def test_a_negotiation_saved_with_relative_paths_restores_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = rule_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    with Negotiation({"deadlock": True}, ruleset="rules/house.yaml") as n:
        text = n.to_json()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    restored = Negotiation.from_json(text, rule_folders=[folder])
    assert restored.advise().tactics == ["c.one"]


def test_restoring_does_not_reload_rule_files_that_did_not_change(tmp_path: Path) -> None:
    """Finding 3: every restore reloaded and recompiled the files (about 100 ms and 2.5 MB each)."""
    folder = rule_folder(tmp_path)
    with Negotiation({"deadlock": True}, ruleset=load_ruleset(folder / "house.yaml")) as n:
        text = n.to_json()
    first = Negotiation.from_json(text, rule_folders=[folder])
    for _ in range(20):
        assert Negotiation.from_json(text, rule_folders=[folder]).ruleset is first.ruleset
    (folder / "house.yaml").write_text(RULES.replace("c.one", "c.two"), encoding="utf-8")
    changed = Negotiation.from_json(text, rule_folders=[folder])
    assert changed.ruleset is not first.ruleset
    assert changed.advise().tactics == ["c.two"]


def test_a_symlink_inside_the_allowed_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    folder = rule_folder(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text(RULES, encoding="utf-8")
    os.symlink(outside, folder / "link.yaml")
    text = saved(ruleset={"kind": "files", "files": [str(folder / "link.yaml")]})
    with pytest.raises(StateError, match="outside"):
        Negotiation.from_json(text, rule_folders=[folder])
