"""Given 600 chunks with random ACLs over 24 users and 10 groups, no read path leaks or over-denies.

Every (user, query, mode) check compares what the cluster returned with the ground truth of that
user's permissions under roles/es-rag-reader.json: a chunk is readable when its `acl` names the
user, one of the user's groups or `public`. A leak is a returned chunk the user may not read; a
false denial is a readable chunk missing from a result whose full matching set is known (ids,
tag and `chunk_id` queries, counts, aggregations, get/mget). Searches run as the user through
`es_rag.users.user_client`: run_as for even-numbered users, a per-user API key for the others.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from security.conftest import ELASTIC_PASSWORD, index_chunks
from security.hash_embedder import HashEmbedder

from es_rag.assets import apply, load_assets
from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities, detect_capabilities
from es_rag.generate.ask import AskParams, ask
from es_rag.generate.providers import ExtractiveGenerator
from es_rag.retrieve import SearchParams, search, search_template, template_params
from es_rag.users import add_user, user_client

SEED = 20251121
INDEX = "chunks"
N_CHUNKS = 600
USERS = [f"user{i:02d}" for i in range(24)]
GROUPS = [f"group{i}" for i in range(10)]
TAGS = [f"tag{i}" for i in range(60)]  # each chunk carries one: a query with a known answer
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "roadmap",
         "budget", "secret", "launch", "design", "review", "storage", "network", "backup"]
TOKEN = re.compile(r"\bdoc\d{3}\b")
# searches per user and mode in one `_msearch`; the cheap ones with a known answer weigh most
PER_USER = {"bm25": 50, "knn": 25, "hybrid": 25, "highlight": 30, "bm25-tag": 120, "ids": 30,
            "knn-filtered": 30, "hybrid-filtered": 30, "aggs": 50}


@dataclass
class Tally:
    """Counts of checks, leaks and false denials, with the first few of each for the report."""

    checks: int = 0
    leaks: int = 0
    denials: int = 0
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

    @property
    def line(self) -> str:
        return f"{self.checks} checks, {self.leaks} leaks, {self.denials} false denials"


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
    groups = {user: rng.sample(GROUPS, rng.randint(0, 3)) for user in USERS}
    readable = {}
    for user in USERS:
        add_user(admin, user, f"{user}-password", groups=groups[user])
        principals = {user, "public", *groups[user]}
        readable[user] = {cid for cid, c in chunks.items() if principals & set(c["acl"])}
    clients = {user: user_client(admin, caps, user, strategy="run_as" if n % 2 == 0
                                 else "api_key") for n, user in enumerate(USERS)}
    yield World(chunks, groups, readable, clients, admin, caps, HashEmbedder(), rng)
    admin.close()
    server.stop()


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
        lines += [{"index": INDEX}, body]
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


CHECKERS: list[Callable[[World, Tally, str], None]] = [
    _check_msearch, _check_templates, _check_documents, _check_library]


def test_no_user_ever_sees_a_chunk_they_may_not_read(world: World) -> None:
    tally = Tally()
    assert len(USERS) + len(GROUPS) >= 20
    for user in USERS:
        for checker in CHECKERS:
            checker(world, tally, user)
    print(f"\n{tally.line}")
    assert tally.checks >= 10_000, tally.line
    assert (tally.leaks, tally.denials) == (0, 0), "\n".join([tally.line, *tally.examples])
