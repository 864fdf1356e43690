"""Resource bounds: huge or hostile inputs are refused with a clear error, or handled within a stated bound; nothing
hangs. Anything that could hang runs in a subprocess (or a thread) under a generous timeout: a hang guard, never a
performance assertion.

The bounds, as documented in docs/performance.md:

- a state: at most 10,000 history events and 1,000 issues, texts of at most 2,000 characters, JSON text of at
  most 5 MB (so a 10 MB history passed as objects is advised, and as JSON text is refused);
- a rule file: at most 1,000,000 bytes, YAML nested at most 40 levels, no aliases or tags;
- a condition: at most 256 alternatives and 28 tests per alternative once any/not are expanded, and at most 399
  values in its ``in`` lists together (durable-rules hangs in create_ruleset when one node gets 512 children);
- a ruleset folder: at most 500 rule files, none of them a link leading out of the folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from negotiation_rules import NegotiationState, Ruleset, RulesetError, StateError, advise, load_ruleset
from negotiation_rules._explain import python_firing
from negotiation_rules._pipeline import facts_for, fire
from negotiation_rules._state import MAX_HISTORY, MAX_INPUT_BYTES, MAX_ISSUES, MAX_TEXT

from .conftest import rule_yaml

GUARD = 120  # seconds before a run counts as hung


def within(seconds: float, work: Callable[[], Any]) -> Any:
    """Run ``work`` in a daemon thread; fail (instead of hanging the suite) if it has not finished in time."""
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["value"] = work()
        except BaseException as exc:  # handed to the caller below
            out["error"] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def isolated(code: str) -> str:
    """Run Python ``code`` in a fresh interpreter under the hang guard; its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _events(count: int, note: int) -> list[dict[str, Any]]:
    kinds = ["offer", "concession", "authority_claimed", "deadlock", "note"]
    return [
        {"kind": kinds[i % 5], "by": "them" if i % 3 else "us", "value": float(i % 23), "note": "n" * note}
        for i in range(count)
    ]


# -- states ----------------------------------------------------------------------------------------


def test_a_ten_megabyte_history_is_advised_and_counted_in_full() -> None:
    history = _events(MAX_HISTORY, note=1_000)
    assert len(json.dumps(history)) > 10_000_000
    advice = within(GUARD, lambda: advise({"phase": "bargaining", "history": history}))
    claims = sum(1 for e in history if e["kind"] == "authority_claimed" and e["by"] == "them")
    assert f"{claims} times" in advice.get("authority.tit_for_tat").rationale


def test_the_same_history_as_json_text_is_refused_by_size_before_parsing() -> None:
    text = json.dumps({"history": _events(MAX_HISTORY, note=1_000)})
    with pytest.raises(StateError, match=f"larger than {MAX_INPUT_BYTES} bytes"):
        advise(text)


def test_a_history_of_ten_thousand_concessions_keeps_the_trend_joins_bounded() -> None:
    """The trend rules join concession events; only the latest 20 per side go into durable-rules."""
    history = [
        {"kind": "concession", "by": "us" if i % 2 else "them", "value": 100.0 - i / 100} for i in range(MAX_HISTORY)
    ]
    advice = within(GUARD, lambda: advise({"phase": "bargaining", "history": history}))
    assert "pressure.read_their_limit" in advice.tactics


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"issues": [{"name": "x"}] * (MAX_ISSUES + 1)}, "issues"),
        ({"history": [{"kind": "offer", "by": "us", "note": "n" * (MAX_TEXT + 1)}]}, "history[0].note"),
        ({"history": [{"kind": "k" * 101, "by": "us"}]}, "history[0].kind"),
        ({"alternatives": 10**7}, "alternatives"),
        ({"counterpart": {"authority_claims": 10**7}}, "counterpart.authority_claims"),
    ],
)
def test_each_part_of_a_state_has_a_bound_that_names_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(StateError) as info:
        advise(data)
    assert info.value.path == path


