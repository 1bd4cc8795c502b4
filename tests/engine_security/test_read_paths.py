"""Every route of the engine that reads documents, called by a user whose role hides some of
them, answers without a trace of a hidden document (id, content, count, aggregation bucket).

The routes are enumerated from the engine's router: a route whose action reads documents
(`indices:data/read/*`, or an API narrowed by DLS, or reindex) and has no request below fails the
test, so a new read path is checked as soon as it is registered.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from es_rag.engine.app import EngineApp
from es_rag.engine.errors import EngineError
from es_rag.engine.http.rest import RestRequest
from es_rag.engine.security import DLS_APIS, request_action

PASSWORD = "bootstrap-secret"
READER_PASSWORD = "reader-password"
VISIBLE = [f"visible-{i}" for i in range(4)]
HIDDEN = [f"hidden-{i}" for i in range(3)]
SECRETS = ("zebracorn", "staffonly")  # words only hidden documents hold
DLS = {"term": {"acl": "public"}}
VECTOR = [1.0, 0.0, 0.0]
KNN = {"field": "vec", "query_vector": VECTOR, "k": 10, "num_candidates": 50}
MATCH = {"match": {"title": "note"}}  # matches every document, visible or hidden
# routes that carry a read action but read no document
READS_NO_DOCUMENT = {"render_search_template": "renders a template, runs no search"}


User = Callable[..., tuple[int, Any]]  # call(method, path, body=None, **params) → (status, body)


@dataclass
class Call:
    """One request to a read route, and what its answer must satisfy beyond hiding documents.

    `opens` first opens a reader context (a scroll, a point in time) as the restricted user; its
    id fills the path's `{id}`, and `body`, when a function, is built from it. `refusal` is the
    status the route answers the restricted user with by design (update_by_query under DLS).
    """

    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    index: str = "docs"
    doc_id: str = "hidden-0"
    expect: Callable[[int, Any], bool] = lambda status, body: True
    after: Callable[[User], bool] = lambda admin: True
    opens: Callable[[User], str] | None = None
    refusal: int | None = None


def total(body: Any) -> int:
    return body["hits"]["total"]["value"]


def open_scroll(user: User) -> str:
    """A scroll over every document of `docs`, one per page, opened by `user`."""
    status, body = user("POST", "/docs/_search", {"query": MATCH, "size": 1}, scroll="1m")
    assert status == 200, body
    return body["_scroll_id"]


def open_pit(user: User) -> str:
    """A point in time over `docs`, opened by `user`."""
    status, body = user("POST", "/docs/_pit", keep_alive="1m")
    assert status == 200, body
    return body["id"]


def next_page_or_freed(status: int, body: Any) -> bool:
    """A scroll's next page counts only visible documents; a clear frees the scroll."""
    return body.get("num_freed") == 1 if "num_freed" in body else total(body) == len(VISIBLE)


def profiled_matches(body: Any) -> int:
    """The matches a search's profile says it counted (its top query node's)."""
    return sum(shard["searches"][0]["query"][0]["breakdown"]["next_doc_count"]
               for shard in body["profile"]["shards"])


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


