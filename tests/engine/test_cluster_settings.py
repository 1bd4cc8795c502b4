"""`PUT`/`GET _cluster/settings`: dynamic settings change a running engine's limits,
persistent ones survive a restart, and `action.auto_create_index` guards index creation."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from es_rag.engine.server import EngineServer


def _reset(es: Elasticsearch) -> None:
    es.cluster.put_settings(persistent={"search.max_keep_alive": None,
                                        "search.default_keep_alive": None,
                                        "action.auto_create_index": None},
                            transient={"search.max_buckets": None})


def test_keep_alive_limits_follow_the_cluster_settings(es: Elasticsearch) -> None:
    es.index(index="logs", id="1", document={"n": 1}, refresh=True)
    try:
        resp = es.cluster.put_settings(persistent={"search": {"max_keep_alive": "1m",
                                                              "default_keep_alive": "1m"}})
        assert resp.body == {"acknowledged": True, "transient": {}, "persistent": {
            "search": {"max_keep_alive": "1m", "default_keep_alive": "1m"}}}
        with pytest.raises(BadRequestError, match="Keep alive for request"):
            es.search(index="logs", scroll="2m")
        assert es.search(index="logs", scroll="1m")["_scroll_id"]
        flat = es.cluster.get_settings(flat_settings=True)
        assert flat["persistent"] == {"search.max_keep_alive": "1m",
                                      "search.default_keep_alive": "1m"}
    finally:
        _reset(es)
    assert es.cluster.get_settings()["persistent"] == {}
    assert es.search(index="logs", scroll="2m")["_scroll_id"]


def test_transient_settings_override_persistent_ones(es: Elasticsearch) -> None:
    es.index(index="logs", id="1", document={"tag": "a"}, refresh=True)
    try:
        es.cluster.put_settings(transient={"search.max_buckets": 1})
        with pytest.raises(BadRequestError, match="too_many_buckets"):
            es.search(index="logs", aggs={"n": {"terms": {"field": "tag.keyword"}},
                                          "m": {"terms": {"field": "tag.keyword"}}})
        assert es.cluster.get_settings()["transient"] == {"search": {"max_buckets": "1"}}
    finally:
        _reset(es)


@pytest.mark.parametrize("persistent, message", [
    ({"search.no_such_thing": 1}, "persistent setting [search.no_such_thing], not recognized"),
    ({"http.max_content_length": "1mb"},
     "persistent setting [http.max_content_length], not dynamically updateable"),
    ({"search.max_keep_alive": "soon"}, "failed to parse setting [search.max_keep_alive]"),
    ({"search.max_keep_alive": "1m"}, "should be smaller than max keep alive"),
])
def test_bad_settings_are_refused_and_nothing_changes(es: Elasticsearch, persistent: dict,
                                                      message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        es.cluster.put_settings(persistent=persistent)
    assert message in str(err.value.body)
    assert es.cluster.get_settings()["persistent"] == {}


def test_persistent_settings_survive_a_restart_transient_ones_do_not(tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        client = Elasticsearch(server.url)
        client.cluster.put_settings(persistent={"search.max_open_scroll_context": 7},
                                    transient={"search.max_buckets": 9})
    finally:
        server.stop()
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        got = Elasticsearch(server.url).cluster.get_settings(flat_settings=True)
        assert got["persistent"] == {"search.max_open_scroll_context": "7"}
        assert got["transient"] == {}
    finally:
        server.stop()


@pytest.mark.parametrize("value, message", [
    (False, "no such index [fresh] and [action.auto_create_index] is [false]"),
    ("logs-*", "no such index [fresh] and [action.auto_create_index] ([logs-*]) doesn't match"),
    ("-fr*,+*", "no such index [fresh] and [action.auto_create_index] contains [-fr*] which "
                "forbids automatic creation of the index"),
])
def test_auto_create_index_guards_writes_to_new_indices(es: Elasticsearch, value: object,
                                                        message: str) -> None:
    try:
        es.cluster.put_settings(persistent={"action.auto_create_index": value})
        with pytest.raises(NotFoundError) as err:
            es.index(index="fresh", document={"n": 1})
        assert message in str(err.value.body)
        with pytest.raises(NotFoundError, match="action.auto_create_index"):
            es.index(index="source", id="1", document={"n": 1}) if value is False else \
                es.reindex(source={"index": "fresh*"}, dest={"index": "fresh"})
        es.indices.create(index="fresh")  # creating it explicitly is always allowed
        es.index(index="fresh", document={"n": 1})
    finally:
        _reset(es)
    es.index(index="logs-1", document={"n": 1})  # the default again: created on write


def test_include_defaults_shows_the_settings_not_set(es: Elasticsearch) -> None:
    try:
        es.cluster.put_settings(transient={"search.max_buckets": 10})
        got = es.cluster.get_settings(include_defaults=True, flat_settings=True)
        assert got["transient"] == {"search.max_buckets": "10"}
        assert got["defaults"]["search.max_open_scroll_context"] == "500"
        assert got["defaults"]["action.auto_create_index"] == "true"
        assert "search.max_buckets" not in got["defaults"]
    finally:
        _reset(es)
