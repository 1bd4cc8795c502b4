"""Every API request runs as its caller: their own Authorization header, never the API's."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from api.secured_cluster import ALICE, API_KEY, MALLORY, VIEWER, SecuredCluster, basic
from es_rag.api import ClientCache, create_api_app
from es_rag.api.clients import CallerClient
from es_rag.config import Settings

BM25 = {"mode": "bm25", "query": "alpha"}


@pytest.fixture
def secured() -> Iterator[SecuredCluster]:
    cluster = SecuredCluster()
    yield cluster
    cluster.close()


@pytest.fixture
def api(secured: SecuredCluster) -> FlaskClient:
    # the API's own settings name a service user: it must never be used for a request
    settings = Settings(url=secured.url, user="service", password="service-pw")
    return create_api_app(settings).test_client()


def test_a_search_runs_with_exactly_the_callers_credentials(api, secured) -> None:
    response = api.post("/api/search", json=BM25, headers={"Authorization": ALICE})
    assert response.status_code == 200, response.json
    assert response.json["hits"][0]["chunk_id"] == "a#0"
    assert secured.requests and {auth for _, _, auth in secured.requests} == {ALICE}
    service = basic("service", "service-pw")
    assert all(auth != service for _, _, auth in secured.requests)


def test_an_api_key_is_passed_on_as_sent(api, secured) -> None:
    response = api.post("/api/search", json=BM25, headers={"Authorization": API_KEY})
    assert response.status_code == 200
    assert secured.searches() == [API_KEY]


def test_without_credentials_a_secured_cluster_gives_401(api, secured) -> None:
    response = api.post("/api/search", json=BM25)
    assert response.status_code == 401
    assert response.json["error"]["type"] == "security_exception"
    assert "missing authentication credentials" in response.json["error"]["reason"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    # once the API knows the cluster enforces security, it refuses without asking it
    api.post("/api/search", json=BM25, headers={"Authorization": ALICE})
    asked = len(secured.requests)
    response = api.post("/api/search", json=BM25)
    assert response.status_code == 401 and len(secured.requests) == asked
    assert secured.searches() == [ALICE]


def test_refused_credentials_are_passed_on_as_the_clusters_401(api) -> None:
    response = api.post("/api/search", json=BM25,
                        headers={"Authorization": basic("alice", "wrong")})
    assert response.status_code == 401
    assert "unable to authenticate user" in response.json["error"]["reason"]


def test_the_clusters_403_is_passed_on(api) -> None:
    response = api.post("/api/search", json=BM25, headers={"Authorization": MALLORY})
    assert response.status_code == 403
    assert "unauthorized for user [mallory]" in response.json["error"]["reason"]
    response = api.post("/api/ask", json={"question": "alpha?", "mode": "bm25"},
                        headers={"Authorization": MALLORY})
    assert response.status_code == 403


class CountingFactory:
    def __init__(self, url: str) -> None:
        self.url = url
        self.built: list[str | None] = []

    def __call__(self, authorization: str | None) -> Elasticsearch:
        self.built.append(authorization)
        return Elasticsearch(self.url, headers={"authorization": authorization or ""})


def test_clients_are_cached_briefly_per_credential_by_hash(secured) -> None:
    factory = CountingFactory(secured.url)
    cache = ClientCache(factory, lambda: secured.url, embedded=False, ttl=0.2, max_size=2)

    def get(authorization: str) -> CallerClient:
        with cache.lease(authorization) as caller:
            return caller

    alice = get(ALICE)
    assert get(ALICE) is alice and factory.built == [ALICE]
    assert get(API_KEY) is not alice
    assert ALICE not in cache._clients and ClientCache.key(ALICE) in cache._clients
    time.sleep(0.25)
    assert get(ALICE) is not alice and factory.built == [ALICE, API_KEY, ALICE]
    get(MALLORY)
    assert len(cache._clients) == 2  # the least recently used one was closed and dropped
    cache.close()


def test_the_api_learns_the_clusters_capabilities_once(secured) -> None:
    app = create_api_app(Settings(url=secured.url))
    client = app.test_client()
    client.post("/api/search", json=BM25, headers={"Authorization": ALICE})
    client.post("/api/search", json=BM25, headers={"Authorization": API_KEY})
    assert [path for _, path, _ in secured.requests].count("/") == 1


class ConstantEmbedder:
    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]


def test_a_caller_who_may_not_read_the_clusters_version_still_gets_hybrid_search(
        secured) -> None:
    app = create_api_app(Settings(url=secured.url), embedder=ConstantEmbedder())
    response = app.test_client().post("/api/search", json={"query": "alpha", "mode": "hybrid"},
                                      headers={"Authorization": VIEWER})
    assert response.status_code == 200, response.json
    # without the version and license, RRF runs client-side over _msearch, which any cluster has
    assert response.json["path_used"] == "client_rrf"
    assert response.json["hits"][0]["chunk_id"] == "a#0"
    assert ("POST", "/_msearch", VIEWER) in secured.requests
