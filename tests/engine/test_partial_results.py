"""A search over several indices where one index cannot run the query (vectors of other
dimensions, a path that is not nested there) answers with the other indices' hits and lists the
failed index in `_shards.failures`, as Elasticsearch's partial results; with
`allow_partial_search_results=false` the whole search fails instead, and a search of the
failing index alone is still refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

DIMS_ERROR = ("failed to create query: The query vector has a different number of dimensions "
              "[4] than the document vectors [3].")


@pytest.fixture
def mixed(es: Elasticsearch) -> Iterator[Elasticsearch]:
    """`wide` (4-dim vectors, nested passages) and `narrow` (3-dim vectors, object passages)."""
    for name, dims, passages in (("wide", 4, "nested"), ("narrow", 3, "object")):
        es.indices.create(index=name, mappings={"properties": {
            "vec": {"type": "dense_vector", "dims": dims, "similarity": "l2_norm"},
            "passages": {"type": passages, "properties": {"text": {"type": "text"}}}}})
        es.index(index=name, id=f"{name}-1", document={
            "vec": [1.0] * dims, "passages": [{"text": "solar power"}]})
        es.index(index=name, id=f"{name}-2", document={
            "vec": [2.0] * dims, "passages": [{"text": "wind power"}]})
    es.indices.refresh(index="wide,narrow")
    yield es


KNN = {"knn": {"field": "vec", "query_vector": [1.0, 1.0, 1.0, 1.0], "k": 5,
               "num_candidates": 10}}


def ids(body: Any) -> list[str]:
    return [h["_id"] for h in body["hits"]["hits"]]


def test_a_knn_query_returns_the_compatible_index_and_reports_the_other(mixed: Elasticsearch
                                                                        ) -> None:
    body = mixed.search(index="wide,narrow", query=KNN)
    assert ids(body) == ["wide-1", "wide-2"]
    assert body["hits"]["total"]["value"] == 2
    shards = body["_shards"]
    assert (shards["total"], shards["successful"], shards["failed"]) == (2, 1, 1)
    [failure] = shards["failures"]
    assert failure["index"] == "narrow" and failure["shard"] == 0
    assert failure["reason"]["type"] == "query_shard_exception"
    assert failure["reason"]["reason"] == DIMS_ERROR
    section = mixed.search(index="wide,narrow", knn=KNN["knn"])  # the top-level knn section
    assert ids(section) == ["wide-1", "wide-2"]
    assert section["_shards"]["failures"][0]["index"] == "narrow"


def test_any_query_an_index_cannot_build_fails_only_that_index(mixed: Elasticsearch) -> None:
    body = mixed.search(index="narrow,wide", query={"nested": {
        "path": "passages", "query": {"match": {"passages.text": "solar"}}}},
        aggs={"n": {"filters": {"filters": {"all": {"match_all": {}}}}}})
    assert ids(body) == ["wide-1"]
    assert body["aggregations"]["n"]["buckets"]["all"]["doc_count"] == 1
    [failure] = body["_shards"]["failures"]
    assert failure["index"] == "narrow"
    assert failure["reason"]["reason"] == \
        "failed to create query: [nested] failed to find nested object under path [passages]"
    whole = mixed.search(index="narrow,wide", query={"match_all": {}})
    assert whole["_shards"] == {"total": 2, "successful": 2, "skipped": 0, "failed": 0}


def test_partial_results_can_be_refused(mixed: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        mixed.search(index="wide,narrow", query=KNN, allow_partial_search_results=False)
    error = err.value.body["error"]
    assert error["type"] == "search_phase_execution_exception"
    assert error["reason"] == "Partial shards failure"
    assert error["root_cause"][0]["reason"] == DIMS_ERROR
    assert error["failed_shards"][0]["index"] == "narrow"


def test_the_failing_index_alone_is_still_an_error(mixed: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        mixed.search(index="narrow", query=KNN)
    assert err.value.body["error"]["reason"] == DIMS_ERROR


def test_a_scroll_keeps_reporting_the_failed_index(mixed: Elasticsearch) -> None:
    first = mixed.search(index="wide,narrow", query=KNN, scroll="1m", size=1)
    assert ids(first) == ["wide-1"] and first["_shards"]["failed"] == 1
    second = mixed.scroll(scroll_id=first["_scroll_id"], scroll="1m")
    assert ids(second) == ["wide-2"]
    assert second["_shards"]["failures"][0]["index"] == "narrow"
    mixed.clear_scroll(scroll_id=second["_scroll_id"])


def test_a_count_counts_the_indices_that_can_run_the_query(mixed: Elasticsearch) -> None:
    nested = {"nested": {"path": "passages", "query": {"match": {"passages.text": "power"}}}}
    counted = mixed.count(index="wide,narrow", query=nested)
    assert counted["count"] == 2
    assert counted["_shards"]["failed"] == 1
    assert counted["_shards"]["failures"][0]["index"] == "narrow"
    with pytest.raises(BadRequestError):
        mixed.count(index="narrow", query=nested)
