"""Given 600 chunks with random ACLs over 24 users and 10 groups, no read path leaks or over-denies
and no unauthorized write succeeds.

Every (user, query, mode) check compares what the cluster returned with the ground truth of that
user's permissions under roles/es-rag-reader.json: a chunk is readable when its `acl` names the
user, one of the user's groups or `public`. A leak is a returned chunk the user may not read; a
false denial is a readable chunk missing from a result whose full matching set is known (ids,
tag and `chunk_id` queries, counts, aggregations, get/mget, explain, terms lookup, rank_eval,
reindex). Users act through `es_rag.users.user_client` (run_as, or a per-user API key) or log in
with their own password; some also hold a role writing and managing other indices (`logs-*`) or
writing the chunks under DLS. Reads go through the `chunks` alias, another alias the reader role
covers (`chunks-view`), a wildcard, and es-rag's library and HTTP API. Every user also tries
writes they are not allowed (bulk items, updates of hidden chunks, alias actions, reindex): none
may succeed.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from api.secured_cluster import basic
from elasticsearch import Elasticsearch
from security.conftest import ELASTIC_PASSWORD, index_chunks
from security.hash_embedder import HashEmbedder

from es_rag.api import create_api_app
from es_rag.assets import apply, load_assets
from es_rag.config import PROJECT_ROOT, Settings
from es_rag.connect import Capabilities, detect_capabilities
from es_rag.generate.ask import AskParams, ask
from es_rag.generate.providers import ExtractiveGenerator
from es_rag.retrieve import SearchParams, search, search_template, template_params
from es_rag.users import READER_ROLE, add_user, user_client

SEED = 20251121
INDEX = "chunks"
N_CHUNKS = 600
USERS = [f"user{i:02d}" for i in range(24)]
STRATEGIES = ("run_as", "api_key", "password")  # by user number, modulo 3
OPS_ROLE = {"indices": [{"names": ["logs-*"], "privileges": ["read", "write", "manage"]}]}
EDITOR_ROLE = "leaks-editor"  # the reader role's indices and DLS query, with write
VIEW = "chunks-view"  # a second alias over the chunks, covered by the reader role's `chunks-v*`
GROUPS = [f"group{i}" for i in range(10)]
TAGS = [f"tag{i}" for i in range(60)]  # each chunk carries one: a query with a known answer
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "roadmap",
         "budget", "secret", "launch", "design", "review", "storage", "network", "backup"]
TOKEN = re.compile(r"\bdoc\d{3}\b")
# searches per user and mode in one `_msearch`; the cheap ones with a known answer weigh most
PER_USER = {"bm25": 40, "knn": 15, "hybrid": 15, "highlight": 20, "bm25-tag": 120, "ids": 30,
            "knn-filtered": 20, "hybrid-filtered": 20, "aggs": 50}


@dataclass
class Tally:
    """Counts of checks, leaks and false denials, with the first few of each for the report."""

    checks: int = 0
    leaks: int = 0
    denials: int = 0
    write_attempts: int = 0
    write_successes: int = 0
    examples: list[str] = field(default_factory=list)

    def check(self, what: str, user: str, returned: set[str], readable: set[str],
              expected: set[str] | None = None) -> None:
        """One check: nothing outside `readable`; all of `expected` when the full set is known."""
        self.checks += 1
        leaked = returned - readable
        missing = (expected - returned) if expected is not None else set()
        self.leaks += bool(leaked)
        self.denials += bool(missing)
        if (leaked or missing) and len(self.examples) < 10:
            self.examples.append(f"{what} as {user}: leaked {sorted(leaked)[:5]}, "
                                 f"missing {sorted(missing)[:5]}")

    def check_count(self, what: str, user: str, got: int, want: int) -> None:
        """One check of a count: more than `want` is a leak, fewer a false denial."""
        self.checks += 1
        self.leaks += got > want
        self.denials += got < want
        if got != want and len(self.examples) < 10:
            self.examples.append(f"{what} as {user}: {got} instead of {want}")

    def check_refused(self, what: str, user: str, status: int) -> None:
        """One unauthorized write: any 2xx status is a success (a hole)."""
        self.write_attempts += 1
        if status < 300:
            self.write_successes += 1
            if len(self.examples) < 10:
                self.examples.append(f"{what} as {user} succeeded ({status})")

    @property
    def line(self) -> str:
        return (f"{self.checks} checks, {self.leaks} leaks, {self.denials} false denials; "
                f"{self.write_attempts} unauthorized writes, {self.write_successes} succeeded")


@dataclass
class World:
    """The corpus, who reads what, and the clients acting as each user."""

    chunks: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]
    readable: dict[str, set[str]]
    clients: dict[str, Elasticsearch]
    admin: Elasticsearch
    caps: Capabilities
    embedder: HashEmbedder
    rng: random.Random
    url: str
    api: Any  # es-rag's HTTP API (a Flask test client) on the same cluster
    concrete: str  # the index behind the `chunks` alias

    def ids(self, tag: str) -> set[str]:
        return {cid for cid, c in self.chunks.items() if c["tag"] == tag}


def _corpus(rng: random.Random) -> dict[str, dict[str, Any]]:
    principals = USERS + GROUPS
    chunks = {}
    for i in range(N_CHUNKS):
        roll = rng.random()
        if roll < 0.04:
            acl: list[str] = []  # nobody but admins reads it
        elif roll < 0.10:
            acl = ["public"]
        else:
            acl = rng.sample(principals, rng.randint(1, 3))
        tag = TAGS[i % len(TAGS)]
        words = " ".join(rng.choices(WORDS, k=12))
        chunk_id = f"doc{i:03d}#0"
        chunks[chunk_id] = {"chunk_id": chunk_id, "acl": acl, "tag": tag,
                            "title": f"Note {i}", "text": f"doc{i:03d} {tag} {words}."}
    return chunks


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from es_rag.engine.server import EngineServer

    rng = random.Random(SEED)
    server = EngineServer(tmp_path_factory.mktemp("leaks"), port=0,
                          elastic_password=ELASTIC_PASSWORD).start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", ELASTIC_PASSWORD),
                          request_timeout=60)
    caps = detect_capabilities(admin, server.url, admin.info().body, embedded=True)
    apply(admin, caps, load_assets(PROJECT_ROOT))
    chunks = _corpus(rng)
    index_chunks(admin, [{k: v for k, v in c.items() if k != "tag"} for c in chunks.values()])
    concrete = next(iter(admin.indices.get_alias(name=INDEX).body))
    admin.indices.put_alias(index=concrete, name=VIEW)
    reader = admin.security.get_role(name=READER_ROLE)[READER_ROLE]
    admin.security.put_role(name=EDITOR_ROLE, indices=[
        {**grant, "privileges": ["read", "write"]} for grant in reader["indices"]])
    admin.security.put_role(name="leaks-ops", **OPS_ROLE)
    groups = {user: rng.sample(GROUPS, rng.randint(0, 3)) for user in USERS}
    readable = {}
    for user in USERS:
        add_user(admin, user, f"{user}-password", groups=groups[user], roles=_roles(user))
        principals = {user, "public", *groups[user]}
        readable[user] = {cid for cid, c in chunks.items() if principals & set(c["acl"])}
    clients = {user: _client(server.url, admin, caps, user) for user in USERS}
    embedder = HashEmbedder()
    api = create_api_app(Settings(url=server.url, index=INDEX), embedder=embedder).test_client()
    yield World(chunks, groups, readable, clients, admin, caps, embedder, rng, server.url, api,
                concrete)
    admin.close()
    server.stop()


def _number(user: str) -> int:
    return USERS.index(user)


def _strategy(user: str) -> str:
    return STRATEGIES[_number(user) % 3]


def _roles(user: str) -> list[str]:
    """Every user reads chunks; some also manage `logs-*`, a few write chunks under DLS."""
    n = _number(user)
    return [READER_ROLE, *(["leaks-ops"] if n % 4 == 1 else []),
            *([EDITOR_ROLE] if n % 8 == 6 else [])]


def _client(url: str, admin: Elasticsearch, caps: Capabilities, user: str) -> Elasticsearch:
    strategy = _strategy(user)
    if strategy == "password":
        return Elasticsearch(url, basic_auth=(user, f"{user}-password"), request_timeout=60)
    return user_client(admin, caps, user, strategy=strategy)


def _ids_of(response: dict[str, Any]) -> set[str]:
    return {hit["_id"] for hit in response["hits"]["hits"]}


def _random_query(world: World) -> str:
    return " ".join(world.rng.sample(WORDS, 3))


def _knn(vector: list[float], k: int, ids: list[str] | None = None) -> dict[str, Any]:
    clause: dict[str, Any] = {"field": "embedding", "query_vector": vector, "k": k,
                              "num_candidates": max(100, k)}
    if ids is not None:
        clause["filter"] = {"terms": {"chunk_id": ids}}
    return clause


def _search(world: World, mode: str) -> tuple[dict[str, Any], set[str] | None]:
    """A random search body in `mode`, and its full matching set when that is known."""
    text = _random_query(world)
    if mode == "bm25":
        return {"query": {"multi_match": {"query": text, "fields": ["text", "title"]}},
                "size": 20}, None
    if mode == "highlight":
        return {"query": {"match": {"text": text}}, "size": 10,
                "highlight": {"fields": {"text": {}}}}, None
    if mode == "bm25-tag":
        tag = world.rng.choice(TAGS)
        return {"query": {"match": {"text": tag}}, "size": 50}, world.ids(tag)
    vector = world.embedder.embed_query(text)
    if mode == "knn":
        return {"knn": _knn(vector, 20), "size": 20}, None
    if mode == "hybrid":
        return {"retriever": {"rrf": {"retrievers": [
            {"standard": {"query": {"match": {"text": text}}}},
            {"knn": _knn(vector, 50)}], "rank_window_size": 50}}, "size": 20}, None
    ids = world.rng.sample(sorted(world.chunks), 30)
    if mode == "ids":
        return {"query": {"terms": {"chunk_id": ids}}, "size": 50}, set(ids)
    if mode == "knn-filtered":
        return {"knn": _knn(vector, 30, ids), "size": 30}, set(ids)
    if mode == "hybrid-filtered":
        return {"retriever": {"rrf": {"retrievers": [
            {"standard": {"query": {"bool": {"filter": [{"terms": {"chunk_id": ids}}]}}}},
            {"knn": _knn(vector, 30, ids)}], "rank_window_size": 60}}, "size": 60}, set(ids)
    return {"query": {"terms": {"chunk_id": ids}}, "size": 0,
            "aggs": {"ids": {"terms": {"field": "chunk_id", "size": 100}}}}, set(ids)


def _searches(world: World) -> list[tuple[str, dict[str, Any], set[str] | None]]:
    """(mode, body, expected ids or None) for one user's `_msearch`."""
    return [(mode, *_search(world, mode)) for mode, n in PER_USER.items() for _ in range(n)]


