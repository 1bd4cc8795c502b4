"""The `filters` aggregation: one count per filter, within what the search query matches."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


def test_filters_counts_per_filter_inside_the_query(es: Elasticsearch) -> None:
    docs = [("1", "red apple", 1), ("2", "green apple", 2), ("3", "red cherry", 3),
            ("4", "green pear", 4)]
    for doc_id, text, rank in docs:
        es.index(index="fruit", id=doc_id, document={"text": text, "rank": rank})
    es.indices.refresh(index="fruit")
    keyed = es.search(index="fruit", size=0, query={"match": {"text": "red green"}}, aggs={
        "colours": {"filters": {"filters": {"red": {"match": {"text": "red"}},
                                            "late": {"range": {"rank": {"gte": 3}}}}}}})
    assert keyed["aggregations"]["colours"]["buckets"] == {"red": {"doc_count": 2},
                                                           "late": {"doc_count": 2}}
    anonymous = es.search(index="fruit", size=0, query={"match": {"text": "apple"}}, aggs={
        "f": {"filters": {"filters": [{"match_all": {}}, {"term": {"text": "red"}}]}}})
    assert anonymous["aggregations"]["f"]["buckets"] == [{"doc_count": 2}, {"doc_count": 1}]


def test_filters_with_an_unknown_query_is_refused(es: Elasticsearch) -> None:
    es.index(index="fruit", id="1", document={"text": "apple"}, refresh=True)
    with pytest.raises(BadRequestError, match="unknown query"):
        es.search(index="fruit", aggs={"f": {"filters": {"filters": [{"colour": {}}]}}})
