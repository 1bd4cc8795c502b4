"""An admin opens every page: overview, playground (four modes side by side), tuning, evaluation."""

from __future__ import annotations

import json
from dataclasses import replace

from flask.testing import FlaskClient
from retrieve.corpus import shared_embedder
from ui_support import INDEX, log_in

from admin_ui import create_app, state_of
from es_rag import run_records
from es_rag.config import Settings


def test_overview_shows_capabilities_versions_and_counts(browser_client: FlaskClient) -> None:
    html = browser_client.get("/overview").get_data(as_text=True)
    assert "Hybrid path" in html and "retriever" in html
    assert f"{INDEX}-v1" in html and "serving" in html
    assert '<span class="num" id="chunk-count">13</span>' in html
    assert '<span class="num" id="document-count">13</span>' in html


def test_overview_lists_the_last_ingest_runs_with_their_reports(app, browser_client) -> None:
    report = {"files": {"seen": 3, "parsed": 2, "unchanged": 0, "failed": 1, "pruned": 0},
              "chunks": {"indexed": 7, "failed": 0, "deleted": 0},
              "failures": [{"path": "docs/broken.pdf", "source": "docs/broken.pdf",
                            "doc_id": "x", "reason": "encrypted PDF"}],
              "warnings": [], "seconds": {"total": 1.5},
              "skipped": [{"path": "docs/loop", "reason": "a symbolic link loop (-> loop)"}]}
    runs = run_records.runs_dir(state_of(app).settings.data)
    runs.mkdir(parents=True)
    # the CLI's `es-rag ingest` writes the report as it is
    (runs / "ingest-20261121T101500-4242.json").write_text(json.dumps(report))
    html = browser_client.get("/overview").get_data(as_text=True)
    assert "docs/broken.pdf" in html and "encrypted PDF" in html
    assert "1 skipped" in html and "a symbolic link loop (-&gt; loop)" in html
    assert "2026-11-21 10:15:00" in html


def test_playground_shows_four_modes_side_by_side(browser_client: FlaskClient) -> None:
    html = browser_client.get("/playground?q=disk+quota+error&rerank=on").get_data(as_text=True)
    for mode in ("bm25", "knn", "hybrid", "hybrid+rerank"):
        assert f'data-mode="{mode}"' in html
    assert "Storage quotas" in html
    assert "<mark>" in html  # the engine's highlight, re-inserted safely
    assert 'title="rank in the BM25 leg">BM25 #1' in html


def test_document_content_is_escaped(browser_client: FlaskClient) -> None:
    html = browser_client.get("/playground?q=evil+payload&rerank=on").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
    assert "Untrusted &lt;b&gt;quota&lt;/b&gt;" in html


def test_bad_control_values_are_named_in_the_columns(browser_client: FlaskClient) -> None:
    html = browser_client.get("/playground?q=quota&k=50&num_candidates=10&boost_title=x"
                              ).get_data(as_text=True)
    assert "boost of title: &#39;x&#39; is not a number" in html
    html = browser_client.get("/playground?q=quota&k=50&num_candidates=10").get_data(
        as_text=True)
    assert "num_candidates (10) must be at least k (50)" in html


def test_filters_apply_inside_every_mode(browser_client: FlaskClient) -> None:
    html = browser_client.get("/playground?q=quota&filters=metadata.lang%3Dde&rerank=on"
                              ).get_data(as_text=True)
    assert "Speicherkontingent" in html and "Storage quotas" not in html


def test_overview_of_a_fresh_cluster_says_how_to_create_the_index(settings: Settings) -> None:
    app = create_app(replace(settings, index="nothing-here"), allow_without_security=True,
                     embedder=shared_embedder())
    client = app.test_client()
    log_in(client)
    html = client.get("/overview").get_data(as_text=True)
    assert "There is no index or alias &#39;nothing-here&#39; yet" in html
    assert "Apply 6 change(s)" in html
    assert "<code>es-rag-retrieval</code>" in html  # retrieval.json, stored by apply