def _check_msearch(world: World, tally: Tally, user: str) -> None:
    searches = _searches(world)
    lines: list[dict[str, Any]] = []
    for _, body, _ in searches:
        lines += [{"index": world.rng.choice([INDEX, INDEX, VIEW, "chunks*"])}, body]
    responses = world.clients[user].msearch(searches=lines)["responses"]
    readable = world.readable[user]
    for (mode, _body, expected), response in zip(searches, responses, strict=True):
        assert "error" not in response, (mode, response)
        if mode == "aggs":
            returned = {b["key"] for b in response["aggregations"]["ids"]["buckets"]}
            tally.check("aggs", user, returned, readable, expected & readable)
            tally.check_count("hits.total", user, response["hits"]["total"]["value"],
                              len(expected & readable))
            continue
        returned = _ids_of(response)
        if mode == "highlight":
            fragments = " ".join(f for h in response["hits"]["hits"]
                                 for f in h.get("highlight", {}).get("text", []))
            returned |= {f"{t}#0" for t in TOKEN.findall(fragments)}
        tally.check(f"msearch {mode}", user, returned, readable,
                    expected & readable if expected is not None else None)


def _check_templates(world: World, tally: Tally, user: str) -> None:
    lines: list[dict[str, Any]] = []
    expected: list[set[str]] = []
    for template in ("bm25", "knn", "hybrid") * 5:
        tag = world.rng.choice(TAGS)
        params: dict[str, Any] = {"query": tag, "size": 50, "filters": []}
        if template != "bm25":
            params.update(query_vector=world.embedder.embed_query(tag), k=50,
                          num_candidates=100)
        lines += [{"index": INDEX}, {"id": template, "params": params}]
        expected.append(world.ids(tag) if template == "bm25" else set())
    responses = world.clients[user].msearch_template(search_templates=lines)["responses"]
    readable = world.readable[user]
    for n, response in enumerate(responses):
        assert "error" not in response, response
        tally.check("template", user, _ids_of(response), readable,
                    expected[n] & readable if expected[n] else None)


