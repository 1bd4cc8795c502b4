"""`_update_by_query` against the engine with security on: documents matching a query are
re-indexed in place (through a pipeline), with version conflicts, `max_docs`, refused scripts,
and authorization as Elasticsearch's (index privilege on the target; refused under DLS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import ApiError, Elasticsearch, helpers

from es_rag.engine.server import EngineServer

PASSWORD = "ubq-admin-pw"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EngineServer(tmp_path_factory.mktemp("ubq"), port=0,
                          elastic_password=PASSWORD).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def admin(engine: str) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine, basic_auth=("elastic", PASSWORD), request_timeout=30)
    es.ingest.put_pipeline(id="tag-reviewed", processors=[
        {"set": {"field": "reviewed", "value": True}}])
    es.security.put_role(name="notes-reader", indices=[{"names": ["notes*"],
                                                        "privileges": ["read"]}])
    es.security.put_role(name="notes-writer", indices=[{"names": ["notes*"],
                                                        "privileges": ["read", "write"]}])
    es.security.put_role(name="notes-dls-writer", indices=[{
        "names": ["notes*"], "privileges": ["read", "write"],
        "query": {"term": {"topic": "cats"}}}])
    for user, role in (("reader", "notes-reader"), ("writer", "notes-writer"),
                       ("dls", "notes-dls-writer")):
        es.security.put_user(username=user, password=f"{user}-password", roles=[role])
    yield es
    es.close()


def fresh_index(es: Elasticsearch, name: str, **settings: object) -> None:
    es.options(ignore_status=404).indices.delete(index=name)
    es.indices.create(index=name, settings=settings or None)
    helpers.bulk(es, ({"_index": name, "_id": str(n), "n": n, "topic": "cats" if n < 3 else "dogs"}
                      for n in range(6)), refresh=True)


def test_matching_documents_go_through_the_pipeline(admin: Elasticsearch) -> None:
    fresh_index(admin, "notes-a")
    done = admin.update_by_query(index="notes-a", query={"term": {"topic": "cats"}},
                                 pipeline="tag-reviewed", refresh=True)
    assert (done["total"], done["updated"], done["version_conflicts"], done["failures"]) == (
        3, 3, 0, [])
    reviewed = admin.search(index="notes-a", query={"term": {"reviewed": True}})
    assert sorted(h["_id"] for h in reviewed["hits"]["hits"]) == ["0", "1", "2"]
    assert admin.get(index="notes-a", id="0")["_version"] == 2
    assert admin.get(index="notes-a", id="4")["_version"] == 1


def test_max_docs_and_query_string(admin: Elasticsearch) -> None:
    fresh_index(admin, "notes-b")
    done = admin.update_by_query(index="notes-b", q="topic:dogs", max_docs=2,
                                 pipeline="tag-reviewed", refresh=True)
    assert (done["total"], done["updated"]) == (2, 2)
    assert admin.count(index="notes-b", query={"term": {"reviewed": True}})["count"] == 2


def test_a_document_changed_since_the_search_is_a_version_conflict(admin: Elasticsearch
                                                                    ) -> None:
    fresh_index(admin, "notes-c", refresh_interval="-1")
    admin.index(index="notes-c", id="1", document={"topic": "cats", "edited": True})
    refused = admin.options(ignore_status=409).update_by_query(
        index="notes-c", query={"term": {"topic": "cats"}})
    assert refused.meta.status == 409
    assert refused["version_conflicts"] == 1
    assert refused["failures"][0]["cause"]["type"] == "version_conflict_engine_exception"
    fresh_index(admin, "notes-c", refresh_interval="-1")
    admin.index(index="notes-c", id="1", document={"topic": "cats", "edited": True})
    proceeded = admin.update_by_query(index="notes-c", query={"term": {"topic": "cats"}},
                                      conflicts="proceed")
    assert proceeded.meta.status == 200
    assert (proceeded["updated"], proceeded["version_conflicts"], proceeded["failures"]) == (
        2, 1, [])


def test_scripts_are_refused_with_a_clear_400(admin: Elasticsearch) -> None:
    fresh_index(admin, "notes-d")
    with pytest.raises(ApiError) as refused:
        admin.update_by_query(index="notes-d", script={"source": "ctx._source.n = 1"})
    assert refused.value.meta.status == 400
    assert "painless is not available" in refused.value.body["error"]["reason"]


def test_update_by_query_is_authorized_like_elasticsearch(engine: str,
                                                          admin: Elasticsearch) -> None:
    fresh_index(admin, "notes-e")

    def as_user(name: str) -> Elasticsearch:
        return Elasticsearch(engine, basic_auth=(name, f"{name}-password"), request_timeout=30)

    with pytest.raises(ApiError) as reader:
        as_user("reader").update_by_query(index="notes-e", pipeline="tag-reviewed")
    assert reader.value.meta.status == 403
    with pytest.raises(ApiError) as dls:
        as_user("dls").update_by_query(index="notes-e", pipeline="tag-reviewed")
    assert dls.value.meta.status == 400
    assert dls.value.body["error"]["reason"] == (
        "Can't execute an update request if field or document level security is enabled")
    assert admin.count(index="notes-e", query={"exists": {"field": "reviewed"}})["count"] == 0
    done = as_user("writer").update_by_query(index="notes-e", pipeline="tag-reviewed",
                                             refresh=True)
    assert done["updated"] == 6


def test_reindex_with_its_common_parameters(admin: Elasticsearch) -> None:
    fresh_index(admin, "notes-src")
    admin.options(ignore_status=404).indices.delete(index="notes-copy")
    admin.index(index="notes-copy", id="0", document={"topic": "kept"}, refresh=True)
    done = admin.reindex(
        source={"index": "notes-src", "query": {"term": {"topic": "cats"}},
                "_source": ["topic"], "size": 1},
        dest={"index": "notes-copy", "op_type": "create", "pipeline": "tag-reviewed"},
        conflicts="proceed", max_docs=2, refresh=True)
    # "0" exists (a create conflict, skipped); "1" and "2" are created, one per batch
    assert (done["created"], done["version_conflicts"], done["batches"], done["failures"]) == (
        2, 1, 3, [])
    copied = admin.get(index="notes-copy", id="1")["_source"]
    assert copied == {"topic": "cats", "reviewed": True}
    assert admin.get(index="notes-copy", id="0")["_source"] == {"topic": "kept"}
    aborted = admin.options(ignore_status=409).reindex(
        source={"index": "notes-src"}, dest={"index": "notes-copy", "op_type": "create"})
    assert aborted.meta.status == 409 and aborted["failures"]


def test_reindex_deprecated_size_and_sort_still_work_with_warnings(admin: Elasticsearch
                                                                   ) -> None:
    fresh_index(admin, "notes-sorted")
    admin.options(ignore_status=404).indices.delete(index="notes-top")
    with pytest.warns(Warning) as warned:
        done = admin.perform_request(
            "POST", "/_reindex", params={"refresh": "true"},
            headers={"content-type": "application/json", "accept": "application/json"},
            body={"size": 2, "source": {"index": "notes-sorted", "sort": {"n": "desc"}},
                  "dest": {"index": "notes-top"}})
    assert done["created"] == 2
    assert {str(w.message) for w in warned} >= {
        "Deprecated field [size] used, expected [max_docs] instead",
        "The sort option in reindex is deprecated. Instead consider using query filtering to "
        "find the desired subset of data."}
    top = admin.search(index="notes-top")["hits"]["hits"]
    assert sorted(h["_id"] for h in top) == ["4", "5"]
