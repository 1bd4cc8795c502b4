"""`function_score`: functions, filters, weights, score_mode, boost_mode, max_boost, min_score."""

from __future__ import annotations

import math
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

DAY = 86_400_000


@pytest.fixture
def posts(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="posts", mappings={"properties": {
        "text": {"type": "text"}, "likes": {"type": "integer"}, "tag": {"type": "keyword"},
        "day": {"type": "date"}, "price": {"type": "float"}}})
    docs = [("1", "solar panel", 10, "news", "2024-01-10", 5.0),
            ("2", "solar solar farm", 100, "blog", "2024-01-01", 50.0),
            ("3", "wind farm", 0, "news", "2023-12-01", 20.0)]
    for doc_id, text, likes, tag, day, price in docs:
        es.index(index="posts", id=doc_id, document={"text": text, "likes": likes, "tag": tag,
                                                     "day": day, "price": price})
    es.index(index="posts", id="4", document={"text": "solar"})
    es.indices.refresh(index="posts")
    return es


def _scores(es: Elasticsearch, query: dict[str, Any]) -> dict[str, float]:
    resp = es.search(index="posts", query={"function_score": query}, size=10)
    return {h["_id"]: h["_score"] for h in resp["hits"]["hits"]}


def _bm25(es: Elasticsearch, text: str) -> dict[str, float]:
    resp = es.search(index="posts", query={"match": {"text": text}})
    return {h["_id"]: h["_score"] for h in resp["hits"]["hits"]}


def test_filtered_weights_multiply_the_query_score(posts: Elasticsearch) -> None:
    base = _bm25(posts, "solar")
    scores = _scores(posts, {"query": {"match": {"text": "solar"}}, "functions": [
        {"filter": {"term": {"tag": "news"}}, "weight": 3},
        {"filter": {"term": {"tag": "blog"}}, "weight": 5}]})
    assert scores["1"] == pytest.approx(base["1"] * 3, rel=1e-6)
    assert scores["2"] == pytest.approx(base["2"] * 5, rel=1e-6)
    assert scores["4"] == pytest.approx(base["4"], rel=1e-6)  # no function applies: factor 1


def test_field_value_factor_with_modifier_and_missing(posts: Elasticsearch) -> None:
    scores = _scores(posts, {"field_value_factor": {
        "field": "likes", "factor": 2, "modifier": "log1p", "missing": 1},
        "boost_mode": "replace"})
    assert scores["2"] == pytest.approx(math.log10(1 + 200), rel=1e-6)
    assert scores["3"] == pytest.approx(0.0, abs=1e-9)
    assert scores["4"] == pytest.approx(math.log10(1 + 2), rel=1e-6)
    with pytest.raises(BadRequestError, match=r"Missing value for field \[likes\]"):
        _scores(posts, {"field_value_factor": {"field": "likes"}})


def test_decay_functions_on_numbers_and_dates(posts: Elasticsearch) -> None:
    gauss = _scores(posts, {"gauss": {"price": {"origin": 0, "scale": 10, "offset": 5}},
                            "boost_mode": "replace"})
    assert gauss["1"] == pytest.approx(1.0)
    assert gauss["3"] == pytest.approx(0.5 ** (15 ** 2 / 10 ** 2), rel=1e-6)
    assert gauss["4"] == pytest.approx(1.0)  # no value: distance 0
    linear = _scores(posts, {"linear": {"price": {"origin": 0, "scale": 20, "decay": 0.5}},
                             "boost_mode": "replace"})
    assert linear["3"] == pytest.approx(0.5) and linear["2"] == pytest.approx(0.0)
    exp = _scores(posts, {"exp": {"day": {"origin": "2024-01-10", "scale": "9d"}},
                          "boost_mode": "replace"})
    assert exp["1"] == pytest.approx(1.0)
    assert exp["2"] == pytest.approx(0.5, rel=1e-6)
    assert exp["3"] == pytest.approx(0.5 ** (40 / 9), rel=1e-6)


def test_score_modes_boost_modes_max_boost_and_min_score(posts: Elasticsearch) -> None:
    functions = [{"filter": {"term": {"tag": "news"}}, "weight": 2}, {"weight": 4}]
    query = {"query": {"match_all": {}}, "functions": functions}
    assert _scores(posts, {**query, "score_mode": "sum"})["1"] == pytest.approx(6)
    assert _scores(posts, {**query, "score_mode": "avg"})["1"] == pytest.approx(
        (2 + 4) / (2 + 4))  # weighted average: sum(weight * value) / sum(weight)
    assert _scores(posts, {**query, "score_mode": "first"})["1"] == pytest.approx(2)
    assert _scores(posts, {**query, "score_mode": "max"})["2"] == pytest.approx(4)
    assert _scores(posts, {**query, "score_mode": "min", "max_boost": 1.5})["3"] == \
        pytest.approx(1.5)
    assert _scores(posts, {**query, "boost_mode": "sum"})["1"] == pytest.approx(1 + 8)
    kept = _scores(posts, {**query, "min_score": 5})
    assert set(kept) == {"1", "3"}
    assert _scores(posts, {**query, "boost": 2})["2"] == pytest.approx(8)


def test_random_score_is_stable_per_seed(posts: Elasticsearch) -> None:
    first = _scores(posts, {"random_score": {"seed": 7, "field": "_seq_no"}})
    assert first == _scores(posts, {"random_score": {"seed": 7, "field": "_seq_no"}})
    assert first != _scores(posts, {"random_score": {"seed": 8, "field": "_seq_no"}})
    assert all(0 <= s < 1 for s in first.values())


def test_function_score_composes_with_bool_and_counts(posts: Elasticsearch) -> None:
    resp = posts.search(index="posts", query={"bool": {"must": [{"function_score": {
        "query": {"match": {"text": "solar"}}, "weight": 10}}],
        "filter": [{"term": {"tag": "news"}}]}})
    assert [h["_id"] for h in resp["hits"]["hits"]] == ["1"]
    assert resp["hits"]["total"]["value"] == 1


@pytest.mark.parametrize("body, message", [
    ({"script_score": {"script": "1"}}, "not supported by the embedded engine"),
    ({"functions": [{"weight": 1}], "weight": 2}, "already found [functions] array"),
    ({"score_mode": "median"}, "illegal score_mode [median]"),
    ({"field_value_factor": {"field": "likes", "modifier": "cube"}}, "Illegal modifier"),
    ({"functions": [{"gauss": {"price": {"origin": 0}}}]}, "must contain [scale]"),
    ({"functions": [{"filter": {"match_all": {}}}]}, "missing a function"),
])
def test_bad_function_score_is_refused(posts: Elasticsearch, body: dict[str, Any],
                                       message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        _scores(posts, body)
    assert message in str(err.value.body)
