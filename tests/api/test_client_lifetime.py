"""A caller's cached client lives as long as a request uses it: no 502 when it expires."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from elasticsearch import Elasticsearch
from retrieve.corpus import shared_embedder

from es_rag.api import ClientCache, create_api_app
from es_rag.config import Settings

from .conftest import INDEX


class TrackedClient(Elasticsearch):
    """A client that remembers being closed."""

    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def test_concurrent_searches_survive_their_clients_expiring(engine: Any,
                                                            cluster: Elasticsearch) -> None:
    # a zero lifetime replaces the shared client on every request, as a 60 s lifetime does
    # once a minute under load: requests still searching with the old one must not fail
    app = create_api_app(Settings(url=engine.url, index=INDEX), embedder=shared_embedder(),
                         client_ttl=0.0)

    def searches(n: int) -> list[int]:
        client = app.test_client()
        return [client.post("/api/search", json={"query": f"quota {i}", "mode": "bm25"}
                            ).status_code for i in range(n)]

    with ThreadPoolExecutor(16) as pool:
        statuses = [s for batch in pool.map(searches, [12] * 16) for s in batch]
    assert statuses == [200] * len(statuses)


def test_an_expired_client_is_closed_by_its_last_request(engine: Any) -> None:
    built: list[TrackedClient] = []

    def factory(authorization: str | None) -> TrackedClient:
        built.append(TrackedClient(engine.url))
        return built[-1]

    cache = ClientCache(factory, lambda: engine.url, embedded=True, ttl=0.0)
    with cache.lease(None) as first:
        with cache.lease(None) as second:  # expired: a new client replaces the first
            assert second is not first and not first.client.closed
            assert first.client.info()["tagline"] == "You Know, for Search"
        assert not first.client.closed
    assert first.client.closed and not second.client.closed
    cache.close()
    assert second.client.closed
