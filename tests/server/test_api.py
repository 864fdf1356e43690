"""The HTTP API, spoken to over HTTP: the same answers as the library, problems instead of crashes,
and the operator's limits and settings enforced."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOUSE_RULES, STRICT_KEY, STRICT_ORIGIN, Running, needs_server_extra

needs_server_extra()

import httpx  # noqa: E402

from negotiation_rules import Negotiation, Ruleset, StateError, advise, explain, what_if  # noqa: E402
from negotiation_rules._catalog import CATALOG  # noqa: E402
from negotiation_rules._ruleset import builtin_ruleset, builtin_ruleset_dir  # noqa: E402
from negotiation_rules._schemas import schemas  # noqa: E402

STATES: list[dict[str, Any]] = [
    {"phase": "bargaining", "counterpart": {"authority": "claimed_higher", "experience": "experienced"}},
    {"phase": "closing", "trust": "low", "relationship": "one_off", "outlook": "losing", "alternatives": 2},
    {
        "phase": "bargaining",
        "history": [{"kind": "authority_claimed", "by": "them"}, {"kind": "authority_claimed", "by": "them"}],
    },
    {"phase": "preparation", "our_side": "buyer", "issues": [{"name": "price", "our_limit": 90, "our_target": 80}]},
]

CUSTOM_RULES = """ruleset: mine
rules:
  - id: mine.ask_for_volume
    tactic: mine.ask_for_volume
    move: Ask for a larger volume in return.
    rationale: The talks are in the bargaining phase.
    when:
      phase: bargaining
    weight: 0.99
    sources:
      - document: 001_b456b039e9603b86.txt
        section: (1) Strong pressure
"""

#: The README's example rule file: a catalog tactic, nothing to find.
CLEAN_RULES = """ruleset: our-house-rules
rules:
  - id: house.stay_firm_on_price
    tactic: pressure.strong_posture
    move: Hold the list price and point to the other buyers waiting.
    rationale: We have {alternatives} other buyers lined up.
    when:
      phase: bargaining
      alternatives: {gte: 3}
    weight: 0.8
    sources:
      - document: 001_b456b039e9603b86.txt
        section: (1) Strong pressure
"""

BROKEN_RULES = """ruleset: mine
rules:
  - id: mine.broken
    tactic: mine.broken
    move: Do it.
    rationale: Because.
    when:
      phase: bargaining
      alternative: {gte: 2}
    sources:
      - document: 001_b456b039e9603b86.txt
        section: (1) Strong pressure
"""


def assert_problem(response: httpx.Response, status: int, **expected: Any) -> dict[str, Any]:
    """A problem+json answer with this status and these fields, never a traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:negotiation-rules:problem:")
    for key, value in expected.items():
        assert body.get(key) == value, (key, body)
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def without_files(data: Any) -> Any:
    """``data`` without its ``file`` keys, at any depth."""
    if isinstance(data, dict):
        return {k: without_files(v) for k, v in data.items() if k != "file"}
    if isinstance(data, list):
        return [without_files(v) for v in data]
    return data


# -- the same answers as the library -----------------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_advice_over_http_is_the_advice_of_the_library(api: httpx.Client, state: dict[str, Any]) -> None:
    for top in (None, 2):
        response = api.post("/v1/advise", json={"state": state, "top": top})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == advise(state, top=top).model_dump(mode="json")


def test_explain_over_http_is_the_library_explanation_with_file_names_only(api: httpx.Client) -> None:
    state = STATES[0]
    for tactic in ("authority.provoke", "pressure.strong_posture", "authority.engage_decision_maker"):
        response = api.post("/v1/explain", json={"state": state, "tactic": tactic})
        assert response.status_code == 200, response.text
        body = response.json()
        local = explain(state, tactic).model_dump(mode="json")
        assert [r["file"] for r in body["rules"]] == [Path(r["file"]).name for r in local["rules"]]
        assert str(builtin_ruleset_dir()) not in response.text
        assert without_files(body) == without_files(local)


