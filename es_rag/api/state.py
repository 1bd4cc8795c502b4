"""What the API keeps for its lifetime: settings, caller clients, the embedder, the generator."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from elasticsearch import AuthenticationException
from flask import Flask, Response, current_app, g, request

from es_rag.answer_cache import AnswerCache
from es_rag.config import Settings
from es_rag.generate import Generator, build_generator
from es_rag.serving import SearchEmbedder

from .clients import CallerClient, ClientCache
from .errors import BASIC_CHALLENGE, ApiError

EXTENSION = "es_rag_api"
_LEASES = "es_rag_api_leases"


@dataclass
class ApiState:
    """Shared by every request; the embedding model and generator load once, on first use."""

    settings: Settings
    clients: ClientCache
    embedder: SearchEmbedder
    answers: AnswerCache
    _generator: Generator | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cluster_url(self) -> str:
        """The cluster URL (starting the embedded engine when none is configured)."""
        return self.clients.cluster_url()

    def caller(self) -> CallerClient:
        """The client of this request's caller, with their own Authorization header, leased
        until the response has been sent (streamed answers included, see `install_leases`).

        Without the header, a cluster known to enforce security gets no request at all: 401.
        """
        authorization = request.headers.get("Authorization") or None
        known = self.clients.caps
        if authorization is None and known is not None and known.security_enabled:
            raise _missing_credentials()
        try:
            caller = self.clients.acquire(authorization)
        except AuthenticationException as exc:
            if authorization is not None:
                raise
            raise _missing_credentials(exc.meta.headers.get("www-authenticate")) from None
        g.setdefault(_LEASES, []).append(caller)
        return caller

    def generator(self) -> Generator:
        """The answer generator the settings name (`extractive` by default)."""
        embedder = self.embedder()
        with self._lock:
            if self._generator is None:
                self._generator = build_generator(self.settings, embedder=embedder)
            return self._generator


def _missing_credentials(challenge: str | None = None) -> ApiError:
    """401 for a request without credentials to a cluster that enforces security."""
    return ApiError(401, "security_exception", "missing authentication credentials: send an "
                    "Authorization header (Basic … or ApiKey …) for the cluster",
                    headers={"WWW-Authenticate": challenge or BASIC_CHALLENGE})


def install_leases(app: Flask, clients: ClientCache) -> None:
    """Release the clients a request leased once its response is closed (after the last byte
    of a stream), or at teardown when no response was made."""

    @app.after_request
    def _release_when_sent(response: Response) -> Response:
        leased = g.pop(_LEASES, [])
        if leased:
            response.call_on_close(lambda: _release(clients, leased))
        return response

    @app.teardown_request
    def _release_unsent(_: BaseException | None) -> None:
        _release(clients, g.pop(_LEASES, []))


def _release(clients: ClientCache, leased: list[CallerClient]) -> None:
    for caller in leased:
        clients.release(caller)


def api_state() -> ApiState:
    """The state of the app serving the current request."""
    return current_app.extensions[EXTENSION]
