"""Users' own rules on top of the built-in ones: one call for both, built-in situations by name, own tactics."""

from __future__ import annotations

from pathlib import Path

import pytest

from negotiation_rules import RulesetError, advise, lint, load_ruleset
from negotiation_rules._cli import main
from negotiation_rules._ruleset import builtin_ruleset

HOUSE = """\
ruleset: acme
tactics:
  - id: house.free-shipping
    move: Offer free shipping in exchange for a larger order.
    fits: Bargaining, the talks are stuck and the order is large.
    sources:
      - document: acme-sales-handbook.pdf
        section: Shipping
rules:
  - id: house.free-shipping.v2
    tactic: house.free-shipping
    move: Offer free shipping if they raise the order to a full pallet.
    rationale: The talks are stuck; shipping costs us little and unblocks them.
    when:
      situation.talks_stuck: true
      phase: bargaining
    weight: 0.95
    sources:
      - document: acme-sales-handbook.pdf
        section: Shipping
"""


@pytest.fixture
def house(tmp_path: Path) -> Path:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "house.yaml").write_text(HOUSE, encoding="utf-8")
    return folder


STUCK = {"phase": "bargaining", "deadlock": True}


def test_a_company_rule_file_names_a_built_in_situation_without_loading_the_built_in_rules(house: Path) -> None:
    own = load_ruleset(house)
    assert [r.id for r in own.rules] == ["house.free-shipping.v2"]
    assert {s.id for s in own.situations} == {"talks_stuck"}  # only what it names, with what that builds on
    assert advise(STUCK, ruleset=own, questions=0).tactics == ["house.free-shipping"]


def test_the_built_in_rules_plus_a_company_s_files_in_one_call(house: Path) -> None:
    both = load_ruleset(["builtin", house])
    assert len(both.rules) == len(builtin_ruleset().rules) + 1
    advice = advise(STUCK, ruleset=["builtin", house], questions=0)
    assert advice.tactics[0] == "house.free-shipping"
    assert "pressure.third_party" in advice.tactics  # the built-in moves are still there
    assert advise(STUCK, ruleset=["builtin", house], questions=0) == advice  # cached, the same


def test_a_declared_tactic_is_known_to_the_linter_and_the_cli(house: Path, capsys: pytest.CaptureFixture[str]) -> None:
    own = load_ruleset(house)
    assert own.declared["house.free-shipping"].move.startswith("Offer free shipping")
    assert [f for f in lint(house) if f.code == "unknown-tactic"] == []
    assert main(["advise", "-", "--ruleset", "builtin", "--ruleset", str(house), "--json", "--questions", "0"]) in (
        0,
        2,
    )


def test_a_declared_tactic_may_not_reuse_a_catalog_id_and_bad_ids_get_the_nearest_valid_spelling(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text(
        HOUSE.replace("house.free-shipping\n", "pressure.ultimatum\n", 1), encoding="utf-8"
    )
    with pytest.raises(RulesetError, match="already in the catalog"):
        load_ruleset(tmp_path / "a.yaml")
    (tmp_path / "a.yaml").write_text(HOUSE.replace("id: house.free-shipping.v2", "id: House.Free Shipping"), "utf-8")
    with pytest.raises(RulesetError, match=r"did you mean 'house.free_shipping'"):
        load_ruleset(tmp_path / "a.yaml")


def test_a_situation_nobody_declares_is_still_an_error_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HOUSE.replace("situation.talks_stuck", "situation.talks_stuk"), "utf-8")
    with pytest.raises(RulesetError, match=r"did you mean 'situation.talks_stuck'|did you mean 'talks_stuck'"):
        load_ruleset(tmp_path / "a.yaml")