def test_what_if_over_http_is_the_library_answer(api: httpx.Client) -> None:
    state = STATES[0]
    response = api.post("/v1/what-if", json={"state": state, "tactic": "pressure.strong_posture", "max_changes": 2})
    assert response.status_code == 200, response.text
    local = what_if(state, "pressure.strong_posture", max_changes=2)
    assert response.json() == local.model_dump(mode="json", by_alias=True)


def test_questions_are_passed_on_when_the_library_takes_them(api: httpx.Client) -> None:
    state = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}
    response = api.post("/v1/advise", json={"state": state, "questions": 1})
    assert response.status_code == 200, response.text
    takes_questions = "questions" in inspect.signature(advise).parameters
    expected = advise(state, questions=1) if takes_questions else advise(state)  # type: ignore[call-arg]
    assert response.json() == expected.model_dump(mode="json")


def test_advice_follows_the_named_playbook(api: httpx.Client) -> None:
    state = STATES[1]
    response = api.post("/v1/advise", json={"state": state, "playbook": "hard_bargainer"})
    assert response.status_code == 200, response.text
    assert response.json() == advise(state, playbook="hard_bargainer").model_dump(mode="json")


def test_pasted_rules_are_added_to_the_built_in_ones(api: httpx.Client) -> None:
    state = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher"}}
    response = api.post("/v1/advise", json={"state": state, "rules": CUSTOM_RULES})
    assert response.status_code == 200, response.text
    layered = Ruleset.merge(builtin_ruleset(), Ruleset.from_text(CUSTOM_RULES, "pasted.yaml"))
    assert response.json() == advise(state, ruleset=layered).model_dump(mode="json")
    tactics = [r["tactic"] for r in response.json()["recommendations"]]
    assert "mine.ask_for_volume" in tactics
    assert set(advise(state).tactics) <= set(tactics)
    why = api.post("/v1/explain", json={"state": state, "tactic": "mine.ask_for_volume", "rules": CUSTOM_RULES})
    assert why.status_code == 200 and why.json()["verdict"] == "recommended"
    assert why.json()["rules"][0]["file"] == "pasted.yaml"


def test_negotiations_over_time_stay_on_the_client(api: httpx.Client) -> None:
    claimed = {"kind": "authority_claimed", "by": "them"}
    saved = json.loads(Negotiation({"phase": "bargaining"}).to_json())
    first = api.post("/v1/negotiation", json={"negotiation": saved, "record": [claimed, claimed]})
    assert first.status_code == 200, first.text
    kept = first.json()["negotiation"]
    assert len(kept["state"]["history"]) == 2
    assert first.json()["advice"] == advise(kept["state"]).model_dump(mode="json")
    second = api.post("/v1/negotiation", json={"negotiation": kept, "record": [claimed], "top": 3})
    assert second.status_code == 200, second.text
    state = second.json()["negotiation"]["state"]
    assert len(state["history"]) == 3
    expected = advise({"phase": "bargaining", "history": [claimed] * 3}, top=3)
    assert second.json()["advice"] == expected.model_dump(mode="json")


def test_a_saved_negotiation_naming_files_is_refused_without_reading_them(api: httpx.Client) -> None:
    saved = json.loads(Negotiation({"phase": "bargaining"}).to_json())
    saved["ruleset"] = {"kind": "files", "files": [str(builtin_ruleset_dir() / "authority.yaml")]}
    response = api.post("/v1/negotiation", json={"negotiation": saved})
    body = assert_problem(response, 422, code="state-error", error="StateError", path="negotiation.ruleset")
    assert "not accepted from a client" in body["detail"]


def test_a_kept_negotiation_holds_only_what_was_given_so_defaults_never_come_back_as_facts(
    api: httpx.Client,
) -> None:
    saved = json.loads(Negotiation({"phase": "bargaining"}).to_json())
    first = api.post("/v1/negotiation", json={"negotiation": saved, "record": [{"kind": "deadlock", "by": "them"}]})
    assert first.status_code == 200, first.text
    kept = first.json()["negotiation"]["state"]
    assert set(kept) == {"phase", "history"}  # trust, relationship, deadlock ... stay unknown / unstated
    again = api.post("/v1/negotiation", json={"negotiation": first.json()["negotiation"]})
    assert again.json()["advice"] == first.json()["advice"]


