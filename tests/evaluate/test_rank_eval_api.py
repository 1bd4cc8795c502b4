"""The engine's `_rank_eval` logic, checked on hand-computed values and the conformance cases."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from es_rag.engine.errors import BadRequest, EngineError, XContentParseError
from es_rag.engine.rank_eval import DiscountedCumulativeGain, RatedHit, evaluate_rank_eval

# The conformance setup: doc4 is the long one, so it ranks below the one-word documents.
DOCS = {"doc1": "berlin", "doc2": "amsterdam", "doc3": "amsterdam",
        "doc4": "something about amsterdam and berlin"}


def match_search(index: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A tiny stand-in for the engine: term match on `text`, shorter documents first."""
    if "match" in body.get("query", {}):
        term = body["query"]["match"]["text"]
    else:
        raise EngineError("bad query", status=400, error_type="parsing_exception")
    found = [(1.0 / len(text.split()), doc_id) for doc_id, text in DOCS.items()
             if term in text.split()]
    found.sort(key=lambda pair: (-pair[0], pair[1]))
    return [{"_index": "foo", "_id": doc_id, "_score": score}
            for score, doc_id in found[: body["size"]]]


def two_queries(metric: dict[str, Any], amsterdam: list, berlin: list) -> dict[str, Any]:
    return {"requests": [
        {"id": "amsterdam_query", "request": {"query": {"match": {"text": "amsterdam"}}},
         "ratings": amsterdam},
        {"id": "berlin_query", "request": {"query": {"match": {"text": "berlin"}}, "size": 10},
         "ratings": berlin}], "metric": metric}


def rating(doc_id: str, value: int) -> dict[str, Any]:
    return {"_index": "foo", "_id": doc_id, "rating": value}


def test_precision_response_has_the_elasticsearch_shape():
    body = two_queries({"precision": {"ignore_unlabeled": True}},
                       [rating("doc1", 0), rating("doc2", 1), rating("doc3", 1)],
                       [rating("doc1", 1)])
    response = evaluate_rank_eval(body, match_search, indices="foo")
    assert response["metric_score"] == 1.0
    amsterdam = response["details"]["amsterdam_query"]
    assert amsterdam["unrated_docs"] == [{"_index": "foo", "_id": "doc4"}]
    assert amsterdam["metric_details"] == {
        "precision": {"relevant_docs_retrieved": 2, "docs_retrieved": 2}}
    assert [(h["hit"]["_id"], h["rating"]) for h in amsterdam["hits"]] == [
        ("doc2", 1), ("doc3", 1), ("doc4", None)]
    assert response["details"]["berlin_query"]["metric_details"]["precision"] == {
        "relevant_docs_retrieved": 1, "docs_retrieved": 1}
    assert response["failures"] == {}
    json.dumps(response)  # the HTTP layer serialises it as is


def test_unlabeled_hits_count_as_misses_unless_ignored():
    body = two_queries({"precision": {}}, [rating("doc2", 1)], [rating("doc1", 1)])
    response = evaluate_rank_eval(body, match_search)
    # amsterdam: doc2 relevant, doc3 and doc4 unrated → 1/3; berlin: doc1 of doc1, doc4 → 1/2
    assert response["details"]["amsterdam_query"]["metric_score"] == pytest.approx(1 / 3)
    assert response["metric_score"] == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_mean_reciprocal_rank_matches_the_conformance_expectation():
    body = two_queries({"mean_reciprocal_rank": {}}, [rating("doc4", 1)], [rating("doc4", 1)])
    response = evaluate_rank_eval(body, match_search)
    assert response["metric_score"] == pytest.approx(5 / 12)
    assert response["details"]["amsterdam_query"]["metric_details"] == {
        "mean_reciprocal_rank": {"first_relevant": 3}}
    assert response["details"]["berlin_query"]["metric_score"] == 0.5


def test_expected_reciprocal_rank_matches_the_conformance_expectation():
    body = two_queries({"expected_reciprocal_rank": {"maximum_relevance": 1, "k": 5}},
                       [rating("doc4", 1)], [rating("doc4", 1)])
    response = evaluate_rank_eval(body, match_search)
    # P(rel) = (2^1 - 1) / 2^1 = 0.5 at rank 3 and rank 2: (0.5/3 + 0.5/2) / 2
    assert response["metric_score"] == pytest.approx(0.2083333333)
    details = response["details"]
    assert details["amsterdam_query"]["metric_details"]["expected_reciprocal_rank"] == {
        "unrated_docs": 2}
    assert details["berlin_query"]["metric_details"]["expected_reciprocal_rank"] == {
        "unrated_docs": 1}


def test_recall_divides_by_all_relevant_rated_documents():
    body = two_queries({"recall": {"k": 1}},
                       [rating("doc2", 1), rating("doc3", 1), rating("doc1", 1)],
                       [rating("doc1", 2), rating("doc2", 0)])
    response = evaluate_rank_eval(body, match_search)
    # k=1: amsterdam retrieves doc2 only (1 of 3 relevant); berlin retrieves doc1 (1 of 1)
    assert response["details"]["amsterdam_query"]["metric_details"]["recall"] == {
        "relevant_docs_retrieved": 1, "relevant_docs": 3}
    assert response["metric_score"] == pytest.approx((1 / 3 + 1) / 2)


