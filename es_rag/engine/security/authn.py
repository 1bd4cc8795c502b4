"""Authentication of REST requests: HTTP Basic, `ApiKey`, `Bearer` tokens (`tokens.py`) and the
`es-security-runas-user` header.

Verified credentials are remembered for a short time, as Elasticsearch's realm cache does: keyed
by an HMAC of the header under a random per-process key (so the cache holds nothing an offline
guess could be checked against quickly without that key), and only while the stored hash they
were checked against is unchanged. Per-request authentication thus pays for the password KDF once
per credential and `CACHE_TTL_SECONDS`. Failed password checks are throttled per user name and
client address (`throttle.py`); a successful one re-hashes a password stored with an older, weaker
setting (`passwords.needs_rehash`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from es_rag.engine.errors import AuthenticationError

from .file_realm import FileRealm
from .passwords import hash_password, needs_rehash, verify_password, verify_secret
from .store import SecurityStore
from .throttle import LoginThrottle, Throttled

RUN_AS_HEADER = "es-security-runas-user"
WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"',
                    "ApiKey"]
CACHE_TTL_SECONDS = 300.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Realm:
    """The realm a user was authenticated or looked up by."""

    name: str
    type: str

    def to_json(self) -> dict[str, str]:
        """The realm as `{"name", "type"}`."""
        return {"name": self.name, "type": self.type}


NATIVE = Realm("default_native", "native")
FILE = Realm("default_file", "file")
RESERVED = Realm("reserved", "reserved")
API_KEY_REALM = Realm("_es_api_key", "_es_api_key")


@dataclass(frozen=True)
class AuthenticatedUser:
    """Who a request runs as: the effective user, and how they were authenticated.

    For `es-security-runas-user` requests, `authenticated_by` is the user whose credentials were
    given and `run_as_found` says whether the target user exists (authorization refuses if not).
    For API keys, `api_key` is the stored key record and `username` its owner.
    """

    username: str
    roles: tuple[str, ...]
    full_name: str | None = None
    email: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    authentication_realm: Realm = NATIVE
    lookup_realm: Realm | None = NATIVE
    api_key: Mapping[str, Any] | None = None
    authenticated_by: AuthenticatedUser | None = None
    token: bool = False  # authenticated with an OAuth2 bearer token

    @property
    def authentication_type(self) -> str:
        """`api_key`, `token` or `realm`, from the credentials presented."""
        if self.authenticating.api_key is not None:
            return "api_key"
        return "token" if self.authenticating.token else "realm"

    @property
    def is_run_as(self) -> bool:
        """Whether the request runs as another user (`es-security-runas-user`)."""
        return self.authenticated_by is not None

    @property
    def run_as_found(self) -> bool:
        """False when the run-as target does not exist (authorization then refuses)."""
        return self.lookup_realm is not None

    @property
    def authenticating(self) -> AuthenticatedUser:
        """The subject whose credentials were presented."""
        return self.authenticated_by or self

    def template_params(self) -> dict[str, Any]:
        """The `_user` object templated role queries are rendered with."""
        return {"username": self.username, "full_name": self.full_name, "email": self.email,
                "roles": list(self.roles), "metadata": dict(self.metadata)}

    def to_authenticate_response(self) -> dict[str, Any]:
        """The body of `GET /_security/_authenticate` for this user."""
        body: dict[str, Any] = {
            "username": self.username, "roles": list(self.roles), "full_name": self.full_name,
            "email": self.email, "metadata": dict(self.metadata), "enabled": self.enabled,
            "authentication_realm": self.authenticating.authentication_realm.to_json(),
            "lookup_realm": (self.lookup_realm or self.authentication_realm).to_json(),
            "authentication_type": self.authentication_type,
        }
        if self.api_key is not None:
            body["api_key"] = {"id": self.api_key["id"], "name": self.api_key.get("name"),
                               "managed_by": "elasticsearch", "internal": False}
        return body


def authentication_error(reason: str, **extra: Any) -> AuthenticationError:
    """A 401 carrying Elasticsearch's `WWW-Authenticate` challenges in its body and `headers`."""
    error = AuthenticationError(reason, **extra, header={"WWW-Authenticate": WWW_AUTHENTICATE})
    error.headers = {"WWW-Authenticate": list(WWW_AUTHENTICATE)}
    return error