def _check_documents(world: World, tally: Tally, user: str) -> None:
    client, readable, rng = world.clients[user], world.readable[user], world.rng
    for _ in range(5):
        ids = rng.sample(sorted(world.chunks), 40)
        docs = client.mget(index=INDEX, ids=ids)["docs"]
        tally.check("mget", user, {d["_id"] for d in docs if d.get("found")}, readable,
                    set(ids) & readable)
    for chunk_id in rng.sample(sorted(world.chunks), 10):
        found = client.options(ignore_status=404).get(index=INDEX, id=chunk_id)
        returned = {chunk_id} if found.body.get("found") else set()
        tally.check("get", user, returned, readable, {chunk_id} & readable)


def _check_library(world: World, tally: Tally, user: str) -> None:
    readable = world.readable[user]
    generator = ExtractiveGenerator(world.embedder)
    for mode in ("bm25", "knn", "hybrid"):
        text = _random_query(world)
        result = search(world.admin, world.caps, INDEX, text, SearchParams(mode=mode, size=20),
                        world.embedder, as_user=user)
        tally.check(f"search {mode}", user, {h.chunk_id for h in result.hits}, readable)
        tag = world.rng.choice(TAGS)
        params = template_params(tag, SearchParams(mode=mode, size=50, k=50,
                                                   num_candidates=100),
                                 None if mode == "bm25" else world.embedder.embed_query(tag))
        found = search_template(world.admin, INDEX, mode, params, as_user=user, caps=world.caps)
        tally.check(f"_search/template {mode}", user, {h.chunk_id for h in found.hits}, readable,
                    world.ids(tag) & readable if mode == "bm25" else None)
    for _ in range(3):
        tag = world.rng.choice(TAGS)
        question = f"What does {tag} say about {_random_query(world)}?"
        answer = ask(world.admin, world.caps, INDEX, question,
                     AskParams(search=SearchParams(size=8), min_relevance=None),
                     world.embedder, generator, as_user=user)
        cited = {c.chunk_id for c in answer.citations} | {s.chunk_id
                                                          for s in answer.sources_used}
        quoted = {f"{t}#0" for t in TOKEN.findall(answer.text)}
        tally.check("ask", user, cited | quoted, readable)


