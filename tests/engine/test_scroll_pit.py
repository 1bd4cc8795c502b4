"""Scroll and point in time against the engine with security on: paging a pinned snapshot,
keep-alive expiry and limits, Elasticsearch's errors, and document-level security (a scroll or
PIT continues with its opener's scope, and another user cannot use its id)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from es_rag.engine.app import EngineApp
from es_rag.engine.limits import Limits
from es_rag.engine.security.read_scope import UNRESTRICTED
from es_rag.engine.server import EngineServer
from es_rag.engine.write_request import WriteRequest

PASSWORD = "scroll-admin-pw"
INDEX = "scroll-docs"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EngineServer(tmp_path_factory.mktemp("scroll"), port=0, elastic_password=PASSWORD,
                          limits=Limits(max_keep_alive=3600, max_open_scroll_context=20)).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def admin(engine: str) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine, basic_auth=("elastic", PASSWORD), request_timeout=30)
    helpers.bulk(es, ({"_index": INDEX, "_id": str(n), "n": n,
                       "team": "red" if n % 3 == 0 else "blue"} for n in range(30)),
                 refresh=True)
    es.security.put_role(name="red-reader", indices=[{
        "names": [INDEX], "privileges": ["read"], "query": {"term": {"team": "red"}}}])
    es.security.put_role(name="reader", indices=[{"names": [INDEX], "privileges": ["read"]}])
    es.security.put_user(username="reda", password="reda-password", roles=["red-reader"])
    es.security.put_user(username="bob", password="bob-password", roles=["reader"])
    yield es
    es.close()


def as_user(engine: str, name: str) -> Elasticsearch:
    return Elasticsearch(engine, basic_auth=(name, f"{name}-password"), request_timeout=30)


def scroll_all(es: Elasticsearch, first: dict) -> list[str]:
    ids = [h["_id"] for h in first["hits"]["hits"]]
    page = first
    while page["hits"]["hits"]:
        page = es.scroll(scroll_id=page["_scroll_id"], scroll="1m")
        ids += [h["_id"] for h in page["hits"]["hits"]]
    es.clear_scroll(scroll_id=page["_scroll_id"])
    return ids


def test_a_scroll_pages_through_a_snapshot_taken_when_it_opened(admin: Elasticsearch) -> None:
    first = admin.search(index=INDEX, scroll="1m", size=7, sort=["_doc"])
    assert first["hits"]["total"] == {"value": 30, "relation": "eq"}
    admin.index(index=INDEX, id="late", document={"n": 99, "team": "red"}, refresh=True)
    admin.update(index=INDEX, id="3", doc={"n": 333}, refresh=True)
    try:
        ids = scroll_all(admin, first)
        assert sorted(ids, key=int) == [str(n) for n in range(30)]  # no "late", no repeats
    finally:
        admin.delete(index=INDEX, id="late", refresh=True)
        admin.update(index=INDEX, id="3", doc={"n": 3}, refresh=True)


def test_the_snapshot_keeps_the_version_it_saw(admin: Elasticsearch) -> None:
    first = admin.search(index=INDEX, scroll="1m", size=1, sort=[{"n": "asc"}],
                         query={"ids": {"values": ["4", "5"]}})
    admin.update(index=INDEX, id="5", doc={"n": 555}, refresh=True)
    try:
        second = admin.scroll(scroll_id=first["_scroll_id"], scroll="1m")
        assert second["hits"]["hits"][0]["_source"]["n"] == 5
        admin.clear_scroll(scroll_id=first["_scroll_id"])
    finally:
        admin.update(index=INDEX, id="5", doc={"n": 5}, refresh=True)


def test_scroll_id_in_the_body_path_or_query_and_total_as_int(admin: Elasticsearch) -> None:
    first = admin.search(index=INDEX, scroll="1m", size=10)
    scroll_id = first["_scroll_id"]
    by_query = admin.perform_request("GET", "/_search/scroll", params={
        "scroll_id": scroll_id, "scroll": "1m", "rest_total_hits_as_int": "true"},
        headers={"accept": "application/json"})
    assert by_query["hits"]["total"] == 30 and len(by_query["hits"]["hits"]) == 10
    by_path = admin.perform_request("GET", f"/_search/scroll/{scroll_id}",
                                    headers={"accept": "application/json"})
    assert len(by_path["hits"]["hits"]) == 10
    cleared = admin.perform_request("DELETE", f"/_search/scroll/{scroll_id}",
                                    headers={"accept": "application/json"})
    assert cleared.body == {"succeeded": True, "num_freed": 1}


def test_a_cleared_or_expired_scroll_is_a_404_search_context_missing(admin: Elasticsearch
                                                                      ) -> None:
    first = admin.search(index=INDEX, scroll="1s", size=2)
    time.sleep(1.3)
    with pytest.raises(NotFoundError) as missing:
        admin.scroll(scroll_id=first["_scroll_id"], scroll="1m")
    assert missing.value.body["error"]["root_cause"][0] == {
        "type": "search_context_missing_exception",
        "reason": f"No search context found for id [{first['_scroll_id']}]"}
    gone = admin.options(ignore_status=404).clear_scroll(scroll_id=first["_scroll_id"])
    assert gone.meta.status == 404 and gone.body == {"succeeded": True, "num_freed": 0}
    with pytest.raises(ApiError) as malformed:
        admin.scroll(scroll_id="not-a-scroll-id", scroll="1m")
    assert malformed.value.meta.status == 400


def test_clear_all_scrolls_needs_the_cluster_privilege(engine: str, admin: Elasticsearch
                                                       ) -> None:
    admin.options(ignore_status=404).clear_scroll(scroll_id="_all")
    ids = [admin.search(index=INDEX, scroll="1m", size=1)["_scroll_id"] for _ in range(2)]
    reda = as_user(engine, "reda")
    ids.append(reda.search(index=INDEX, scroll="1m", size=1)["_scroll_id"])
    with pytest.raises(ApiError) as refused:
        reda.clear_scroll(scroll_id="_all")
    assert refused.value.meta.status == 403
    assert admin.clear_scroll(scroll_id="_all")["num_freed"] == 3
    with pytest.raises(NotFoundError):
        reda.scroll(scroll_id=ids[2])


def test_keep_alive_and_open_scroll_limits(admin: Elasticsearch) -> None:
    with pytest.raises(ApiError) as too_long:
        admin.search(index=INDEX, scroll="2h", size=1)
    assert too_long.value.meta.status == 400
    assert too_long.value.body["error"]["reason"] == (
        "Keep alive for request (2h) is too large. It must be less than (1h). This limit can "
        "be set by changing the [search.max_keep_alive] cluster level setting.")
    opened = [admin.search(index=INDEX, scroll="1m", size=1)["_scroll_id"] for _ in range(20)]
    try:
        with pytest.raises(ApiError) as too_many:
            admin.search(index=INDEX, scroll="1m", size=1)
        assert too_many.value.meta.status == 429
        assert "Trying to create too many scroll contexts" in too_many.value.body["error"][
            "reason"]
    finally:
        admin.clear_scroll(scroll_id=opened)


def test_scroll_refuses_what_elasticsearch_refuses(admin: Elasticsearch) -> None:
    with pytest.raises(ApiError) as bad:
        admin.search(index=INDEX, scroll="1m", size=0)
    assert bad.value.body["error"]["reason"] == (
        "Validation Failed: 1: [size] cannot be [0] in a scroll context;")
    with pytest.raises(ApiError) as too_big:
        admin.search(index=INDEX, scroll="1m", size=10010)
    assert too_big.value.body["error"]["reason"].startswith(
        "Batch size is too large, size must be less than or equal to: [10000] but was [10010].")


def test_a_restricted_users_scan_sees_only_permitted_documents(engine: str,
                                                               admin: Elasticsearch) -> None:
    reda = as_user(engine, "reda")
    seen = [h["_id"] for h in helpers.scan(reda, index=INDEX, size=4)]
    assert sorted(seen, key=int) == [str(n) for n in range(0, 30, 3)]
    ordered = [h["_source"]["n"] for h in helpers.scan(
        reda, index=INDEX, size=3, preserve_order=True, query={"sort": [{"n": "desc"}]})]
    assert ordered == list(range(27, -1, -3))


def test_a_scroll_belongs_to_the_user_who_opened_it(engine: str, admin: Elasticsearch) -> None:
    reda, bob = as_user(engine, "reda"), as_user(engine, "bob")
    opened = reda.search(index=INDEX, scroll="1m", size=2)
    with pytest.raises(NotFoundError):
        bob.scroll(scroll_id=opened["_scroll_id"], scroll="1m")
    with pytest.raises(NotFoundError):
        admin.scroll(scroll_id=opened["_scroll_id"], scroll="1m")
    assert bob.options(ignore_status=404).clear_scroll(
        scroll_id=opened["_scroll_id"])["num_freed"] == 0
    # the opener continues, still under their own scope
    page = reda.scroll(scroll_id=opened["_scroll_id"], scroll="1m")
    assert all(int(h["_id"]) % 3 == 0 for h in page["hits"]["hits"])
    reda.clear_scroll(scroll_id=opened["_scroll_id"])


def test_point_in_time_pages_with_search_after_over_a_snapshot(admin: Elasticsearch) -> None:
    pit = admin.open_point_in_time(index=INDEX, keep_alive="1m")
    admin.index(index=INDEX, id="late", document={"n": 100, "team": "red"}, refresh=True)
    try:
        seen, after = [], None
        while True:
            page = admin.search(pit={"id": pit["id"], "keep_alive": "1m"}, size=8,
                                sort=[{"team.keyword": "asc"}], search_after=after)
            assert page["pit_id"] == pit["id"]
            hits = page["hits"]["hits"]
            if not hits:
                break
            assert all(len(h["sort"]) == 2 for h in hits)  # the implicit _shard_doc tiebreaker
            seen += [h["_id"] for h in hits]
            after = hits[-1]["sort"]
        assert sorted(seen, key=int) == [str(n) for n in range(30)]
        # search_after with a value per requested sort only: no implicit tiebreaker then
        after_red = admin.search(pit={"id": pit["id"]}, size=50, sort=[{"team.keyword": "asc"}],
                                 search_after=["blue"])["hits"]["hits"]
        assert {h["_source"]["team"] for h in after_red} == {"red"} and len(after_red) == 10
    finally:
        admin.delete(index=INDEX, id="late", refresh=True)
    assert admin.close_point_in_time(id=pit["id"]).body == {"succeeded": True, "num_freed": 1}
    gone = admin.options(ignore_status=404).close_point_in_time(id=pit["id"])
    assert gone.meta.status == 404 and gone.body["num_freed"] == 0
    with pytest.raises(NotFoundError):
        admin.search(pit={"id": pit["id"]})


def test_point_in_time_errors(admin: Elasticsearch) -> None:
    with pytest.raises(ApiError) as no_keep_alive:
        admin.perform_request("POST", f"/{INDEX}/_pit", headers={"accept": "application/json"})
    assert no_keep_alive.value.body["error"]["reason"] == (
        "Validation Failed: 1: [keep_alive] is not specified;")
    pit = admin.open_point_in_time(index=INDEX, keep_alive="1m")["id"]
    with pytest.raises(ApiError) as with_index:
        admin.search(index=INDEX, pit={"id": pit})
    assert "[indices] cannot be used with point in time" in with_index.value.body["error"][
        "reason"]
    admin.close_point_in_time(id=pit)


def test_point_in_time_applies_dls_and_belongs_to_its_opener(engine: str,
                                                             admin: Elasticsearch) -> None:
    reda, bob = as_user(engine, "reda"), as_user(engine, "bob")
    pit = reda.open_point_in_time(index=INDEX, keep_alive="1m")["id"]
    found = reda.search(pit={"id": pit}, size=100)
    assert sorted(int(h["_id"]) for h in found["hits"]["hits"]) == list(range(0, 30, 3))
    with pytest.raises(NotFoundError):
        bob.search(pit={"id": pit})
    assert reda.close_point_in_time(id=pit)["num_freed"] == 1


def test_sliced_scrolls_and_pits_partition_the_documents(admin: Elasticsearch) -> None:
    admin.options(ignore_status=404).indices.delete(index="sliced")
    admin.indices.create(index="sliced", settings={"number_of_shards": 3})
    helpers.bulk(admin, ({"_index": "sliced", "_id": f"d{n}", "n": n} for n in range(40)),
                 refresh=True)
    for slices in (2, 3, 5):  # fewer slices than shards, as many, more
        parts = [[h["_id"] for h in helpers.scan(admin, index="sliced", size=6, query={
            "slice": {"id": i, "max": slices}})] for i in range(slices)]
        assert sorted(sum(parts, [])) == sorted(f"d{n}" for n in range(40)), slices
        assert all(parts), slices
    pit = admin.open_point_in_time(index="sliced", keep_alive="1m")["id"]
    by_pit = [admin.search(pit={"id": pit}, size=100, slice={"id": i, "max": 4})["hits"]["hits"]
              for i in range(4)]
    assert sorted(h["_id"] for part in by_pit for h in part) == sorted(
        f"d{n}" for n in range(40))
    admin.close_point_in_time(id=pit)
    with pytest.raises(ApiError) as too_many:
        admin.search(index="sliced", scroll="1m", slice={"id": 0, "max": 1025})
    assert too_many.value.body["error"]["reason"].startswith(
        "The number of slices [1025] is too large. It must be less than [1024].")
    with pytest.raises(ApiError) as unscrolled:
        admin.search(index="sliced", slice={"id": 0, "max": 2})
    assert unscrolled.value.meta.status == 400


def test_a_search_template_can_open_a_scroll(admin: Elasticsearch) -> None:
    first = admin.search_template(index=INDEX, scroll="1m", params={"size": 12},
                                  source='{"size": {{size}}, "query": {"match_all": {}}}')
    assert len(first["hits"]["hits"]) == 12
    assert sorted(scroll_all(admin, first.body), key=int) == [str(n) for n in range(30)]


def test_an_expired_scroll_stops_keeping_replaced_versions(tmp_path: Path) -> None:
    app = EngineApp(tmp_path, security=False)
    try:
        app.documents.write([WriteRequest("index", "kept", str(n), source={"n": n})
                             for n in range(3)])
        shard = app.node.get_index("kept").shard
        shard.refresh()
        app.search.search("kept", {"size": 1}, {"scroll": "1m"}, read_scope=UNRESTRICTED)
        app.search.search("kept", {"size": 1}, {"scroll": "50ms"}, read_scope=UNRESTRICTED)
        app.documents.write([WriteRequest("index", "kept", "0", source={"n": 10})])
        kept = [len(p.store.kept) for c in app.search.contexts._contexts.values()
                for p in c.pinned.values()]
        assert kept == [1, 1] and len(shard.readers) == 2
        time.sleep(0.1)
        app.documents.write([WriteRequest("index", "kept", "1", source={"n": 11})])
        assert len(shard.readers) == 1  # the expired one let go
    finally:
        app.close()
