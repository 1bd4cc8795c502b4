"""Field aliases: another name for a field, usable wherever the field is, never written to."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def books(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="books", mappings={"properties": {
        "title": {"type": "text"}, "year": {"type": "integer"},
        "author": {"type": "keyword"},
        "published": {"type": "alias", "path": "year"},
        "writer": {"type": "alias", "path": "author"}}})
    for i, (title, year, author) in enumerate([("red fox", 1990, "ann"),
                                               ("blue fox", 2001, "bob"),
                                               ("green owl", 1995, "ann")]):
        es.index(index="books", id=str(i), document={"title": title, "year": year,
                                                     "author": author})
    es.indices.refresh(index="books")
    return es


def _ids(resp: dict) -> list[str]:
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_an_alias_is_queried_sorted_aggregated_and_collapsed_as_its_target(
        books: Elasticsearch) -> None:
    assert _ids(books.search(index="books", query={"range": {"published": {"gte": 1995}}},
                             sort=[{"published": "asc"}])) == ["2", "1"]
    assert _ids(books.search(index="books", query={"term": {"writer": "ann"}},
                             sort=[{"year": "desc"}])) == ["2", "0"]
    aggs = books.search(index="books", size=0, aggs={
        "by": {"terms": {"field": "writer"}}, "top": {"max": {"field": "published"}}})
    assert aggs["aggregations"]["by"]["buckets"] == [{"key": "ann", "doc_count": 2},
                                                     {"key": "bob", "doc_count": 1}]
    assert aggs["aggregations"]["top"]["value"] == 2001
    collapsed = books.search(index="books", collapse={"field": "writer"},
                             sort=[{"published": "desc"}], fields=["published"])
    assert _ids(collapsed) == ["1", "2"]
    assert [h["fields"] for h in collapsed["hits"]["hits"]] == [
        {"published": [2001], "writer": ["bob"]}, {"published": [1995], "writer": ["ann"]}]
    # the mapping shows the alias as defined
    props = books.indices.get_mapping(index="books")["books"]["mappings"]["properties"]
    assert props["published"] == {"type": "alias", "path": "year"}


def test_an_alias_added_later_covers_the_documents_already_indexed(books: Elasticsearch
                                                                     ) -> None:
    books.indices.put_mapping(index="books", properties={
        "name": {"type": "alias", "path": "title"}})
    assert _ids(books.search(index="books", query={"match": {"name": "owl"}})) == ["2"]


def test_writing_to_an_alias_is_refused(books: Elasticsearch) -> None:
    with pytest.raises(BadRequestError, match=r"Cannot write to a field alias \[published\]"):
        books.index(index="books", id="9", document={"published": 2020})


@pytest.mark.parametrize("alias, message", [
    ({"type": "alias", "path": "nowhere"},
     "Invalid [path] value [nowhere] for field alias [a]: an alias must refer to an existing "
     "field in the mappings."),
    ({"type": "alias", "path": "a"},
     "Invalid [path] value [a] for field alias [a]: an alias cannot refer to itself."),
    ({"type": "alias", "path": "b"},
     "Invalid [path] value [b] for field alias [a]: an alias cannot refer to another alias."),
    ({"type": "alias"}, "The [path] property must be specified for field [a]."),
])
def test_bad_aliases_are_refused(es: Elasticsearch, alias: dict, message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="bad", mappings={"properties": {
            "a": alias, "b": {"type": "alias", "path": "t"}, "t": {"type": "keyword"}}})
    assert message in str(err.value.body)
