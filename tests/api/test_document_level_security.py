"""Given chunks with ACLs and a user per ACL, each user's answers cite only what they may read.

Runs against an engine with security on: the `elastic` superuser's password is in the data
directory's `elastic-password` file, as Elasticsearch's own bootstrap password would be printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from retrieve.corpus import CORPUS, index_corpus, shared_embedder

from api.secured_cluster import basic
from es_rag.api import create_api_app
from es_rag.config import Settings

INDEX = "dls-chunks"
USERS = ("alice", "bob")
READABLE = {user: {c["chunk_id"] for c in CORPUS if user in c["acl"]} for user in USERS}


@dataclass(frozen=True)
class SecuredEngine:
    url: str
    api_key: str  # an API key reading what bob reads


@pytest.fixture(scope="module")
def secured_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredEngine]:
    from es_rag.engine.security import PASSWORD_FILE
    from es_rag.engine.server import EngineServer

    data = tmp_path_factory.mktemp("secured-engine")
    server = EngineServer(data, port=0).start()
    password_file = data / PASSWORD_FILE
    assert password_file.is_file(), (
        f"the engine wrote no {PASSWORD_FILE}: security is not wired into the engine yet")
    admin = Elasticsearch(server.url, basic_auth=("elastic", password_file.read_text().strip()))
    index_corpus(admin, INDEX)
    for user in USERS:
        admin.security.put_role(name=f"chunks-{user}", indices=[{
            "names": [INDEX], "privileges": ["read"], "query": {"term": {"acl": user}}}])
        admin.security.put_user(username=user, password=f"{user}-password",
                                roles=[f"chunks-{user}"])
    api_key = admin.security.create_api_key(name="bakery-app", role_descriptors={
        "bakery": {"indices": [{"names": [INDEX], "privileges": ["read"],
                                "query": {"term": {"acl": "bob"}}}]}})["encoded"]
    yield SecuredEngine(server.url, api_key)
    admin.close()
    server.stop()


@pytest.fixture(scope="module")
def api(secured_engine: SecuredEngine) -> FlaskClient:
    settings = Settings(url=secured_engine.url, index=INDEX)
    return create_api_app(settings, embedder=shared_embedder()).test_client()


def as_user(user: str) -> dict[str, str]:
    return {"Authorization": basic(user, f"{user}-password")}


def test_each_user_searches_only_the_chunks_their_acl_allows(api) -> None:
    for user in USERS:
        response = api.post("/api/search", json={"query": "Paris bread tokens storage",
                                                  "size": 20}, headers=as_user(user))
        assert response.status_code == 200, response.json
        found = {hit["chunk_id"] for hit in response.json["hits"]}
        assert found and found <= READABLE[user], user


def test_an_api_key_searches_with_the_keys_own_restrictions(api, secured_engine) -> None:
    response = api.post("/api/search", json={"query": "Paris bread tokens storage",
                                              "size": 20},
                        headers={"Authorization": f"ApiKey {secured_engine.api_key}"})
    assert response.status_code == 200, response.json
    found = {hit["chunk_id"] for hit in response.json["hits"]}
    assert found and found <= READABLE["bob"]


def test_two_users_get_different_answers_to_the_same_question(api) -> None:
    question = {"question": "When was the Eiffel Tower completed?"}
    alice = api.post("/api/ask", json=question, headers=as_user("alice")).json
    bob = api.post("/api/ask", json=question, headers=as_user("bob")).json
    assert "1889" in alice["answer"]
    assert [c["chunk_id"] for c in alice["citations"]] == ["eiffel#0"]
    assert "1889" not in bob["answer"]
    assert all(c["chunk_id"] in READABLE["bob"] for c in bob["citations"])
    assert {s["chunk_id"] for s in bob["sources"]} <= READABLE["bob"]


def test_streamed_answers_respect_the_acl_too(api) -> None:
    response = api.post("/api/ask", json={"question": "When was the Eiffel Tower completed?",
                                          "stream": True}, headers=as_user("bob"))
    assert response.status_code == 200
    assert "1889" not in response.get_data(as_text=True)


def test_without_credentials_or_with_a_wrong_password_the_api_says_401(api) -> None:
    response = api.post("/api/search", json={"query": "Paris"})
    assert response.status_code == 401
    assert "send an Authorization header" in response.json["error"]["reason"]
    assert response.headers["WWW-Authenticate"]
    response = api.post("/api/search", json={"query": "Paris"},
                        headers={"Authorization": basic("alice", "wrong")})
    assert response.status_code == 401
    assert response.json["error"]["type"] == "security_exception"


def test_the_answer_cache_is_never_shared_between_users(secured_engine, tmp_path) -> None:
    settings = Settings(url=secured_engine.url, index=INDEX, data=tmp_path,
                        answer_cache_seconds=300)
    api = create_api_app(settings, embedder=shared_embedder()).test_client()
    question = {"question": "When was the Eiffel Tower completed?"}
    alice = [api.post("/api/ask", json=question, headers=as_user("alice")).json
             for _ in range(2)]
    assert "1889" in alice[0]["answer"] and alice[1]["retrieval"].get("cache") == "hit"
    bob = api.post("/api/ask", json=question, headers=as_user("bob")).json
    assert "cache" not in bob["retrieval"]
    assert "1889" not in bob["answer"]
    assert {s["chunk_id"] for s in bob["sources"]} <= READABLE["bob"]
