"""API keys: creation with role descriptors, lookup by the `GET` filters, invalidation."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from typing import Any

from es_rag.engine.errors import ActionRequestValidation, BadRequest

from .authn import AuthenticatedUser
from .passwords import hash_secret
from .privileges import pattern_matches
from .roles import QueryValidator, parse_role
from .store import SecurityStore

_TIME_UNITS_MS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000,
                  "h": 3_600_000, "d": 86_400_000}
_TIME_VALUE = re.compile(r"^(\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)$")
_CREATE_FIELDS = {"name", "expiration", "role_descriptors", "metadata"}


def parse_expiration(value: Any) -> int:
    """Milliseconds in an Elasticsearch time value such as `1d`, `12h` or `30m`."""
    match = _TIME_VALUE.match(str(value).strip().lower())
    if match is None:
        raise BadRequest(f"failed to parse setting [expiration] with value [{value}] as a time "
                         "value: unit is missing or unrecognized")
    return int(float(match.group(1)) * _TIME_UNITS_MS[match.group(2)])


def create_api_key(store: SecurityStore, owner: AuthenticatedUser,
                   owner_descriptors: Mapping[str, Mapping[str, Any]], body: Mapping[str, Any],
                   *, now_ms: int, validate_query: QueryValidator | None = None
                   ) -> dict[str, Any]:
    """Create a key for `owner`, limited by `owner_descriptors` (their roles now); the response.

    The key's access is the intersection of its own `role_descriptors` (all of the owner's
    access when there are none) and the owner's roles as they are at creation, as in ES.
    """
    if owner.api_key is not None:
        raise BadRequest("creating an API key while authenticated with an API key is not "
                         "supported by the embedded engine")
    unknown = set(body) - _CREATE_FIELDS
    if unknown:
        raise BadRequest(f"unknown field [{sorted(unknown)[0]}] in the create API key request")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ActionRequestValidation("Validation Failed: 1: api key name is required;")
    if len(name) > 256 or name != name.strip() or name.startswith("_"):
        raise ActionRequestValidation(
            "Validation Failed: 1: api key name may not be more than [256] characters long, may "
            "not begin or end with whitespace and may not begin with an underscore;")
    descriptors = body.get("role_descriptors") or {}
    if not isinstance(descriptors, dict):
        raise BadRequest("[role_descriptors] must be an object of role name to role descriptor")
    role_descriptors = {role: parse_role(role, descriptor, validate_query=validate_query)
                        for role, descriptor in descriptors.items()}
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or any(k.startswith("_") for k in metadata):
        raise ActionRequestValidation(
            "Validation Failed: 1: API key metadata keys may not start with [_];")
    expiration = (now_ms + parse_expiration(body["expiration"])
                  if body.get("expiration") is not None else None)
    key_id = secrets.token_urlsafe(15)
    secret = secrets.token_urlsafe(16)
    realm = owner.lookup_realm or owner.authentication_realm
    store.put_api_key({
        "id": key_id, "name": name, "api_key_hash": hash_secret(secret), "creation": now_ms,
        "expiration": expiration, "invalidated": False, "invalidation": None,
        "metadata": metadata, "role_descriptors": role_descriptors,
        "limited_by": {k: dict(v) for k, v in owner_descriptors.items()},
        "creator": {"principal": owner.username, "full_name": owner.full_name,
                    "email": owner.email, "metadata": dict(owner.metadata),
                    "realm": realm.name, "realm_type": realm.type},
    })
    response: dict[str, Any] = {"id": key_id, "name": name}
    if expiration is not None:
        response["expiration"] = expiration
    encoded = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return {**response, "api_key": secret, "encoded": encoded}


def find_api_keys(store: SecurityStore, *, ids: list[str] | None = None,
                  name: str | None = None, username: str | None = None,
                  realm_name: str | None = None, active_only: bool = False,
                  now_ms: int = 0) -> list[dict[str, Any]]:
    """Stored key records matching every given filter (`name` may use wildcards)."""
    found = []
    for key in store.api_keys():
        creator = key["creator"]
        if ids is not None and key["id"] not in ids:
            continue
        if name is not None and not pattern_matches(name, key["name"] or ""):
            continue
        if username is not None and creator["principal"] != username:
            continue
        if realm_name is not None and creator["realm"] != realm_name:
            continue
        if active_only and not is_active(key, now_ms):
            continue
        found.append(key)
    return found


def is_active(key: Mapping[str, Any], now_ms: int) -> bool:
    """Neither invalidated nor expired."""
    expiration = key.get("expiration")
    return not key.get("invalidated") and (expiration is None or expiration > now_ms)


def api_key_info(key: Mapping[str, Any], *, with_limited_by: bool = False) -> dict[str, Any]:
    """A key as `GET /_security/api_key` shows it (never its secret)."""
    creator = key["creator"]
    info: dict[str, Any] = {"id": key["id"], "name": key["name"], "type": "rest",
                            "creation": key["creation"]}
    if key.get("expiration") is not None:
        info["expiration"] = key["expiration"]
    info["invalidated"] = bool(key.get("invalidated"))
    if key.get("invalidation") is not None:
        info["invalidation"] = key["invalidation"]
    info.update({"username": creator["principal"], "realm": creator["realm"],
                 "realm_type": creator["realm_type"], "metadata": key.get("metadata") or {},
                 "role_descriptors": key.get("role_descriptors") or {}})
    if with_limited_by:
        info["limited_by"] = [key.get("limited_by") or {}]
    return info
