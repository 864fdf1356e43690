"""Negotiations over time: recording events, history rules, persistence, playbooks, and cleanup."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from pathlib import Path

import durable_rules_engine as drl
import pytest

from negotiation_rules import Event, Negotiation, NegotiationState, StateError, advise
from negotiation_rules._engine import engine_for
from negotiation_rules._history import trends
from negotiation_rules._playbook import builtin_playbooks
from negotiation_rules._ruleset import builtin_ruleset

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_advice_changes_as_events_are_recorded() -> None:
    with Negotiation({"phase": "bargaining", "bottom_line_set": True}) as n:
        assert "authority.tit_for_tat" not in n.advise().tactics
        n.record(kind="authority_claimed", by="them")
        n.record({"kind": "authority_claimed", "by": "them"})
        assert "authority.tit_for_tat" in n.advise().tactics
        assert n.state.counterpart.authority_claims == 0  # the state keeps what was given; facts are derived


def test_a_rejected_event_leaves_the_negotiation_as_it_was() -> None:
    with Negotiation({"phase": "bargaining"}) as n:
        n.record(kind="concession", by="us", value=3.0)
        before, advice = n.to_json(), n.advise()
        for bad in (
            {"kind": "concession", "by": "both"},
            {"kind": "", "by": "us"},
            {"by": "us"},
            {"kind": "x", "by": "us", "extra": 1},
        ):
            with pytest.raises(StateError) as info:
                n.record(bad)
            assert info.value.path.startswith("event")
        with pytest.raises(StateError, match="phase"):
            n.update(phase="haggling")
        assert n.to_json() == before and n.advise() == advice


def test_changing_the_history_of_the_state_handed_out_leaves_the_negotiation_as_it_was() -> None:
    """From the attacker review: ``n.state.history`` was the negotiation's own list, so appending to it
    changed the history behind ``record`` (its trends stale) and junk in it broke the next advice."""
    with Negotiation({"phase": "bargaining"}) as n:
        n.record(kind="concession", by="us", value=3.0)
        before, advice = n.to_json(), n.advise()
        n.state.history.append(Event(kind="concession", by="us", value=3.0))
        n.state.history.append("junk")  # type: ignore[arg-type]
        n.state.history.clear()
        n.state.issues.append("junk")  # type: ignore[arg-type]
        n.state.model_fields_set.discard("phase")
        assert n.to_json() == before and n.advise() == advice and len(n.history) == 1
        assert n.state == NegotiationState.model_validate(n.state.model_dump())
        assert n.state.model_fields_set == {"phase", "history"}


def test_two_of_our_concessions_without_one_from_them_ask_for_reciprocity() -> None:
    with Negotiation({"phase": "bargaining"}) as n:
        n.record(kind="concession", by="us", value=5.0)
        assert n.advise().get("pressure.conditional_concession").rule_id != "pressure.conditional_concession.unanswered"  # type: ignore[union-attr]
        n.record(kind="concession", by="us", value=3.0)
        rec = n.advise().get("pressure.conditional_concession")
        assert rec is not None and rec.rule_id == "pressure.conditional_concession.unanswered"
        assert n.advise().rank_of("pressure.conditional_concession") == 1
        n.record(kind="concession", by="them", value=2.0)
        rec = n.advise().get("pressure.conditional_concession")
        assert rec is not None and rec.rule_id != "pressure.conditional_concession.unanswered"


def test_our_concessions_that_do_not_shrink_earn_a_caution() -> None:
    with Negotiation({"phase": "bargaining"}) as n:
        n.record(kind="concession", by="us", value=3.0)
        n.record(kind="concession", by="them", value=1.0)
        n.record(kind="concession", by="us", value=3.0)
        rec = n.advise().get("pressure.taper_concessions")
        assert rec is not None and "no smaller" in rec.rationale
        n.record(kind="concession", by="us", value=1.0)
        assert "pressure.taper_concessions" not in n.advise().tactics


def test_their_shrinking_concessions_signal_they_are_near_their_limit() -> None:
    with Negotiation({"phase": "closing"}) as n:
        for value in (10.0, 6.0):
            n.record(kind="concession", by="them", value=value)
        assert "pressure.read_their_limit" not in n.advise().tactics
        n.record(kind="concession", by="them", value=2.0)
        rec = n.advise().get("pressure.read_their_limit")
        assert rec is not None and rec.sources[0].document == "001_b456b039e9603b86.txt"
        n.record(kind="concession", by="them", value=4.0)  # a bigger step again: not shrinking any more
        assert "pressure.read_their_limit" not in n.advise().tactics


def test_a_deadlock_recorded_twice_raises_the_stakes_for_third_party_pressure_and_ultimatum() -> None:
    base = {
        "phase": "bargaining",
        "alternatives": 1,
        "top_leader_available": True,
        "relationship": "one_off",
        "our_time_pressure": "low",
    }
    with Negotiation(base) as n:
        n.record(kind="deadlock", by="them")
        once = n.advise()
        n.record(kind="agreement", by="them", note="we agreed on delivery")
        n.record(kind="deadlock", by="them")
        twice = n.advise()
    assert twice.get("pressure.third_party").rule_id == "pressure.third_party.repeated_deadlock"  # type: ignore[union-attr]
    assert twice.get("pressure.ultimatum").rule_id == "pressure.ultimatum.repeated_deadlock"  # type: ignore[union-attr]
    assert twice.get("pressure.third_party").score > once.get("pressure.third_party").score  # type: ignore[union-attr]


def test_an_ultimatum_stays_set_aside_after_repeated_deadlocks_when_our_leader_cannot_deliver_it() -> None:
    state = {"phase": "bargaining", "history": [{"kind": "deadlock", "by": "them"}] * 2}
    advice = advise(state)
    assert "pressure.ultimatum" not in advice.tactics
    assert advice.set_aside_for("pressure.ultimatum") is not None


def test_restoring_from_json_gives_the_same_negotiation_and_advice(tmp_path: Path) -> None:
    with Negotiation({"phase": "bargaining", "trust": "low"}, playbook="relationship_first") as n:
        for value in (5.0, 5.0):
            n.record(kind="concession", by="us", value=value)
        saved = n.to_json()
        with Negotiation.from_json(saved) as restored:
            assert restored.state == n.state
            assert restored.playbook == n.playbook
            assert restored.advise() == n.advise()
            assert restored.to_json() == saved


def test_a_negotiation_on_rule_files_restores_from_their_paths(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: c.one, tactic: c.one, move: m, rationale: r, when: {trend.concessions_unanswered: true},"
        " sources: [{document: d, section: s}]}\n",
        encoding="utf-8",
    )
    with Negotiation(ruleset=str(rules)) as n:
        n.record(kind="concession", by="us")
        n.record(kind="concession", by="us")
        assert n.advise().tactics == ["c.one"]
        with Negotiation.from_json(n.to_json(), rule_folders=[tmp_path]) as restored:
            assert restored.advise().tactics == ["c.one"]


@pytest.mark.parametrize("bad", ["{", "[]", '{"format": "x"}', '{"format": "negotiation-rules/session", "version": 9}'])
def test_a_bad_saved_negotiation_is_a_state_error(bad: str) -> None:
    with pytest.raises(StateError):
        Negotiation.from_json(bad)


def test_sessions_leave_nothing_behind_in_the_engine() -> None:
    engine = engine_for(builtin_ruleset())
    n = Negotiation({"phase": "bargaining"})
    n.record(kind="concession", by="us", value=1.0)
    n.advise()
    for shard in engine.shards:  # every pooled engine session is empty again
        for sid in engine._sessions:
            with contextlib.suppress(Exception):
                assert drl.get_facts(shard.handle, sid) in ("[]", "[ ]")
    n.close()
    n.close()  # idempotent
    assert n.closed
    with pytest.raises(RuntimeError, match="closed"):
        n.record(kind="offer", by="us")


def test_thousands_of_concurrent_sessions_do_not_interfere() -> None:
    """More open negotiations than one durable-rules ruleset holds sessions (1024): none is held between calls."""
    sessions = [Negotiation({"phase": "bargaining"}) for _ in range(2100)]
    try:
        for i, n in enumerate(sessions):
            n.record(kind="concession", by="us", value=float(i % 3 + 1))
            if i % 2:
                n.record(kind="concession", by="us", value=float(i % 3 + 1))
        for i, n in enumerate(sessions[::7]):
            index = i * 7
            assert n.trends()["concessions_unanswered"] is bool(index % 2)
    finally:
        for n in sessions:
            n.close()


def test_sessions_in_threads_get_the_same_advice_as_sequential_ones() -> None:
    def run(seed: int) -> list[str]:
        with Negotiation({"phase": "bargaining"}) as n:
            for k in range(6):
                n.record(kind="concession", by="us" if (seed + k) % 3 else "them", value=float(10 - k))
            return n.advise().tactics

    expected = {s: run(s) for s in range(8)}
    got: dict[int, list[str]] = {}
    threads = [threading.Thread(target=lambda s=s: got.__setitem__(s, [*run(s)])) for s in range(8) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


def test_built_in_playbooks_are_found_by_name() -> None:
    assert {"relationship_first", "hard_bargainer"} <= set(builtin_playbooks())
    stuck = {
        "phase": "bargaining",
        "deadlock": True,
        "top_leader_available": True,
        "alternatives": 1,
        "our_time_pressure": "low",
        "relationship": "one_off",
        "counterpart": {"known_weakness": True},
    }
    advice = advise(stuck, playbook="relationship_first")
    reasons = {s.tactic: s for s in advice.set_aside}
    assert reasons["pressure.ultimatum"].by == "playbook" and "no ultimatums" in reasons["pressure.ultimatum"].reason
    assert reasons["pressure.emotional"].by == "playbook"
    assert "pressure.ultimatum" in advise(stuck).tactics
    hard = advise(stuck, playbook="hard_bargainer")
    assert all(r.score >= 0.35 for r in hard.recommendations)


def test_the_worked_negotiation_in_the_docs_runs_and_prints_what_the_docs_say() -> None:
    page = (DOCS / "sessions.md").read_text(encoding="utf-8")
    section = page[page.index("## A worked negotiation") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/sessions.md", "exec"), {})
    assert out.getvalue() == shown
    assert "pressure.read_their_limit" in shown and "authority.tit_for_tat" in shown


def test_a_negotiation_equals_advise_on_the_same_state() -> None:
    state = NegotiationState(phase="bargaining", history=[Event(kind="concession", by="us", value=2.0)] * 2)
    with Negotiation(state) as n:
        assert n.advise() == advise(state)


@pytest.mark.parametrize(
    ("values", "shrinking"),
    [
        ((1e16, 1e300, 5e-324), False),
        ((1e300, 1e16, 5e-324), True),
        ((3.0, 3.0, 1.0), False),
        ((3.0, 2.0, None), False),
    ],
)
def test_their_shrinking_steps_are_read_from_the_last_three_values(
    values: tuple[float, float, float | None], shrinking: bool
) -> None:
    history = [Event(kind="concession", by="them", value=v) for v in values]
    assert trends(history)["their_concessions_shrinking"] is shrinking


def test_trends_follow_the_order_of_the_moves() -> None:
    def h(*moves: str) -> list[Event]:
        return [Event(kind="concession", by="us" if m == "u" else "them", value=1.0) for m in moves]

    assert trends(h("u", "u"))["concessions_unanswered"]
    assert not trends(h("u", "t", "u"))["concessions_unanswered"]
    assert trends(h("t", "u", "u"))["concessions_unanswered"]
    assert trends(h("u", "u"))["our_concessions_not_shrinking"]  # equal steps are not shrinking


def test_updating_the_counterpart_with_a_dict_keeps_what_is_already_known_about_them() -> None:
    n = Negotiation({"phase": "bargaining", "counterpart": {"authority": "claimed_higher", "experience": "novice"}})
    n.update(counterpart={"experience": "experienced"})
    assert n.state.counterpart.authority == "claimed_higher"  # still known: not reset to unknown
    assert n.state.counterpart.experience == "experienced"
    assert n.state.counterpart.model_fields_set == {"authority", "experience"}  # nothing else became stated


def test_updating_the_counterpart_with_an_object_replaces_it_whole() -> None:
    from negotiation_rules import Counterpart

    n = Negotiation({"counterpart": {"authority": "claimed_higher"}})
    n.update(counterpart=Counterpart(experience="experienced"))
    assert n.state.counterpart.authority == "unknown"
    assert n.state.counterpart.experience == "experienced"
