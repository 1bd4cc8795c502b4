"""An admin in Chromium: the playground answers a question with citations beside the retrieval
columns, shows the exact request, saves an edited prompt as code; the Answers page opens that
answer as its trace and turns it into a judgment."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from playwright.sync_api import Page, expect
from retrieve.corpus import CORPUS, index_corpus, shared_embedder
from werkzeug.serving import make_server

from admin_ui import create_app
from admin_ui.playground_judgments import query_id
from es_rag.config import PROJECT_ROOT, Settings

pytestmark = pytest.mark.browser
INDEX = "browser-answers"
QUESTION = "When was the Eiffel Tower completed?"


@pytest.fixture(scope="module")
def answers_ui(engine: Any, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[dict[str, Any]]:
    """The admin UI with the answer log on (questions kept), over the test corpus."""
    client = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(client, INDEX, CORPUS)
    root = tmp_path_factory.mktemp("answers-repo")
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    shutil.copy(PROJECT_ROOT / "retrieval.json", root / "retrieval.json")
    settings = Settings(url=engine.url, data=root / ".es-rag", assets=root, index=INDEX,
                        answer_log=True, answer_log_questions=True)
    app = create_app(settings, allow_without_security=True, embedder=shared_embedder())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "assets": root}
    server.shutdown()
    client.options(ignore_status=404).indices.delete(index=INDEX)
    client.close()


@pytest.fixture(scope="module")
def page(browser: Any, answers_ui: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{answers_ui['url']}/auth/login")
    page.fill("input[name=username]", "admin")
    page.click("button[type=submit]")
    yield page
    context.close()


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_the_playground_answers_with_citations_and_shows_the_request(
        page: Page, answers_ui: dict[str, Any], screenshots: Path) -> None:
    page.goto(f"{answers_ui['url']}/playground?q={QUESTION}&size=3")
    panel = page.locator("#answer-panel")
    expect(panel).to_have_class("card answer-panel answered")
    expect(page.locator("#answer-text")).to_contain_text("1889")
    expect(page.locator("#answer-text")).to_contain_text("[1]")
    expect(page.locator("#answer-citations li").first).to_contain_text("Paris landmarks")
    expect(page.locator("#answer-citations blockquote").first).to_contain_text(
        "completed in 1889")
    expect(page.locator(".column")).to_have_count(3)  # the answer sits beside the columns
    _shot(page, screenshots, "answers-01-playground-answer")

    bm25 = page.locator(".column[data-mode='bm25'] .view-request")
    bm25.locator("summary").click()
    expect(bm25.locator(".request-line")).to_have_text(f"POST /{INDEX}/_search")
    expect(bm25.locator(".request-body")).to_contain_text('"multi_match"')
    expect(bm25.locator(".request-python")).to_contain_text("response = client.search(")
    expect(bm25.locator(".request-python")).to_contain_text(f'index="{INDEX}"')
    bm25.scroll_into_view_if_needed()
    _shot(page, screenshots, "answers-02-view-request")


def test_an_edited_prompt_is_saved_as_code_after_a_diff(
        page: Page, answers_ui: dict[str, Any], screenshots: Path) -> None:
    page.goto(f"{answers_ui['url']}/playground?q={QUESTION}&size=3")
    page.locator("#prompt-editor summary").click()
    user = page.locator("#prompt-editor textarea[name=user]")
    user.fill(user.input_value().replace("citing them as [n]", "citing each claim as [n]"))
    _shot(page, screenshots, "answers-03-prompt-editor")
    page.click("#prompt-preview")
    expect(page.locator("pre.diff .add")).to_contain_text("citing each claim as [n]")
    _shot(page, screenshots, "answers-04-prompt-diff")
    page.click("#prompt-save")
    expect(page.locator(".flash.ok")).to_contain_text("Saved templates/prompts/default/")
    saved = (answers_ui["assets"] / "templates" / "prompts" / "default" / "user.j2").read_text()
    assert "citing each claim as [n]" in saved


def test_the_answers_page_opens_a_trace_and_turns_it_into_a_judgment(
        page: Page, answers_ui: dict[str, Any], screenshots: Path) -> None:
    page.goto(f"{answers_ui['url']}/playground?q={QUESTION}&size=3")
    page.click("#answer-trace-link")
    expect(page.locator("h1")).to_have_text("Why did it say that?")
    expect(page.locator("#trace-question")).to_have_text(QUESTION)
    expect(page.locator(".passage.cited").first).to_contain_text("eiffel#0")
    expect(page.locator("#trace-answer")).to_contain_text("1889")
    _shot(page, screenshots, "answers-05-trace")

    page.click("a:text('← Answers')")
    expect(page.locator(".answer-row").first).to_contain_text(QUESTION)
    _shot(page, screenshots, "answers-06-answers-page")
    page.locator(".answer-row a").first.click()
    # a bad answer: the cited document is proposed as not relevant
    expect(page.locator("tr[data-doc='eiffel'] input[value='0']")).to_be_checked()
    page.click("#turn-into-judgment")
    expect(page.locator(".flash.ok")).to_contain_text("Saved 1 judgment(s)")
    _shot(page, screenshots, "answers-07-judged")
    qrels = (answers_ui["assets"] / "judgments" / "playground.qrels").read_text()
    assert f"{query_id(QUESTION)} 0 eiffel 0" in qrels


def test_an_answer_that_cannot_be_given_says_why(page: Page, answers_ui: dict[str, Any]) -> None:
    page.goto(f"{answers_ui['url']}/playground?q={QUESTION}&boost_title=lots")
    expect(page.locator("#answer-text .flash.error")).to_have_text(
        "No answer: boost of title: 'lots' is not a number")
