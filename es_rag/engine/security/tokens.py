"""OAuth2 bearer tokens (`POST/DELETE /_security/oauth2/token`), as Elasticsearch's token service.

Grants: `password` (a user's credentials), `client_credentials` (the caller itself, no refresh
token) and `refresh_token` (a refresh token used once, for a new pair). An access token lives 20
minutes (`xpack.security.authc.token.timeout`), a refresh token 24 hours. Tokens are random
and stored only as their SHA-256, with the user they authenticate; a request with `Authorization:
Bearer <token>` runs as that user with `authentication_type` `token`, as long as the token is
neither expired nor invalidated and the user still exists and is enabled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from es_rag.engine.errors import ActionRequestValidation, BadRequest

from .authn import AuthenticatedUser, authentication_error
from .store import SecurityStore

ACCESS_TOKEN_MS = 20 * 60 * 1000
REFRESH_TOKEN_MS = 24 * 60 * 60 * 1000
_GRANTS = ("password", "client_credentials", "refresh_token", "_kerberos")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    """Creates, verifies, refreshes and invalidates tokens kept in the `SecurityStore`."""

    def __init__(self, store: SecurityStore, now_ms: Callable[[], int],
                 lookup: Callable[[str], AuthenticatedUser | None]) -> None:
        self._store = store
        self._now_ms = now_ms
        self._lookup = lookup

    def create(self, user: AuthenticatedUser, *, refreshable: bool) -> dict[str, Any]:
        """A new token for `user` (and a refresh token when `refreshable`): the response."""
        if user.api_key is not None:
            raise BadRequest("creating a token with API key authentication is not supported")
        now = self._now_ms()
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32) if refreshable else None
        self._store.put_token({
            "id": _digest(access), "refresh_id": refresh and _digest(refresh),
            "creation": now, "expiration": now + ACCESS_TOKEN_MS,
            "refresh_expiration": now + REFRESH_TOKEN_MS, "invalidated": False,
            "refreshed": False, "username": user.username,
            "realm": user.authentication_realm.name}, drop_before_ms=now)
        response: dict[str, Any] = {"access_token": access, "type": "Bearer",
                                    "expires_in": ACCESS_TOKEN_MS // 1000}
        if refresh is not None:
            response["refresh_token"] = refresh
        authenticated = dataclasses.replace(user, authenticated_by=None, token=True)
        response["authentication"] = authenticated.to_authenticate_response()
        return response

    def authenticate(self, access: str) -> AuthenticatedUser:
        """The user a bearer token stands for; a 401 when it is unknown, expired or revoked."""
        record = self._store.get_token(_digest(access))
        if record is None or record["invalidated"]:
            raise _token_error("token has been invalidated" if record else "invalid token")
        if record["expiration"] <= self._now_ms():
            raise _token_error("token expired")
        user = self._lookup(record["username"])
        if user is None:
            raise _token_error("the user of the token no longer exists or is disabled")
        return dataclasses.replace(user, token=True)

    def refresh(self, refresh: str) -> dict[str, Any]:
        """A new access and refresh token for a refresh token (used once)."""
        digest = _digest(refresh)
        record = next((t for t in self._store.tokens() if t.get("refresh_id") == digest), None)
        if record is None or record["invalidated"] or record["refreshed"] or \
                record["refresh_expiration"] <= self._now_ms():
            raise BadRequest("could not refresh the requested token", error_type="invalid_grant")
        user = self._lookup(record["username"])
        if user is None:
            raise BadRequest("could not refresh the requested token", error_type="invalid_grant")
        self._store.update_tokens([record["id"]], refreshed=True, invalidated=True)
        return self.create(user, refreshable=True)

    def invalidate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Invalidate by `token`, `refresh_token`, or every token of `username`/`realm_name`;
        404 (with zero counts) when a given token is unknown."""
        token, refresh = body.get("token"), body.get("refresh_token")
        username, realm = body.get("username"), body.get("realm_name")
        if token and refresh:
            raise ActionRequestValidation("Validation Failed: 1: only one of [token, "
                                          "refresh_token] may be sent per request;")
        if (token or refresh) and (username or realm):
            raise ActionRequestValidation("Validation Failed: 1: token and refresh_token may "
                                          "not be used together with user name or realm name;")
        if not (token or refresh or username or realm):
            raise ActionRequestValidation("Validation Failed: 1: one of [token, refresh_token, "
                                          "realm_name, username] must be specified;")
        records = self._store.tokens()
        if token:
            chosen = [t for t in records if t["id"] == _digest(token)]
        elif refresh:
            chosen = [t for t in records if t.get("refresh_id") == _digest(refresh)]
        else:
            chosen = [t for t in records if (not username or t["username"] == username)
                      and (not realm or t["realm"] == realm)]
        fresh = [t["id"] for t in chosen if not t["invalidated"]]
        if fresh:
            self._store.update_tokens(fresh, invalidated=True)
        status = 404 if (token or refresh) and not chosen else 200
        return status, {"invalidated_tokens": len(fresh),
                        "previously_invalidated_tokens": len(chosen) - len(fresh),
                        "error_count": 0}


def validate_grant(body: dict[str, Any]) -> str:
    """The grant type of a create-token body, with Elasticsearch's validation messages."""
    grant = body.get("grant_type")
    if grant not in _GRANTS:
        raise ActionRequestValidation(f"Validation Failed: 1: grant_type [{grant}] is not "
                                      "supported;")
    if grant == "_kerberos":
        raise BadRequest("the [_kerberos] grant is not supported by the embedded engine")
    problems = []
    if grant == "password":
        problems += [f"{k} is missing" for k in ("username", "password") if not body.get(k)]
        problems += [f"{k} is not supported with the password grant_type"
                     for k in ("refresh_token",) if body.get(k)]
    elif grant == "refresh_token":
        problems += ["refresh_token is missing"] if not body.get("refresh_token") else []
        problems += [f"{k} is not supported with the refresh_token grant_type"
                     for k in ("username", "password") if body.get(k)]
    else:
        problems += [f"{k} is not supported with the client_credentials grant_type"
                     for k in ("username", "password", "refresh_token") if body.get(k)]
    if problems:
        raise ActionRequestValidation("Validation Failed: " + "".join(
            f"{i}: {p};" for i, p in enumerate(problems, 1)))
    return str(grant)


def _token_error(detail: str) -> Exception:
    return authentication_error("unable to authenticate with provided credentials and anonymous "
                                "access is not allowed for this request",
                                additional_unsuccessful_credentials="token: " + detail)
