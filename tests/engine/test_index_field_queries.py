"""Queries on the `_index` metadata field, and msearch's validation of point-in-time items."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def two(es: Elasticsearch) -> Elasticsearch:
    es.index(index="kb-docs", id="1", document={"t": "a"})
    es.index(index="kb-faq", id="1", document={"t": "a"})
    es.indices.refresh(index="kb-*")
    return es


@pytest.mark.parametrize("query, expected", [
    ({"term": {"_index": "kb-faq"}}, ["kb-faq"]),
    ({"terms": {"_index": ["kb-faq", "kb-docs"]}}, ["kb-docs", "kb-faq"]),
    ({"match": {"_index": "kb-docs"}}, ["kb-docs"]),
    ({"prefix": {"_index": "kb-f"}}, ["kb-faq"]),
    ({"wildcard": {"_index": "*docs"}}, ["kb-docs"]),
    ({"bool": {"must_not": {"term": {"_index": "kb-faq"}}}}, ["kb-docs"]),
])
def test_index_field_queries(two: Elasticsearch, query: dict, expected: list[str]) -> None:
    hits = two.search(index="kb-*", query=query)["hits"]["hits"]
    assert sorted(h["_index"] for h in hits) == expected


def test_an_msearch_item_naming_indices_with_a_pit_fails_the_whole_request(
        two: Elasticsearch) -> None:
    pit = two.open_point_in_time(index="kb-*", keep_alive="1m")["id"]
    try:
        ok = two.msearch(searches=[{}, {"query": {"term": {"_index": "kb-faq"}},
                                        "pit": {"id": pit}}])
        assert ok["responses"][0]["hits"]["total"]["value"] == 1
        with pytest.raises(BadRequestError, match="cannot be used with point in time"):
            two.msearch(searches=[{}, {"query": {"match_all": {}}},
                                  {"index": "kb-docs"}, {"pit": {"id": pit}}])
    finally:
        two.close_point_in_time(id=pit)