@pytest.mark.parametrize(
    ("body", "path"),
    [({"questions": True}, "questions"), ({"questions": "3"}, "questions"), ({"top": True}, "top")],
)
def test_request_options_are_not_coerced(api: httpx.Client, body: dict[str, Any], path: str) -> None:
    assert_problem(api.post("/v1/advise", json=body), 422)
    assert_problem(api.post("/v1/negotiation", json=body), 422)


# -- rule text ---------------------------------------------------------------------------------


def test_lint_finds_a_mistake_at_its_line(api: httpx.Client) -> None:
    response = api.post("/v1/lint", json={"rules": BROKEN_RULES})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is False and report["counts"]["error"] >= 1
    finding = report["findings"][0]
    assert finding["file"] == "pasted.yaml"
    assert finding["line"] == 9  # the line of `alternative: {gte: 2}`
    assert finding["rule_id"] == "mine.broken"
    assert "did you mean 'alternatives'" in finding["message"]
    clean = api.post("/v1/lint", json={"rules": CLEAN_RULES}).json()
    assert clean == {"ok": True, "counts": {"error": 0, "warning": 0, "info": 0}, "findings": []}


def test_lint_reports_an_id_that_clashes_with_the_ruleset_it_joins(api: httpx.Client) -> None:
    taken = builtin_ruleset().rules[0].id
    text = CLEAN_RULES.replace("id: house.stay_firm_on_price", f"id: {taken}")
    together = api.post("/v1/lint", json={"rules": text}).json()
    assert [f["code"] for f in together["findings"]] == ["duplicate-id"]
    assert together["findings"][0]["file"] == "pasted.yaml" and together["findings"][0]["line"] == 3
    alone = api.post("/v1/lint", json={"rules": text, "ruleset": None}).json()
    assert alone["findings"] == []


def test_a_broken_pasted_rule_is_a_ruleset_problem_at_its_line(api: httpx.Client) -> None:
    response = api.post("/v1/advise", json={"state": {"phase": "bargaining"}, "rules": BROKEN_RULES})
    body = assert_problem(response, 422, error="RulesetError", file="pasted.yaml", line=9, rule_id="mine.broken")
    assert body["detail"].startswith("pasted.yaml:9: rule 'mine.broken':")
    assert "/tmp" not in response.text


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc")
def test_pasted_rule_text_does_not_pile_up_in_the_server(server: Running, api: httpx.Client) -> None:
    # Each ruleset built in a process stays there (about 1-4 MB each with the built-in rules);
    # rule text from clients is built in a worker process that is replaced every 64 calls.
    state = {"phase": "bargaining", "alternatives": 3}
    api.post("/v1/advise", json={"state": state, "rules": CLEAN_RULES})  # the worker is up
    before = rss_kib(server.process.pid)
    for n in range(80):
        text = CLEAN_RULES.replace("stay_firm_on_price", f"stay_firm_{n}").replace("{gte: 3}", f"{{gte: {3 + n % 4}}}")
        linted = api.post("/v1/lint", json={"rules": text})
        assert linted.status_code == 200 and linted.json()["ok"], linted.text
        advice = api.post("/v1/advise", json={"state": state, "rules": text})
        assert advice.status_code == 200, advice.text
    layered = Ruleset.merge(builtin_ruleset(), Ruleset.from_text(text, "pasted.yaml"))
    assert advice.json() == advise(state, ruleset=layered).model_dump(mode="json")
    grown_mib = (rss_kib(server.process.pid) - before) / 1024
    assert grown_mib < 40, f"the server grew by {grown_mib:.0f} MiB over 80 pasted rule files"
    assert len(children(server.process.pid)) <= 4


# -- problems, never crashes -------------------------------------------------------------------


