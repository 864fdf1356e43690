"""advise_frame(): a table of negotiations in, one row of advice per row out, the same advice as advise().

The mapping from cells to state values follows the contract: an empty cell is unknown (the key is
left out, never False or 0), only what pandas itself changed is changed back, and a bad row is
reported in its own ``error`` cell without stopping the others.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation_rules import Advice, NegotiationState, StateError, advise, advise_many
from negotiation_rules._state import parse_state
from negotiation_rules.testing.strategies import states

from .extras import crm_rows, need, state_of

pd = need("pandas")
pa = need("pyarrow")

from negotiation_rules import _frames  # noqa: E402  (imports pandas: only once the extra is known to be there)
from negotiation_rules._frames import advise_frame, frame_states  # noqa: E402


def expected_columns(advice: Advice, top: int) -> dict[str, Any]:
    """The columns advise_frame gives for one Advice."""
    out: dict[str, Any] = {}
    for i in range(top):
        rec = advice.recommendations[i] if i < len(advice.recommendations) else None
        out[f"tactic_{i + 1}"] = rec.tactic if rec else None
        out[f"score_{i + 1}"] = rec.score if rec else None
        out[f"move_{i + 1}"] = rec.move if rec else None
        out[f"rationale_{i + 1}"] = rec.rationale if rec else None
    return out


def cells(result: Any, row: int) -> dict[str, Any]:
    """One result row with pandas' empty values as None."""
    return {
        k: (None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v) for k, v in result.iloc[row].items()
    }


def test_every_row_gets_the_advice_advise_gives_its_state() -> None:
    rows = crm_rows(30)
    result = advise_frame(pd.DataFrame(rows), top=3)
    assert len(result) == 30
    for i, row in enumerate(rows):
        got = cells(result, i)
        assert got["error"] is None
        assert {k: got[k] for k in expected_columns(advise(state_of(row)), 3)} == expected_columns(
            advise(state_of(row), top=3), 3
        )


def test_the_json_output_is_the_advice_wire_format() -> None:
    rows = crm_rows(12, seed=3)
    result = advise_frame(pd.DataFrame(rows), top=5, output="json")
    assert list(result.columns) == ["advice", "error"]
    assert [Advice.model_validate_json(text) for text in result["advice"]] == advise_many(
        [state_of(r) for r in rows], top=5
    )


def test_columns_map_any_name_to_a_dotted_path_and_defaults_fill_what_the_table_lacks() -> None:
    df = pd.DataFrame({"stage": ["bargaining", "opening"], "boss": ["claimed_higher", None], "id": ["a", "b"]})
    result = advise_frame(
        df, {"stage": "phase", "boss": "counterpart.authority"}, defaults={"our_side": "buyer", "trust": "low"}, top=4
    )
    first = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}, "our_side": "buyer", "trust": "low"}
    second = {"phase": "opening", "our_side": "buyer", "trust": "low"}
    for i, state in enumerate((first, second)):
        assert {k: cells(result, i)[k] for k in expected_columns(advise(state), 4)} == expected_columns(
            advise(state, top=4), 4
        )


def test_a_default_fills_empty_cells_of_its_column_but_never_overrides_a_value() -> None:
    df = pd.DataFrame({"trust": ["high", None]})
    states = frame_states(df, defaults={"trust": "low"})
    assert [s.trust for s in states if isinstance(s, NegotiationState)] == ["high", "low"]


def test_an_empty_cell_is_left_out_of_the_state_never_false_or_zero() -> None:
    df = pd.DataFrame(
        {
            "deadlock": [True, None],  # object column: True / None
            "bottom_line_set": pd.array([pd.NA, False], dtype="boolean"),
            "alternatives": [None, 2],  # pandas makes this float64 with NaN
            "counterpart.authority_claims": pd.array([1, pd.NA], dtype="Int64"),
            "trust": [float("nan"), "low"],
        }
    )
    first, second = frame_states(df)
    assert isinstance(first, NegotiationState) and isinstance(second, NegotiationState)
    assert first == parse_state({"deadlock": True, "counterpart": {"authority_claims": 1}})
    assert first.model_fields_set == {"deadlock", "counterpart"}
    assert first.counterpart.model_fields_set == {"authority_claims"}
    assert second.model_fields_set == {"bottom_line_set", "alternatives", "trust"}
    assert second.counterpart.model_fields_set == set()


