"""Tuning as code: the admin sees a diff of retrieval.json, saves, and every path follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from ui_support import token

from es_rag.assets import set_template_defaults, template_defaults
from es_rag.retrieve.defaults import STORED_ID


def test_tuning_page_prefills_values_sent_from_the_playground(browser_client) -> None:
    html = browser_client.get("/tuning?rank_constant=20&k=25&num_candidates=300"
                              ).get_data(as_text=True)
    assert "retrieval.json" in html
    for name, value in (("rank_constant", "20"), ("k", "25"), ("num_candidates", "300")):
        assert f'name="{name}" value="{value}"' in html
    assert html.count('<tr class="changed"') == 3


def test_save_shows_a_diff_then_writes_the_file_and_stores_it(
        browser_client: FlaskClient, assets_dir: Path, cluster: Elasticsearch,
        stored_assets_removed: None) -> None:
    path = assets_dir / "retrieval.json"
    before = path.read_text()
    csrf = token(browser_client, "/tuning")
    form = {"csrf_token": csrf, "rank_constant": "20", "boost_title": "3.5", "k": "25"}
    preview = browser_client.post("/tuning/preview", data=form).get_data(as_text=True)
    assert '<span class="del">-    &#34;rank_constant&#34;: 60,</span>' in preview
    assert '<span class="add">+    &#34;rank_constant&#34;: 20,</span>' in preview
    assert '<span class="add">+    &#34;k&#34;: 25,</span>' in preview
    assert path.read_text() == before  # nothing written by the preview

    response = browser_client.post("/tuning/save", data=form)
    assert response.status_code == 302
    saved = json.loads(path.read_text())
    assert saved["fusion"]["rank_constant"] == 20
    assert saved["knn"]["k"] == 25 and saved["boosts"]["title"] == 3.5
    assert json.loads(cluster.get_script(id=STORED_ID)["script"]["source"]) == saved
    hybrid = template_defaults(cluster.get_script(id="hybrid")["script"]["source"])
    assert (hybrid["rank_constant"], hybrid["title_boost"]) == ("20", "3.5")
    page = browser_client.get(response.location).get_data(as_text=True)
    assert "Saved retrieval.json" in page
    assert '<td class="stored">20</td>' in page


def test_a_value_that_is_not_a_number_is_refused(browser_client: FlaskClient,
                                                 assets_dir: Path) -> None:
    path = assets_dir / "retrieval.json"
    before = path.read_text()
    response = browser_client.post("/tuning/save",
                                   data={"csrf_token": token(browser_client),
                                         "rank_constant": "{{query}}"})
    assert response.status_code == 400
    assert "rank_constant: &#39;{{query}}&#39; is not a whole number" in response.get_data(
        as_text=True)
    assert path.read_text() == before


def test_template_defaults_are_rewritten_only_where_named() -> None:
    source = '{"k": {{#k}}{{k}}{{/k}}{{^k}}10{{/k}}, "n": {{^n}}100{{/n}}}'
    assert template_defaults(source) == {"k": "10", "n": "100"}
    assert set_template_defaults(source, {"k": 25}) == (
        '{"k": {{#k}}{{k}}{{/k}}{{^k}}25{{/k}}, "n": {{^n}}100{{/n}}}')
    with pytest.raises(ValueError, match="no default for size"):
        set_template_defaults(source, {"size": 5})


def test_linear_fusion_saved_as_code_reaches_the_playground(
        browser_client: FlaskClient, assets_dir: Path, cluster: Elasticsearch,
        stored_assets_removed: None) -> None:
    form = {"csrf_token": token(browser_client, "/tuning"), "fusion": "linear",
            "normalizer": "l2_norm", "weight_knn": "2"}
    assert browser_client.post("/tuning/save", data=form).status_code == 302
    saved = json.loads((assets_dir / "retrieval.json").read_text())["fusion"]
    assert (saved["kind"], saved["normalizer"], saved["weights"]) == (
        "linear", "l2_norm", {"bm25": 1.0, "knn": 2.0})
    page = browser_client.get("/playground?q=reciprocal+rank+fusion").get_data(as_text=True)
    assert '<option value="linear" selected>' in page
    assert '<option value="l2_norm" selected>' in page
    assert 'name="knn_weight" step="0.1" min="0" value="2"' in page
    assert "linear_retriever" in page or "client_linear" in page
    back = browser_client.post("/tuning/save", data={
        "csrf_token": token(browser_client, "/tuning"), "fusion": "rrf"})
    assert back.status_code == 302
    assert "normalizer" not in json.loads((assets_dir / "retrieval.json").read_text())["fusion"]
