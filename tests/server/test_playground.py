"""The playground page in a real browser: Debian's headless chromium driven by Playwright.

Skips only when chromium or Playwright is missing on a developer's machine; under CI (``CI`` set)
a missing browser is a failure, so CI cannot pass without running these.
Set ``NEGOTIATION_RULES_SCREENSHOT=docs/img/playground.png`` to write the screenshot of the docs.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Running, needs_server_extra
from .test_api import BROKEN_RULES, CUSTOM_RULES

needs_server_extra()

CHROMIUM = os.environ.get("NEGOTIATION_RULES_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'Playwright for Python is not installed: pip install -e ".[server-test]"'
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM}: apt-get install -y chromium"
    return None


if (why := _missing()) is not None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run in CI: {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from negotiation_rules import advise, explain, what_if  # noqa: E402
from negotiation_rules._server import call_advise  # noqa: E402
from negotiation_rules._state import parse_state  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser, server: Running) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(server.url + "/")
    opened.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield opened
    context.close()
    assert errors == [], errors


def shown_tactics(page: Page) -> list[str]:
    return [str(t) for t in page.locator("ol.recs > li").evaluate_all("items => items.map(i => i.dataset.tactic)")]


def expected_tactics(state: dict[str, Any], **options: Any) -> list[str]:
    """What the page should show: the library's advice with the page's defaults (best 5, 3 questions)."""
    return call_advise(parse_state(state), top=5, questions=3, **options).tactics


def wait_for_tactics(page: Page, tactics: list[str]) -> None:
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('ol.recs > li')].map(i => i.dataset.tactic))"
        " === JSON.stringify(want)",
        arg=tactics,
        timeout=15_000,
    )


def test_every_input_has_a_label_and_every_choice_starts_unknown(page: Page) -> None:
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)"
    )
    assert unlabelled == []
    selects = page.locator("#state-fields select")
    assert selects.count() >= 10
    for i in range(selects.count()):
        select = selects.nth(i)
        assert select.input_value() == ""
        # unknown where the contract allows it; a field with a fixed default says that default instead
        assert select.locator("option").first.inner_text() in ("unknown", "default: Preparation", "default: no")
    assert page.locator("#f-phase option").first.inner_text() == "default: Preparation"
    assert page.locator("#f-trust option").first.inner_text() == "unknown"
    assert page.locator("#f-deadlock option").all_inner_texts() == ["default: no", "yes", "no"]
    assert page.locator("#f-bottom_line_set option").all_inner_texts() == ["unknown", "yes", "no"]
    assert shown_tactics(page) == expected_tactics({})


def test_filling_the_form_changes_the_advice(page: Page) -> None:
    before = shown_tactics(page)
    page.select_option("#f-phase", "bargaining")
    page.select_option("#f-counterpart-authority", "claimed_higher")
    page.select_option("#f-counterpart-experience", "experienced")
    state = {"phase": "bargaining", "counterpart": {"authority": "claimed_higher", "experience": "experienced"}}
    want = expected_tactics(state)
    assert want != before
    wait_for_tactics(page, want)
    first = page.locator("ol.recs > li").first
    rec = call_advise(parse_state(state), top=5, questions=3).recommendations[0]
    expect(first.locator(".move")).to_have_text(rec.move)
    expect(first.locator(".rationale")).to_have_text(rec.rationale)
    expect(first.locator(".sources")).to_contain_text(rec.sources[0].section)
    if rec.cautions:
        expect(first.locator(".caution").first).to_contain_text(rec.cautions[0])


def test_why_not_and_what_would_change_it_for_any_tactic(page: Page) -> None:
    page.select_option("#f-phase", "bargaining")
    page.select_option("#f-trust", "low")
    state = {"phase": "bargaining", "trust": "low"}
    wait_for_tactics(page, expected_tactics(state))
    page.select_option("#any-tactic", "authority.provoke")
    page.click("#any-explain")
    verdict = page.locator("#detail [data-verdict]")
    expect(verdict).to_have_text(explain(state, "authority.provoke").summary)
    expect(page.locator("#detail .checks").first).to_be_visible()
    page.click("#any-whatif")
    answer = what_if(state, "authority.provoke", max_changes=2)
    expect(page.locator("#detail [data-status]")).to_have_text(answer.summary)
    # and the "why?" of a recommended move
    page.locator("ol.recs > li").first.locator("button[data-explain]").click()
    expect(page.locator("#detail [data-verdict]")).to_have_attribute("data-verdict", "recommended")


def test_basis_questions_and_source_titles_are_shown_when_the_advice_has_them(page: Page) -> None:
    # contract 0.2 adds Recommendation.basis, Advice.questions and Source.title; the page shows
    # them whenever the answer carries them (here added to the real answer on its way to the page)
    def with_fields(route: Any) -> None:
        answer = route.fetch()
        advice = answer.json()
        for rec in advice["recommendations"]:
            rec.setdefault("basis", [{"path": "phase", "value": "bargaining", "stated": True}])
            for source in rec["sources"]:
                source.setdefault("title", "Imaginary authority")
        advice.setdefault(
            "questions",
            [
                {
                    "path": "counterpart.authority",
                    "question": "Can the person across the table sign the deal today?",
                    "answers": [{"value": "claimed_higher", "effect": "authority.engage_decision_maker becomes #1"}],
                    "impact": 0.5,
                }
            ],
        )
        route.fulfill(response=answer, json=advice)

    page.route("**/v1/advise", with_fields)
    page.select_option("#f-phase", "bargaining")
    first = page.locator("ol.recs > li").first
    expect(first.locator(".basis")).to_contain_text("phase = bargaining")
    # every source shows its document's title before the file name (titles come from the library now)
    expect(first.locator(".sources")).to_contain_text(re.compile(r"Source: [A-Z].+ \(\d{3}_[0-9a-f]+\.txt\)"))
    questions = page.locator(".questions li")
    asked = advise({"phase": "bargaining"}).questions  # the library's own questions reach the page
    expect(questions.first).to_contain_text(asked[0].question)
    expect(questions.first).to_contain_text(asked[0].answers[0].effect)


def test_a_broken_rule_file_shows_its_finding_at_its_line(page: Page) -> None:
    page.fill("#rule-text", BROKEN_RULES)
    finding = page.locator('#findings li[data-line="9"]')
    expect(finding).to_contain_text("did you mean 'alternatives'")
    expect(page.locator("#gutter .mark")).to_have_text("9")
    finding.locator("button.line").click()
    selected = page.evaluate(
        "(() => { const a = document.getElementById('rule-text');"
        " return a.value.slice(a.selectionStart, a.selectionEnd); })()"
    )
    assert selected.strip() == "alternative: {gte: 2}"
    assert page.evaluate("document.activeElement.id") == "rule-text"


def test_pasted_rules_join_the_advice(page: Page) -> None:
    from negotiation_rules import Ruleset
    from negotiation_rules._ruleset import builtin_ruleset

    page.select_option("#f-phase", "bargaining")
    page.fill("#rule-text", CUSTOM_RULES)
    page.check("#use-rules")
    layered = Ruleset.merge(builtin_ruleset(), Ruleset.from_text(CUSTOM_RULES, "pasted.yaml"))
    want = expected_tactics({"phase": "bargaining"}, ruleset=layered)
    assert "mine.ask_for_volume" in want
    wait_for_tactics(page, want)
    page.uncheck("#use-rules")
    wait_for_tactics(page, expected_tactics({"phase": "bargaining"}))


def test_the_page_works_from_the_keyboard(page: Page) -> None:
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.dataset.explain || ''"))
    for wanted in ("api-key", "f-phase", "f-counterpart-authority", "opt-playbook", "advise-button"):
        assert wanted in reached, (wanted, reached)
    page.focus("#f-phase")
    page.keyboard.press("ArrowDown")  # unknown -> preparation, from the keyboard alone
    page.keyboard.press("ArrowDown")  # -> opening
    assert page.input_value("#f-phase") == "opening"
    wait_for_tactics(page, expected_tactics({"phase": "opening"}))


def test_screenshot_of_the_page(page: Page, tmp_path: Path) -> None:
    page.select_option("#f-phase", "bargaining")
    page.select_option("#f-counterpart-authority", "claimed_higher")
    page.select_option("#f-counterpart-experience", "experienced")
    page.select_option("#f-relationship", "long_term")
    page.fill("#rule-text", BROKEN_RULES)
    expect(page.locator('#findings li[data-line="9"]')).to_be_visible()
    state = {
        "phase": "bargaining",
        "relationship": "long_term",
        "counterpart": {"authority": "claimed_higher", "experience": "experienced"},
    }
    wait_for_tactics(page, expected_tactics(state))
    page.select_option("#any-tactic", "pressure.strong_posture")
    page.click("#any-explain")
    expect(page.locator("#detail [data-verdict]")).to_be_visible()
    target = Path(os.environ.get("NEGOTIATION_RULES_SCREENSHOT") or tmp_path / "playground.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