def _check_counts(world: World, tally: Tally, user: str) -> None:
    client, readable = world.clients[user], world.readable[user]
    for index in (INDEX, VIEW, "chunks*"):
        for _ in range(4):
            ids = world.rng.sample(sorted(world.chunks), 30)
            got = client.count(index=index, query={"terms": {"chunk_id": ids}})["count"]
            tally.check_count(f"_count {index}", user, got, len(set(ids) & readable))


def _check_explain(world: World, tally: Tally, user: str) -> None:
    client, readable = world.clients[user].options(ignore_status=404), world.readable[user]
    for chunk_id in world.rng.sample(sorted(world.chunks), 6):
        body = client.explain(index=INDEX, id=chunk_id, query={"match_all": {}}).body
        returned = {chunk_id} if body.get("matched") else set()
        tally.check("_explain", user, returned, readable, {chunk_id} & readable)


def _check_terms_lookup(world: World, tally: Tally, user: str) -> None:
    """A terms lookup reads its document as the user: a hidden one contributes no terms."""
    client, readable = world.clients[user], world.readable[user]
    for lookup in world.rng.sample(sorted(world.chunks), 3):
        principals = set(world.chunks[lookup]["acl"])
        matching = {cid for cid, c in world.chunks.items() if principals & set(c["acl"])}
        allowed = readable if lookup in readable else set()
        found = client.search(index=INDEX, size=600, query={"terms": {"acl": {
            "index": INDEX, "id": lookup, "path": "acl"}}})
        tally.check("terms lookup", user, _ids_of(found), allowed, matching & allowed)


