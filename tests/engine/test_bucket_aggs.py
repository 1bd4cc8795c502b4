"""Bucket aggregations whose buckets are queries (filter, filters, missing, global, range,
date_range, sampler), their sub-aggregations, and aggregations over several indices."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

MAPPING = {"properties": {"price": {"type": "float"}, "kind": {"type": "keyword"},
                          "sold": {"type": "date"}, "title": {"type": "text"}}}
ITEMS = [("1", 5.0, "book", "2024-01-10", "red red red book"),
         ("2", 12.5, "book", "2024-02-20", "red book"),
         ("3", 20.0, "pen", "2024-03-05", "pen"),
         ("4", 35.0, "pen", "2024-04-01", "red pen with blue ink and a long title here"),
         ("5", 50.0, "lamp", None, "lamp")]


def _index(es: Elasticsearch, index_of: dict[str, str]) -> None:
    for index in set(index_of.values()):
        es.indices.create(index=index, mappings=MAPPING)
    for doc_id, price, kind, sold, title in ITEMS:
        doc = {"price": price, "kind": kind, "title": title}
        if sold:
            doc["sold"] = sold
        es.index(index=index_of[doc_id], id=doc_id, document=doc)
    es.indices.refresh(index=",".join(set(index_of.values())))


@pytest.fixture
def shop(es: Elasticsearch) -> Elasticsearch:
    _index(es, {doc_id: "shop" for doc_id, *_ in ITEMS})
    return es


def test_ranges_are_sorted_keyed_and_aggregate_inside(shop: Elasticsearch) -> None:
    ranges = [{"from": 20}, {"to": 10}, {"from": 10, "to": 20, "key": "mid"}]
    aggs = {"prices": {"range": {"field": "price", "ranges": ranges},
                       "aggs": {"avg_price": {"avg": {"field": "price"}}}}}
    buckets = shop.search(index="shop", size=0, aggs=aggs)["aggregations"]["prices"]["buckets"]
    assert buckets == [
        {"key": "*-10.0", "to": 10.0, "doc_count": 1, "avg_price": {"value": 5.0}},
        {"key": "mid", "from": 10.0, "to": 20.0, "doc_count": 1, "avg_price": {"value": 12.5}},
        {"key": "20.0-*", "from": 20.0, "doc_count": 3, "avg_price": {"value": 35.0}}]
    aggs["prices"]["range"]["keyed"] = True
    keyed = shop.search(index="shop", size=0, aggs=aggs)["aggregations"]["prices"]["buckets"]
    assert list(keyed) == ["*-10.0", "mid", "20.0-*"]
    assert keyed["mid"]["doc_count"] == 1


def test_date_ranges_accept_date_math_and_print_their_bounds(shop: Elasticsearch) -> None:
    aggs = {"sold": {"date_range": {"field": "sold", "ranges": [
        {"to": "2024-02-01"}, {"from": "2024-02-01", "to": "2024-03-01||+1M"}]}},
        "unsold": {"missing": {"field": "sold"}}}
    result = shop.search(index="shop", size=0, aggs=aggs)["aggregations"]
    assert result["sold"]["buckets"] == [
        {"key": "*-2024-02-01T00:00:00.000Z", "to": 1706745600000.0,
         "to_as_string": "2024-02-01T00:00:00.000Z", "doc_count": 1},
        {"key": "2024-02-01T00:00:00.000Z-2024-04-01T00:00:00.000Z",
         "from": 1706745600000.0, "from_as_string": "2024-02-01T00:00:00.000Z",
         "to": 1711929600000.0, "to_as_string": "2024-04-01T00:00:00.000Z", "doc_count": 2}]
    assert result["unsold"] == {"doc_count": 1}


def test_filter_filters_and_their_other_bucket(shop: Elasticsearch) -> None:
    pens = {"term": {"kind": "pen"}}
    aggs = {"pens": {"filter": pens, "meta": {"shelf": 3},
                     "aggs": {"top": {"max": {"field": "price"}}}},
            "named": {"filters": {"filters": {"pens": pens, "books": {"term": {"kind": "book"}}},
                                  "other_bucket": True}},
            "listed": {"filters": {"filters": {"pens": pens}, "keyed": False,
                                   "other_bucket_key": "rest"}},
            "anonymous": {"filters": {"filters": [pens], "other_bucket": True},
                          "aggs": {"kinds": {"terms": {"field": "kind"}}}}}
    result = shop.search(index="shop", size=0, aggs=aggs)["aggregations"]
    assert result["pens"] == {"meta": {"shelf": 3}, "doc_count": 2, "top": {"value": 35.0}}
    # named filters come back ordered by key, the other bucket last
    assert list(result["named"]["buckets"].items()) == [
        ("books", {"doc_count": 2}), ("pens", {"doc_count": 2}), ("_other_", {"doc_count": 1})]
    assert result["listed"]["buckets"] == [{"key": "pens", "doc_count": 2},
                                           {"key": "rest", "doc_count": 3}]
    other = result["anonymous"]["buckets"][1]
    assert other["doc_count"] == 3
    assert [(b["key"], b["doc_count"]) for b in other["kinds"]["buckets"]] == [("book", 2),
                                                                              ("lamp", 1)]


def test_global_ignores_the_query_and_sampler_keeps_the_best_hits(shop: Elasticsearch) -> None:
    aggs = {"all": {"global": {}, "aggs": {"avg_price": {"avg": {"field": "price"}}}},
            "best": {"sampler": {"shard_size": 2},
                     "aggs": {"kinds": {"terms": {"field": "kind"}}}}}
    resp = shop.search(index="shop", size=0, query={"match": {"title": "red"}}, aggs=aggs)
    assert resp["hits"]["total"]["value"] == 3
    assert resp["aggregations"]["all"] == {"doc_count": 5, "avg_price": {"value": 24.5}}
    best = resp["aggregations"]["best"]
    assert best["doc_count"] == 2
    assert best["kinds"]["buckets"] == [{"key": "book", "doc_count": 2}]


def test_terms_with_sub_aggregations_over_several_indices(es: Elasticsearch) -> None:
    _index(es, {"1": "shop-a", "2": "shop-a", "3": "shop-a", "4": "shop-b", "5": "shop-b"})
    aggs = {"kinds": {"terms": {"field": "kind"}, "aggs": {
                "avg_price": {"avg": {"field": "price"}},
                "cheap": {"range": {"field": "price", "ranges": [{"to": 25}]}}}},
            "avg_price": {"avg": {"field": "price"}}}
    result = es.search(index="shop-*", size=0, aggs=aggs)["aggregations"]
    assert result["avg_price"] == {"value": 24.5}
    assert [(b["key"], b["doc_count"], b["avg_price"]["value"],
             b["cheap"]["buckets"][0]["doc_count"]) for b in result["kinds"]["buckets"]] == [
        ("book", 2, 8.75, 2), ("pen", 2, 27.5, 1), ("lamp", 1, 50.0, 0)]


@pytest.mark.parametrize(("aggs", "error", "reason"), [
    ({"r": {"range": {"field": "price"}}}, "illegal_argument_exception",
     "No [ranges] specified for the [r] aggregation"),
    ({"r": {"range": {"field": "price", "ranges": [{"below": 3}]}}}, "parsing_exception",
     "[range] unknown field [below]"),
    ({"f": {"filters": {"filters": {}}}}, "illegal_argument_exception",
     "[filters] cannot be empty."),
    ({"k": {"terms": {"field": "kind"}, "aggs": {"g": {"global": {}}}}},
     "aggregation_initialization_exception",
     "Aggregation [g] of type [global] cannot be a sub-aggregation"),
    ({"m": {"max": {"field": "price"}, "aggs": {"k": {"terms": {"field": "kind"}}}}},
     "aggregation_initialization_exception",
     "Aggregator [m] of type [max] cannot accept sub-aggregations"),
    ({"x": {"histogrm": {"field": "price"}}}, "parsing_exception",
     "Unknown aggregation type [histogrm] did you mean [terms]?"),
    ({"r": {"range": {"field": "kind", "ranges": [{"to": 3}]}}}, "illegal_argument_exception",
     "Field [kind] of type [keyword] is not supported for aggregation [range]"),
    ({"h": {"histogram": {"field": "kind", "interval": 3}}}, "illegal_argument_exception",
     "Field [kind] of type [keyword] is not supported for aggregation [histogram]"),
    ({"p": {"percentiles": {"field": "kind"}}}, "illegal_argument_exception",
     "Field [kind] of type [keyword] is not supported for aggregation [percentiles]"),
    ({"k": {"terms": {"field": "kind", "order": {"p.50": "desc"}},
            "aggs": {"p": {"percentiles": {"field": "price"}}}}}, "illegal_argument_exception",
     "terms aggregation [k] ordered by [p.50] is not supported by the embedded engine over "
     "several indices or by this kind of sub-aggregation"),
])
def test_bad_aggregations_are_refused_as_elasticsearch_refuses_them(
        shop: Elasticsearch, aggs: dict, error: str, reason: str) -> None:
    with pytest.raises(BadRequestError) as err:
        shop.search(index="shop", size=0, aggs=aggs)
    assert err.value.body["error"]["type"] == error
    assert err.value.body["error"]["reason"] == reason


def test_histogram_buckets_fill_gaps_and_aggregate_inside(es: Elasticsearch) -> None:
    _index(es, {"1": "shop-a", "2": "shop-a", "3": "shop-a", "4": "shop-b", "5": "shop-b"})
    aggs = {"prices": {"histogram": {"field": "price", "interval": 20}, "aggs": {
        "kinds": {"terms": {"field": "kind"}},
        "books": {"filter": {"term": {"kind": "book"}}}}}}
    for index in ("shop-a", "shop-*"):
        result = es.search(index=index, size=0, aggs=aggs)["aggregations"]["prices"]
        buckets = [(b["key"], b["doc_count"], b["books"]["doc_count"])
                   for b in result["buckets"]]
        expected = [(0.0, 2, 2), (20.0, 1, 0)] if index == "shop-a" else \
            [(0.0, 2, 2), (20.0, 2, 0), (40.0, 1, 0)]
        assert buckets == expected
    keyed = es.search(index="shop-*", size=0, aggs={"p": {"histogram": {
        "field": "price", "interval": 20, "keyed": True}}})["aggregations"]["p"]["buckets"]
    assert list(keyed) == ["0.0", "20.0", "40.0"]
    with pytest.raises(BadRequestError) as err:
        es.search(index="shop-*", aggs={"p": {"histogram": {"field": "price", "interval": 0}}})
    assert err.value.body["error"]["reason"] == (
        "[interval] must be >0 for histogram aggregation [p]")


def test_ip_ranges_by_bounds_and_masks(es: Elasticsearch) -> None:
    es.indices.create(index="hosts", mappings={"properties": {"ip": {"type": "ip"}}})
    for n in (1, 2, 3, 130):
        es.index(index="hosts", id=str(n), document={"ip": f"10.0.0.{n}"})
    es.indices.refresh(index="hosts")
    result = es.search(index="hosts", size=0, typed_keys=True, aggs={"nets": {"ip_range": {
        "field": "ip", "ranges": [{"to": "10.0.0.3"}, {"mask": "10.0.0.0/25"},
                                  {"from": "10.0.0.3"}]}}})["aggregations"]["ip_range#nets"]
    assert result["buckets"] == [
        {"key": "*-10.0.0.3", "to": "10.0.0.3", "doc_count": 2},
        {"key": "10.0.0.0/25", "from": "10.0.0.0", "to": "10.0.0.128", "doc_count": 3},
        {"key": "10.0.0.3-*", "from": "10.0.0.3", "doc_count": 2}]


def test_date_histogram_by_calendar_and_fixed_intervals(es: Elasticsearch) -> None:
    _index(es, {"1": "shop-a", "2": "shop-a", "3": "shop-a", "4": "shop-b", "5": "shop-b"})
    monthly = es.search(index="shop-*", size=0, aggs={"m": {
        "date_histogram": {"field": "sold", "calendar_interval": "month"},
        "aggs": {"revenue": {"sum": {"field": "price"}}}}})["aggregations"]["m"]["buckets"]
    assert [(b["key_as_string"], b["doc_count"], b["revenue"]["value"]) for b in monthly] == [
        ("2024-01-01T00:00:00.000Z", 1, 5.0), ("2024-02-01T00:00:00.000Z", 1, 12.5),
        ("2024-03-01T00:00:00.000Z", 1, 20.0), ("2024-04-01T00:00:00.000Z", 1, 35.0)]
    assert monthly[0]["key"] == 1704067200000
    quarters = es.search(index="shop-*", size=0, aggs={"q": {"date_histogram": {
        "field": "sold", "calendar_interval": "quarter", "format": "yyyy-MM-dd",
        "keyed": True}}})["aggregations"]["q"]["buckets"]
    assert {k: b["doc_count"] for k, b in quarters.items()} == {"2024-01-01": 3,
                                                                 "2024-04-01": 1}
    fixed = es.search(index="shop-*", size=0, aggs={"f": {"date_histogram": {
        "field": "sold", "fixed_interval": "30d", "min_doc_count": 1}}})["aggregations"]["f"]
    assert sum(b["doc_count"] for b in fixed["buckets"]) == 4
    assert all(b["key"] % (30 * 86_400_000) == 0 for b in fixed["buckets"])
    with pytest.raises(BadRequestError) as err:
        es.search(index="shop-*", aggs={"d": {"date_histogram": {
            "field": "sold", "calendar_interval": "fortnight"}}})
    assert err.value.body["error"]["reason"] == (
        "The supplied interval [fortnight] could not be parsed as a calendar interval.")


def test_values_are_coerced_as_elasticsearchs_parsers_coerce_them(shop: Elasticsearch) -> None:
    """A rendered search template often gives numbers as strings, and one range as an object."""
    aggs = {"cheap": {"range": {"field": "price", "ranges": {"to": 10}}},
            "prices": {"histogram": {"field": "price", "interval": "25"}}}
    result = shop.search(index="shop", size=0, aggs=aggs)["aggregations"]
    assert result["cheap"]["buckets"] == [{"key": "*-10.0", "to": 10.0, "doc_count": 1}]
    assert [(b["key"], b["doc_count"]) for b in result["prices"]["buckets"]] == [
        (0.0, 3), (25.0, 1), (50.0, 1)]
    with pytest.raises(BadRequestError, match=r"failed to parse field \[interval\]"):
        shop.search(index="shop", size=0,
                    aggs={"p": {"histogram": {"field": "price", "interval": "wide"}}})
