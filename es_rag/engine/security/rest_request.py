"""What the `/_security/…` REST handlers share: the caller, the body, names and answers."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ..errors import ActionRequestValidation, BadRequest, EngineError
from ..http.rest import RestRequest, RestResponse
from .authn import AuthenticatedUser

SECURITY_PREFIX = "cluster:admin/xpack/security/"
_NAME_TEXT = ("must be at least 1 and no more than 507 characters. They can contain alphanumeric "
              "characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in the "
              "Basic Latin (ASCII) block. Leading or trailing whitespace is not allowed.")


def user_of(req: RestRequest) -> AuthenticatedUser:
    """The authenticated user a security request runs as (set by the security filter)."""
    user = req.scope.user
    if user is None:
        raise EngineError(f"no authenticated user for [{req.method} {req.path}]", status=500)
    return user


def body_of(req: RestRequest) -> dict[str, Any]:
    """The JSON body as an object ({} when absent); anything else is a 400."""
    body = req.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def split_names(value: str | None) -> list[str] | None:
    """Comma-separated names from a path part; None means all (absent, `_all` or `*`)."""
    if value is None or value in ("", "_all", "*"):
        return None
    return [n for n in value.split(",") if n]


def validate_name(name: str, what: str, reserved: Collection[str]) -> None:
    """Refuse user and role names Elasticsearch refuses, and the `reserved` ones."""
    valid = (0 < len(name) <= 507 and name == name.strip()
             and all(32 <= ord(c) < 127 for c in name))
    user = what == "username"
    if not valid:
        label = "Usernames" if user else "Role names"
        raise ActionRequestValidation(f"Validation Failed: 1: Invalid {what} [{name}]... "
                                      f"{label} {_NAME_TEXT};")
    if name in reserved:
        raise ActionRequestValidation(f"Validation Failed: 1: {'Username' if user else 'Role'} "
                                      f"[{name}] is reserved and may not be used.;")


def named(entries: Mapping[str, Any], names: list[str] | None) -> RestResponse:
    """The entries called `names` (all when None); 404 `{}` when names are given and none
    exists."""
    if names is None:
        return RestResponse(dict(entries))
    found = {n: e for n, e in entries.items() if n in names}
    return RestResponse(found) if found else RestResponse({}, 404)


def deleted(found: bool) -> RestResponse:
    """A delete's answer: `{"found": …}`, with 404 when there was nothing to delete."""
    return RestResponse({"found": found}, 200 if found else 404)