def test_whole_floats_pandas_made_from_ints_become_ints_and_nothing_else_is_converted() -> None:
    df = pd.DataFrame({"alternatives": [2, None, 2.5]})
    assert df["alternatives"].dtype == "float64"
    two, _, half = frame_states(df)
    assert isinstance(two, NegotiationState) and type(two.alternatives) is int and two.alternatives == 2
    assert isinstance(half, StateError) and half.path == "alternatives"
    # text stays text, whatever the model then says of it (contract 0.2: "2" is not a number)
    text = pd.DataFrame({"alternatives": ["2"], "deadlock": ["yes"]})
    (state,) = frame_states(text)
    try:
        reference: NegotiationState | StateError = parse_state({"alternatives": "2", "deadlock": "yes"})
    except StateError as exc:
        reference = exc
    assert type(state) is type(reference) and str(state) == str(reference)


def test_a_float_in_an_object_column_is_the_users_value_and_is_not_converted() -> None:
    df = pd.DataFrame({"alternatives": pd.Series([2.0, "x"], dtype=object)})
    first, _ = frame_states(df)
    try:
        reference: NegotiationState | StateError = parse_state({"alternatives": 2.0})
    except StateError as exc:
        reference = exc
    assert type(first) is type(reference) and str(first) == str(reference)


def test_history_and_issues_come_as_json_text_or_as_the_lists_parquet_gives_back(tmp_path: Any) -> None:
    history = [
        {"kind": "authority_claimed", "by": "them"},
        {"kind": "authority_claimed", "by": "them", "phase": "opening"},
    ]
    issues = [{"name": "price", "our_target": 100.0, "our_limit": 90.0, "unit": "EUR"}, {"name": "volume"}]
    df = pd.DataFrame({"phase": ["bargaining"], "history": [json.dumps(history)], "issues": [json.dumps(issues)]})
    expected = parse_state({"phase": "bargaining", "history": history, "issues": issues})
    assert frame_states(df) == [expected]
    # through Parquet as lists of structs: fields a struct lacks come back as None and are left out again
    native = pd.DataFrame({"phase": ["bargaining"], "history": [history], "issues": [issues]})
    native.to_parquet(tmp_path / "deals.parquet")
    back = pd.read_parquet(tmp_path / "deals.parquet")
    assert frame_states(back) == [expected]
    assert advise_frame(back, top=2).iloc[0]["tactic_1"] == advise(expected).tactics[0]


def test_a_counterpart_json_column_and_leaf_columns_combine_with_the_leaf_winning() -> None:
    df = pd.DataFrame(
        {"counterpart": ['{"authority": "full", "experience": "novice"}'], "counterpart.authority": ["limited"]}
    )
    (state,) = frame_states(df)
    assert state == parse_state({"counterpart": {"authority": "limited", "experience": "novice"}})


def test_a_bad_row_gets_an_error_cell_with_the_field_path_and_the_others_are_advised() -> None:
    rows = crm_rows(6, seed=9)
    df = pd.DataFrame(rows).rename(columns={"counterpart.authority": "boss"})
    df.loc[2, "boss"] = "the_ceo"
    df.loc[4, "history"] = '[{"kind": "authority_claimed", "by": "nobody"}]'
    df.loc[5, "history"] = "[{not json"
    mapping = {c: c for c in df.columns if c not in ("deal_id", "boss")} | {"boss": "counterpart.authority"}
    result = advise_frame(df, mapping, top=2)
    errors = result["error"].tolist()
    assert errors[2].startswith("counterpart.authority: 'the_ceo' is not one of") and errors[2].endswith(
        "(column 'boss')"
    )
    assert errors[4].startswith("history[0].by: ")
    assert errors[5].startswith("history: not valid JSON")
    for bad in (2, 4, 5):
        assert cells(result, bad)["tactic_1"] is None and cells(result, bad)["score_1"] is None
    for good in (0, 1, 3):
        row = dict(rows[good])
        assert errors[good] is pd.NA
        assert cells(result, good)["tactic_1"] == ([*advise(state_of(row)).tactics, None])[0]


