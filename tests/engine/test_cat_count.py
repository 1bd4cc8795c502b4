"""`_cat/count` and `?help` on the cat APIs."""

from __future__ import annotations

import re

import pytest
from elasticsearch import BadRequestError, Elasticsearch


def test_cat_count_counts_documents_of_all_or_some_indices(es: Elasticsearch) -> None:
    es.index(index="one", id="1", document={"a": 1}, refresh=True)  # counts see refreshed docs
    es.index(index="two", id="1", document={"a": 1})
    es.index(index="two", id="2", document={"a": 2}, refresh=True)
    line = es.cat.count().body
    assert re.fullmatch(r"\d+ \d{2}:\d{2}:\d{2} 3\n", line)
    assert es.cat.count(index="two", h="count").body == "2\n"
    header, row = es.cat.count(index="one", v=True).body.splitlines()
    assert header.split() == ["epoch", "timestamp", "count"] and row.split()[2] == "1"
    [record] = es.cat.count(index="two", format="json")
    assert record["count"] == "2" and set(record) == {"epoch", "timestamp", "count"}
    assert es.cat.count(index="one", h="dc,t").body.split()[0] == "1"  # aliases of the columns
    with pytest.raises(BadRequestError, match=r"Unknown header: \[nope\]"):
        es.cat.count(h="nope")


def test_help_lists_the_columns(es: Elasticsearch) -> None:
    lines = es.cat.count(help=True).body.splitlines()
    assert [line.split("|")[0].strip() for line in lines] == ["epoch", "timestamp", "count"]
    assert lines[2].split("|")[2].strip() == "the document count"
    names = [line.split("|")[0].strip() for line in es.cat.indices(help=True).body.splitlines()]
    assert names[:3] == ["health", "status", "index"]
