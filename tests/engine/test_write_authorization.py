"""Writes are authorized on their own targets: bulk items, alias actions, reindex and updates.

A user allowed to write and manage `logs-*` only must not plant a chunk in `chunks-v1` through a
bulk item, alias `chunks-v1` under a name of theirs, or copy chunks they may not read; a user
reading and writing under document-level security may not update (Elasticsearch refuses it).
Every route the engine serves is authorized by a known action.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch

from es_rag.engine.app import EngineApp
from es_rag.engine.errors import SecurityError
from es_rag.engine.http import routes_security
from es_rag.engine.http.rest import RestRequest, RestResponse
from es_rag.engine.security import request_action
from es_rag.engine.server import EngineServer

PASSWORD = "bootstrap-secret"
PUBLIC = {"term": {"acl": "public"}}
ROLES: dict[str, list[dict[str, Any]]] = {
    "logs-admin": [{"names": ["logs-*"], "privileges": ["read", "write", "manage"]}],
    "reader": [{"names": ["chunks", "chunks-v*"], "privileges": ["read"], "query": PUBLIC}],
    "creator": [{"names": ["logs-*"], "privileges": ["create_doc"]}],
    "indexer": [{"names": ["logs-*"], "privileges": ["index"]}],
    "editor": [{"names": ["chunks", "chunks-v*"], "privileges": ["read", "write"],
                "query": PUBLIC}],
    "copier": [{"names": ["chunks", "chunks-v*"], "privileges": ["read"], "query": PUBLIC},
               {"names": ["copy-*"], "privileges": ["write", "create_index"]}],
    "wide": [{"names": ["logs-*"], "privileges": ["manage"]},
             {"names": ["wide-*"], "privileges": ["all"]}],
    "dls-manager": [{"names": ["chunks-v1", "chunks-v1-*"], "privileges": ["read", "manage"],
                     "query": PUBLIC}],
}
USERS = {"logan": "logs-admin", "rita": "reader", "cora": "creator", "ian": "indexer",
         "eddie": "editor", "cole": "copier", "will": "wide", "dana": "dls-manager"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EngineServer(tmp_path_factory.mktemp("authz"), port=0,
                          elastic_password=PASSWORD).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def admin(engine: str) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine, basic_auth=("elastic", PASSWORD))
    for role, indices in ROLES.items():
        es.security.put_role(name=role, indices=indices, cluster=["manage_own_api_key"])
    for user, role in USERS.items():
        es.security.put_user(username=user, password=f"{user}-password", roles=[role])
    es.indices.create(index="chunks-v1", aliases={"chunks": {}})
    es.indices.create(index="logs-1")
    es.index(index="chunks-v1", id="handbook", document={"acl": ["public"], "text": "handbook"})
    es.index(index="chunks-v1", id="secret", document={"acl": ["bob"], "text": "secret plan"},
             refresh=True)
    yield es
    es.close()


def login(engine: str, user: str) -> Elasticsearch:
    return Elasticsearch(engine, basic_auth=(user, f"{user}-password"))


def items(response: Any) -> list[dict[str, Any]]:
    return [next(iter(item.values())) for item in response["items"]]


def refused(call: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        call()
    return err.value


# --- bulk items -------------------------------------------------------------------------------
def test_a_bulk_item_outside_the_users_indices_is_refused_and_the_others_proceed(
        engine: str, admin: Elasticsearch) -> None:
    logan = login(engine, "logan")
    response = logan.bulk(operations=[
        {"index": {"_index": "logs-1", "_id": "a"}}, {"msg": "ok"},
        {"index": {"_index": "chunks-v1", "_id": "planted"}}, {"acl": ["public"], "text": "x"},
        {"index": {"_index": "chunks", "_id": "planted2"}}, {"acl": ["public"], "text": "x"},
        {"delete": {"_index": "chunks-v1", "_id": "secret"}},
        {"create": {"_index": "logs-1", "_id": "b"}}, {"msg": "ok"},
    ], refresh=True)
    results = items(response)
    assert response["errors"] is True
    assert [r["status"] for r in results] == [201, 403, 403, 403, 201]
    denied = results[1]["error"]
    assert denied["type"] == "security_exception"
    # the items sent to `chunks-v1` (through its name and its alias) fail together, refused as
    # Elasticsearch refuses the bulk's request to that index
    assert denied["reason"].startswith(
        "action [indices:data/write/bulk[s]] is unauthorized for user [logan] "
        "with effective roles [logs-admin] on indices [chunks-v1,chunks], this action is "
        "granted by the index privileges [")
    assert results[2]["_index"] == "chunks"
    assert results[3]["error"]["reason"] == denied["reason"]
    assert not admin.exists(index="chunks-v1", id="planted")
    assert not admin.exists(index="chunks-v1", id="planted2")
    assert admin.exists(index="chunks-v1", id="secret")


def test_create_doc_index_and_write_grant_different_bulk_items(engine: str) -> None:
    operations: list[dict[str, Any]] = [
        {"create": {"_index": "logs-1", "_id": "c1"}}, {"msg": "new"},
        {"index": {"_index": "logs-1", "_id": "c1"}}, {"msg": "overwrite"},
        {"update": {"_index": "logs-1", "_id": "c1"}}, {"doc": {"msg": "changed"}},
        {"delete": {"_index": "logs-1", "_id": "c1"}},
    ]
    cora = items(login(engine, "cora").bulk(operations=operations))
    assert [r["status"] for r in cora] == [201, 403, 403, 403]
    assert login(engine, "cora").index(index="logs-1", document={"msg": "auto id"})[
        "result"] == "created"  # a new id: op_type create
    assert "[indices:data/write/index:op_type/index]" in cora[1]["error"]["reason"]
    assert "[indices:data/write/update]" in cora[2]["error"]["reason"]
    ian_ops = [{"create": {"_index": "logs-1", "_id": "i1"}}, {"msg": "new"}, *operations[2:]]
    ian = items(login(engine, "ian").bulk(operations=ian_ops))
    assert [r["status"] for r in ian] == [201, 200, 200, 403]


def test_a_bulk_item_into_a_missing_index_needs_the_right_to_create_it(
        engine: str, admin: Elasticsearch) -> None:
    ian = items(login(engine, "ian").bulk(operations=[
        {"index": {"_index": "logs-new", "_id": "1"}}, {"msg": "x"}]))
    assert ian[0]["status"] == 403
    assert ian[0]["error"]["reason"].startswith("action [indices:admin/auto_create] is "
                                                "unauthorized for user [ian]")
    assert not admin.indices.exists(index="logs-new")
    cole = items(login(engine, "cole").bulk(operations=[
        {"index": {"_index": "copy-new", "_id": "1"}}, {"msg": "x"}]))
    assert cole[0]["status"] == 201


def test_an_api_key_writes_only_where_both_it_and_its_owner_may(
        engine: str, admin: Elasticsearch) -> None:
    admin.indices.create(index="logs-a1")
    admin.indices.create(index="logs-b1")
    logan = login(engine, "logan")
    key = logan.security.create_api_key(name="narrow", role_descriptors={"narrow": {
        "indices": [{"names": ["logs-a*", "chunks-v1"], "privileges": ["create_doc"]}]}})
    as_key = Elasticsearch(engine, api_key=key["encoded"])
    results = items(as_key.bulk(operations=[
        {"create": {"_index": "logs-a1", "_id": "1"}}, {"msg": "x"},
        {"create": {"_index": "logs-b1", "_id": "1"}}, {"msg": "x"},
        {"create": {"_index": "chunks-v1", "_id": "k"}}, {"acl": ["public"]},
        {"index": {"_index": "logs-a1", "_id": "1"}}, {"msg": "y"},
    ]))
    assert [r["status"] for r in results] == [201, 403, 403, 403]
    # an index the key may not write to at all: its request to that index is refused
    assert results[1]["error"]["reason"].startswith(
        f"action [indices:data/write/bulk[s]] is unauthorized for API key id "
        f"[{key['id']}] of user [logan] on indices [logs-b1]")
    # an index it may write to, with an operation its `create_doc` does not grant
    assert results[3]["error"]["reason"].startswith(
        f"action [indices:data/write/index:op_type/index] is unauthorized for API key id "
        f"[{key['id']}] of user [logan] on indices [logs-a1]")


def test_an_mget_item_on_an_index_the_user_may_not_read_is_refused_alone(engine: str) -> None:
    docs = login(engine, "rita").mget(docs=[
        {"_index": "chunks", "_id": "handbook"}, {"_index": "logs-1", "_id": "a"},
        {"_index": "chunks", "_id": "secret"}])["docs"]
    assert docs[0]["found"] is True and docs[2]["found"] is False
    assert docs[1]["error"]["type"] == "security_exception"
    assert docs[1]["error"]["reason"].startswith(
        "action [indices:data/read/mget[shard]] is unauthorized for user [rita] with effective "
        "roles [reader] on indices [logs-1]")


# --- updates under document-level security ---------------------------------------------------
def test_an_update_where_dls_applies_is_refused_as_elasticsearch_does(
        engine: str, admin: Elasticsearch) -> None:
    eddie = login(engine, "eddie")
    for doc_id in ("secret", "handbook"):
        err = refused(lambda d=doc_id: eddie.update(index="chunks-v1", id=d, doc={"x": 1},
                                                    source=True))
        assert err.status_code == 400
        assert err.body["error"]["type"] == "security_exception"
        assert err.body["error"]["reason"] == ("Can't execute an update request if field or "
                                               "document level security is enabled")
        assert "secret plan" not in str(err.body)
    results = items(eddie.bulk(operations=[
        {"update": {"_index": "chunks", "_id": "secret", "_source": True}}, {"doc": {"x": 1}},
        {"index": {"_index": "chunks-v1", "_id": "eddie-note"}}, {"acl": ["public"]},
    ]))
    assert results[0]["status"] == 400
    assert results[0]["error"] == {
        "type": "security_exception",
        "reason": "Can't execute a bulk item request with update requests embedded if field or "
                  "document level security is enabled"}
    assert "get" not in results[0]
    assert results[1]["status"] == 201
    assert "x" not in admin.get(index="chunks-v1", id="secret")["_source"]


# --- alias actions ----------------------------------------------------------------------------
def test_alias_actions_need_manage_on_the_index_and_the_alias(
        engine: str, admin: Elasticsearch) -> None:
    logan = login(engine, "logan")
    before = admin.indices.get_alias(index="chunks-v1").body
    attempts = [
        lambda: logan.indices.update_aliases(actions=[
            {"add": {"index": "chunks-v1", "alias": "logs-view"}}]),
        lambda: logan.indices.update_aliases(actions=[
            {"add": {"index": "logs-1", "alias": "logs-ok"}},
            {"add": {"index": "chunks-*", "alias": "logs-view"}}]),
        lambda: logan.indices.update_aliases(actions=[
            {"add": {"index": "logs-1", "alias": "chunks"}}]),
        lambda: logan.indices.put_alias(index="chunks-v1", name="logs-view"),
        lambda: logan.indices.delete_alias(index="chunks-v1", name="chunks"),
        lambda: logan.indices.update_aliases(actions=[{"remove_index": {"index": "chunks-v1"}}]),
    ]
    for attempt in attempts:
        err = refused(attempt)
        assert err.status_code in (403, 404), err.body
    err = refused(attempts[0])
    assert err.body["error"]["reason"].startswith(
        "action [indices:admin/aliases] is unauthorized for user [logan] with effective roles "
        "[logs-admin] on indices [chunks-v1]")
    assert admin.indices.get_alias(index="chunks-v1").body == before
    assert not admin.indices.exists_alias(name="logs-ok")
    logan.indices.update_aliases(actions=[{"add": {"index": "logs-1", "aliases": "logs-one"}}])
    assert admin.indices.exists_alias(name="logs-one")  # one name, not its characters
    assert logan.indices.put_alias(index="logs-*", name="logs-all")["acknowledged"]
    assert set(admin.indices.get_alias(name="logs-all").body) == set(
        admin.indices.get(index="logs-*").body) >= {"logs-1"}


def test_an_index_created_with_aliases_needs_manage_on_them(
        engine: str, admin: Elasticsearch) -> None:
    logan = login(engine, "logan")
    err = refused(lambda: logan.indices.create(index="logs-2", aliases={"chunks": {}}))
    assert err.body["error"]["reason"].startswith(
        "action [indices:admin/aliases] is unauthorized for user [logan] with effective roles "
        "[logs-admin] on indices [chunks]")
    assert not admin.indices.exists(index="logs-2")
    assert logan.indices.create(index="logs-2", aliases={"logs-current": {}})["acknowledged"]


def test_an_alias_may_not_open_more_than_its_index_nor_be_added_under_dls(engine: str) -> None:
    err = refused(lambda: login(engine, "will").indices.update_aliases(actions=[
        {"add": {"index": "logs-1", "alias": "wide-view"}}]))
    assert (err.status_code, err.body["error"]["reason"]) == (
        403, "Adding an alias is not allowed when the alias has more permissions than any of "
             "the indices")
    err = refused(lambda: login(engine, "dana").indices.put_alias(index="chunks-v1",
                                                                  name="chunks-v1-all"))
    assert (err.status_code, err.body["error"]["type"], err.body["error"]["reason"]) == (
        400, "security_exception", "Alias requests are not allowed for users who have field or "
                                   "document level security enabled on one of the indices")


# --- reindex ----------------------------------------------------------------------------------
def test_reindex_reads_with_the_users_dls_and_writes_only_where_allowed(
        engine: str, admin: Elasticsearch) -> None:
    err = refused(lambda: login(engine, "rita").reindex(
        source={"index": "chunks"}, dest={"index": "stolen"}))
    assert err.status_code == 403
    assert "[indices:data/write/reindex]" in err.body["error"]["reason"]
    assert not admin.indices.exists(index="stolen")

    admin.indices.refresh(index="chunks-v1")  # reindex reads the refreshed state
    done = login(engine, "cole").reindex(source={"index": "chunks"},
                                         dest={"index": "copy-chunks"}, refresh=True)
    copied = {h["_id"] for h in admin.search(index="copy-chunks")["hits"]["hits"]}
    visible = {h["_id"] for h in login(engine, "rita").search(index="chunks")["hits"]["hits"]}
    assert done["created"] == len(copied) and copied == visible and "secret" not in copied

    admin.index(index="logs-1", id="log-doc", document={"acl": ["public"]}, refresh=True)
    err = refused(lambda: login(engine, "logan").reindex(source={"index": "logs-1"},
                                                         dest={"index": "chunks-v1"}))
    assert err.status_code == 403
    assert err.body["failures"][0]["cause"]["type"] == "security_exception"
    assert not admin.exists(index="chunks-v1", id="log-doc")


# --- requests naming no index or a wildcard -------------------------------------------------
def test_a_request_naming_all_indices_reaches_only_the_users_own(
        engine: str, admin: Elasticsearch) -> None:
    logan = login(engine, "logan")
    assert logan.indices.put_settings(settings={"index.refresh_interval": "7s"})["acknowledged"]
    changed = admin.indices.get_settings(index="*", name="index.refresh_interval").body
    assert {n for n, v in changed.items() if v["settings"]} == set(
        admin.indices.get(index="logs-*").body)
    for names in (logan.indices.get_mapping().body, logan.indices.get_settings(index="*").body,
                  logan.indices.get_alias().body,
                  {r["index"] for r in logan.cat.indices(format="json").body}):
        assert names and all(n.startswith("logs-") for n in names), names
    err = refused(lambda: logan.indices.get_mapping(index="chunks-v1"))
    assert err.status_code == 403


# --- the route table --------------------------------------------------------------------------
def _app(tmp_path: Path) -> EngineApp:
    return EngineApp(tmp_path / "engine", security=True, elastic_password=PASSWORD)


def test_every_route_the_engine_serves_is_authorized_by_a_known_action(tmp_path: Path) -> None:
    app = _app(tmp_path)
    fill = {"index": "some-index", "id": "1", "name": "n"}
    unnamed = []
    own_action = {(m, path) for methods, path, _, action, _, _ in routes_security.ROUTES
                  if action for m in methods.split()}  # a security route authorizes its own
    for route in app.router.routes:
        pattern = "/" + "/".join(route.segments)
        if route.segments[:1] == ["_security"]:
            assert (route.method, pattern) in own_action, pattern
            continue
        path = "/" + "/".join(fill.get(s[1:-1], "x") if s.startswith("{") else s
                              for s in route.segments)
        methods = [route.method, "HEAD"] if route.method == "GET" else [route.method]
        unnamed += [f"{m} {path}" for m in methods if request_action(m, path) is None]
    assert len(app.router.routes) > 100
    assert unnamed == []
    app.close()


def test_a_routed_request_with_no_known_action_is_refused(tmp_path: Path) -> None:
    app = _app(tmp_path)
    app.router.add("GET", "/_unnamed", lambda req: RestResponse({"served": True}))
    token = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    request = RestRequest("GET", "/_unnamed", {}, b"", {"Authorization": f"Basic {token}"})
    with pytest.raises(SecurityError) as err:
        app.dispatch(request)
    assert err.value.status == 403
    assert "is unauthorized for user [elastic]" in err.value.reason
    app.close()