def test_a_bad_state_is_a_problem_naming_the_field(api: httpx.Client) -> None:
    response = api.post("/v1/advise", json={"state": {"phase": "bargainin"}})
    body = assert_problem(response, 422, code="state-error", error="StateError", path="state.phase")
    assert "did you mean 'bargaining'" in body["detail"]
    nested = api.post("/v1/advise", json={"state": {"counterpart": {"authority": "boss"}}})
    assert_problem(nested, 422, path="state.counterpart.authority")
    unknown = api.post("/v1/advise", json={"state": {"phasee": "bargaining"}})
    assert_problem(unknown, 422, path="state.phasee")


@pytest.mark.parametrize(
    "state",
    [{"alternatives": "2"}, {"deadlock": "yes"}, {"alternatives": 2.0}, {"trust": None}, {"history": [{"kind": "x"}]}],
    ids=["number-as-text", "bool-as-text", "whole-float", "null-enum", "event-without-by"],
)
def test_the_service_accepts_exactly_what_the_library_accepts(api: httpx.Client, state: dict[str, Any]) -> None:
    response = api.post("/v1/advise", json={"state": state})
    try:
        expected = advise(state)
    except StateError as exc:
        assert_problem(response, 422, error="StateError", path=f"state.{exc.path}")
    else:
        assert response.status_code == 200, response.text
        assert response.json() == expected.model_dump(mode="json")


def test_an_unknown_tactic_is_a_problem_with_a_suggestion(api: httpx.Client) -> None:
    response = api.post("/v1/explain", json={"state": {}, "tactic": "authority.provok"})
    body = assert_problem(response, 422, code="unknown-tactic", path="tactic")
    assert "did you mean 'authority.provoke'" in body["detail"]


@pytest.mark.parametrize(
    "content",
    [b"{", b"[]", b"null", b'"text"', b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000, b'{"state": []}', b""],
    ids=["truncated", "list", "null", "string", "not-utf8", "deep", "state-list", "empty"],
)
def test_junk_bodies_are_problems_never_server_errors(api: httpx.Client, content: bytes) -> None:
    for path in ("/v1/advise", "/v1/explain", "/v1/what-if", "/v1/lint", "/v1/negotiation"):
        response = api.post(path, content=content, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.text)
        assert_problem(response, response.status_code)


def test_unknown_paths_and_methods_are_problems(api: httpx.Client) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404, code="not-found")
    assert_problem(api.get("/v1/advise"), 405)
    assert_problem(api.get("/v1/schemas/everything"), 422)


# -- rulesets and playbooks by name, never by path -----------------------------------------------


def test_rulesets_are_chosen_by_name_from_the_operators_folder(strict_api: httpx.Client) -> None:
    state = {"phase": "bargaining"}
    response = strict_api.post("/v1/advise", json={"state": state, "ruleset": "house"})
    assert response.status_code == 200, response.text
    assert response.json() == advise(state, ruleset=Ruleset.from_text(HOUSE_RULES, "house.yaml")).model_dump(
        mode="json"
    ) | {"ruleset": response.json()["ruleset"]}
    assert response.json()["recommendations"][0]["tactic"] == "house.hold_the_price"
    assert strict_api.get("/v1/rulesets").json()["rulesets"] == ["builtin", "house"]
    typo = assert_problem(strict_api.post("/v1/advise", json={"ruleset": "hose"}), 422, path="ruleset")
    assert "did you mean 'house'" in typo["detail"]


@pytest.mark.parametrize("name", ["../rulesets/house", "/etc/passwd", "house.yaml", "..", "", "a/b", "~root"])
def test_a_path_is_never_a_ruleset_or_playbook_name(strict_api: httpx.Client, name: str) -> None:
    for key in ("ruleset", "playbook"):
        response = strict_api.post("/v1/advise", json={"state": {}, key: name})
        assert_problem(response, 422, path=key)
    assert_problem(strict_api.post("/v1/lint", json={"rules": CUSTOM_RULES, "ruleset": name}), 422, path="ruleset")