def throttled_error(throttled: Throttled) -> AuthenticationError:
    """429 for a login refused by the failed-login throttle, with `Retry-After`."""
    error = AuthenticationError(throttled.reason(), status=429)
    error.headers = {"Retry-After": str(throttled.retry_after)}
    return error


class Authenticator:
    """Turns request headers into an `AuthenticatedUser`, or raises a 401 like Elasticsearch
    (429 while failed logins for the user or from the client address are throttled)."""

    def __init__(self, store: SecurityStore, *, clock: Callable[[], float] = time.time,
                 throttle: LoginThrottle | None = None, file_realm: FileRealm | None = None
                 ) -> None:
        self._store = store
        self._file_realm = file_realm
        self._clock = clock
        self._throttle = throttle or LoginThrottle()
        self._cache_key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.bearer: Callable[[str], AuthenticatedUser] | None = None  # the token service's

    def authenticate(self, headers: Mapping[str, str], *, uri: str = "/",
                     address: str | None = None) -> AuthenticatedUser:
        """Authenticate a request to `uri` (path and query string, as shown in 401 reasons)
        from client `address` (failed logins are throttled per address too)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        authorization = lowered.get("authorization", "").strip()
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            user = self._basic(authorization, credentials.strip(), uri, address)
        elif scheme.lower() == "apikey":
            user = self._api_key(authorization, credentials.strip())
        elif scheme.lower() == "bearer" and self.bearer is not None:
            user = self.bearer(credentials.strip())
        else:
            raise authentication_error(
                f"missing authentication credentials for REST request [{uri}]")
        run_as = lowered.get(RUN_AS_HEADER)
        if run_as is not None:
            return self._run_as(user, run_as.strip())
        return user

    def user(self, username: str) -> AuthenticatedUser | None:
        """The enabled user `username` as an `AuthenticatedUser` (realm lookup: the file realm,
        then the native one), or None."""
        file_user = self._file_realm.get(username) if self._file_realm is not None else None
        if file_user is not None:
            return self._file_user(username, file_user.roles)
        return self._native_user(username)

    def _native_user(self, username: str) -> AuthenticatedUser | None:
        record = self._store.get_user(username)
        if record is None or not record.get("enabled", True):
            return None
        realm = RESERVED if record.get("reserved") else NATIVE
        return AuthenticatedUser(
            username=username, roles=tuple(record.get("roles", ())),
            full_name=record.get("full_name"), email=record.get("email"),
            metadata=record.get("metadata") or {}, enabled=True, authentication_realm=realm,
            lookup_realm=realm)

    def forget(self) -> None:
        """Drop every remembered credential."""
        with self._lock:
            self._verified.clear()

    def _basic(self, header: str, credentials: str, uri: str, address: str | None
               ) -> AuthenticatedUser:
        try:
            decoded = _b64decode(credentials)
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise authentication_error("invalid basic authentication header encoding") from exc
        username, sep, password = decoded.partition(":")
        if not sep:
            raise authentication_error("invalid basic authentication header value")
        # the realm chain: the file realm, then the native one (a failure in one tries the next)
        file_user = self._file_realm.get(username) if self._file_realm is not None else None
        file_hash = file_user.password_hash if file_user is not None else None
        record = self._store.get_user(username) or {}
        stored = record.get("password_hash")
        usable = bool(stored) and record.get("enabled", True)
        if file_user is not None and self._remembered(header, file_hash):
            return self._file_user(username, file_user.roles)
        if not (usable and self._remembered(header, stored)):
            throttled = self._throttle.check(username, address)
            if throttled is not None:
                raise throttled_error(throttled)
            if file_user is not None and verify_password(password, file_hash):
                self._remember(header, file_hash)  # a realm file is never rewritten
                return self._file_user(username, file_user.roles)
            if not (usable and verify_password(password, stored)):
                self._throttle.failed(username, address)
                raise authentication_error(
                    f"unable to authenticate user [{username}] for REST request [{uri}]")
            if needs_rehash(stored):
                upgraded = hash_password(password)
                if self._store.rehash_password(username, stored, upgraded):
                    stored = upgraded
            self._remember(header, stored)
        user = self._native_user(username)
        assert user is not None
        return user

    @staticmethod
    def _file_user(username: str, roles: tuple[str, ...]) -> AuthenticatedUser:
        return AuthenticatedUser(username=username, roles=roles, authentication_realm=FILE,
                                 lookup_realm=FILE)

    def _api_key(self, header: str, credentials: str) -> AuthenticatedUser:
        try:
            key_id, sep, secret = _b64decode(credentials).partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key_id, sep, secret = "", "", ""
        if not sep:
            raise self._api_key_error("invalid ApiKey value")
        key = self._store.get_api_key(key_id)
        if key is None:
            raise self._api_key_error(f"unable to find apikey with id {key_id}")
        if key.get("invalidated"):
            raise self._api_key_error(f"api key [{key_id}] has been invalidated")
        stored = key["api_key_hash"]
        if not self._remembered(header, stored):
            if not verify_secret(secret, stored):
                raise self._api_key_error(f"invalid credentials for API key [{key_id}]")
            self._remember(header, stored)
        expiration = key.get("expiration")
        if expiration is not None and expiration <= self._clock() * 1000:
            raise self._api_key_error("api key is expired")
        creator = key["creator"]
        return AuthenticatedUser(
            username=creator["principal"], roles=(), full_name=creator.get("full_name"),
            email=creator.get("email"), metadata=creator.get("metadata") or {},
            authentication_realm=API_KEY_REALM, lookup_realm=API_KEY_REALM, api_key=key)

    @staticmethod
    def _api_key_error(detail: str) -> AuthenticationError:
        return authentication_error(
            "unable to authenticate with provided credentials and anonymous access is not "
            "allowed for this request", additional_unsuccessful_credentials="API key: " + detail)

    def _run_as(self, authenticated: AuthenticatedUser, target: str) -> AuthenticatedUser:
        if target == "":
            raise authentication_error("the run as username may not be empty")
        found = self.user(target)
        if found is None:
            return AuthenticatedUser(username=target, roles=(), lookup_realm=None,
                                     authenticated_by=authenticated)
        return AuthenticatedUser(
            username=found.username, roles=found.roles, full_name=found.full_name,
            email=found.email, metadata=found.metadata, lookup_realm=found.lookup_realm,
            authenticated_by=authenticated)

    def _remembered(self, header: str, stored_hash: str) -> bool:
        """Whether this exact header was verified against this stored hash recently."""
        key = self._key(header)
        with self._lock:
            remembered = self._verified.get(key)
        return (remembered is not None and hmac.compare_digest(remembered[0], stored_hash)
                and remembered[1] > self._clock())

    def _remember(self, header: str, stored_hash: str) -> None:
        key = self._key(header)
        with self._lock:
            self._verified[key] = (stored_hash, self._clock() + CACHE_TTL_SECONDS)
            self._verified.move_to_end(key)
            while len(self._verified) > CACHE_MAX_ENTRIES:
                self._verified.popitem(last=False)

    def _key(self, header: str) -> bytes:
        return hmac.new(self._cache_key, header.encode(), hashlib.sha256).digest()


def _b64decode(text: str) -> str:
    """Decode base64 credentials; like Java's decoder, padding is optional."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