def _check_rank_eval(world: World, tally: Tally, user: str) -> None:
    client, readable = world.clients[user], world.readable[user]
    asked = {f"q{n}": world.rng.sample(sorted(world.chunks), 20) for n in range(4)}
    requests = [{"id": qid, "request": {"query": {"terms": {"chunk_id": ids}}},
                 "ratings": [{"_index": world.concrete, "_id": i, "rating": 1} for i in ids]}
                for qid, ids in asked.items()]
    details = client.rank_eval(index=INDEX, requests=requests, metric={
        "precision": {"k": 50, "relevant_rating_threshold": 1}})["details"]
    for qid, ids in asked.items():
        returned = {h["hit"]["_id"] for h in details[qid]["hits"]}
        tally.check("_rank_eval", user, returned, readable, set(ids) & readable)


def _check_http_api(world: World, tally: Tally, user: str) -> None:
    """es-rag's HTTP API searches with the caller's own credentials (password users)."""
    if _strategy(user) != "password":
        return
    auth = {"Authorization": basic(user, f"{user}-password")}
    for mode in ("bm25", "hybrid", "knn"):
        response = world.api.post("/api/search", headers=auth, json={
            "query": _random_query(world), "mode": mode, "size": 20})
        assert response.status_code == 200, response.json
        tally.check(f"HTTP API {mode}", user, {h["chunk_id"] for h in response.json["hits"]},
                    world.readable[user])


def _check_reindex(world: World, tally: Tally, user: str) -> None:
    """A user managing `logs-*` may copy what they read of the chunks: exactly that."""
    if "leaks-ops" not in _roles(user):
        return
    dest = f"logs-{user}"
    done = world.clients[user].reindex(source={"index": INDEX}, dest={"index": dest},
                                       refresh=True)
    copied = {h["_id"] for h in world.admin.search(index=dest, size=600, source=False)
              ["hits"]["hits"]}
    tally.check("reindex", user, copied, world.readable[user], world.readable[user])
    tally.check_count("reindex created", user, done["created"], len(world.readable[user]))


