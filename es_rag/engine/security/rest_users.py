"""REST handlers for `/_security/user`: create, read, delete, password, enable/disable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ActionRequestValidation, BadRequest, EngineError, ResourceNotFound
from ..http.rest import RestRequest, RestResponse
from .passwords import MIN_PASSWORD_LENGTH, check_password_hash, hash_password
from .rest_request import body_of, deleted, named, split_names, user_of, validate_name
from .service import Security
from .store import ELASTIC

RESERVED_USERS = {"elastic", "kibana", "kibana_system", "logstash_system", "beats_system",
                  "apm_system", "remote_monitoring_user"}
_USER_FIELDS = {"username", "password", "password_hash", "roles", "full_name", "email",
                "metadata", "enabled"}


def put_user(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/user/{username}`: create or update a native user."""
    username = req.path_params["username"]
    body = body_of(req)
    for key in body:
        if key not in _USER_FIELDS:
            raise EngineError(f"failed to parse add user request. unexpected field [{key}]",
                              status=400, error_type="parse_exception")
    if body.get("username", username) != username:
        raise BadRequest(f"[username] in source does not match the username provided "
                         f"[{username}]")
    validate_name(username, "username", RESERVED_USERS)
    existing = security.store.get_user(username)
    password_hash = _new_password_hash(body)
    if password_hash is None:
        if existing is None:
            raise ActionRequestValidation("Validation Failed: 1: password must be specified "
                                          "unless you are updating an existing user;")
        password_hash = existing["password_hash"]
    roles = body.get("roles", [])
    metadata = body.get("metadata") or {}
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise BadRequest("[roles] must be an array of role names")
    if not isinstance(metadata, dict) or any(k.startswith("_") for k in metadata):
        raise ActionRequestValidation(
            "Validation Failed: 1: metadata keys may not start with [_];")
    enabled = body.get("enabled", existing.get("enabled", True) if existing else True)
    created = security.store.put_user({
        "username": username, "password_hash": password_hash, "roles": roles,
        "full_name": body.get("full_name"), "email": body.get("email"), "metadata": metadata,
        "enabled": bool(enabled)})
    return RestResponse({"created": created})


def get_users(security: Security, req: RestRequest) -> RestResponse:
    """`GET /_security/user[/{username,…}]`: users without their password hashes."""
    users = {u["username"]: _user_json(u) for u in security.store.users()}
    return named(users, split_names(req.path_params.get("username")))


def delete_user(security: Security, req: RestRequest) -> RestResponse:
    """`DELETE /_security/user/{username}` (reserved users refused)."""
    username = req.path_params["username"]
    if username in RESERVED_USERS:
        raise BadRequest(f"user [{username}] is reserved and may not be deleted")
    return deleted(security.store.delete_user(username))


def change_password(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/user[/{username}]/_password` (default: the caller)."""
    username = req.path_params.get("username", user_of(req).username)
    if user_of(req).api_key is not None:
        raise BadRequest("the password of an API key owner cannot be changed with an API key")
    if security.store.get_user(username) is None:
        raise ResourceNotFound(f"user [{username}] does not exist")
    body = body_of(req)
    password_hash = _new_password_hash(body)
    if password_hash is None:
        raise ActionRequestValidation("Validation Failed: 1: password must be specified;")
    security.store.update_user(username, password_hash=password_hash)
    if username == ELASTIC and isinstance(body.get("password"), str):
        security.store.record_elastic_password(body["password"])
    return RestResponse({})


def enable_user(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/user/{username}/_enable`."""
    return _set_enabled(security, req, True)


def disable_user(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/user/{username}/_disable` (not one's own account)."""
    return _set_enabled(security, req, False)


def _set_enabled(security: Security, req: RestRequest, enabled: bool) -> RestResponse:
    username = req.path_params["username"]
    if username == user_of(req).authenticating.username:
        raise BadRequest("users may not update the enabled status of their own account")
    if security.store.get_user(username) is None:
        raise ResourceNotFound(f"user [{username}] does not exist")
    security.store.update_user(username, enabled=enabled)
    return RestResponse({})


def _new_password_hash(body: Mapping[str, Any]) -> str | None:
    password, password_hash = body.get("password"), body.get("password_hash")
    if password is not None and password_hash is not None:
        raise ActionRequestValidation("Validation Failed: 1: only one of [password, "
                                      "passwordHash] can be provided;")
    if password is not None:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise ActionRequestValidation(f"Validation Failed: 1: passwords must be at least "
                                          f"[{MIN_PASSWORD_LENGTH}] characters long;")
        return hash_password(password)
    if password_hash is not None:
        check_password_hash(str(password_hash))
        return str(password_hash)
    return None


def _user_json(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"username": record["username"], "roles": record.get("roles", []),
            "full_name": record.get("full_name"), "email": record.get("email"),
            "metadata": record.get("metadata") or {}, "enabled": record.get("enabled", True)}
