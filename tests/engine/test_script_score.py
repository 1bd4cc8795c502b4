"""`script_score` queries as score scripts are written for Elasticsearch: exact kNN with the
vector functions, doc values, params, min_score and boost, and Elasticsearch's errors."""

from __future__ import annotations

import math

import pytest
from elasticsearch import BadRequestError, Elasticsearch

INDEX = "script-score"
DOCS = {"a": ([1.0, 0.0, 0.0], 10, "red"), "b": ([0.6, 0.8, 0.0], 3, "blue"),
        "c": ([0.0, 0.0, 1.0], 0, "red")}


@pytest.fixture
def index(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index=INDEX, mappings={"properties": {
        "vec": {"type": "dense_vector", "dims": 3, "similarity": "cosine"},
        "likes": {"type": "integer"}, "color": {"type": "keyword"}, "text": {"type": "text"}}})
    for doc_id, (vec, likes, color) in DOCS.items():
        es.index(index=INDEX, id=doc_id, document={"vec": vec, "likes": likes, "color": color,
                                                   "text": f"a {color} thing"})
    es.indices.refresh(index=INDEX)
    return es


def _scores(es: Elasticsearch, source: str, query: dict | None = None, **extra) -> dict:
    body = {"script_score": {"query": query or {"match_all": {}},
                             "script": {"source": source,
                                        "params": {"qv": [1.0, 0.0, 0.0], "short": [1.0]}},
                             **extra}}
    hits = es.search(index=INDEX, query=body)["hits"]["hits"]
    return {h["_id"]: h["_score"] for h in hits}


def test_exact_knn_by_cosine_similarity(index) -> None:
    scores = _scores(index, "cosineSimilarity(params.qv, 'vec') + 1.0")
    assert scores == pytest.approx({"a": 2.0, "b": 1.6, "c": 1.0})
    dot = _scores(index, "double v = dotProduct(params.qv, 'vec'); return sigmoid(1, Math.E, -v);")
    assert dot["a"] == pytest.approx(1 / (math.exp(-1) + 1))
    l2 = _scores(index, "1 / (1 + l2norm(params.qv, doc['vec']))")
    assert l2["b"] == pytest.approx(1 / (1 + math.sqrt(0.16 + 0.64)))


def test_doc_values_score_and_filters(index) -> None:
    scores = _scores(index, "Math.log(2 + doc['likes'].value)",
                     query={"bool": {"filter": {"term": {"color": "red"}}}})
    assert scores == pytest.approx({"a": math.log(12), "c": math.log(2)})
    keyword = _scores(index, "doc['color'].value == 'blue' ? 5 : 1")
    assert keyword == {"b": 5.0, "a": 1.0, "c": 1.0}
    with_score = _scores(index, "_score * 2", query={"match": {"text": "red"}})
    plain = {h["_id"]: h["_score"] for h in index.search(
        index=INDEX, query={"match": {"text": "red"}})["hits"]["hits"]}
    assert with_score == pytest.approx({k: 2 * v for k, v in plain.items()})


def test_min_score_and_boost(index) -> None:
    # min_score applies to the boosted score, as Elasticsearch's MinScoreScorer sees it
    kept = _scores(index, "cosineSimilarity(params.qv, 'vec') + 1.0", min_score=2.5, boost=2)
    assert kept == pytest.approx({"a": 4.0, "b": 3.2})


@pytest.mark.parametrize(("source", "reason"), [
    ("cosineSimilarity(params.qv, 'vec') - 1.5", "Must be a non-negative score!"),
    ("doc['nothing'].value", "No field found for [nothing] in mapping"),
    ("doc['text'].value", "Text fields are not optimised"),
    ("for (int i = 0; i < 2; i++) { }", "compile error"),
    ("cosineSimilarity(params.short, 'vec')", "different number of dimensions"),
])
def test_bad_scripts_are_elasticsearchs_errors(index, source, reason) -> None:
    with pytest.raises(BadRequestError) as refused:
        _scores(index, source)
    assert reason in str(refused.value.info)


def test_script_score_needs_a_query_and_a_script(index) -> None:
    with pytest.raises(BadRequestError, match="requires 'script' field"):
        index.search(index=INDEX, query={"script_score": {"query": {"match_all": {}}}})
    with pytest.raises(BadRequestError, match="script_lang not supported"):
        index.search(index=INDEX, query={"script_score": {
            "query": {"match_all": {}}, "script": {"source": "1", "lang": "mustache"}}})
