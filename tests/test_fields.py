"""The field specs read off the state model: kinds, bounds, and the values each field can take."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation_rules._fields import OTHER_TEXT, FieldSpec, cut_points, state_fields

FIELDS = state_fields()


def test_an_enum_takes_its_known_choices_and_unknown_when_it_may_be_unknown() -> None:
    trust = FIELDS["trust"]
    assert trust.values() == ("low", "medium", "high", None)
    assert trust.values(unknown=False) == ("low", "medium", "high")
    assert None not in FIELDS["phase"].values()  # the phase is always known


def test_a_boolean_takes_false_and_true_and_unknown_only_when_optional() -> None:
    assert FIELDS["deadlock"].values() == (False, True)
    assert FIELDS["bottom_line_set"].values() == (False, True, None)


def test_numbers_carry_the_bounds_of_the_state_model_and_cut_points_stay_within_them() -> None:
    alternatives = FIELDS["alternatives"]
    assert (alternatives.low, alternatives.high) == (0, 1_000_000)
    assert alternatives.values([0, 2]) == (0, 1, 2, 3, None)
    assert alternatives.allows(0) and not alternatives.allows(-1) and not alternatives.allows(1_000_001)


def test_cut_points_give_every_comparison_each_outcome() -> None:
    assert cut_points([2], integer=True) == [1, 2, 3]
    assert cut_points([1.5, 2.5], integer=False) == [0.5, 1.5, 2.0, 2.5, 3.5]
    assert cut_points([], integer=True) == [0]


def test_text_takes_the_texts_compared_with_and_one_other() -> None:
    spec = FieldSpec("note", "str", optional=True)
    assert spec.values(["a", "b", 3]) == ("a", "b", OTHER_TEXT, None)


def test_closed_domains_are_worked_out_once() -> None:
    trust = FIELDS["trust"]
    assert trust.closed_values is trust.closed_values
    assert FIELDS["alternatives"].closed_values is None
    assert (FIELDS["trust"].domain_size, FIELDS["deadlock"].domain_size, FIELDS["alternatives"].domain_size) == (
        4,
        2,
        None,
    )


NUMBERS = st.lists(st.integers(0, 12), max_size=4)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(p for p, s in FIELDS.items() if s.kind in ("int", "float"))), NUMBERS)
def test_a_number_field_s_values_give_each_comparison_with_its_constants_both_outcomes(
    path: str, constants: list[int]
) -> None:
    """What lint searches (it takes FieldSpec.values): enough points to make eq and gte go both ways."""
    spec = FIELDS[path]
    known = [v for v in spec.values(constants) if v is not None]
    assert all(spec.allows(v) for v in known)
    for c in constants:
        if not spec.allows(c):
            continue
        assert {v == c for v in known} == {True, False}
        if spec.low is None or c > spec.low:
            assert {v >= c for v in known} == {True, False}


def test_the_rule_format_page_lists_which_fields_can_be_unknown() -> None:
    """docs/rule-format.md, "Unknown values": one table row per kind of unknown, the last the known defaults."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "rule-format.md"
    if not page.exists():
        return  # an installed copy of the tests has no docs
    text = page.read_text(encoding="utf-8")
    section = text[text.index("### Unknown values") : text.index("## Situations")]
    lines = [line for line in section.splitlines() if line.startswith("| `")]
    rows = [re.findall(r"`([a-z_.]+)`", line.split(" | ")[0]) for line in lines]
    scalars = {path: spec for path, spec in state_fields().items() if spec.kind != "list"}
    assert {path for row in rows[:-1] for path in row} == {p for p, s in scalars.items() if s.can_be_unknown}
    assert (
        set(rows[-1])
        == {p for p, s in scalars.items() if not s.can_be_unknown}
        == {
            "phase",
            "deadlock",
            "counterpart.authority_claims",
        }
    )