def test_dcg_on_the_classic_graded_example():
    # ratings by rank 3,2,3,0,1,2: sum (2^r - 1)/log2(rank + 1)
    ratings = [3, 2, 3, 0, 1, 2]
    hits = [RatedHit({"_index": "i", "_id": str(n)}, r) for n, r in enumerate(ratings)]
    rated = {("i", str(n)): r for n, r in enumerate(ratings)}
    dcg = 7 / 1 + 3 / math.log2(3) + 7 / 2 + 0 + 1 / math.log2(6) + 3 / math.log2(7)
    ideal = 7 + 7 / math.log2(3) + 3 / 2 + 3 / math.log2(5) + 1 / math.log2(6) + 0
    score, detail = DiscountedCumulativeGain().evaluate(hits, rated)
    assert score == pytest.approx(dcg) == pytest.approx(13.84826362927298)
    assert detail == {"dcg": score, "unrated_docs": 0}
    score, detail = DiscountedCumulativeGain(normalize=True).evaluate(hits, rated)
    assert score == pytest.approx(dcg / ideal)
    assert detail["ideal_dcg"] == pytest.approx(ideal)


def test_dcg_unrated_hits_keep_their_rank_or_take_the_unknown_rating():
    hits = [RatedHit({"_id": "a"}, None), RatedHit({"_id": "b"}, 1)]
    rated = {("i", "b"): 1}
    score, detail = DiscountedCumulativeGain(normalize=True).evaluate(hits, rated)
    assert score == pytest.approx(1 / math.log2(3))  # ideal is 1 at rank 1
    assert detail["unrated_docs"] == 1
    score, _ = DiscountedCumulativeGain(unknown_doc_rating=1).evaluate(hits, rated)
    assert score == pytest.approx(1 + 1 / math.log2(3))


def test_the_metric_k_sets_the_search_size_and_source_is_off():
    seen: list[dict[str, Any]] = []

    def recording(index: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
        seen.append(body)
        return []

    evaluate_rank_eval(two_queries({"dcg": {"k": 3}}, [], []), recording)
    assert [(b["size"], b["_source"]) for b in seen] == [(3, False), (3, False)]


def test_templated_requests_render_through_the_callable():
    body = {
        "templates": [{"id": "match", "template": {"source": '{"query": {"match": '
                                                   '{"text": "{{query_string}}"}}}'}}],
        "requests": [
            {"id": "amsterdam_query", "template_id": "match",
             "params": {"query_string": "amsterdam"},
             "ratings": [rating("doc2", 1), rating("doc3", 1)]},
            {"id": "berlin_query", "template_id": "match", "params": {"query_string": "berlin"},
             "ratings": [rating("doc1", 1)]}],
        "metric": {"precision": {}}}

    def render(script: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        return json.loads(script["source"].replace("{{query_string}}", params["query_string"]))

    response = evaluate_rank_eval(body, match_search, render_template=render)
    # amsterdam: 2 relevant of 3 hits; berlin: 1 of 2
    assert response["metric_score"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert response["details"]["amsterdam_query"]["unrated_docs"][0]["_id"] == "doc4"


@pytest.mark.parametrize(("part", "message"), [
    ({"aggs": {"a": {"avg": {"field": "g"}}}}, "should not contain aggregations"),
    ({"suggest": {"s": {}}}, "should not contain a suggest section"),
    ({"highlight": {"fields": {}}}, "should not contain a highlighter section"),
    ({"profile": "true"}, "should not use profile"),
    ({"explain": "true"}, "should not use explain"),
])
def test_templates_rendering_forbidden_parts_are_refused(part, message):
    body = {"templates": [{"id": "t", "template": {"source": "{}"}}],
            "requests": [{"id": "q", "template_id": "t", "params": {"x": 1}, "ratings": []}],
            "metric": {"precision": {}}}
    with pytest.raises(BadRequest, match=message):
        evaluate_rank_eval(body, match_search, render_template=lambda s, p: part)


def test_a_failing_search_is_reported_per_request():
    body = {"requests": [
        {"id": "good", "request": {"query": {"match": {"text": "berlin"}}},
         "ratings": [rating("doc1", 1)]},
        {"id": "bad", "request": {"query": {"nope": {}}}, "ratings": []}],
        "metric": {"mean_reciprocal_rank": {}}}
    response = evaluate_rank_eval(body, match_search)
    assert response["metric_score"] == 1.0
    assert response["failures"]["bad"]["error"]["type"] == "parsing_exception"


@pytest.mark.parametrize(("body", "error", "text"), [
    ({"requests": [], "metric": {"precision": {}}}, BadRequest, "no search requests"),
    ({"requests": [{"id": "q", "ratings": []}], "metric": {"precision": {}}},
     XContentParseError, "Need to set at least test request"),
    ({"requests": [{"id": "q", "request": {}, "ratings": [rating("a", 1), rating("a", 2)]}],
      "metric": {"precision": {}}}, XContentParseError, "duplicate rated document key"),
    ({"requests": [{"id": "q", "request": {}, "ratings": []}], "metric": {"nope": {}}},
     XContentParseError, "unknown field \\[nope\\]"),
    ({"requests": [{"id": "q", "request": {}, "ratings": []}],
      "metric": {"precision": {"k": 0}}}, BadRequest, "Window size k must be positive"),
    ({"requests": [{"id": "q", "request": {}, "ratings": []}],
      "metric": {"expected_reciprocal_rank": {}}}, XContentParseError, "maximum_relevance"),
    ({"requests": [{"id": "q", "request": {}, "ratings": []}],
      "metric": {"precision": {}}, "bogus": 1}, XContentParseError, "unknown field \\[bogus\\]"),
])
def test_bad_requests_get_elasticsearch_errors(body, error, text):
    with pytest.raises(error) as caught:
        evaluate_rank_eval(body, match_search)
    assert re.search(text, json.dumps(caught.value.body())), caught.value.body()


def test_a_missing_body_is_a_validation_error():
    with pytest.raises(EngineError) as caught:
        evaluate_rank_eval(None, match_search)
    assert caught.value.error_type == "action_request_validation_exception"
