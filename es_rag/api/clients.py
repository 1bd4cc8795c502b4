"""Cluster clients per caller: each request runs with the caller's own `Authorization` header.

The API never holds credentials of its own for data: a client is built for the cluster URL with
exactly the header the caller sent (`Basic …`, `ApiKey …` or `Bearer …`), so the cluster's
document-level security decides what the caller can retrieve and have cited. A request without
the header runs anonymously, and a cluster with security enabled answers it 401.

Clients are cached briefly by a hash of the header (never the header itself), least recently
used first out. A request holds its client through a lease (`acquire`/`release`): a client that
expires or is pushed out while requests still use it is only retired, and closed when the last
of them releases it. Capabilities (version, license) are facts about the cluster, not the caller:
they are learned from the first caller allowed to read them and shared.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from elasticsearch import AuthorizationException, Elasticsearch

from es_rag.config import Settings
from es_rag.connect import Capabilities, client_kwargs, detect_capabilities, endpoint_url

ClientFactory = Callable[[str | None], Elasticsearch]
"""Builds a client that sends the given Authorization header (None: no credentials)."""


def default_client_factory(settings: Settings) -> tuple[ClientFactory, Callable[[], str]]:
    """A factory of clients for the configured cluster, and a function returning its URL.

    The settings' own credentials are dropped: only the caller's header is ever sent. With no
    cluster configured, the embedded engine is started on first use.
    """
    anonymous = dataclasses.replace(settings, api_key=None, user=None, password=None)
    url: list[str] = []

    def cluster_url() -> str:
        if not url:
            url.append(endpoint_url(settings))
        return url[0]

    def build(authorization: str | None) -> Elasticsearch:
        kwargs = client_kwargs(anonymous, None if settings.cloud_id else cluster_url())
        headers = {"authorization": authorization} if authorization else {}
        return Elasticsearch(**kwargs, headers=headers)

    return build, cluster_url


def unknown_capabilities(url: str, engine: str) -> Capabilities:
    """What es-rag assumes when nobody so far could read the cluster's version and license:
    hybrid search runs as client-side RRF over `_msearch`, which every cluster supports."""
    return Capabilities(url=url, engine=engine, version="unknown", major=0, minor=0,
                        distribution="unknown", license_type="unknown",
                        license_status="unknown", security_enabled=True, retriever=False,
                        rank_rrf=False, rrf_licensed=False, ml_inference=False)


@dataclass
class CallerClient:
    """A caller's client and the capabilities it searches with; `leases` counts the requests
    using it, and a `retired` client is closed when that count reaches zero."""

    client: Elasticsearch
    caps: Capabilities
    created: float
    leases: int = 0
    retired: bool = False


class ClientCache:
    """Clients by hash of the Authorization header, kept `ttl` seconds, at most `max_size`."""

    def __init__(self, factory: ClientFactory, cluster_url: Callable[[], str], *,
                 embedded: bool, ttl: float = 60.0, max_size: int = 64) -> None:
        self.factory = factory
        self.cluster_url = cluster_url
        self.embedded = embedded
        self.ttl = ttl
        self.max_size = max_size
        self.caps: Capabilities | None = None
        self._clients: OrderedDict[str, CallerClient] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(authorization: str | None) -> str:
        """The cache key of a header: its SHA-256, so no secret is kept as a key."""
        return hashlib.sha256((authorization or "").encode()).hexdigest()

    def acquire(self, authorization: str | None) -> CallerClient:
        """The caller's client, leased until `release`; built (and its capabilities learned)
        when not cached.

        Raises the cluster's errors (401 for refused credentials) and transport errors.
        """
        key = self.key(authorization)
        now = time.monotonic()
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None and now - cached.created < self.ttl:
                self._clients.move_to_end(key)
                cached.leases += 1
                return cached
        client = self.factory(authorization)
        try:
            caps = self.caps or self._learn(client)
        except Exception:
            client.close()
            raise
        caller = CallerClient(client, caps, now, leases=1)
        with self._lock:
            replaced = [self._clients.pop(key)] if key in self._clients else []
            self._clients[key] = caller
            while len(self._clients) > self.max_size:
                replaced.append(self._clients.popitem(last=False)[1])
            closing = [old for old in replaced if self._retire(old)]
        for old in closing:
            old.client.close()
        return caller

    def release(self, caller: CallerClient) -> None:
        """End a lease; the last lease of a retired client closes it."""
        with self._lock:
            caller.leases -= 1
            closing = caller.retired and caller.leases == 0
        if closing:
            caller.client.close()

    @contextmanager
    def lease(self, authorization: str | None) -> Iterator[CallerClient]:
        """`acquire` for the length of a `with` block."""
        caller = self.acquire(authorization)
        try:
            yield caller
        finally:
            self.release(caller)

    @staticmethod
    def _retire(caller: CallerClient) -> bool:
        """Mark a client dropped from the cache (hold the lock); True when nobody uses it."""
        caller.retired = True
        return caller.leases == 0

    def _learn(self, client: Elasticsearch) -> Capabilities:
        """Capabilities through this caller; a caller without `monitor` gets the safe default.

        The root endpoint also authenticates the caller: a 401 propagates from here.
        """
        url = self.cluster_url()
        try:
            info = client.info().body
        except AuthorizationException:
            return unknown_capabilities(url, "embedded" if self.embedded else "elasticsearch")
        caps = detect_capabilities(client, url, info, embedded=self.embedded)
        if caps.license_status != "unknown":
            self.caps = caps
        return caps

    def close(self) -> None:
        """Drop every cached client: closed now, or by the release of its last lease."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
            closing = [caller for caller in clients if self._retire(caller)]
        for caller in closing:
            caller.client.close()
