"""advise_dask() and the ``score`` command on a real Dask cluster of two worker processes.

One LocalCluster serves the whole module (starting one costs seconds); every result is compared
with advise_many() on the same rows in this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from negotiation_rules import Advice, Ruleset, advise_many
from negotiation_rules._cli import main

from .conftest import rule_yaml
from .extras import crm_rows, need, state_of

pd = need("pandas")
dd = need("dask.dataframe")
distributed = need("distributed")

from negotiation_rules import _dask  # noqa: E402
from negotiation_rules._dask import advise_dask, score  # noqa: E402
from negotiation_rules._frames import advise_frame  # noqa: E402

TOP = 3


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes, one thread each (as ``score`` starts them), for every test of this module."""
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=40
    )
    try:
        with distributed.Client(cluster, timeout="60s") as c:
            c.wait_for_workers(2, timeout=60)
            yield c
    finally:
        cluster.close(timeout=30)


def expected_frame(rows: list[dict[str, Any]], top: int = TOP, **kwargs: Any) -> Any:
    """What advise_many says of the rows, as the columns advise_frame/advise_dask give."""
    advice = advise_many([state_of(r) for r in rows], top=top, **kwargs)
    data: dict[str, list[Any]] = {}
    for i in range(top):
        recs = [a.recommendations[i] if i < len(a.recommendations) else None for a in advice]
        data[f"tactic_{i + 1}"] = [r.tactic if r else None for r in recs]
        data[f"score_{i + 1}"] = [r.score if r else None for r in recs]
        data[f"move_{i + 1}"] = [r.move if r else None for r in recs]
        data[f"rationale_{i + 1}"] = [r.rationale if r else None for r in recs]
    return pd.DataFrame(data).astype({k: "string" if not k.startswith("score") else "float64" for k in data})


def advice_part(frame: Any) -> Any:
    """The advice columns of a result, on a fresh index (as expected_frame has them)."""
    return frame[[c for c in frame.columns if c.split("_")[0] in ("tactic", "score", "move", "rationale")]].reset_index(
        drop=True
    )


def test_the_cluster_has_two_worker_processes(client: Any) -> None:
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert len(set(client.run(os.getpid).values())) == 2 and os.getpid() not in client.run(os.getpid).values()


def test_advise_dask_on_two_worker_processes_equals_advise_many(client: Any) -> None:
    rows = crm_rows(120, seed=21)
    ddf = dd.from_pandas(pd.DataFrame(rows), npartitions=6)
    lazy = advise_dask(ddf, top=TOP, keep=["deal_id"])
    result = lazy.compute()
    assert list(result["deal_id"]) == [r["deal_id"] for r in rows]
    pd.testing.assert_frame_equal(advice_part(result), expected_frame(rows))
    assert result["error"].isna().all()
    # the meta dask was promised is what the partitions are
    assert dict(lazy._meta.dtypes) == dict(result.dtypes)
    assert list(lazy.columns) == list(result.columns)


def test_the_json_output_on_the_cluster_is_the_advice_of_advise_many(client: Any) -> None:
    rows = crm_rows(40, seed=22)
    result = advise_dask(dd.from_pandas(pd.DataFrame(rows), npartitions=4), top=None, output="json").compute()
    assert [Advice.model_validate_json(t) for t in result["advice"]] == advise_many([state_of(r) for r in rows])


def test_a_custom_ruleset_goes_to_each_worker_once_as_data(client: Any, tmp_path: Path) -> None:
    folder = tmp_path / "house"
    folder.mkdir()
    (folder / "house.yaml").write_text(rule_yaml(id="house.hold", tactic="house.hold_price", when="phase: bargaining"))
    rules = Ruleset.from_text(rule_yaml(id="house.hold", tactic="house.hold_price", when="phase: bargaining"))
    rows = crm_rows(60, seed=23)
    ddf = dd.from_pandas(pd.DataFrame(rows), npartitions=6)
    result = advise_dask(ddf, top=1, ruleset=rules).compute()
    pd.testing.assert_frame_equal(advice_part(result), expected_frame(rows, top=1, ruleset=rules))
    assert set(result["tactic_1"].dropna()) == {"house.hold_price"}
    key = _dask.make_job(list(ddf.columns), None, None, 1, rules, None, "columns", ()).key
    loads = client.run(lambda: _dask._builds.get(key, 0))
    assert sorted(loads.values()) == [1, 1]  # six partitions, two workers: loaded once per worker process
    # a ruleset given as a path is read here and sent as data: the workers need no rule files
    by_path = advise_dask(ddf, top=1, ruleset=str(folder)).compute()
    pd.testing.assert_frame_equal(advice_part(by_path), advice_part(result))


