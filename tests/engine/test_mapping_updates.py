"""A mapping update adds a field for documents written from then on, as in Elasticsearch:
existing documents gain it only when reindexed (`_update_by_query`), also after a restart."""

from __future__ import annotations

from pathlib import Path

from elasticsearch import Elasticsearch

from es_rag.engine.server import EngineServer


def _hits(es: Elasticsearch, query: dict) -> list[str]:
    return sorted(h["_id"] for h in es.search(index="people", query=query)["hits"]["hits"])


def test_a_new_multi_field_is_searchable_on_old_documents_after_update_by_query(
        es: Elasticsearch) -> None:
    es.indices.create(index="people", mappings={"properties": {"name": {"type": "keyword"}}})
    es.index(index="people", id="old", document={"name": "bob! house"}, refresh=True)
    es.indices.put_mapping(index="people", properties={
        "name": {"type": "keyword", "fields": {"english": {"type": "text"}}}})
    es.index(index="people", id="new", document={"name": "bob the builder"}, refresh=True)
    assert _hits(es, {"match": {"name.english": "bob"}}) == ["new"]
    assert _hits(es, {"exists": {"field": "name.english"}}) == ["new"]
    # the fields mapped before still find both
    assert _hits(es, {"prefix": {"name": "bob"}}) == ["new", "old"]
    # another mapping update (a rebuild of the index) keeps the old document without it
    es.indices.put_mapping(index="people", properties={"age": {"type": "integer"}})
    assert _hits(es, {"match": {"name.english": "bob"}}) == ["new"]
    assert es.update_by_query(index="people", refresh=True)["updated"] == 2
    assert _hits(es, {"match": {"name.english": "bob"}}) == ["new", "old"]


def test_an_unmapped_field_mapped_later_waits_for_reindexing(tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url)
        es.indices.create(index="people", mappings={"dynamic": False})
        es.index(index="people", id="1", document={"city": "Lyon"}, refresh=True)
        es.indices.put_mapping(index="people", properties={"city": {"type": "keyword"}})
        es.index(index="people", id="2", document={"city": "Lyon"}, refresh=True)
        assert _hits(es, {"term": {"city": "Lyon"}}) == ["2"]
    finally:
        server.stop()
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url)
        assert _hits(es, {"term": {"city": "Lyon"}}) == ["2"]
    finally:
        server.stop()