SEARCHES = [
    Call({"query": MATCH, "size": 50, "highlight": {"fields": {"title": {}}},
          "aggs": {"tags": {"terms": {"field": "tag"}}, "acls": {"terms": {"field": "acl"}}}},
         expect=lambda s, b: total(b) == len(VISIBLE)),
    Call({"knn": KNN, "size": 50}, expect=lambda s, b: total(b) == len(VISIBLE)),
    Call({"retriever": {"rrf": {"retrievers": [{"standard": {"query": MATCH}},
                                               {"knn": KNN}]}}, "size": 50},
         expect=lambda s, b: total(b) == len(VISIBLE)),
    Call({"query": {"terms": {"tag": {"index": "docs", "id": "hidden-0", "path": "refs"}}}},
         expect=lambda s, b: total(b) == 0),  # the lookup reads a hidden document: no values
    Call(None, {"q": "title:note", "size": "50"}, expect=lambda s, b: total(b) == len(VISIBLE)),
    Call({"query": MATCH, "size": 50}, {"scroll": "1m"},  # opens a scroll: its first page
         expect=lambda s, b: total(b) == len(VISIBLE)),
    Call({"query": MATCH, "knn": KNN, "size": 50, "profile": True,
          "aggs": {"acls": {"terms": {"field": "acl"}}}},
         expect=lambda s, b: total(b) == len(VISIBLE) and profiled_matches(b) == len(VISIBLE)),
]
TEMPLATE = {"source": {"query": MATCH, "size": 50}}
RANK_EVAL = {"requests": [{"id": "q", "request": {"query": MATCH, "size": 50},
                           "ratings": [{"_index": "docs", "_id": "visible-0", "rating": 1}]}],
             "metric": {"precision": {"k": 50, "relevant_rating_threshold": 1}}}


def hidden_survive(index: str) -> Callable[[Callable[..., tuple[int, Any]]], bool]:
    def check(admin: Callable[..., tuple[int, Any]]) -> bool:
        return all(admin("GET", f"/{index}/_doc/{i}")[0] == 200 for i in HIDDEN)
    return check


def copied_nothing_hidden(admin: Callable[..., tuple[int, Any]]) -> bool:
    admin("POST", "/copy-1/_refresh")
    status, body = admin("POST", "/copy-1/_search", {"size": 50})
    return status == 200 and {h["_id"] for h in body["hits"]["hits"]} == set(VISIBLE)


# pattern → the requests each method of the route is called with
READS: dict[str, list[Call]] = {
    # without an index the search spans every readable index: totals vary, leaks must not
    "/_search": [Call(c.body, c.params) for c in SEARCHES] + [
        Call(lambda pit: {"pit": {"id": pit}, "query": MATCH, "size": 50}, opens=open_pit,
             expect=lambda s, b: total(b) == len(VISIBLE))],
    "/{index}/_search": SEARCHES,
    "/_count": [Call({"query": MATCH})],
    "/{index}/_count": [Call({"query": MATCH}, expect=lambda s, b: b["count"] == len(VISIBLE))],
    "/_cat/count": [Call(params={"format": "json"})],
    "/_cat/count/{index}": [Call(params={"format": "json"},
                                 expect=lambda s, b: b[0]["count"] == str(len(VISIBLE)))],
    "/_msearch": [Call(ndjson({"index": "docs"}, {"query": MATCH, "size": 50},
                              {"index": "docs*"}, {"knn": KNN, "size": 50}))],
    "/{index}/_msearch": [Call(ndjson({}, {"query": MATCH, "size": 50, "aggs": {
        "acls": {"terms": {"field": "acl"}}}}))],
    "/{index}/_doc/{id}": [Call(expect=lambda s, b: s == 404)],
    "/{index}/_source/{id}": [Call(expect=lambda s, b: s == 404)],
    "/_mget": [Call({"docs": [{"_index": "docs", "_id": i} for i in VISIBLE + HIDDEN]})],
    "/{index}/_mget": [Call({"ids": VISIBLE + HIDDEN})],
    "/{index}/_explain/{id}": [Call({"query": MATCH}, expect=lambda s, b: s == 404)],
    "/_search/template": [Call(TEMPLATE)],
    "/{index}/_search/template": [Call(TEMPLATE)],
    "/_msearch/template": [Call(ndjson({"index": "docs"}, TEMPLATE))],
    "/{index}/_msearch/template": [Call(ndjson({}, TEMPLATE))],
    "/_rank_eval": [Call(RANK_EVAL)],
    "/{index}/_rank_eval": [Call(RANK_EVAL)],
    "/_reindex": [Call({"source": {"index": "docs"}, "dest": {"index": "copy-1"}},
                       expect=lambda s, b: b["total"] == len(VISIBLE),
                       after=copied_nothing_hidden)],
    "/_search/scroll": [Call(lambda scroll: {"scroll_id": scroll, "scroll": "1m"},
                             opens=open_scroll, expect=next_page_or_freed)],
    "/_search/scroll/{id}": [Call(opens=open_scroll, expect=next_page_or_freed)],
    "/{index}/_pit": [Call(params={"keep_alive": "1m"}, expect=lambda s, b: "id" in b)],
    "/_pit": [Call(lambda pit: {"id": pit}, opens=open_pit,
                   expect=lambda s, b: b["num_freed"] == 1)],
    # `refs` only has values in hidden documents: a field with no visible value is empty
    "/_field_caps": [Call(params={"fields": "*", "include_empty_fields": "false"},
                          expect=lambda s, b: s == 200 and "refs" not in b["fields"])],
    "/{index}/_field_caps": [Call({"index_filter": {"exists": {"field": "refs"}}},
                                  {"fields": "*", "include_empty_fields": "false"},
                                  expect=lambda s, b: b["indices"] == ["docs"]
                                  and "refs" not in b["fields"] and "acl" in b["fields"])],
    # refused under DLS, as `_update` is: no document is read, none rewritten
    "/{index}/_update_by_query": [Call({"query": MATCH}, index="docs-dbq", refusal=400,
                                       expect=lambda s, b: s == 400 and "document level security"
                                       in orjson.dumps(b).decode().lower())],
    "/{index}/_delete_by_query": [Call({"query": MATCH}, index="docs-dbq",
                                       expect=lambda s, b: b["deleted"] <= len(VISIBLE),
                                       after=hidden_survive("docs-dbq"))],
}


