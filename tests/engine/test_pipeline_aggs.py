"""Sibling pipeline aggregations over another aggregation's buckets."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def sales(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="sales", mappings={"properties": {
        "shop": {"type": "keyword"}, "price": {"type": "double"}}})
    rows = [("a", 10.0), ("a", 20.0), ("b", 5.0), ("c", 1.0), ("c", 2.0), ("c", 3.0)]
    for i, (shop, price) in enumerate(rows):
        es.index(index="sales", id=str(i), document={"shop": shop, "price": price})
    es.indices.refresh(index="sales")
    return es


def test_bucket_metrics_over_counts_and_metrics(sales: Elasticsearch) -> None:
    aggs = sales.search(index="sales", size=0, aggs={
        "shops": {"terms": {"field": "shop"}, "aggs": {"revenue": {"sum": {"field": "price"}}}},
        "docs": {"sum_bucket": {"buckets_path": "shops>_count"}},
        "total": {"sum_bucket": {"buckets_path": "shops>revenue"}},
        "mean": {"avg_bucket": {"buckets_path": "shops>revenue"}},
        "best": {"max_bucket": {"buckets_path": "shops>revenue.value"}},
        "worst": {"min_bucket": {"buckets_path": "shops>_count"}},
        "stats": {"stats_bucket": {"buckets_path": "shops>revenue"}},
    })["aggregations"]
    assert aggs["docs"] == {"value": 6.0}
    assert aggs["total"] == {"value": 41.0}
    assert aggs["mean"]["value"] == pytest.approx(41.0 / 3)
    assert aggs["best"] == {"value": 30.0, "keys": ["a"]}
    assert aggs["worst"] == {"value": 1.0, "keys": ["b"]}
    assert aggs["stats"] == {"count": 3, "min": 5.0, "max": 30.0,
                             "avg": pytest.approx(41.0 / 3), "sum": 41.0}


def test_pipelines_over_several_indices(sales: Elasticsearch) -> None:
    sales.indices.create(index="sales-2", mappings={"properties": {"shop": {"type": "keyword"}}})
    sales.index(index="sales-2", id="x", document={"shop": "a", "price": 1.0}, refresh=True)
    aggs = sales.search(index="sales,sales-2", size=0, aggs={
        "shops": {"terms": {"field": "shop"}},
        "docs": {"sum_bucket": {"buckets_path": "shops>_count"}}})["aggregations"]
    assert aggs["docs"] == {"value": 7.0}


@pytest.mark.parametrize("agg, message", [
    ({"sum_bucket": {"buckets_path": "nope>_count"}},
     "No aggregation found for path [nope>_count]"),
    ({"sum_bucket": {}}, "Missing required field [buckets_path]"),
    ({"sum_bucket": {"buckets_path": "shops>_count", "gap_policy": "fill"}},
     "Invalid gap policy: [fill]"),
])
def test_bad_pipelines_are_refused(sales: Elasticsearch, agg: dict, message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        sales.search(index="sales", size=0, aggs={"shops": {"terms": {"field": "shop"}},
                                                  "p": agg})
    assert message in str(err.value.body)


def test_a_pipeline_inside_a_bucket_uses_that_bucket(sales: Elasticsearch) -> None:
    aggs = sales.search(index="sales", size=0, aggs={"shops": {
        "terms": {"field": "shop"},
        "aggs": {"prices": {"terms": {"field": "price"}},
                 "n": {"sum_bucket": {"buckets_path": "prices>_count"}}}}})["aggregations"]
    assert {b["key"]: b["n"]["value"] for b in aggs["shops"]["buckets"]} == \
        {"a": 2.0, "b": 1.0, "c": 3.0}
