"""A role with field-level security hides a field from every read route: a reader sees the
documents but never the hidden field's values, and queries, aggregations, sorts and highlighting
on it find nothing, as if the field did not exist. An API key is limited by its owner's fields.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from es_rag.engine.app import EngineApp

from .test_read_paths import caller, concrete, ndjson, reads_documents

PASSWORD = "bootstrap-secret"
READER_PASSWORD = "reader-password"
SECRET = "zebracorn"  # the only word the hidden field holds
IDS = ["a", "b", "c"]
ON_SECRET = {"prefix": {"salary": SECRET}}
EVERYTHING = {"query": {"match_all": {}}, "size": 50, "fields": ["*"],
              "highlight": {"fields": {"*": {}}, "require_field_match": False},
              "aggs": {"pay": {"terms": {"field": "salary"}}, "top": {"max": {"field": "grade"}}}}
TEMPLATE = {"source": {"query": ON_SECRET, "size": 50}}
RANK_EVAL = {"requests": [{"id": "q", "request": {"query": ON_SECRET, "size": 50},
                           "ratings": [{"_index": "staff", "_id": "a", "rating": 1}]}],
             "metric": {"precision": {"k": 50, "relevant_rating_threshold": 1}}}

User = Callable[..., tuple[int, Any]]


def total(body: Any) -> int:
    return body["hits"]["total"]["value"]


def sees_all_but_the_secret(status: int, body: Any) -> bool:
    hits = body["hits"]["hits"]
    return total(body) >= len(IDS) and all("salary" not in h["_source"] and
                                           h["_source"]["name"] for h in hits) and \
        body["aggregations"]["pay"]["buckets"] == [] and \
        body["aggregations"]["top"]["value"] is None


def finds_nothing(status: int, body: Any) -> bool:
    return total(body) == 0


def open_scroll(user: User) -> str:
    status, body = user("POST", "/staff/_search", {"query": ON_SECRET, "size": 1}, scroll="1m")
    assert status == 200, body
    return body["_scroll_id"]


def open_pit(user: User) -> str:
    status, body = user("POST", "/staff/_pit", keep_alive="1m")
    assert status == 200, body
    return body["id"]


def copied_without_secret(admin: User) -> bool:
    admin("POST", "/copy-1/_refresh")
    status, body = admin("POST", "/copy-1/_search", {"size": 50})
    return status == 200 and total(body) == len(IDS) and \
        all("salary" not in h["_source"] for h in body["hits"]["hits"])


def all_survive(admin: User) -> bool:
    return all(admin("GET", f"/staff-dbq/_doc/{i}")[0] == 200 for i in IDS)


@dataclass
class Call:
    """One request to a read route as the reader, and what its answer must satisfy."""

    body: Any = None
    params: dict[str, str] | None = None
    index: str = "staff"
    doc_id: str = "a"
    expect: Callable[[int, Any], bool] = lambda status, body: status < 400
    after: Callable[[User], bool] = lambda admin: True
    opens: Callable[[User], str] | None = None


SEARCHES = [Call(EVERYTHING, expect=sees_all_but_the_secret),
            Call({"query": ON_SECRET}, expect=finds_nothing),
            Call({"query": {"exists": {"field": "salary"}}}, expect=finds_nothing),
            Call({"query": {"query_string": {"query": SECRET}}}, expect=finds_nothing),
            Call(None, {"q": f"salary:{SECRET}"}, expect=finds_nothing),
            Call({"knn": {"field": "embedding", "query_vector": [1.0, 0.0], "k": 3,
                          "num_candidates": 10}}, expect=finds_nothing),
            # a sort on a hidden field sees no value in any document: it cannot order them
            Call({"sort": [{"grade": "desc"}, {"salary": "asc"}], "size": 50},
                 expect=lambda s, b: len({str(h["sort"]) for h in b["hits"]["hits"]}) == 1)]
def caps_without_hidden_fields(status: int, body: dict[str, Any]) -> bool:
    """Field capabilities list the fields the reader sees, never a hidden one."""
    return status == 200 and {"name", "bio"} <= set(body["fields"]) and not \
        {"salary", "grade", "embedding", "pay.grade"} & set(body["fields"])


READS: dict[str, list[Call]] = {
    "/_search": SEARCHES + [Call(lambda pit: {"pit": {"id": pit}, **EVERYTHING}, opens=open_pit,
                                 expect=sees_all_but_the_secret)],
    "/{index}/_search": SEARCHES + [Call(EVERYTHING, {"scroll": "1m"},
                                         expect=sees_all_but_the_secret)],
    "/_count": [Call({"query": ON_SECRET}, expect=lambda s, b: b["count"] == 0)],
    "/{index}/_count": [Call({"query": ON_SECRET}, expect=lambda s, b: b["count"] == 0)],
    "/_cat/count": [Call(params={"format": "json"})],
    "/_cat/count/{index}": [Call(params={"format": "json"})],
    "/_msearch": [Call(ndjson({"index": "staff"}, EVERYTHING, {"index": "staff*"},
                              {"query": ON_SECRET}),
                       expect=lambda s, b: sees_all_but_the_secret(s, b["responses"][0]) and
                       finds_nothing(s, b["responses"][1]))],
    "/{index}/_msearch": [Call(ndjson({}, EVERYTHING),
                               expect=lambda s, b: sees_all_but_the_secret(s, b["responses"][0]))],
    "/{index}/_doc/{id}": [Call(expect=lambda s, b: s == 200 and b["_source"] == {
        "name": "ann", "bio": "team note"})],
    "/{index}/_source/{id}": [Call(expect=lambda s, b: s == 200 and "salary" not in b)],
    "/_mget": [Call({"docs": [{"_index": "staff", "_id": i} for i in IDS]},
                    expect=lambda s, b: all(d["found"] for d in b["docs"]))],
    "/{index}/_mget": [Call({"ids": IDS}, expect=lambda s, b: all(d["found"] for d in b["docs"]))],
    # (the query's own text is echoed in the explanation: it asks with a shorter prefix)
    "/{index}/_explain/{id}": [Call({"query": {"prefix": {"salary": "zebra"}}},
                                    expect=lambda s, b: b.get("matched") is False)],
    "/_search/template": [Call(TEMPLATE, expect=finds_nothing)],
    "/{index}/_search/template": [Call(TEMPLATE, expect=finds_nothing)],
    "/_msearch/template": [Call(ndjson({"index": "staff"}, TEMPLATE))],
    "/{index}/_msearch/template": [Call(ndjson({}, TEMPLATE))],
    "/_rank_eval": [Call(RANK_EVAL, expect=lambda s, b: b["metric_score"] == 0)],
    "/{index}/_rank_eval": [Call(RANK_EVAL, expect=lambda s, b: b["metric_score"] == 0)],
    "/_reindex": [Call({"source": {"index": "staff"}, "dest": {"index": "copy-1"}},
                       after=copied_without_secret)],
    "/_search/scroll": [Call(lambda scroll: {"scroll_id": scroll, "scroll": "1m"},
                             opens=open_scroll)],
    "/_search/scroll/{id}": [Call(opens=open_scroll)],
    # copy-1 is the reader's own and shows salary; in the staff indices it is as if unmapped
    "/_field_caps": [Call(params={"fields": "salary,name", "include_unmapped": "true"},
                          expect=lambda s, b: b["fields"]["salary"]["unmapped"]["indices"] == [
                              "staff", "staff-dbq"] and "unmapped" not in b["fields"]["name"])],
    "/{index}/_field_caps": [Call({"index_filter": {"exists": {"field": "salary"}}},
                                  {"fields": "*"}, expect=lambda s, b: b["indices"] == []),
                             Call(params={"fields": "*"}, expect=caps_without_hidden_fields)],
    "/{index}/_pit": [Call(params={"keep_alive": "1m"}, expect=lambda s, b: "id" in b)],
    "/_pit": [Call(lambda pit: {"id": pit}, opens=open_pit)],
    # refused under field-level security, as `_update` is: it would write back a partial view
    "/{index}/_update_by_query": [Call({"query": {"match_all": {}}}, index="staff-dbq",
                                       expect=lambda s, b: s == 400 and "field or document level"
                                       in orjson.dumps(b).decode())],
    "/{index}/_delete_by_query": [Call({"query": ON_SECRET}, index="staff-dbq",
                                       expect=lambda s, b: b["deleted"] == 0, after=all_survive)],
}


def _headers(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": "application/json"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineApp]:
    """`staff` and `staff-dbq` with a `salary` field only the administrator may see, and a
    reader whose role grants every field except `salary`."""
    app = EngineApp(tmp_path_factory.mktemp("fls"), elastic_password=PASSWORD)
    admin = caller(app, "elastic", PASSWORD)
    mapping = {"properties": {"name": {"type": "keyword"}, "salary": {"type": "keyword"},
                              "grade": {"type": "integer"}, "bio": {"type": "text"},
                              "pay": {"properties": {"grade": {"type": "integer"}}},
                              "embedding": {"type": "dense_vector", "dims": 2,
                                            "similarity": "cosine"}}}
    lines: list[dict[str, Any]] = []
    for index in ("staff", "staff-dbq", "copy-1"):
        assert admin("PUT", f"/{index}", {"mappings": mapping})[0] == 200
    for index in ("staff", "staff-dbq"):
        for n, (doc_id, name) in enumerate(zip(IDS, ["ann", "bob", "cy"], strict=True)):
            lines += [{"index": {"_index": index, "_id": doc_id}},
                      {"name": name, "salary": f"{SECRET}-{n}", "grade": 3 + n,
                       "bio": "team note", "embedding": [1.0, 0.1 * n]}]
    status, body = admin("POST", "/_bulk", ndjson(*lines), refresh="true")
    assert status == 200 and not body["errors"]
    role = {"indices": [{"names": ["staff*"], "privileges": ["read", "write",
                                                             "view_index_metadata"],
                         "field_security": {"grant": ["*"], "except": ["salary", "*grade",
                                                                    "embedding"]}},
                        {"names": ["copy-*"], "privileges": ["all"]}]}
    assert admin("PUT", "/_security/role/fls-reader", role)[0] == 200
    assert admin("PUT", "/_security/user/reader", {"password": READER_PASSWORD,
                                                   "roles": ["fls-reader"]})[0] == 200
    yield app
    app.close()


def test_every_read_route_has_a_field_security_check_here(engine: EngineApp) -> None:
    patterns = {"/" + "/".join(r.segments) for r in engine.router.routes
                if reads_documents(r.method, concrete("/" + "/".join(r.segments), Call()))}
    missing = sorted(patterns - READS.keys())
    assert missing == [], f"read routes with no field-level security check: {missing}"


def test_no_read_route_shows_a_hidden_field_to_the_reader(engine: EngineApp) -> None:
    reader = caller(engine, "reader", READER_PASSWORD)
    admin = caller(engine, "elastic", PASSWORD)
    failures: list[str] = []
    for route in engine.router.routes:
        pattern = "/" + "/".join(route.segments)
        for call in READS.get(pattern, []) if reads_documents(
                route.method, concrete(pattern, Call())) else []:
            context = call.opens(reader) if call.opens is not None else None
            path = concrete(pattern, call, context)  # type: ignore[arg-type]
            sent = call.body(context) if callable(call.body) else call.body
            status, body = reader(route.method, path, sent, **(call.params or {}))
            what = f"{route.method} {path} {call.params or ''}"
            if SECRET in orjson.dumps(body).decode():
                failures.append(f"{what}: shows the hidden field: {body}")
            elif not call.expect(status, body):
                failures.append(f"{what}: unexpected answer {status} {body}")
            if not call.after(admin):
                failures.append(f"{what}: the hidden field leaked (seen after the call)")
    assert failures == [], "\n".join(failures)


def test_the_mapping_a_reader_gets_leaves_the_hidden_fields_out(engine: EngineApp) -> None:
    reader = caller(engine, "reader", READER_PASSWORD)
    admin = caller(engine, "elastic", PASSWORD)
    status, body = reader("GET", "/staff/_mapping")
    assert status == 200
    properties = body["staff"]["mappings"]["properties"]
    assert set(properties) == {"name", "bio", "pay"}  # an object stays, emptied as in ES
    assert properties["pay"]["properties"] == {}
    assert set(admin("GET", "/staff/_mapping")[1]["staff"]["mappings"]["properties"]) == {
        "name", "bio", "salary", "grade", "pay", "embedding"}


def test_the_administrator_still_sees_the_field(engine: EngineApp) -> None:
    admin = caller(engine, "elastic", PASSWORD)
    status, body = admin("POST", "/staff/_search", {"query": ON_SECRET})
    assert status == 200 and total(body) == len(IDS)
    assert admin("GET", "/staff/_doc/a")[1]["_source"]["salary"] == f"{SECRET}-0"


def test_an_api_key_sees_only_the_fields_its_owner_and_itself_both_grant(
        engine: EngineApp) -> None:
    """The owner hides `salary`; the key grants only `name` and `salary`: it sees `name`."""
    reader = caller(engine, "reader", READER_PASSWORD)
    admin = caller(engine, "elastic", PASSWORD)
    admin("PUT", "/_security/role/fls-reader-keys", {"cluster": ["manage_own_api_key"]})
    admin("PUT", "/_security/user/reader", {"password": READER_PASSWORD,
                                            "roles": ["fls-reader", "fls-reader-keys"]})
    status, key = reader("POST", "/_security/api_key", {
        "name": "names-only", "role_descriptors": {"names": {"indices": [{
            "names": ["staff"], "privileges": ["read"],
            "field_security": {"grant": ["name", "salary"]}}]}}})
    assert status == 200, key
    headers = {"authorization": f"ApiKey {key['encoded']}", "content-type": "application/json"}
    from es_rag.engine.http.rest import RestRequest

    response = engine.dispatch(RestRequest("GET", "/staff/_doc/b", {}, b"", headers))
    assert response.body["_source"] == {"name": "bob"}
    response = engine.dispatch(RestRequest("POST", "/staff/_search", {}, orjson.dumps(
        {"query": ON_SECRET}), headers))
    assert response.body["hits"]["total"]["value"] == 0


def test_the_check_sees_the_field_when_the_role_does_not_hide_it(engine: EngineApp) -> None:
    """The leak check is not blind: the same request as the administrator shows the secret."""
    admin = caller(engine, "elastic", PASSWORD)
    status, body = admin("POST", "/staff/_search", EVERYTHING)
    assert status == 200 and SECRET in orjson.dumps(body).decode()
    assert not sees_all_but_the_secret(status, body)
