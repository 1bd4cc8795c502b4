"""The engine speaks HTTP like Elasticsearch: headers, error bodies, URL options, cluster APIs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.engine.server import EngineServer


def raw(engine: EngineServer, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request without the client, returning status, headers and body."""
    req = urllib.request.Request(engine.url + path, data=body, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def as_json(payload: bytes) -> Any:
    return json.loads(payload)


def test_root_reports_a_9x_version_with_product_header(engine: EngineServer) -> None:
    status, headers, body = raw(engine, "GET", "/")
    info = as_json(body)
    assert status == 200
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    assert info["version"]["number"].startswith("9.")
    assert info["version"]["build_flavor"] == "default"
    assert info["tagline"] == "You Know, for Search"


def test_head_and_errors_carry_the_product_header(engine: EngineServer) -> None:
    status, headers, _ = raw(engine, "HEAD", "/no-such-index")
    assert status == 404
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    status, headers, body = raw(engine, "GET", "/no-such-index/_doc/1")
    assert status == 404
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    assert as_json(body)["error"]["type"] == "index_not_found_exception"


def test_compatible_media_type_is_mirrored(engine: EngineServer) -> None:
    media = "application/vnd.elasticsearch+json; compatible-with=8"
    status, headers, _ = raw(engine, "GET", "/", headers={"Accept": media, "Content-Type": media})
    assert status == 200
    assert headers["Content-Type"] == "application/vnd.elasticsearch+json;compatible-with=8"


def test_malformed_json_is_a_400_parse_error(engine: EngineServer, es: Elasticsearch) -> None:
    es.indices.create(index="docs")
    status, _, body = raw(engine, "PUT", "/docs/_doc/1", b'{"title": "oops"')
    assert status == 400
    assert as_json(body)["error"]["type"] == "x_content_parse_exception"
    assert as_json(body)["status"] == 400


def test_unknown_endpoint_and_wrong_method(engine: EngineServer, es: Elasticsearch) -> None:
    status, _, body = raw(engine, "GET", "/_no_such_api")
    assert status == 400
    assert "no handler found for uri [/_no_such_api] and method [GET]" in \
        as_json(body)["error"]["reason"]
    es.indices.create(index="docs")
    status, _, body = raw(engine, "PATCH", "/docs/_doc/1", b"{}")
    assert status == 405
    assert "Incorrect HTTP method" in as_json(body)["error"]["reason"]


def test_unknown_url_parameter_is_refused(engine: EngineServer) -> None:
    status, _, body = raw(engine, "GET", "/_search?colour=red")
    assert status == 400
    assert "unrecognized parameter: [colour]" in as_json(body)["error"]["reason"]


def test_oversized_request_is_refused_with_413(tmp_path: Path) -> None:
    server = EngineServer(tmp_path / "small", port=0, max_content_length=1000,
                          security=False).start()
    try:
        status, headers, _ = raw(server, "PUT", "/big/_doc/1",
                                 json.dumps({"text": "x" * 5000}).encode())
        assert status == 413
        assert headers["X-Elastic-Product"] == "Elasticsearch"
        assert raw(server, "GET", "/")[0] == 200
    finally:
        server.stop()


def test_non_loopback_binding_needs_consent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        EngineServer(tmp_path, host="0.0.0.0")


def test_filter_path_and_pretty(engine: EngineServer, es: Elasticsearch) -> None:
    es.index(index="docs", id="1", document={"title": "a"}, refresh=True)
    _, _, body = raw(engine, "GET", "/docs/_search?filter_path=hits.hits._id,-hits.total")
    assert as_json(body) == {"hits": {"hits": [{"_id": "1"}]}}
    _, _, body = raw(engine, "GET", "/docs/_search?filter_path=**._source")
    assert as_json(body) == {"hits": {"hits": [{"_source": {"title": "a"}}]}}
    _, _, body = raw(engine, "GET", "/?pretty")
    assert body.startswith(b"{\n  ")


def test_filter_path_excludes_a_path_below_any_depth(engine: EngineServer,
                                                     es: Elasticsearch) -> None:
    es.index(index="docs", id="1", document={"name": "a", "props": {"size": 1, "meta": {"k": 2}}},
             refresh=True)
    _, _, body = raw(engine, "GET", "/docs/_search?filter_path=-**._source.props,**._source")
    assert as_json(body) == {"hits": {"hits": [{"_source": {"name": "a"}}]}}
    _, _, body = raw(engine, "GET", "/docs/_search?filter_path=**.props,-**.props.meta")
    assert as_json(body) == {"hits": {"hits": [{"_source": {"props": {"size": 1}}}]}}


def test_cluster_health_and_cat_indices(es: Elasticsearch) -> None:
    es.indices.create(index="green-one", settings={"number_of_replicas": 0})
    es.index(index="green-one", id="1", document={"a": 1}, refresh=True)
    health = es.cluster.health(index="green-one", wait_for_status="green")
    assert health["status"] == "green" and health["active_primary_shards"] == 1
    rows = es.cat.indices(index="green-one", format="json")
    assert rows[0]["index"] == "green-one" and rows[0]["docs.count"] == "1"
    text = es.cat.indices(index="green-one", v=True, h="index,docs.count")
    assert text.splitlines()[0].split() == ["index", "docs.count"]
    assert text.splitlines()[1].split() == ["green-one", "1"]


def test_license_switches_between_trial_and_basic(es: Elasticsearch) -> None:
    assert es.license.get()["license"]["type"] == "trial"
    try:
        es.license.post_start_basic(acknowledge=True)
        assert es.license.get()["license"]["type"] == "basic"
    finally:
        es.license.post_start_trial(acknowledge=True)
    assert es.license.get()["license"]["type"] == "trial"
