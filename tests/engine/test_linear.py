"""The `linear` retriever and weighted `rrf`: scores from the documented formulas on a tiny
corpus of constant scores, Elasticsearch's validation messages and its license gate."""

from __future__ import annotations

import math
from typing import Any

import pytest
from elasticsearch import AuthorizationException, BadRequestError, Elasticsearch


def scored(boosts: dict[str, float]) -> dict[str, Any]:
    """A standard retriever giving each listed document exactly its boost as score."""
    return {"standard": {"query": {"bool": {"should": [
        {"constant_score": {"filter": {"term": {"name": name}}, "boost": boost}}
        for name, boost in boosts.items()]}}}}


# retriever A scores d1=10, d2=8, d3=2; retriever B scores d3=9, d4=3
A = scored({"d1": 10.0, "d2": 8.0, "d3": 2.0})
B = scored({"d3": 9.0, "d4": 3.0})


@pytest.fixture
def shop(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="shop", mappings={"properties": {
        "name": {"type": "keyword"}, "colour": {"type": "keyword"}}})
    for i, colour in zip(range(1, 5), ("red", "blue", "red", "blue"), strict=True):
        es.index(index="shop", id=f"d{i}", document={"name": f"d{i}", "colour": colour})
    es.indices.refresh(index="shop")
    return es


def linear(es: Elasticsearch, components: list[dict[str, Any]], size: int = 10,
           **options: Any) -> list[tuple[str, float]]:
    body = es.search(index="shop", size=size,
                     retriever={"linear": {"retrievers": components, **options}})
    return [(h["_id"], h["_score"]) for h in body["hits"]["hits"]]


def assert_ranking(got: list[tuple[str, float]], expected: dict[str, float]) -> None:
    want = sorted(expected.items(), key=lambda item: -item[1])
    assert [doc for doc, _ in got] == [doc for doc, _ in want]
    for (_, score), (_, expected_score) in zip(got, want, strict=True):
        assert score == pytest.approx(expected_score, rel=1e-5)


def test_minmax_scales_each_result_set_to_zero_one_before_weighting(shop: Elasticsearch
                                                                     ) -> None:
    got = linear(shop, [{"retriever": A, "weight": 2, "normalizer": "minmax"},
                        {"retriever": B, "weight": 1, "normalizer": "minmax"}])
    # A: (s - 2) / (10 - 2) → d1 1, d2 0.75, d3 0; B: (s - 3) / (9 - 3) → d3 1, d4 0
    assert_ranking(got, {"d1": 2 * 1.0, "d2": 2 * 0.75, "d3": 2 * 0.0 + 1.0, "d4": 0.0})


def test_l2_norm_divides_each_result_set_by_its_euclidean_norm(shop: Elasticsearch) -> None:
    got = linear(shop, [{"retriever": A, "normalizer": "l2_norm"},
                        {"retriever": B, "normalizer": "L2_NORM"}])
    norm_a, norm_b = math.sqrt(10**2 + 8**2 + 2**2), math.sqrt(9**2 + 3**2)
    assert_ranking(got, {"d1": 10 / norm_a, "d2": 8 / norm_a, "d3": 2 / norm_a + 9 / norm_b,
                         "d4": 3 / norm_b})


def test_without_normalizer_raw_scores_are_weighted(shop: Elasticsearch) -> None:
    got = linear(shop, [{"retriever": A}, {"retriever": B, "weight": 0.5}])
    assert_ranking(got, {"d1": 10.0, "d2": 8.0, "d3": 2 + 0.5 * 9, "d4": 0.5 * 3})


def test_top_level_normalizer_is_the_default_of_components_without_one(shop: Elasticsearch
                                                                       ) -> None:
    got = linear(shop, [{"retriever": A}, {"retriever": B, "normalizer": "none"}],
                 normalizer="minmax")
    assert_ranking(got, {"d1": 1.0, "d2": 0.75, "d3": 0.0 + 9.0, "d4": 3.0})


def test_a_single_score_normalizes_to_one_under_minmax(shop: Elasticsearch) -> None:
    got = linear(shop, [{"retriever": scored({"d2": 7.0}), "normalizer": "minmax"},
                        {"retriever": scored({"d4": 3.0}), "weight": 3, "normalizer": "minmax"}])
    assert_ranking(got, {"d4": 3.0, "d2": 1.0})


