"""An admin drives the UI in Chromium: log in, compare modes, judge, tune as code, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from admin_ui.playground_judgments import query_id
from es_rag.retrieve.defaults import STORED_ID

pytestmark = pytest.mark.browser

# With both legs cut to their top 5, this query's first hybrid hit differs between
# rank_constant 1 (a strong single-leg rank wins) and 60 (agreement of both legs wins).
FLIP_QUERY = "appears days"


@pytest.fixture(scope="module")
def page(browser: Any, ui: dict[str, Any]) -> Any:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_an_admin_session_from_login_to_logout(page: Page, ui: dict[str, Any],
                                               screenshots: Path) -> None:
    base = ui["url"]
    page.goto(f"{base}/playground")
    expect(page).to_have_url(f"{base}/auth/login?next=/playground")
    _shot(page, screenshots, "01-login")
    page.fill("input[name=username]", "admin")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/playground")

    page.goto(f"{base}/overview")
    expect(page.locator("#chunk-count")).to_have_text("13")
    _shot(page, screenshots, "02-overview")

    # four columns side by side, then rank_constant changes the hybrid order
    page.goto(f"{base}/playground?q={FLIP_QUERY}&rank_window_size=5&size=5&rank_constant=60"
              "&rerank=on")
    columns = page.locator(".column")
    expect(columns).to_have_count(4)
    for mode in ("bm25", "knn", "hybrid", "hybrid+rerank"):
        expect(page.locator(f".column[data-mode='{mode}'] .hit").first).to_be_visible()
    hybrid_first = page.locator(".column[data-mode='hybrid'] .hit").first
    before = hybrid_first.get_attribute("data-chunk")
    _shot(page, screenshots, "03-playground")
    page.fill("input[name=rank_constant]", "1")
    with page.expect_navigation():
        page.locator("input[name=rank_constant]").dispatch_event("change")
    assert "rank_constant=1" in page.url
    after = page.locator(".column[data-mode='hybrid'] .hit").first.get_attribute("data-chunk")
    assert after != before, "changing rank_constant should reorder the hybrid results"

    # judge the first hybrid hit relevant: the button lights up and the qrels file has it
    first = page.locator(".column[data-mode='hybrid'] .hit").first
    doc = first.get_attribute("data-doc")
    first.locator(".judge-btn.rel").click()
    expect(first.locator(".judge-btn.rel")).to_have_class("judge-btn rel on")
    qrels = ui["assets"] / "judgments" / "playground.qrels"
    assert f"{query_id(FLIP_QUERY)} 0 {doc} 1" in qrels.read_text()

    # tune as code: the playground's values (kNN included) go to retrieval.json, a diff first
    page.goto(f"{base}/playground?q={FLIP_QUERY}&rank_constant=1&k=12&num_candidates=120")
    page.click("text=Save as code…")
    expect(page.locator("input[name=rank_constant]")).to_have_value("1")
    expect(page.locator("input[name=k]")).to_have_value("12")
    expect(page.locator("input[name=num_candidates]")).to_have_value("120")
    page.click("text=Show diff")
    expect(page.locator("pre.diff .add", has_text='"rank_constant": 1,')).to_have_count(1)
    expect(page.locator("pre.diff .add", has_text='"k": 12,')).to_have_count(1)
    _shot(page, screenshots, "04-tuning-diff")
    page.click("text=Save and apply")
    expect(page.locator(".flash.ok")).to_contain_text("Saved retrieval.json")
    saved = json.loads((ui["assets"] / "retrieval.json").read_text())
    assert (saved["fusion"]["rank_constant"], saved["knn"]) == (1, {"k": 12,
                                                                   "num_candidates": 120})
    assert json.loads(ui["es"].get_script(id=STORED_ID)["script"]["source"]) == saved
    expect(page.locator("tr[data-param=rank_constant] td.stored")).to_have_text("1")
    _shot(page, screenshots, "05-tuning")
    # the playground now starts from the applied values
    page.goto(f"{base}/playground?q={FLIP_QUERY}")
    expect(page.locator("input[name=rank_constant]")).to_have_value("1")
    expect(page.locator("input[name=k]")).to_have_value("12")

    # evaluate the judgments in the background, watching the progress line
    page.goto(f"{base}/evaluation")
    page.fill("input[name=configs]", "bm25,hybrid,hybrid+rerank")
    page.click("text=Run evaluation")
    expect(page.locator(".job")).to_be_visible()
    expect(page.locator("table.metrics")).to_be_visible(timeout=240_000)
    expect(page.locator("svg rect.bar")).to_have_count(9)
    _shot(page, screenshots, "06-evaluation")

    page.click("text=Log out")
    expect(page).to_have_url(f"{base}/auth/login")
    page.goto(f"{base}/evaluation")
    expect(page).to_have_url(f"{base}/auth/login?next=/evaluation")


def test_document_markup_stays_inert(page: Page, ui: dict[str, Any], screenshots: Path) -> None:
    base = ui["url"]
    page.goto(f"{base}/auth/login")
    page.fill("input[name=username]", "admin")
    page.click("button[type=submit]")
    page.goto(f"{base}/playground?q=evil+payload&rerank=on")
    hit = page.locator(".column[data-mode='bm25'] .hit[data-doc='evil']")
    expect(hit.locator(".text")).to_contain_text("<script>alert('xss')</script>")
    expect(hit.locator(".title")).to_have_text("Untrusted <b>quota</b>")
    assert page.locator(".hit script, .hit b").count() == 0
    assert page.dialogs == []  # type: ignore[attr-defined]
    _shot(page, screenshots, "07-escaped")


def test_a_post_without_csrf_token_is_rejected(page: Page, ui: dict[str, Any]) -> None:
    response = page.request.post(f"{ui['url']}/playground/judge",
                                 form={"q": "quota", "doc_id": "storage", "grade": "1"})
    assert response.status == 400
    assert "CSRF token is missing or invalid" in response.text()
