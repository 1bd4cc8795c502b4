"""A writer bulk-indexes through aliases: each item is authorized on the name it uses, and, as in
Elasticsearch, the items sent to one index are authorized together on every name they use, so a
read-only alias of the same write index fails the whole group (a per-item 403 in the answer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from es_rag.engine.app import EngineApp

from .test_read_paths import caller, ndjson

PASSWORD = "bootstrap-secret"
WRITER_PASSWORD = "writer-password"


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineApp]:
    """`notes-1` and `notes-2`; `shared` and `readonly` both write into `notes-2`, `own` into
    `notes-1`; the writer may write through `shared` and `own`, only read through `readonly`."""
    app = EngineApp(tmp_path_factory.mktemp("bulk-aliases"), elastic_password=PASSWORD)
    admin = caller(app, "elastic", PASSWORD)
    for index in ("notes-1", "notes-2"):
        assert admin("PUT", f"/{index}")[0] == 200
    status, body = admin("POST", "/_aliases", {"actions": [
        {"add": {"index": "notes-1", "alias": "own"}},
        {"add": {"index": "notes-1", "alias": "shared"}},
        {"add": {"index": "notes-2", "alias": "shared", "is_write_index": True}},
        {"add": {"index": "notes-2", "alias": "readonly", "is_write_index": True}}]})
    assert status == 200, body
    role = {"indices": [{"names": ["readonly"], "privileges": ["read"]},
                        {"names": ["shared", "own"], "privileges": ["read", "write"]}]}
    assert admin("PUT", "/_security/role/alias-writer", role)[0] == 200
    assert admin("PUT", "/_security/user/writer", {"password": WRITER_PASSWORD,
                                                   "roles": ["alias-writer"]})[0] == 200
    yield app
    app.close()


def _bulk(engine: EngineApp, *targets: str) -> list[dict[str, Any]]:
    writer = caller(engine, "writer", WRITER_PASSWORD)
    lines: list[dict[str, Any]] = []
    for n, target in enumerate(targets):
        lines += [{"index": {"_index": target, "_id": str(n)}}, {"text": f"note {n}"}]
    status, body = writer("POST", "/_bulk", ndjson(*lines), refresh="true")
    assert status == 200
    return [item["index"] for item in body["items"]]


def _count(engine: EngineApp, index: str) -> int:
    return caller(engine, "elastic", PASSWORD)("POST", f"/{index}/_count")[1]["count"]


def test_writing_through_a_permitted_alias_reaches_its_write_index(engine: EngineApp) -> None:
    items = _bulk(engine, "shared", "own")
    assert [i["status"] for i in items] == [201, 201]
    assert (items[0]["_index"], items[1]["_index"]) == ("notes-2", "notes-1")


def test_a_read_only_alias_fails_every_item_sent_to_the_same_index(engine: EngineApp) -> None:
    items = _bulk(engine, "readonly", "shared", "own")
    assert [i["status"] for i in items] == [403, 403, 201]
    assert items[1]["error"]["type"] == "security_exception"
    assert "indices:data/write/bulk[s]" in items[1]["error"]["reason"]
    assert "[readonly]" in items[1]["error"]["reason"]
    assert (_count(engine, "notes-2"), _count(engine, "notes-1")) == (0, 1)


def test_a_read_only_alias_alone_is_refused_per_item(engine: EngineApp) -> None:
    items = _bulk(engine, "readonly")
    assert items[0]["status"] == 403
    assert _count(engine, "notes-2") == 0