def test_bad_rows_on_the_cluster_get_their_error_and_the_rest_is_advised(client: Any) -> None:
    rows = crm_rows(30, seed=24)
    rows[7]["phase"] = "haggling"
    result = advise_dask(dd.from_pandas(pd.DataFrame(rows), npartitions=3)).compute()
    assert result["error"].notna().sum() == 1
    assert result["error"].iloc[7].startswith("phase: 'haggling' is not one of")
    good = [r for i, r in enumerate(rows) if i != 7]
    pd.testing.assert_frame_equal(advice_part(result.drop(index=result.index[7])), expected_frame(good))


def test_mapping_mistakes_are_refused_before_anything_is_sent(client: Any) -> None:
    ddf = dd.from_pandas(pd.DataFrame(crm_rows(4)), npartitions=2)
    with pytest.raises(ValueError, match="did you mean 'phase'"):
        advise_dask(ddf, {"phase": "phse"})
    with pytest.raises(ValueError, match="keep: no column 'id'"):
        advise_dask(ddf, keep=["id"])


def test_a_worker_with_another_version_of_the_library_refuses_the_job() -> None:
    import dataclasses

    job = _dask.make_job(["phase"], None, None, 1, None, None, "columns", ())
    with pytest.raises(_dask.ScoreError, match=r"this worker has negotiation-rules .*, the client 0\.0\.1"):
        _dask.advise_partition(pd.DataFrame({"phase": ["opening"]}), dataclasses.replace(job, version="0.0.1"))


# -- score -------------------------------------------------------------------------------------------


