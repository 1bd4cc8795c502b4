"""Fixtures for the engine security tests: a `Security` service on a temp dir and helpers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from es_rag.engine.errors import BadRequest
from es_rag.engine.http import routes_security
from es_rag.engine.http.rest import RestRequest, Router
from es_rag.engine.security import AuthenticatedUser, Security
from es_rag.engine.security.read_scope import ReadScope


class Clock:
    """A settable clock, so key expiry can be tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def basic(username: str, password: str) -> dict[str, str]:
    """Headers for HTTP Basic authentication."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def api_key(encoded: str) -> dict[str, str]:
    """Headers for `ApiKey` authentication."""
    return {"Authorization": f"ApiKey {encoded}"}


def validate_query(query: dict[str, Any]) -> None:
    """A stand-in for the engine's query parser: knows a few clauses, refuses the rest."""
    name = next(iter(query)) if len(query) == 1 else None
    if name not in {"term", "terms", "match", "match_all", "bool", "range"}:
        raise BadRequest(f"unknown query [{name}]", error_type="parsing_exception")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def security(tmp_path: Path, clock: Clock) -> Security:
    return Security(tmp_path, validate_query=validate_query, clock=clock,
                    stored_script={"acl-by-name": '{"term": {"acl": "{{_user.username}}"}}'}.get)


@pytest.fixture
def elastic(security: Security) -> AuthenticatedUser:
    assert security.store.bootstrap_password is not None
    return security.authenticate(basic("elastic", security.store.bootstrap_password))


Call = Callable[..., tuple[int, Any]]


@pytest.fixture
def call(security: Security, elastic: AuthenticatedUser) -> Call:
    """`call(method, path, body=None, as_user=elastic, **query)` -> (status, body), through
    the engine's router with the `/_security` routes, as the authenticated `as_user`."""
    router = Router()
    routes_security.register(router, security)

    def _call(method: str, path: str, body: Any = None, *, as_user: AuthenticatedUser | None = None,
              **query: str) -> tuple[int, Any]:
        request = RestRequest(method, path, dict(query),
                              b"" if body is None else orjson.dumps(body), {},
                              read_scope=ReadScope(as_user or elastic, security))
        response = router.dispatch(request)
        return response.status, response.body

    return _call
