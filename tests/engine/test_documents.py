"""Documents: index, get, update, delete, bulk, mget, count, delete_by_query, versions."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError


@pytest.fixture
def books(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="books", mappings={"properties": {
        "title": {"type": "text"}, "year": {"type": "integer"}, "tag": {"type": "keyword"},
        "vec": {"type": "dense_vector", "dims": 3, "similarity": "cosine"}}})
    return es


def test_index_get_and_versions(books: Elasticsearch) -> None:
    first = books.index(index="books", id="1", document={"title": "Dune", "year": 1965})
    assert first["result"] == "created" and first["_version"] == 1 and first["_seq_no"] == 0
    second = books.index(index="books", id="1", document={"title": "Dune", "year": 1966})
    assert second["result"] == "updated" and second["_version"] == 2
    got = books.get(index="books", id="1")
    assert got["_source"] == {"title": "Dune", "year": 1966}
    assert got["_seq_no"] == second["_seq_no"] and got["_primary_term"] == 1
    assert books.get(index="books", id="1", source_includes="year")["_source"] == {"year": 1966}
    assert "_source" not in books.get(index="books", id="1", source=False)
    assert books.exists(index="books", id="1")
    assert not books.exists(index="books", id="2")
    with pytest.raises(NotFoundError):
        books.get(index="books", id="2")


def test_auto_ids_and_create(books: Elasticsearch) -> None:
    created = books.index(index="books", document={"title": "x"})
    assert len(created["_id"]) == 20
    books.create(index="books", id="c", document={"title": "y"})
    with pytest.raises(ConflictError) as err:
        books.create(index="books", id="c", document={"title": "y"})
    assert "document already exists" in str(err.value)
    for create in (lambda: books.create(index="books", id="d", document=[1, 2]),
                   lambda: books.index(index="books", id="d", document=[1, 2], op_type="create")):
        with pytest.raises(BadRequestError) as err:
            create()
        assert err.value.error == "document_parsing_exception"
        assert "failed to parse" in str(err.value)


def test_optimistic_concurrency_and_external_versions(books: Elasticsearch) -> None:
    r = books.index(index="books", id="1", document={"title": "a"})
    books.index(index="books", id="1", document={"title": "b"}, if_seq_no=r["_seq_no"],
                if_primary_term=r["_primary_term"])
    with pytest.raises(ConflictError) as err:
        books.index(index="books", id="1", document={"title": "c"}, if_seq_no=r["_seq_no"],
                    if_primary_term=r["_primary_term"])
    assert err.value.error == "version_conflict_engine_exception"
    books.index(index="books", id="e", document={"title": "a"}, version=10,
                version_type="external")
    assert books.get(index="books", id="e")["_version"] == 10
    with pytest.raises(ConflictError):
        books.index(index="books", id="e", document={"title": "a"}, version=9,
                    version_type="external")


def test_update_partial_upsert_noop(books: Elasticsearch) -> None:
    books.index(index="books", id="1", document={"title": "Dune", "meta": {"a": 1}})
    r = books.update(index="books", id="1", doc={"meta": {"b": 2}}, source=True)
    assert r["result"] == "updated"
    assert r["get"]["_source"] == {"title": "Dune", "meta": {"a": 1, "b": 2}}
    assert books.update(index="books", id="1", doc={"title": "Dune"})["result"] == "noop"
    assert books.update(index="books", id="2", doc={"title": "New"},
                        doc_as_upsert=True)["result"] == "created"
    books.update(index="books", id="3", doc={"title": "x"}, upsert={"title": "up"})
    assert books.get(index="books", id="3")["_source"] == {"title": "up"}
    with pytest.raises(NotFoundError) as err:
        books.update(index="books", id="404", doc={"title": "x"})
    assert err.value.error == "document_missing_exception"


def test_delete_and_version_after_delete(books: Elasticsearch) -> None:
    books.index(index="books", id="1", document={"title": "a"})
    assert books.delete(index="books", id="1")["result"] == "deleted"
    assert books.index(index="books", id="1", document={"title": "a"})["_version"] == 3
    books.delete(index="books", id="1")
    with pytest.raises(NotFoundError) as err:
        books.delete(index="books", id="1")
    assert err.value.body["result"] == "not_found"


def test_bulk_partial_success_keeps_good_items(books: Elasticsearch) -> None:
    result = books.bulk(refresh=True, operations=[
        {"index": {"_index": "books", "_id": "1"}}, {"title": "ok", "year": 2001},
        {"index": {"_index": "books", "_id": "2"}}, {"title": "bad", "year": "nineteen"},
        {"create": {"_index": "books", "_id": "3"}}, {"title": "vec", "vec": [1, 2]},
        {"update": {"_index": "books", "_id": "1"}}, {"doc": {"tag": "x"}},
        {"delete": {"_index": "books", "_id": "missing"}},
    ])
    assert result["errors"] is True
    items = [next(iter(i.values())) for i in result["items"]]
    assert [i["status"] for i in items] == [201, 400, 400, 200, 404]
    assert items[1]["error"]["type"] == "document_parsing_exception"
    assert "different number of dimensions [2]" in items[2]["error"]["reason"]
    assert books.get(index="books", id="1")["_source"] == {"title": "ok", "year": 2001,
                                                          "tag": "x"}
    assert books.count(index="books")["count"] == 1


def test_bulk_with_index_in_url_and_ndjson(books: Elasticsearch) -> None:
    books.bulk(index="books", operations=[{"index": {"_id": str(i)}} if j == 0
                                          else {"title": f"t{i}"}
                                          for i in range(5) for j in range(2)], refresh=True)
    assert books.count(index="books")["count"] == 5


def test_bulk_item_metadata_must_be_an_object(books: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        books.bulk(operations=[{"index": "books"}, {"title": "t"}])
    assert "expected START_OBJECT but found [VALUE_STRING]" in str(err.value.info)
    response = books.bulk(operations=[
        {"index": {"_index": "books", "_id": "1", "routing": "r", "op_type": "create"}},
        {"title": "a"}, {"index": {"_index": "books", "_id": 2}}, {"title": "b"}],
        refresh=True)
    assert [(op, item["result"]) for entry in response["items"] for op, item in entry.items()] \
        == [("create", "created"), ("index", "created")]
    assert books.get(index="books", id="1", routing="r")["_routing"] == "r"
    assert books.get(index="books", id="2")["_source"] == {"title": "b"}


def test_wrong_types_lose_nothing_already_stored(books: Elasticsearch) -> None:
    books.index(index="books", id="1", document={"title": "keep", "year": 1999})
    with pytest.raises(BadRequestError) as err:
        books.index(index="books", id="1", document={"title": "x", "year": "abc"})
    assert err.value.error == "document_parsing_exception"
    assert books.get(index="books", id="1")["_source"] == {"title": "keep", "year": 1999}


def test_mget_both_forms(books: Elasticsearch) -> None:
    books.index(index="books", id="1", document={"title": "a"})
    docs = books.mget(index="books", ids=["1", "2"])["docs"]
    assert [d["found"] for d in docs] == [True, False]
    docs = books.mget(docs=[{"_index": "books", "_id": "1", "_source": False}])["docs"]
    assert docs[0]["found"] and "_source" not in docs[0]


def test_count_and_delete_by_query(books: Elasticsearch) -> None:
    for i in range(6):
        books.index(index="books", id=str(i), document={"year": 2000 + i})
    books.indices.refresh(index="books")
    assert books.count(index="books", query={"range": {"year": {"gte": 2003}}})["count"] == 3
    result = books.delete_by_query(index="books", query={"range": {"year": {"lt": 2002}}},
                                   refresh=True)
    assert result["deleted"] == 2 and result["failures"] == []
    assert books.count(index="books")["count"] == 4


def test_refresh_semantics(books: Elasticsearch) -> None:
    books.indices.put_settings(index="books", settings={"refresh_interval": "-1"})
    books.index(index="books", id="1", document={"title": "later"})
    assert books.get(index="books", id="1")["found"]  # real-time get
    assert books.count(index="books")["count"] == 0  # not yet refreshed
    books.index(index="books", id="2", document={"title": "now"}, refresh="wait_for")
    assert books.count(index="books")["count"] == 2
    assert books.index(index="books", id="3", document={"t": 1}, refresh=True)["forced_refresh"]


def test_search_idle_index_refreshes_on_the_next_search(
        books: Elasticsearch, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from es_rag.engine.index import shard

    monkeypatch.setattr(shard, "SEARCH_IDLE_AFTER", 0.3)
    books.search(index="books")
    time.sleep(0.5)  # no search for a while: automatic refreshes stop, as in Elasticsearch
    books.index(index="books", id="1", document={"title": "fresh"})
    time.sleep(1.2)
    # the first search on an idle index refreshes it before searching
    assert books.count(index="books")["count"] == 1


def test_reindex_copies_into_a_new_index_through_its_pipeline(books: Elasticsearch) -> None:
    for i in range(3):
        books.index(index="books", id=str(i), document={"title": f"t{i}", "year": 2000 + i})
    books.indices.refresh(index="books")
    result = books.reindex(source={"index": "books", "query": {"range": {"year": {"gte": 2001}}}},
                           dest={"index": "books-v2"}, refresh=True)
    assert (result["total"], result["created"], result["failures"]) == (2, 2, [])
    assert books.count(index="books-v2")["count"] == 2
    assert books.get(index="books-v2", id="2")["_source"] == {"title": "t2", "year": 2002}


def test_bulk_update_items_return_the_source_the_url_asks_for(books: Elasticsearch) -> None:
    books.index(index="books", id="1", document={"title": "Dune", "tag": "sf"}, refresh=True)
    # URL `_source_includes` is the default of every update item, noops included
    for doc in ({"title": "Emma"}, {"title": "Emma"}):
        item = books.bulk(index="books", source_includes="title", operations=[
            {"update": {"_id": "1"}}, {"doc": doc}])["items"][0]["update"]
        assert item["get"]["_source"] == {"title": "Emma"}
    assert item["result"] == "noop"
    item = books.bulk(index="books", source_excludes="title", operations=[
        {"update": {"_id": "1"}}, {"doc": {"year": 1815}}])["items"][0]["update"]
    assert item["get"]["_source"] == {"tag": "sf", "year": 1815}
    # an item's own `_source` wins over the URL's
    item = books.bulk(index="books", source=True, operations=[
        {"update": {"_id": "1", "_source": ["tag"]}}, {"doc": {"year": 1816}}])["items"][0]
    assert item["update"]["get"]["_source"] == {"tag": "sf"}
    updated = books.update(index="books", id="1", doc={"year": 1817}, source_excludes="title")
    assert updated["get"]["_source"] == {"tag": "sf", "year": 1817}