def test_identical_rows_are_validated_once_and_evaluated_once() -> None:
    from negotiation_rules._firing import subscribe

    df = pd.DataFrame(crm_rows(3, seed=1) * 50)
    firings: list[object] = []
    unsubscribe = subscribe(lambda ruleset, firing: firings.append(firing))
    try:
        result = advise_frame(df)
    finally:
        unsubscribe()
    assert len(result) == 150 and len(firings) <= 3
    assert result.iloc[:3].reset_index(drop=True).equals(result.iloc[147:].reset_index(drop=True))


def test_the_result_keeps_the_input_index_so_it_joins_back() -> None:
    df = pd.DataFrame(crm_rows(4), index=pd.Index(["d1", "d2", "d3", "d4"], name="deal"))
    result = advise_frame(df)
    assert result.index.equals(df.index)
    joined = df.join(result)
    assert list(joined["tactic_1"]) == list(result["tactic_1"])


def test_an_empty_frame_gives_an_empty_result_with_the_same_columns_and_dtypes() -> None:
    full = advise_frame(pd.DataFrame(crm_rows(3)), top=2)
    empty = advise_frame(pd.DataFrame(crm_rows(3)).iloc[:0], top=2)
    assert len(empty) == 0
    assert dict(empty.dtypes) == dict(full.dtypes)
    assert dict(full.dtypes) == {
        k: pd.api.types.pandas_dtype(v) for k, v in _frames.result_dtypes(2, "columns").items()
    }


def test_an_arrow_table_in_gives_an_arrow_table_out() -> None:
    rows = crm_rows(5)
    table = pa.Table.from_pylist(rows)
    result = advise_frame(table, top=1)
    assert isinstance(result, pa.Table)
    assert result.column("tactic_1").to_pylist() == [[*advise(state_of(r)).tactics, None][0] for r in rows]


def test_the_first_question_is_a_column_when_the_advice_asks_questions() -> None:
    if "questions" not in Advice.model_fields:
        pytest.skip("this version of Advice has no questions (contract 0.2 adds them)")
    rows = crm_rows(8)
    result = advise_frame(pd.DataFrame(rows), questions=1)
    for i, row in enumerate(rows):
        asked = advise(state_of(row), top=3, questions=1).questions  # type: ignore[attr-defined]
        assert cells(result, i)["question"] == (asked[0].question if asked else None)


@pytest.mark.parametrize(
    ("columns", "defaults", "message"),
    [
        (
            {"stage": "phasee"},
            None,
            "columns: 'stage' maps to 'phasee', which is not a state path (did you mean 'phase'?)",
        ),
        ({"stag": "phase"}, None, "columns: no column 'stag' in the frame (did you mean 'stage'?)"),
        ({"stage": "phase", "trust": "phase"}, None, "columns: 'stage' and 'trust' both map to 'phase'"),
        ({"stage": "phase"}, {"counterpart.authorty": "full"}, "defaults: 'counterpart.authorty' is not a state path"),
        ({"stage": "phase"}, {"phase": "bargainin"}, "defaults.phase: 'bargainin' is not one of"),
    ],
)
def test_mapping_mistakes_are_refused_before_any_row_is_read(
    columns: dict[str, str], defaults: dict[str, Any] | None, message: str
) -> None:
    df = pd.DataFrame({"stage": ["opening"], "trust": ["low"]})
    with pytest.raises(ValueError) as info:
        advise_frame(df, columns, defaults=defaults)
    assert str(info.value).startswith(message)


def test_a_dotted_column_name_that_is_no_state_path_is_an_error_not_ignored() -> None:
    df = pd.DataFrame({"counterpart.authorty": ["full"], "deal_id": [1]})
    with pytest.raises(ValueError, match=r"column 'counterpart.authorty' is not a state path \(did you mean"):
        advise_frame(df)


