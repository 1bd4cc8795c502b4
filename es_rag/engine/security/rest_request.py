"""The request object security REST handlers receive, and the checks they share."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from es_rag.engine.errors import ActionRequestValidation, BadRequest

from ..http.rest import flag
from .authn import AuthenticatedUser
from .service import Security

SECURITY_PREFIX = "cluster:admin/xpack/security/"
_NAME_TEXT = ("must be at least 1 and no more than 507 characters. They can contain alphanumeric "
              "characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in the "
              "Basic Latin (ASCII) block. Leading or trailing whitespace is not allowed.")


@dataclass
class SecurityRequest:
    """A parsed request to a security endpoint."""

    method: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    user: AuthenticatedUser

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (`?x`, `?x=true`, `?x=false`)."""
        return flag(self.query, name, default)


Handler = Callable[[Security, SecurityRequest], tuple[int, Any]]


def body_of(request: SecurityRequest) -> dict[str, Any]:
    """The JSON body as an object ({} when absent); anything else is a 400."""
    if request.body is None:
        return {}
    if not isinstance(request.body, dict):
        raise BadRequest("request body must be a JSON object")
    return request.body


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


def named(entries: Mapping[str, Any], names: list[str] | None) -> tuple[int, Any]:
    """The entries called `names` (all when None); 404 `{}` when names are given and none
    exists."""
    if names is None:
        return 200, dict(entries)
    found = {n: e for n, e in entries.items() if n in names}
    return (200, found) if found else (404, {})


def deleted(found: bool) -> tuple[int, Any]:
    """A delete's answer: `{"found": …}`, with 404 when there was nothing to delete."""
    return (200 if found else 404), {"found": found}