# -- security settings and limits ------------------------------------------------------------------


def test_the_api_key_is_required_when_the_operator_set_one(strict: Running) -> None:
    with strict.client() as anonymous:
        assert anonymous.get("/v1/health").status_code == 200
        assert anonymous.get("/v1/schemas/state").status_code == 200  # shapes, never data: public by design
        assert anonymous.get("/v1/openapi.json").status_code == 200
        response = anonymous.post("/v1/advise", json={"state": {}})
        assert_problem(response, 401, code="unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_problem(anonymous.post("/v1/advise", json={}, headers={"X-API-Key": STRICT_KEY + "x"}), 401)
        assert_problem(anonymous.get("/v1/tactics"), 401)
        bearer = anonymous.post("/v1/advise", json={}, headers={"Authorization": f"Bearer {STRICT_KEY}"})
        assert bearer.status_code == 200


def test_without_a_key_configured_no_key_is_needed(api: httpx.Client) -> None:
    assert api.post("/v1/advise", json={}).status_code == 200


def test_a_body_over_the_limit_is_refused_naming_the_limit(strict_api: httpx.Client) -> None:
    big = {"state": {"issues": [{"name": "x" * 1000}] * 30}}
    body = assert_problem(strict_api.post("/v1/advise", json=big), 413, limit="max_body_bytes", max=20000)
    assert "max_body_bytes" in body["detail"]

    def chunks() -> Any:
        yield b'{"state": {"issues": ['
        for _ in range(40):
            yield b'{"name": "' + b"x" * 1000 + b'"},'
        yield b'{"name": "y"}]}}'

    streamed = strict_api.post("/v1/advise", content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(streamed, 413, limit="max_body_bytes")


def test_rule_text_over_the_limit_is_refused_naming_the_limit(strict_api: httpx.Client) -> None:
    text = CUSTOM_RULES + "#" * 3000
    for path, extra in (("/v1/lint", {}), ("/v1/advise", {"state": {}}), ("/v1/explain", {"tactic": "x"})):
        body = assert_problem(strict_api.post(path, json={"rules": text, **extra}), 413, limit="max_rule_text")
        assert "at most 3000" in body["detail"]


def test_a_history_over_the_limit_is_refused_naming_the_limit(strict_api: httpx.Client) -> None:
    events = [{"kind": "offer", "by": "us"}] * 6
    body = assert_problem(
        strict_api.post("/v1/advise", json={"state": {"history": events}}), 422, limit="max_history", max=5
    )
    assert body["path"] == "state.history"
    grown = strict_api.post(
        "/v1/negotiation", json={"negotiation": {"state": {"history": events[:4]}}, "record": events[:2]}
    )
    assert_problem(grown, 422, limit="max_history", path="negotiation.state.history")


def test_cors_allows_only_the_configured_origins(strict: Running, server: Running) -> None:
    preflight = {"Origin": STRICT_ORIGIN, "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(strict.url + "/v1/advise", headers=preflight)
    assert allowed.headers.get("access-control-allow-origin") == STRICT_ORIGIN
    other = httpx.options(strict.url + "/v1/advise", headers={**preflight, "Origin": "http://evil.example.test"})
    assert other.headers.get("access-control-allow-origin") is None
    default = httpx.post(server.url + "/v1/advise", json={}, headers={"Origin": STRICT_ORIGIN})
    assert "access-control-allow-origin" not in default.headers


# -- the time budget and the bound on evaluations ------------------------------------------------


def slow_what_if() -> dict[str, Any]:
    """A what-if that needs the whole default budget of evaluations (seconds, not milliseconds)."""
    likely = ["pressure.ultimatum", "outcome.concede_gracefully", "trust.pace_commitments"]
    for tactic in [*likely, *sorted(set(CATALOG) - set(likely))]:
        if tactic not in CATALOG:
            continue
        answer = what_if({}, tactic, goal="first", max_changes=5)
        if not answer.complete:
            return {"state": {}, "tactic": tactic, "goal": "first", "max_changes": 5}
    pytest.fail("no built-in tactic needs the whole what-if budget any more; pick a slower request")


def test_past_the_time_budget_a_request_gets_504_and_later_requests_are_unharmed(
    strict: Running, strict_api: httpx.Client
) -> None:
    slow = slow_what_if()
    answers: list[httpx.Response] = []

    def call() -> None:
        with strict.client(**{"X-API-Key": STRICT_KEY}) as client:
            answers.append(client.post("/v1/what-if", json=slow))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    # two calls take both slots and run past the 1 s budget; the third finds no slot within it
    assert codes == [503, 504, 504], [r.text for r in answers]
    for response in answers:
        body = assert_problem(response, response.status_code)
        assert body["limit"] == ("timeout" if response.status_code == 504 else "max_concurrent")
    # the abandoned calls finish in the background; then every later request is answered as before
    state = STATES[0]
    for _ in range(300):
        later = strict_api.post("/v1/advise", json={"state": state})
        if later.status_code != 503:
            break
    assert later.status_code == 200, later.text
    assert later.json() == advise(state).model_dump(mode="json")
    quick = strict_api.post("/v1/what-if", json={"state": state, "tactic": "pressure.strong_posture"})
    assert quick.status_code == 200
    assert quick.json() == what_if(state, "pressure.strong_posture").model_dump(mode="json", by_alias=True)
    assert "Traceback" not in strict.log.read_text()


# -- documents and the page ----------------------------------------------------------------------


def test_the_openapi_document_is_made_from_the_library_models(api: httpx.Client) -> None:
    from negotiation_rules import Advice, NegotiationState

    doc = api.get("/v1/openapi.json").json()
    components = doc["components"]["schemas"]
    for name in ("NegotiationState", "Advice", "Recommendation", "Explanation", "WhatIf", "Finding", "Problem"):
        assert name in components, name
    assert set(components["NegotiationState"]["properties"]) == set(NegotiationState.model_fields)
    assert set(components["Advice"]["properties"]) == set(Advice.model_fields)
    paths = doc["paths"]
    for path in ("/v1/advise", "/v1/explain", "/v1/what-if", "/v1/lint", "/v1/negotiation"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "413", "422", "503", "504"} <= set(responses)
        assert "application/problem+json" in responses["422"]["content"]
    for path in ("/v1/health", "/v1/tactics", "/v1/schemas", "/v1/schemas/{name}", "/v1/rulesets"):
        assert "get" in paths[path]


def test_the_schemas_are_the_ones_the_command_line_prints(api: httpx.Client) -> None:
    assert api.get("/v1/schemas").json() == json.loads(json.dumps(schemas()))
    assert api.get("/v1/schemas/state").json() == json.loads(json.dumps(schemas()["state"]))


def test_the_tactics_are_the_catalog_with_the_rules_of_each(api: httpx.Client) -> None:
    tactics = {t["id"]: t for t in api.get("/v1/tactics").json()}
    assert set(CATALOG) <= set(tactics)
    for tactic_id, entry in tactics.items():
        assert entry["rules"] == [r.id for r in builtin_ruleset().rules_for(tactic_id)]


def test_health_says_what_runs(api: httpx.Client) -> None:
    from negotiation_rules import __version__

    assert api.get("/v1/health").json() == {"status": "ok", "version": __version__, "rules": len(builtin_ruleset())}


def test_the_page_is_served_with_its_files_and_loads_nothing_from_elsewhere(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in re.findall(r'(?:src|href)="(static/[^"]+)"', page.text):
        assert api.get("/" + name).status_code == 200, name
    static = Path(__file__).resolve().parents[2] / "negotiation_rules" / "_static"
    for file in static.iterdir():
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{file.name} names another host"
        assert "<style" not in text and " style=" not in text, f"{file.name}: inline styles break the CSP"


def test_serving_needs_nothing_of_the_server_in_the_core_import() -> None:
    code = (
        "import sys, negotiation_rules, negotiation_rules._cli\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "[]"