def reads_documents(method: str, path: str) -> bool:
    action = request_action(method, path)
    if action is None or action.api in READS_NO_DOCUMENT:
        return False
    return action.action.startswith("indices:data/read/") or action.api in DLS_APIS or \
        action.api == "reindex"


def headers(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": "application/json"}


def caller(app: EngineApp, user: str, password: str) -> Callable[..., tuple[int, Any]]:
    """`call(method, path, body=None, **params)` → (status, body) through the app's dispatch,
    as the HTTP layer serves it (authentication, authorization, read scope, router)."""
    def call(method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
        try:
            response = app.dispatch(RestRequest(method, path, params, raw,
                                                headers(user, password)))
        except EngineError as err:
            return err.status, err.body()
        return response.status, response.body
    return call


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineApp]:
    """An engine with `docs` and `docs-dbq`: visible and hidden documents, and a reader whose
    role's DLS query admits only the visible ones."""
    app = EngineApp(tmp_path_factory.mktemp("read-paths"), elastic_password=PASSWORD)
    admin = caller(app, "elastic", PASSWORD)
    mapping = {"properties": {"acl": {"type": "keyword"}, "tag": {"type": "keyword"},
                              "refs": {"type": "keyword"}, "title": {"type": "text"},
                              "vec": {"type": "dense_vector", "dims": 3,
                                      "similarity": "cosine"}}}
    assert admin("PUT", "/copy-1", {"mappings": mapping})[0] == 200  # reindex's destination
    lines: list[dict[str, Any]] = []
    for index in ("docs", "docs-dbq"):
        assert admin("PUT", f"/{index}", {"mappings": mapping})[0] == 200
        for n, doc_id in enumerate(VISIBLE):
            lines += [{"index": {"_index": index, "_id": doc_id}},
                      {"acl": "public", "tag": "common", "title": f"public note {n}",
                       "vec": [1.0, 0.1 * n, 0.0]}]
        for n, doc_id in enumerate(HIDDEN):
            lines += [{"index": {"_index": index, "_id": doc_id}},
                      {"acl": "staffonly", "tag": "zebracorn-tag", "refs": ["common"],
                       "title": f"zebracorn note {n}", "vec": [1.0, 0.0, 0.1 * n]}]
    status, body = admin("POST", "/_bulk", ndjson(*lines), refresh="true")
    assert status == 200 and not body["errors"]
    role = {"indices": [{"names": ["docs*"], "privileges": ["read"], "query": DLS},
                        {"names": ["docs-dbq"], "privileges": ["read", "write"], "query": DLS},
                        {"names": ["copy-*"], "privileges": ["all"]}]}
    assert admin("PUT", "/_security/role/dls-reader", role)[0] == 200
    assert admin("PUT", "/_security/user/reader", {"password": READER_PASSWORD,
                                                   "roles": ["dls-reader"]})[0] == 200
    yield app
    app.close()


def concrete(pattern: str, call: Call, context: str | None = None) -> str:
    fill = {"{index}": call.index, "{id}": context or call.doc_id}
    return "/" + "/".join(fill.get(s, s) for s in pattern.strip("/").split("/"))


def leaks(request: str, response: Any) -> list[str]:
    """What of a hidden document an answer shows: a secret word, a hidden id it was not asked
    about, or a hidden document it was asked about reported as found, matched or scored."""
    text = orjson.dumps(response).decode()
    found = [f"secret [{w}]" for w in SECRETS if w in text]
    found += [f"id [{i}]" for i in HIDDEN if i in text and i not in request]

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("_id") in HIDDEN and (node.get("found") or node.get("matched") or
                                              "_source" in node or "_score" in node):
                yield f"document [{node['_id']}]"
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    return found + list(walk(response))


def test_every_read_route_has_a_request_here(engine: EngineApp) -> None:
    patterns = {"/" + "/".join(r.segments) for r in engine.router.routes
                if reads_documents(r.method, concrete("/" + "/".join(r.segments), Call()))}
    assert len(patterns) >= 15
    missing = sorted(patterns - READS.keys())
    assert missing == [], f"read routes with no leak check: add them to READS: {missing}"


def test_no_read_route_shows_a_hidden_document_to_a_restricted_user(engine: EngineApp) -> None:
    reader = caller(engine, "reader", READER_PASSWORD)
    admin = caller(engine, "elastic", PASSWORD)
    failures: list[str] = []
    checked = 0
    for route in engine.router.routes:
        pattern = "/" + "/".join(route.segments)
        if not reads_documents(route.method, concrete(pattern, Call())):
            continue
        for call in READS.get(pattern, []):
            context = call.opens(reader) if call.opens is not None else None
            path = concrete(pattern, call, context)
            sent = call.body(context) if callable(call.body) else call.body
            request = path + orjson.dumps(sent).decode() if not isinstance(
                sent, bytes) else path + sent.decode()
            status, body = reader(route.method, path, sent, **call.params)
            checked += 1
            what = f"{route.method} {path} {call.params}"
            if status >= 400 and status not in (404, call.refusal):
                failures.append(f"{what}: refused {status} {body}")
                continue
            failures += [f"{what}: {leak}" for leak in leaks(request, body)]
            if not call.expect(status, body):
                failures.append(f"{what}: unexpected answer {status} {body}")
            if not call.after(admin):
                failures.append(f"{what}: a hidden document was read (seen after the call)")
    assert checked >= 30
    assert failures == [], "\n".join(failures)


def test_the_check_sees_a_hidden_document_when_security_is_off(tmp_path: Path) -> None:
    """The leak detector is not blind: without security the same corpus shows hidden ones."""
    app = EngineApp(tmp_path / "open", security=False)
    call = caller(app, "nobody", "none")
    call("POST", "/docs/_doc/hidden-0", {"title": "zebracorn note", "acl": "staffonly"},
         refresh="true")
    status, body = call("POST", "/docs/_search", {"query": MATCH})
    assert status == 200
    assert leaks("/docs/_search", body) != []
    app.close()
