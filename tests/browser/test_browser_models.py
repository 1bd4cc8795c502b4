"""An admin opens the evaluation page in Chromium and reads which models serve and what each
fine-tune gained on its held-out queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from finetune.model_folders import write_model_folders
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_evaluation_page_shows_models_and_fine_tunes(browser: Any, ui: dict[str, Any],
                                                        screenshots: Path) -> None:
    assets = ui["assets"]
    folders = write_model_folders(assets / ".es-rag", assets)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{ui['url']}/evaluation")
        page.fill("input[name=username]", "admin")
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{ui['url']}/evaluation")

        embedding = page.locator("#models-in-use tr[data-role=embedding]")
        expect(embedding).to_contain_text(str(folders["embeddings-v1"].resolve()))
        expect(embedding).to_contain_text("v1")
        expect(page.locator("#models-in-use tr[data-role=reranker]")).to_contain_text(
            "built-in (no rerank.model)")

        tunes = page.locator("#fine-tunes .fine-tune")
        expect(tunes).to_have_count(4)
        active = page.locator(".fine-tune[data-folder=embeddings-v1]")
        expect(active.locator(".tag.good")).to_have_text("active")
        ndcg = active.locator("tr[data-metric='ndcg@10'] td")
        expect(ndcg).to_have_text(["ndcg@10", "0.6123", "0.6842", "+0.0719", "0.6811"])
        expect(active.locator("thead th")).to_have_text(
            ["Held-out metric", "Before", "After", "Change", "After, ONNX int8"])
        reranker = page.locator(".fine-tune[data-folder=reranker-v1]")
        expect(reranker.locator(".tag.good")).to_have_count(0)
        expect(reranker.locator("tr[data-metric='ndcg@10'] td.bad-text")).to_have_text(
            "-0.0219")
        expect(page.locator(".fine-tune[data-folder=reranker-v2] .problem")).to_contain_text(
            "unreadable manifest")
        page.locator("#models").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "evaluation-models.png"), full_page=True)
    finally:
        context.close()
