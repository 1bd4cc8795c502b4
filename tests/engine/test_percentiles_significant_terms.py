"""`percentiles` and `percentile_ranks` as Elasticsearch's TDigest computes them on small
sets, and `significant_terms` scored by JLH against the index as background."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def prices(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="prices", mappings={"properties": {
        "price": {"type": "float"}, "sold": {"type": "date"}}})
    for n, (price, sold) in enumerate([(50.0, "2024-04-01"), (5.0, "2024-01-10"),
                                       (35.0, "2024-03-05"), (12.5, "2024-02-20"),
                                       (20.0, None)]):
        es.index(index="prices", id=str(n), document={"price": price, "sold": sold})
    es.indices.refresh(index="prices")
    return es


def test_percentiles_interpolate_between_sorted_values(prices: Elasticsearch) -> None:
    result = prices.search(index="prices", size=0, typed_keys=True, aggs={
        "p": {"percentiles": {"field": "price"}}})["aggregations"]["tdigest_percentiles#p"]
    # values 5, 12.5, 20, 35, 50: the q-th percentile sits at rank q/100 x (n - 1)
    assert result["values"] == pytest.approx({"1.0": 5.3, "5.0": 6.5, "25.0": 12.5,
                                              "50.0": 20.0, "75.0": 35.0, "95.0": 47.0,
                                              "99.0": 49.4})
    listed = prices.search(index="prices", size=0, aggs={"p": {"percentiles": {
        "field": "price", "percents": [90, 50], "keyed": False}}})["aggregations"]["p"]
    assert listed["values"] == [{"key": 50.0, "value": 20.0},
                                {"key": 90.0, "value": pytest.approx(44.0)}]


def test_percentiles_of_dates_and_of_nothing(prices: Elasticsearch) -> None:
    result = prices.search(index="prices", size=0, query={"exists": {"field": "sold"}}, aggs={
        "median_sale": {"percentiles": {"field": "sold", "percents": [50]}}})["aggregations"]
    halfway = (datetime(2024, 2, 20, tzinfo=UTC).timestamp() +
               datetime(2024, 3, 5, tzinfo=UTC).timestamp()) / 2 * 1000
    assert result["median_sale"]["values"]["50.0"] == pytest.approx(halfway)
    assert result["median_sale"]["values"]["50.0_as_string"] == "2024-02-27T00:00:00.000Z"
    empty = prices.search(index="prices", size=0, query={"term": {"price": 1}}, aggs={
        "p": {"percentiles": {"field": "price", "percents": [50]}}})["aggregations"]["p"]
    assert empty == {"values": {"50.0": None}}


def test_percentile_ranks(prices: Elasticsearch) -> None:
    result = prices.search(index="prices", size=0, typed_keys=True, aggs={
        "r": {"percentile_ranks": {"field": "price", "values": [30, 20, 1, 99]}}})
    ranks = result["aggregations"]["tdigest_percentile_ranks#r"]["values"]
    assert ranks == pytest.approx({"1.0": 0.0, "20.0": 40.0, "30.0": 63.3333333,
                                   "99.0": 100.0})


@pytest.mark.parametrize(("spec", "reason"), [
    ({"percentiles": {"field": "price", "percents": [150]}},
     "percent must be in [0,100], got [150.0]: [p]"),
    ({"percentiles": {"field": "price", "percents": []}}, "[percents] must not be empty: [p]"),
    ({"percentile_ranks": {"field": "price"}}, "[values] must not be null: [p]"),
])
def test_bad_percentiles_are_refused(prices: Elasticsearch, spec: dict, reason: str) -> None:
    with pytest.raises(BadRequestError) as err:
        prices.search(index="prices", size=0, aggs={"p": spec})
    assert err.value.body["error"]["reason"] == reason


@pytest.fixture
def pets(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="pets", mappings={"properties": {
        "topic": {"type": "keyword"}, "tag": {"type": "keyword"}, "year": {"type": "integer"}}})
    tags = [("cats", ["whiskers", "common"]), ("cats", ["whiskers", "common"]),
            ("cats", ["whiskers"]), ("cats", ["common"]), ("dogs", ["common"]),
            ("dogs", ["common"]), ("dogs", ["common"]), ("dogs", ["common"]),
            ("dogs", ["whiskers", "bark"]), ("dogs", ["bark"])]
    for n, (topic, tag) in enumerate(tags):
        es.index(index="pets", id=str(n), document={"topic": topic, "tag": tag, "year": 2020})
    es.indices.refresh(index="pets")
    return es


def test_significant_terms_score_the_foreground_against_the_index(pets: Elasticsearch) -> None:
    resp = pets.search(index="pets", size=0, typed_keys=True, query={"term": {"topic": "cats"}},
                       aggs={"tags": {"significant_terms": {"field": "tag"}, "aggs": {
                           "topics": {"terms": {"field": "topic"}}}}})
    result = resp["aggregations"]["sigsterms#tags"]
    assert (result["doc_count"], result["bg_count"]) == (4, 10)
    # JLH: (3/4 - 4/10) x (3/4) / (4/10) and (3/4 - 7/10) x (3/4) / (7/10)
    assert [(b["key"], b["doc_count"], b["bg_count"]) for b in result["buckets"]] == [
        ("whiskers", 3, 4), ("common", 3, 7)]
    assert result["buckets"][0]["score"] == pytest.approx(0.65625)
    assert result["buckets"][1]["score"] == pytest.approx(0.05 * 0.75 / 0.7)
    assert result["buckets"][0]["sterms#topics"]["buckets"] == [{"key": "cats", "doc_count": 3}]


def test_significant_terms_options_and_unmapped_fields(pets: Elasticsearch) -> None:
    cats = {"term": {"topic": "cats"}}
    few = pets.search(index="pets", size=0, query=cats, aggs={"t": {"significant_terms": {
        "field": "tag", "size": 1}}})["aggregations"]["t"]["buckets"]
    assert [b["key"] for b in few] == ["whiskers"]
    none = pets.search(index="pets", size=0, query=cats, aggs={"t": {"significant_terms": {
        "field": "tag", "min_doc_count": 4}}})["aggregations"]["t"]["buckets"]
    assert none == []
    resp = pets.search(index="pets", size=0, query=cats, typed_keys=True, aggs={
        "u": {"significant_terms": {"field": "nowhere"}},
        "y": {"significant_terms": {"field": "year"}}})["aggregations"]
    assert resp["sigsterms#u"] == {"buckets": []}
    assert resp["siglterms#y"]["buckets"] == []  # every document has the same year


def test_significant_dates_carry_their_text(es: Elasticsearch) -> None:
    es.indices.create(index="events", mappings={"properties": {
        "day": {"type": "date"}, "kind": {"type": "keyword"}}})
    days = ["2024-05-01"] * 3 + ["2024-05-02"] * 5
    for n, day in enumerate(days):
        es.index(index="events", id=str(n), document={"day": day,
                                                      "kind": "outage" if n < 3 else "ok"})
    es.indices.refresh(index="events")
    result = es.search(index="events", size=0, typed_keys=True, query={
        "term": {"kind": "outage"}}, aggs={"d": {"significant_terms": {"field": "day"}}})
    (bucket,) = result["aggregations"]["siglterms#d"]["buckets"]
    assert (bucket["key_as_string"], bucket["doc_count"], bucket["bg_count"]) == (
        "2024-05-01T00:00:00.000Z", 3, 3)
