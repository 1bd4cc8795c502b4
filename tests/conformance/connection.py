"""The client the runner talks through: official client, no retries, optional credentials."""

from __future__ import annotations

from elasticsearch import Elasticsearch


def make_client(url: str, *, user: str | None = None, password: str | None = None,
                api_key: str | None = None, timeout: float = 60.0) -> Elasticsearch:
    """A client for url; basic auth (user+password) or an API key, never both.

    Retries are off so that a non-idempotent call is never sent twice.
    """
    if api_key and (user or password):
        raise ValueError("give either an API key or a user and password, not both")
    if bool(user) != bool(password):
        raise ValueError("a user needs a password and a password needs a user")
    auth: dict[str, object] = {}
    if api_key:
        auth["api_key"] = api_key
    elif user and password:
        auth["basic_auth"] = (user, password)
    return Elasticsearch(url, request_timeout=timeout, max_retries=0, retry_on_timeout=False,
                         **auth)  # type: ignore[arg-type]

