"""Index lifecycle: create, mappings (explicit, dynamic, additive), settings, aliases."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError


def test_create_get_exists_delete(es: Elasticsearch) -> None:
    es.indices.create(index="books", settings={"number_of_replicas": 0},
                      mappings={"properties": {"title": {"type": "text", "analyzer": "english"}}},
                      aliases={"library": {}})
    assert es.indices.exists(index="books")
    got = es.indices.get(index="books")["books"]
    assert got["mappings"]["properties"]["title"] == {"type": "text", "analyzer": "english"}
    assert got["settings"]["index"]["number_of_replicas"] == "0"
    assert got["aliases"] == {"library": {}}
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="books")
    assert err.value.error == "resource_already_exists_exception"
    es.indices.delete(index="books")
    assert not es.indices.exists(index="books")
    with pytest.raises(NotFoundError):
        es.indices.delete(index="books")


def test_bad_names_types_and_parameters_are_refused(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="Upper")
    assert err.value.error == "invalid_index_name_exception"
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="x", mappings={"properties": {"f": {"type": "strange"}}})
    assert err.value.error == "mapper_parsing_exception"
    assert "No handler for type [strange] declared on field [f]" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="x", mappings={"properties": {"f": {"type": "text",
                                                                     "colour": "red"}}})
    assert "unknown parameter [colour] on mapper [f] of type [text]" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="x", settings={"index.colour": "red"})
    assert "unknown setting [index.colour]" in str(err.value)


def test_dynamic_mapping_follows_elasticsearch(es: Elasticsearch) -> None:
    es.index(index="auto", id="1", document={
        "title": "hello", "count": 3, "ratio": 0.5, "ok": True, "when": "2024-05-01",
        "author": {"name": "ann"}})
    props = es.indices.get_mapping(index="auto")["auto"]["mappings"]["properties"]
    assert props["title"] == {"type": "text", "fields": {"keyword": {"type": "keyword",
                                                                     "ignore_above": 256}}}
    assert props["count"] == {"type": "long"}
    assert props["ratio"] == {"type": "float"}
    assert props["ok"] == {"type": "boolean"}
    assert props["when"] == {"type": "date"}
    assert props["author"]["properties"]["name"]["type"] == "text"


def test_put_mapping_is_additive_and_conflicts_are_refused(es: Elasticsearch) -> None:
    es.indices.create(index="m", mappings={"properties": {"title": {"type": "text"}}})
    es.indices.put_mapping(index="m", properties={"tag": {"type": "keyword"}})
    props = es.indices.get_mapping(index="m")["m"]["mappings"]["properties"]
    assert set(props) == {"title", "tag"}
    with pytest.raises(BadRequestError) as err:
        es.indices.put_mapping(index="m", properties={"title": {"type": "keyword"}})
    assert err.value.error == "illegal_argument_exception"
    assert "cannot be changed from type [text] to [keyword]" in str(err.value)


def test_strict_mapping_and_dynamic_templates(es: Elasticsearch) -> None:
    es.indices.create(index="s", mappings={
        "dynamic": "strict",
        "dynamic_templates": [{"meta": {"path_match": "meta.*", "match_mapping_type": "string",
                                        "mapping": {"type": "keyword"}}}],
        "properties": {"title": {"type": "text"},
                       "meta": {"type": "object", "dynamic": True}}})
    es.index(index="s", id="1", document={"title": "a", "meta": {"lang": "en"}})
    props = es.indices.get_mapping(index="s")["s"]["mappings"]["properties"]
    assert props["meta"]["properties"]["lang"] == {"type": "keyword"}
    with pytest.raises(BadRequestError) as err:
        es.index(index="s", id="2", document={"title": "a", "extra": 1})
    assert err.value.error == "strict_dynamic_mapping_exception"


def test_aliases_filtered_and_write_index(es: Elasticsearch) -> None:
    es.indices.create(index="logs-1", mappings={"properties": {"level": {"type": "keyword"}}})
    es.indices.create(index="logs-2", mappings={"properties": {"level": {"type": "keyword"}}})
    es.indices.update_aliases(actions=[
        {"add": {"index": "logs-1", "alias": "logs"}},
        {"add": {"index": "logs-2", "alias": "logs", "is_write_index": True}},
        {"add": {"index": "logs-*", "alias": "errors", "filter": {"term": {"level": "error"}}}},
    ])
    es.index(index="logs", id="a", document={"level": "error"})
    es.index(index="logs-1", id="b", document={"level": "info"})
    es.indices.refresh(index="logs-*")
    assert es.get(index="logs-2", id="a")["found"]
    assert es.count(index="logs")["count"] == 2
    assert es.count(index="errors")["count"] == 1
    assert [h["_id"] for h in es.search(index="errors")["hits"]["hits"]] == ["a"]
    aliases = es.indices.get_alias(index="logs-1")
    assert set(aliases["logs-1"]["aliases"]) == {"logs", "errors"}
    es.indices.update_aliases(actions=[{"remove": {"index": "logs-1", "alias": "logs"}}])
    assert es.count(index="logs")["count"] == 1


def test_wildcards_and_comma_lists(es: Elasticsearch) -> None:
    for name in ("w-a", "w-b", "other"):
        es.index(index=name, id="1", document={"x": 1}, refresh=True)
    assert es.count(index="w-*")["count"] == 2
    assert es.count(index="w-a,other")["count"] == 2
    assert es.count(index="missing,w-a", ignore_unavailable=True)["count"] == 1
    es.indices.delete(index="w-*")
    assert not es.indices.exists(index="w-a")
    assert es.indices.exists(index="other")
