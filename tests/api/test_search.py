"""An application searches the chunk index through the API: by mode, or by stored template."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("mode", "path"), [("bm25", "bm25"), ("knn", "knn"),
                                            ("hybrid", None)])
def test_search_by_mode_finds_the_chunk_that_answers(api, mode, path) -> None:
    response = api.post("/api/search", json={"mode": mode, "query": "disk quota exhausted",
                                              "size": 3})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["hits"][0]["chunk_id"] == "storage#0"
    assert body["hits"][0]["source"] == "manuals/guide.md"
    assert len(body["hits"]) <= 3
    assert body["path_used"] == path or body["path_used"] in ("retriever", "rank_rrf",
                                                              "client_rrf")


def test_filters_narrow_every_mode(api) -> None:
    for mode in ("bm25", "knn", "hybrid"):
        response = api.post("/api/search", json={
            "mode": mode, "query": "Kontingent", "filters": ["metadata.lang=de"]})
        assert response.status_code == 200, response.json
        hits = response.json["hits"]
        assert hits and all(h["metadata"]["lang"] == "de" for h in hits), mode


def test_explain_reports_each_legs_rank(api) -> None:
    response = api.post("/api/search", json={"query": "reciprocal rank fusion",
                                              "explain": True, "size": 2})
    top = response.json["hits"][0]
    assert top["chunk_id"] == "rrf#0"
    assert top["bm25_rank"] == 1 and top["knn_rank"] is not None


@pytest.mark.parametrize("template", ["bm25", "knn", "hybrid"])
def test_search_by_stored_template_with_only_a_query_text(api, template) -> None:
    # knn and hybrid need query_vector: the API embeds the query itself
    response = api.post("/api/search", json={
        "template": template, "params": {"query": "disk quota exhausted", "size": 3}})
    assert response.status_code == 200, response.json
    assert response.json["path_used"] == "template"
    assert response.json["hits"][0]["chunk_id"] == "storage#0"


def test_template_search_takes_filter_strings(api) -> None:
    response = api.post("/api/search", json={
        "template": "bm25", "params": {"query": "quota"}, "filters": ["metadata.lang=en"]})
    assert [h["chunk_id"] for h in response.json["hits"]] == ["storage#0"]
    response = api.post("/api/search", json={
        "template": "hybrid", "params": {"query": "quota"}, "filters": ["metadata.lang=de"]})
    assert {h["metadata"]["lang"] for h in response.json["hits"]} == {"de"}


def test_an_unknown_stored_template_is_a_404_naming_it(api) -> None:
    response = api.post("/api/search", json={"template": "nope", "params": {"query": "x"}})
    assert response.status_code == 404
    assert response.json["error"]["type"] == "unknown_template"
    assert "nope" in response.json["error"]["reason"]


def test_fusion_kind_weights_and_normalizer_reach_the_search(api) -> None:
    response = api.post("/api/search", json={
        "query": "reciprocal rank fusion", "fusion": "linear", "normalizer": "l2_norm",
        "weights": {"knn": 2}, "explain": True, "size": 3})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["path_used"] in ("linear_retriever", "client_linear")
    assert body["explain"]["fusion"] == "linear"
    assert body["explain"]["normalizer"] == "l2_norm"
    assert body["explain"]["weights"] == {"bm25": 1.0, "knn": 2.0}
    refused = api.post("/api/search", json={"query": "x", "fusion": "sum"})
    assert refused.status_code == 400 and "fusion" in str(refused.json)