def test_deeply_nested_input_is_a_state_error_not_a_recursion_error() -> None:
    nested: dict[str, Any] = {}
    node = nested
    for _ in range(50_000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(StateError):
        advise({"counterpart": nested})
    with pytest.raises(StateError):
        advise('{"history": ' + "[" * 50_000 + "]" * 50_000 + "}")


# -- rule files -----------------------------------------------------------------------------------


def test_a_rule_file_over_one_megabyte_is_refused_by_size(tmp_path: Path) -> None:
    text = rule_yaml() + "# " + "x" * 1_000_000 + "\n"
    (tmp_path / "big.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesetError, match="larger than 1000000 bytes"):
        load_ruleset(tmp_path)
    with pytest.raises(RulesetError, match="larger than 1000000 bytes"):
        Ruleset.from_text(text, file="big.yaml")


def test_a_rule_file_just_under_one_megabyte_loads_within_the_guard(tmp_path: Path) -> None:
    rows = []
    for i in range(300):
        rows.append(
            f"  - {{id: big.r{i}, tactic: big.t{i % 40}, move: {'m' * 1500}, rationale: {'r' * 1500},"
            f" when: {{phase: bargaining, alternatives: {{gte: {i % 7}}}}}, sources: [{{document: d, section: s}}]}}"
        )
    text = "rules:\n" + "\n".join(rows) + "\n"
    assert 900_000 < len(text.encode()) < 1_000_000
    (tmp_path / "big.yaml").write_text(text, encoding="utf-8")
    rules = within(GUARD, lambda: load_ruleset(tmp_path))
    assert len(rules.rules) == 300
    assert len(advise({"phase": "bargaining", "alternatives": 6}, ruleset=rules).recommendations) == 40


def test_a_yaml_document_nested_ten_thousand_deep_is_a_ruleset_error() -> None:
    for text in ("rules: " + "[" * 10_000 + "]" * 10_000, "rules:\n" + "".join("  " * i + "- \n" for i in range(500))):
        with pytest.raises(RulesetError, match="nested"):
            Ruleset.from_text(text, file="deep.yaml")


def _in_list(values: int, rules: int = 1) -> str:
    rows = [
        f"  - {{id: wide.r{r}, tactic: wide.t{r}, move: m, rationale: r, sources: [{{document: d, section: s}}],"
        f" when: {{alternatives: [{', '.join(str(r * values + v) for v in range(values))}]}}}}"
        for r in range(rules)
    ]
    return "rules:\n" + "\n".join(rows)


def test_an_in_list_durable_rules_would_hang_on_is_refused_at_load_naming_the_rule() -> None:
    """durable-rules loops forever creating a ruleset once one alpha node has 512 children."""
    out = isolated(
        f"""
        from negotiation_rules import Ruleset, RulesetError
        try:
            Ruleset.from_text({_in_list(600)!r}, file="wide.yaml")
        except RulesetError as exc:
            print(exc.rule_id, "|", exc)
        """
    )
    assert out.startswith("wide.r0 | wide.yaml:2: rule 'wide.r0': its 'in' lists hold 600 values")


def test_many_rules_with_in_lists_are_spread_over_shards_so_no_node_gets_512_children() -> None:
    out = isolated(
        f"""
        from negotiation_rules import Ruleset, advise
        rules = Ruleset.from_text({_in_list(20, rules=60)!r}, file="wide.yaml")
        print(advise({{"alternatives": 1001}}, ruleset=rules).tactics)
        print(advise({{"alternatives": 5}}, ruleset=rules).tactics)
        """
    )
    assert out.split() == ["['wide.t50']", "['wide.t0']"]


def test_hundreds_of_situations_stay_under_durable_rules_property_limit() -> None:
    """A fact holds at most 255 properties in durable-rules; each shard's stage fact carries only what it reads."""
    situations = "\n".join(f"  - {{id: s{i}, when: {{alternatives: {{gte: {i}}}}}}}" for i in range(300))
    rule = "  - {id: many.r, tactic: many.t, move: m, rationale: r, sources: [{document: d, section: s}], "
    text = f"situations:\n{situations}\nrules:\n{rule}when: {{situation.s250: true, situation.s299: false}}}}"
    rules = Ruleset.from_text(text, file="many.yaml")
    assert advise({"alternatives": 260}, ruleset=rules).tactics == ["many.t"]
    assert advise({"alternatives": 300}, ruleset=rules).tactics == []
    state = NegotiationState(alternatives=270)
    assert fire(state, rules)[1] == python_firing(rules, facts_for(state, rules)[1])


# -- ruleset paths --------------------------------------------------------------------------------


def test_links_leading_out_of_the_folder_are_never_followed_silently(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.yaml").write_text(rule_yaml(id="evil.rule", tactic="evil.move"), encoding="utf-8")
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ok.yaml").write_text(rule_yaml(id="ok.rule"), encoding="utf-8")
    os.symlink(outside, folder / "dir.yaml")  # a folder named like a rule file: not read
    assert [r.id for r in load_ruleset(folder)] == ["ok.rule"]
    os.symlink(Path("..") / "outside" / "evil.yaml", folder / "relative.yaml")  # '..' in the link
    with pytest.raises(RulesetError, match="outside the ruleset folder"):
        load_ruleset(folder)


def test_a_link_that_stays_inside_the_folder_is_fine(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.yaml").write_text(rule_yaml(id="a.rule"), encoding="utf-8")
    os.symlink(Path("sub") / "a.yaml", folder / "a.yaml")
    assert [r.id for r in load_ruleset(folder)] == ["a.rule"]


def test_a_dotdot_path_is_resolved_before_the_folder_check(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (tmp_path / "evil.yaml").write_text(rule_yaml(id="evil.rule"), encoding="utf-8")
    os.symlink(folder / ".." / "evil.yaml", folder / "x.yaml")
    with pytest.raises(RulesetError, match="outside the ruleset folder"):
        load_ruleset(folder / ".." / "rules")