def test_window_min_score_and_filter(shop: Elasticsearch) -> None:
    minmax = [{"retriever": A, "weight": 2, "normalizer": "minmax"},
              {"retriever": B, "normalizer": "minmax"}]
    # each sub-retriever returns its top 2 only: A → d1 1, d2 0; B → d3 1, d4 0
    assert_ranking(linear(shop, minmax, size=2, rank_window_size=2), {"d1": 2.0, "d3": 1.0})
    body = shop.search(index="shop", retriever={"linear": {"retrievers": minmax,
                                                            "min_score": 1.2}})
    assert [h["_id"] for h in body["hits"]["hits"]] == ["d1", "d2"]
    assert body["hits"]["total"]["value"] == 2
    # the filter applies to every sub-retriever before normalizing: B keeps only d3 (→ 1.0)
    got = linear(shop, minmax, filter={"term": {"colour": "red"}})
    assert_ranking(got, {"d1": 2.0, "d3": 1.0})


def test_explain_names_normalized_scores_and_weights(shop: Elasticsearch) -> None:
    body = shop.search(index="shop", explain=True, size=1, retriever={"linear": {"retrievers": [
        {"retriever": A, "weight": 2, "normalizer": "minmax"},
        {"retriever": B, "normalizer": "minmax"}]}})
    explanation = body["hits"]["hits"][0]["_explanation"]
    assert explanation["value"] == pytest.approx(2.0)
    assert explanation["description"] == (
        "weighted linear combination score: [2.000000] computed for normalized scores "
        "[1.0, 0.0] and weights [2.0, 1.0] as sum of (weight[i] * score[i]) for each query.")
    assert len(explanation["details"]) == 2


def test_weighted_rrf_sums_weight_over_rank_constant_plus_rank(shop: Elasticsearch) -> None:
    body = shop.search(index="shop", retriever={"rrf": {"rank_constant": 10, "retrievers": [
        {"retriever": A, "weight": 3}, B]}})
    got = [(h["_id"], h["_score"]) for h in body["hits"]["hits"]]
    # A ranks d1, d2, d3; B ranks d3, d4
    assert_ranking(got, {"d1": 3 / 11, "d2": 3 / 12, "d3": 3 / 13 + 1 / 11, "d4": 1 / 12})


@pytest.mark.parametrize(("retriever", "error_type", "reason"), [
    ({"linear": {"retrievers": [{"retriever": A, "weight": -1}]}},
     "x_content_parse_exception", "[weight] must be non-negative"),
    ({"linear": {"retrievers": [{"retriever": A, "normalizer": "zscore"}]}},
     "x_content_parse_exception", "Unknown normalizer [zscore]"),
    ({"linear": {"retrievers": []}},
     "action_request_validation_exception", "[linear] must provide [retrievers] or [query]"),
    ({"linear": {"retrievers": [{"retriever": A}], "rank_window_size": 2}},
     "illegal_argument_exception",
     "[linear] requires [rank_window_size: 2] be greater than or equal to [size: 5]"),
    ({"linear": {"retrievers": [{"retriever": A, "boost": 2}]}},
     "x_content_parse_exception", "[retriever-component] unknown field [boost]"),
    ({"rrf": {"retrievers": [{"retriever": A, "weight": -0.5}, B]}},
     "x_content_parse_exception", "[weight] must be non-negative, found [-0.5]"),
    ({"rrf": {"retrievers": [{"weight": 2}, B]}},
     "parsing_exception", "retriever component must contain a retriever"),
])
def test_bad_requests_answer_elasticsearch_errors(shop: Elasticsearch, retriever: dict[str, Any],
                                                   error_type: str, reason: str) -> None:
    with pytest.raises(BadRequestError) as err:
        shop.search(index="shop", size=5, retriever=retriever)
    assert err.value.error == error_type
    assert reason in str(err.value.body)


def test_linear_is_refused_under_a_basic_license(shop: Elasticsearch) -> None:
    shop.license.post_start_basic(acknowledge=True)
    try:
        with pytest.raises(AuthorizationException) as err:
            linear(shop, [{"retriever": A}, {"retriever": B}])
        assert err.value.error == "security_exception"
        assert "current license is non-compliant for [linear retriever]" in str(err.value)
        plain = shop.search(index="shop", retriever=A)
        assert plain["hits"]["total"]["value"] == 3
    finally:
        shop.license.post_start_trial(acknowledge=True)
    assert [d for d, _ in linear(shop, [{"retriever": A}])] == ["d1", "d2", "d3"]
