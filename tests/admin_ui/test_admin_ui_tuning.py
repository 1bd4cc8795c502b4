"""Tuning as code: the admin sees a diff, saves, and finds the template file and cluster changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from ui_support import token

from es_rag.assets import set_template_defaults, template_defaults


def test_tuning_page_prefills_values_sent_from_the_playground(browser_client) -> None:
    html = browser_client.get("/tuning?template=hybrid&rank_constant=20").get_data(as_text=True)
    assert "templates/search/hybrid.mustache" in html
    assert 'name="rank_constant" value="20"' in html
    assert '<tr class="changed">' in html


def test_save_shows_a_diff_then_writes_the_file_and_stores_the_template(
        browser_client: FlaskClient, assets_dir: Path, cluster: Elasticsearch,
        stored_assets_removed: None) -> None:
    path = assets_dir / "templates" / "search" / "hybrid.mustache"
    before = path.read_text()
    csrf = token(browser_client, "/tuning?template=hybrid")
    preview = browser_client.post("/tuning/hybrid/preview",
                                  data={"csrf_token": csrf, "rank_constant": "20",
                                        "title_boost": "3.5"}).get_data(as_text=True)
    assert '<span class="del">-      &#34;rank_constant&#34;: {{#rank_constant}}' in preview
    assert "{{^rank_constant}}20{{/rank_constant}}" in preview
    assert "{{^title_boost}}3.5{{/title_boost}}" in preview
    assert path.read_text() == before  # nothing written by the preview

    response = browser_client.post("/tuning/hybrid/save",
                                   data={"csrf_token": csrf, "rank_constant": "20",
                                         "title_boost": "3.5"})
    assert response.status_code == 302
    after = path.read_text()
    assert template_defaults(after)["rank_constant"] == "20"
    assert template_defaults(after)["title_boost"] == "3.5"
    stored = cluster.get_script(id="hybrid")["script"]["source"]
    assert stored == after
    page = browser_client.get(response.location).get_data(as_text=True)
    assert "Saved templates/search/hybrid.mustache" in page


def test_a_value_that_is_not_a_number_is_refused(browser_client: FlaskClient,
                                                 assets_dir: Path) -> None:
    path = assets_dir / "templates" / "search" / "hybrid.mustache"
    before = path.read_text()
    response = browser_client.post("/tuning/hybrid/save",
                                   data={"csrf_token": token(browser_client),
                                         "rank_constant": "{{query}}"})
    assert response.status_code == 400
    assert "rank_constant: &#39;{{query}}&#39; is not a number" in response.get_data(
        as_text=True)
    assert path.read_text() == before


def test_template_defaults_are_rewritten_only_where_named() -> None:
    source = '{"k": {{#k}}{{k}}{{/k}}{{^k}}10{{/k}}, "n": {{^n}}100{{/n}}}'
    assert template_defaults(source) == {"k": "10", "n": "100"}
    assert set_template_defaults(source, {"k": 25}) == (
        '{"k": {{#k}}{{k}}{{/k}}{{^k}}25{{/k}}, "n": {{^n}}100{{/n}}}')
    with pytest.raises(ValueError, match="no default for size"):
        set_template_defaults(source, {"size": 5})
