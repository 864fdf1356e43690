"""Shared fixtures: the built-in ruleset and a way to write small rule files in tests."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from negotiation_rules import Ruleset, load_ruleset
from negotiation_rules._ruleset import builtin_ruleset

RULE = """
ruleset: custom
rules:
  - id: {id}
    tactic: {tactic}
    move: Do the thing
    rationale: Because it fits now.
    when:
{when}
    weight: {weight}
    sources:
      - document: 000_b924a11848c92eba.txt
        section: Opening confirmation
"""


@pytest.fixture(scope="session")
def builtin() -> Ruleset:
    return builtin_ruleset()


def rule_yaml(
    id: str = "custom.rule", tactic: str = "custom.move", when: str = "phase: bargaining", weight: float = 0.5
) -> str:
    """One rule file's text; ``when`` is YAML for the condition block (unindented)."""
    block = "\n".join("      " + line for line in when.splitlines())
    return RULE.format(id=id, tactic=tactic, when=block, weight=weight)


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[..., Path]:
    """Write rule files into a temp folder: write_rules(name=text, ...) -> folder."""

    def write(**files: str) -> Path:
        for name, text in files.items():
            (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
        return tmp_path

    return write


@pytest.fixture
def ruleset_from(write_rules: Callable[..., Path]) -> Callable[..., Ruleset]:
    def make(**files: str) -> Ruleset:
        return load_ruleset(write_rules(**files))

    return make


def forked_answer(target: Callable[..., None], *args: Any) -> Any:
    """What ``target(queue, *args)`` puts on its queue in a forked child; the test fails if the child hangs or fails."""
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=target, args=(queue, *args))
    child.start()
    child.join(30)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked child hung")
    assert child.exitcode == 0
    return queue.get(timeout=5)