def _check_unauthorized_writes(world: World, tally: Tally, user: str) -> None:
    """Writes the user's roles do not allow: each is refused, none changes the chunks."""
    client, rng = world.clients[user].options(ignore_status=(400, 403, 404)), world.rng
    hidden = sorted(set(world.chunks) - world.readable[user])
    target = rng.choice(hidden)
    editor = EDITOR_ROLE in _roles(user)
    operations: list[dict[str, Any]] = [
        {"update": {"_index": INDEX, "_id": target, "_source": True}},
        {"doc": {"acl": ["public"]}}]
    if not editor:  # an editor may index and delete chunks: only DLS updates are refused
        planted = {"chunk_id": f"planted-{user}", "acl": ["public"], "text": "planted"}
        operations += [{"index": {"_index": rng.choice([INDEX, VIEW]), "_id": planted["chunk_id"]}},
                       planted,
                       {"create": {"_index": world.concrete, "_id": planted["chunk_id"]}},
                       planted,
                       {"delete": {"_index": INDEX, "_id": target}}]
    response = client.bulk(operations=operations)
    if response.meta.status != 200:  # no write privilege anywhere: the whole bulk is refused
        tally.check_refused("bulk", user, response.meta.status)
    for item in response.body.get("items", []):
        action, result = next(iter(item.items()))
        tally.check_refused(f"bulk {action}", user, result["status"])
        tally.check("bulk item response", user, {target} if "get" in result else set(), set())
    update = client.update(index=INDEX, id=target, doc={"acl": ["public"]}, source=True)
    tally.check_refused("update", user, update.meta.status)
    tally.check("update response", user, {target} if "get" in update.body else set(), set())
    alias = f"logs-{user}-view"
    for attempt in (
            lambda: client.indices.update_aliases(actions=[
                {"add": {"index": world.concrete, "alias": alias}}]),
            lambda: client.indices.put_alias(index=world.concrete, name=alias),
            lambda: client.indices.delete_alias(index=world.concrete, name=VIEW),
            lambda: client.indices.update_aliases(actions=[
                {"remove_index": {"index": world.concrete}}])):
        tally.check_refused("alias action", user, attempt().meta.status)
    if not editor:
        copy = client.reindex(source={"index": f"logs-{user}"}, dest={"index": world.concrete},
                              conflicts="proceed")
        tally.check_refused("reindex into the chunks", user, copy.meta.status)
    if "leaks-ops" not in _roles(user):
        copy = client.reindex(source={"index": INDEX}, dest={"index": f"stolen-{user}"})
        tally.check_refused("reindex out of the chunks", user, copy.meta.status)


def _check_chunks_unchanged(world: World, tally: Tally) -> None:
    """After every attempt: the chunks and their aliases are exactly what was indexed."""
    admin = world.admin
    count = admin.count(index=world.concrete)["count"]
    tally.check_refused("chunks written", "anyone", 200 if count != len(world.chunks) else 403)
    docs = admin.mget(index=world.concrete, ids=sorted(world.chunks))["docs"]
    changed = [d["_id"] for d in docs
               if d["_source"]["acl"] != world.chunks[d["_id"]]["acl"]]
    tally.check_refused("chunks changed", "anyone", 200 if changed else 403)
    aliases = admin.indices.get_alias(index=world.concrete)[world.concrete]["aliases"]
    tally.check_refused("aliases changed", "anyone",
                        200 if set(aliases) != {INDEX, VIEW} else 403)


CHECKERS: list[Callable[[World, Tally, str], None]] = [
    _check_msearch, _check_templates, _check_documents, _check_library, _check_counts,
    _check_explain, _check_terms_lookup, _check_rank_eval, _check_http_api, _check_reindex,
    _check_unauthorized_writes]


def test_no_user_ever_sees_a_chunk_they_may_not_read_nor_writes_where_they_may_not(
        world: World) -> None:
    tally = Tally()
    assert len(USERS) + len(GROUPS) >= 20
    started = time.perf_counter()
    spent = dict.fromkeys((c.__name__ for c in CHECKERS), 0.0)
    for user in USERS:
        for checker in CHECKERS:
            begin = time.perf_counter()
            checker(world, tally, user)
            spent[checker.__name__] += time.perf_counter() - begin
    _check_chunks_unchanged(world, tally)
    print(f"\n{tally.line} ({time.perf_counter() - started:.1f} s: "
          f"{', '.join(f'{n[7:]} {t:.1f}' for n, t in spent.items())})")
    assert tally.checks >= 10_000, tally.line
    assert tally.write_attempts >= 200, tally.line
    assert (tally.leaks, tally.denials, tally.write_successes) == (0, 0, 0), "\n".join(
        [tally.line, *tally.examples])