@pytest.fixture
def deals(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A Parquet export of 230 deals in row groups of 100 rows (one of them invalid)."""
    rows = crm_rows(230, seed=25)
    rows[101]["counterpart.authority"] = "ceo"
    path = tmp_path / "deals.parquet"
    pd.DataFrame(rows).to_parquet(path, row_group_size=100)
    return path, rows


def read_output(folder: Path) -> Any:
    return pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))], ignore_index=True)


def test_score_writes_one_part_per_piece_with_the_ids_and_the_advice_of_advise_many(
    client: Any, deals: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, rows = deals
    out = tmp_path / "advice.parquet"
    code = main(
        [
            "score",
            str(path),
            str(out),
            "--rows-per-part",
            "60",
            "--scheduler",
            client.scheduler.address,
            "--no-progress",
        ]
    )
    assert code == 0
    said = capsys.readouterr().out
    assert "scored 230 rows into 4 parts" in said and "1 rows with errors" in said
    assert sorted(p.name for p in out.iterdir()) == [
        "_job.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
        "part-00003.parquet",
    ]
    result = read_output(out)
    assert list(result["deal_id"]) == [r["deal_id"] for r in rows]
    assert result["error"].iloc[101].startswith("counterpart.authority: 'ceo' is not one of")
    good = [r for i, r in enumerate(rows) if i != 101]
    pd.testing.assert_frame_equal(advice_part(result.drop(index=101)), expected_frame(good))
    # the whole folder reads back as one table with one schema
    assert len(pd.read_parquet(out)) == 230


def test_a_rerun_skips_the_parts_already_written_and_redoes_a_missing_one(
    client: Any, deals: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    path, _ = deals
    out = tmp_path / "advice.parquet"
    first = score(path, out, rows_per_part=60, client=client, progress=False)
    assert (first.written, first.skipped, first.rows) == (4, 0, 230)
    before = read_output(out)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    (out / "part-00002.parquet").unlink()
    (out / "part-00003.parquet.tmp-123").write_bytes(b"half a file")  # what an interrupted write leaves
    second = score(path, out, rows_per_part=60, client=client, progress=False)
    assert (second.written, second.skipped, second.rows) == (1, 3, 60)
    assert not list(out.glob("*.tmp-*"))
    for name, stamp in stamps.items():
        if name != "part-00002.parquet":
            assert (out / name).stat().st_mtime_ns == stamp, f"{name} was written again"
    pd.testing.assert_frame_equal(read_output(out), before)
    third = score(path, out, rows_per_part=60, client=client, progress=False)
    assert (third.written, third.skipped) == (0, 4)


def test_an_interrupted_run_keeps_its_finished_parts_and_the_next_run_finishes_the_job(
    client: Any, deals: tuple[Path, list[dict[str, Any]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, rows = deals
    out = tmp_path / "advice.parquet"
    real = _dask._progress

    def interrupted(show: bool, parts: int, count: int) -> Any:
        class Stop:
            def __enter__(self) -> Any:
                def advance(done: int) -> None:
                    raise KeyboardInterrupt  # Ctrl-C once the first part is written

                return advance

            def __exit__(self, *exc: object) -> None:
                return None

        return Stop()

    monkeypatch.setattr(_dask, "_progress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        score(path, out, rows_per_part=30, client=client, progress=False)
    finished = len(list(out.glob("part-*.parquet")))
    assert 1 <= finished <= 8
    monkeypatch.setattr(_dask, "_progress", real)
    rest = score(path, out, rows_per_part=30, client=client, progress=False)
    assert rest.skipped >= 1 and rest.skipped + rest.written == 8
    result = read_output(out)
    assert list(result["deal_id"]) == [r["deal_id"] for r in rows]
    pd.testing.assert_frame_equal(
        advice_part(result.drop(index=101)), expected_frame([r for i, r in enumerate(rows) if i != 101])
    )


def test_an_output_folder_of_another_job_is_refused_unless_overwritten(
    client: Any, deals: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = deals
    out = tmp_path / "advice.parquet"
    args = ["score", str(path), str(out), "--scheduler", client.scheduler.address, "--no-progress"]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--top", "1"]) == 2
    err = capsys.readouterr().err
    assert "holds parts of another job (it differs in: top)" in err and err.count("\n") == 1
    assert main([*args, "--top", "1", "--overwrite", "--json"]) == 0
    assert list(read_output(out).columns)[-2:] == ["question", "error"]


def test_score_maps_columns_and_defaults_from_the_command_line(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = pd.DataFrame({"id": ["a", "b"], "stage": ["bargaining", "closing"], "boss": ["claimed_higher", None]})
    df.to_parquet(tmp_path / "crm.parquet")
    out = tmp_path / "out"
    code = main(
        [
            "score",
            str(tmp_path / "crm.parquet"),
            str(out),
            "--column",
            "stage=phase",
            "--column",
            "boss=counterpart.authority",
            "--default",
            "our_side=buyer",
            "--default",
            "alternatives=2",
            "--format",
            "json",
            "--scheduler",
            client.scheduler.address,
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    result = read_output(out)
    assert list(result.columns) == ["id", "advice", "error"]
    states = [
        {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}, "our_side": "buyer", "alternatives": 2},
        {"phase": "closing", "our_side": "buyer", "alternatives": 2},
    ]
    assert [Advice.model_validate_json(t) for t in result["advice"]] == advise_many(states, top=3)


def test_score_input_mistakes_are_one_line_and_exit_2(
    client: Any, deals: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = deals
    for args, message in [
        ([str(tmp_path / "nope.parquet"), str(tmp_path / "o1")], "no such file or folder"),
        ([str(path), str(tmp_path / "o2"), "--column", "phase=phse"], "did you mean 'phase'"),
        ([str(path), str(tmp_path / "o3"), "--column", "phase"], "--column takes COLUMN=..."),
        ([str(path), str(path)], "is not a folder"),
    ]:
        assert main(["score", *args, "--no-progress", "--scheduler", client.scheduler.address]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_a_part_that_fails_on_a_worker_ends_the_run_in_one_line_and_keeps_the_parts_written(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    pd.DataFrame(crm_rows(20)).to_parquet(folder / "a.parquet")
    pd.DataFrame(crm_rows(20)).drop(columns=["phase"]).to_parquet(folder / "b.parquet")  # the schema changed
    out = tmp_path / "out"
    assert main(["score", str(folder), str(out), "--no-progress", "--scheduler", client.scheduler.address]) == 2
    err = capsys.readouterr().err
    assert "1 of 2 parts failed, first part 1 (" in err and "b.parquet): " in err and err.count("\n") == 1
    assert [p.name for p in out.glob("part-*.parquet")] == ["part-00000.parquet"]


def test_score_runs_on_a_local_cluster_of_its_own_by_default(
    deals: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, rows = deals
    out = tmp_path / "advice.parquet"
    assert main(["score", str(path), str(out), "--workers", "1", "--top", "2"]) == 0
    captured = capsys.readouterr()
    assert "scored 230 rows into 1 parts" in captured.out
    assert "230/230" in captured.err  # the progress bar, on stderr
    result = read_output(out)
    expected = advise_frame(pd.DataFrame(rows), top=2)
    pd.testing.assert_frame_equal(advice_part(result), advice_part(expected))


def test_overwrite_never_deletes_the_input_nor_files_it_did_not_write(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # parts named like ours in the input folder (other tools write part-00000.parquet too)
    folder = tmp_path / "export"
    folder.mkdir()
    pd.DataFrame(crm_rows(10)).to_parquet(folder / "part-00000.parquet")
    address = ["--no-progress", "--scheduler", client.scheduler.address]
    for output in (folder, folder / "advice"):
        assert main(["score", str(folder), str(output), "--overwrite", *address]) == 2
        assert "overlaps the input" in capsys.readouterr().err
    assert (folder / "part-00000.parquet").is_file()
    # a folder score did not write (no _job.json): its files are left alone, --overwrite or not
    other = tmp_path / "someone-else"
    other.mkdir()
    (other / "part-00007.parquet").write_bytes(b"not ours")
    assert main(["score", str(folder / "part-00000.parquet"), str(other), "--overwrite", *address]) == 2
    assert "holds no valid _job.json" in capsys.readouterr().err
    assert (other / "part-00007.parquet").read_bytes() == b"not ours"
