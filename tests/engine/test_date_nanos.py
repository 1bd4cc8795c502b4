"""`date_nanos` fields keep nanosecond precision: sort values in nanoseconds, `search_after`
with a number or a formatted date, ranges and terms between neighbouring microseconds,
aggregations in milliseconds and dates before 1970 refused, as in Elasticsearch."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"


@pytest.fixture
def events(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="events", mappings={"properties": {
        "at": {"type": "date_nanos", "format": FORMAT}}})
    es.bulk(index="events", refresh=True, operations=[
        {"index": {"_id": "early"}}, {"at": "2019-10-21 00:30:04.828740"},
        {"index": {"_id": "late"}}, {"at": "2019-10-21 08:30:04.828733"},
        {"index": {"_id": "later"}}, {"at": "2019-10-21 08:30:04.828734"}])
    return es


def test_sort_values_are_nanoseconds_and_search_after_accepts_them(events: Elasticsearch
                                                                   ) -> None:
    first = events.search(index="events", size=1, sort=[{"at": "desc"}])["hits"]["hits"][0]
    assert first["_id"] == "later" and first["sort"] == [1571646604828734000]
    after = events.search(index="events", size=1, sort=[{"at": "desc"}],
                          search_after=[1571646604828734000])["hits"]["hits"][0]
    assert after["_id"] == "late" and after["sort"] == [1571646604828733000]
    formatted = events.search(index="events", size=1, sort=[{"at": "desc"}],
                              search_after=["2019-10-21 08:30:04.828733"])["hits"]["hits"]
    assert [h["_id"] for h in formatted] == ["early"]
    iso = events.search(index="events", size=1, sort=[
        {"at": {"order": "asc", "format": "strict_date_optional_time_nanos"}}])
    assert iso["hits"]["hits"][0]["sort"] == ["2019-10-21T00:30:04.82874Z"]


def test_ranges_and_terms_tell_microseconds_apart(events: Elasticsearch) -> None:
    between = {"range": {"at": {"gt": "2019-10-21 08:30:04.828733",
                                "lte": "2019-10-21 08:30:04.828734"}}}
    assert [h["_id"] for h in events.search(index="events", query=between)["hits"]["hits"]
            ] == ["later"]
    assert events.count(index="events", query={"term": {"at": "2019-10-21 08:30:04.828733"}}
                        )["count"] == 1
    day = {"range": {"at": {"gte": "2019-10-21", "lte": "2019-10-21", "format": "yyyy-MM-dd"}}}
    assert events.count(index="events", query=day)["count"] == 3


def test_aggregations_are_in_milliseconds_and_old_dates_are_refused(events: Elasticsearch
                                                                    ) -> None:
    latest = events.search(index="events", size=0, aggs={"latest": {"max": {"field": "at"}}}
                           )["aggregations"]["latest"]
    assert latest == {"value": 1571646604828.0, "value_as_string": "2019-10-21T08:30:04.828Z"}
    with pytest.raises(BadRequestError) as err:
        events.index(index="events", document={"at": "1969-12-31 23:59:59.000000"})
    assert "is before the epoch in 1970 and cannot be stored in nanosecond resolution" in \
        err.value.body["error"]["caused_by"]["reason"]


def test_date_and_date_nanos_indices_sort_together(events: Elasticsearch) -> None:
    events.indices.create(index="events-ms", mappings={"properties": {"at": {"type": "date"}}})
    events.index(index="events-ms", id="ms", document={"at": "2019-10-21T04:00:00.000Z"},
                 refresh=True)
    nanos = events.search(index="events*", sort=[{"at": {"order": "asc",
                                                         "numeric_type": "date_nanos"}}])
    assert [h["_id"] for h in nanos["hits"]["hits"]] == ["early", "ms", "late", "later"]
    assert nanos["hits"]["hits"][1]["sort"] == [1571630400000000000]
    millis = events.search(index="events*", sort=[{"at": "asc"}])
    assert millis["hits"]["hits"][0]["sort"] == [1571617804828]  # mixed: milliseconds