def test_top_and_output_are_checked() -> None:
    df = pd.DataFrame(crm_rows(1))
    with pytest.raises(ValueError, match="output must be 'columns' or 'json'"):
        advise_frame(df, output="csv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs top to be a whole number >= 1"):
        advise_frame(df, top=None)
    assert Advice.model_validate_json(advise_frame(df, top=None, output="json")["advice"][0]) == advise(
        state_of(crm_rows(1)[0]), questions=0
    )


def test_the_worked_example_of_the_docs_runs_and_writes_its_parquet(tmp_path: Any) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "docs" / "examples" / "batch"
    for name in ("crm_export.csv", "score_export.py"):
        shutil.copy(folder / name, tmp_path / name)
    run = subprocess.run(
        [sys.executable, "score_export.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True
    )
    lines = run.stdout.splitlines()
    shown = (Path(__file__).resolve().parents[1] / "docs" / "batch.md").read_text(encoding="utf-8")
    assert run.stdout.rstrip("\n") + "\n```" in shown, "docs/batch.md shows another output: paste the new one"
    assert lines[0].split() == ["deal_id", "tactic_1", "score_1", "tactic_2", "score_2"]
    assert [line.split()[0] for line in lines[1:7]] == [f"D-100{i}" for i in range(1, 7)]
    assert "D-1005 phase: 'negociation' is not one of" in run.stdout and "(column 'stage')" in run.stdout
    written = pd.read_parquet(tmp_path / "recommendations.parquet")
    assert list(written.columns[:3]) == ["deal_id", "account", "tactic_1"] and len(written) == 6


def test_column_labels_need_not_be_strings_but_must_be_unique() -> None:
    numbered = pd.DataFrame({0: ["bargaining"], 1: ["low"]})
    assert frame_states(numbered, {"0": "phase", "1": "trust"}) == [
        parse_state({"phase": "bargaining", "trust": "low"})
    ]
    twice = pd.DataFrame([["opening", "closing"]], columns=["phase", "phase"])
    with pytest.raises(ValueError, match="more than one column named 'phase'"):
        advise_frame(twice)


def as_row(state: NegotiationState) -> dict[str, Any]:
    """A state as a CRM row would hold it: dotted columns for the counterpart, JSON text for the lists."""
    data = state.model_dump(mode="json")
    row: dict[str, Any] = {f"counterpart.{k}": v for k, v in data.pop("counterpart").items()}
    row["history"] = json.dumps(data.pop("history"))
    row["issues"] = json.dumps(data.pop("issues"))
    return row | data


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(states(), min_size=1, max_size=8), st.integers(1, 4))
def test_any_states_as_a_table_come_back_as_the_same_states_and_the_same_advice(
    batch: list[NegotiationState], top: int
) -> None:
    df = pd.DataFrame([as_row(s) for s in batch])
    assert [s.model_dump() for s in frame_states(df)] == [s.model_dump() for s in batch]  # type: ignore[union-attr]
    result = advise_frame(df, top=top, output="json")
    assert [Advice.model_validate_json(t) for t in result["advice"]] == advise_many(batch, top=top)


def test_defaults_for_counterpart_fields_hold_under_a_counterpart_json_column() -> None:
    df = pd.DataFrame({"counterpart": ['{"authority": "full"}', None]})
    states = frame_states(df, defaults={"counterpart.experience": "novice"})
    assert states == [
        parse_state({"counterpart": {"authority": "full", "experience": "novice"}}),
        parse_state({"counterpart": {"experience": "novice"}}),
    ]


def test_progress_is_reported_to_a_callback_or_drawn_as_a_bar_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame(crm_rows(600, seed=5))
    calls: list[tuple[int, int]] = []
    advise_frame(df, progress=lambda done, total: calls.append((done, total)))
    distinct = len({id(s) for s in frame_states(df) if isinstance(s, NegotiationState)})  # identical rows: one state
    assert calls and calls[-1] == (distinct, distinct)
    advise_frame(df, progress=True)
    assert f"{distinct}/{distinct}" in capsys.readouterr().err
