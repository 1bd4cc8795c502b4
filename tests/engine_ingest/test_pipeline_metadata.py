"""Metadata a pipeline sets takes effect on the write: `_version`/`_version_type` version the
document, `date_index_name` routes it to a dated index."""

from __future__ import annotations

import pytest
from elasticsearch import ConflictError, Elasticsearch


def test_a_pipeline_sets_the_documents_version(es: Elasticsearch) -> None:
    es.ingest.put_pipeline(id="versioned", processors=[
        {"set": {"field": "_version", "value": 7}},
        {"set": {"field": "_version_type", "value": "external"}}])
    es.ingest.put_pipeline(id="internal", processors=[
        {"set": {"field": "_version", "value": 1}},
        {"set": {"field": "_version_type", "value": "internal"}}])
    with pytest.raises(ConflictError, match="document does not exist"):
        es.index(index="versions", id="1", pipeline="internal", document={"a": 1})
    assert es.index(index="versions", id="1", pipeline="versioned",
                    document={"a": 1})["_version"] == 7
    with pytest.raises(ConflictError, match="current version \\[7\\] is higher or equal"):
        es.index(index="versions", id="1", pipeline="versioned", document={"a": 2})


def test_date_index_name_writes_into_the_dated_index(es: Elasticsearch) -> None:
    es.ingest.put_pipeline(id="daily", processors=[{"date_index_name": {
        "field": "date", "index_name_prefix": "events-", "date_rounding": "d"}}])
    written = es.index(index="events", id="1", pipeline="daily",
                       document={"date": "2016-04-22T16:32:14.968Z"})
    assert written["_index"] == "events-2016-04-22"
    assert es.get(index="events-2016-04-22", id="1")["_source"]["date"].startswith("2016")
