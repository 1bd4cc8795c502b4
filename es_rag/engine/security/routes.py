"""The `/_security/…` routing table and `handle`, which authorizes a route and runs its handler."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .authn import AuthenticatedUser
from .rest_api_keys import (
    clear_api_key_cache,
    create_key,
    get_keys,
    grant_key,
    invalidate_keys,
    query_keys,
)
from .rest_privileges import authenticate, has_privileges, user_privileges
from .rest_request import SECURITY_PREFIX as _SEC
from .rest_request import Handler, SecurityRequest
from .rest_roles import (
    delete_privileges,
    delete_role,
    get_privileges,
    get_roles,
    put_privileges,
    put_role,
)
from .rest_tokens import get_token, invalidate_token
from .rest_users import (
    change_password,
    delete_user,
    disable_user,
    enable_user,
    get_users,
    put_user,
)
from .service import Security


@dataclass(frozen=True)
class Route:
    """`methods path` served by `handler` once `action` is authorized.

    `any_user` routes need no privilege (a user asking about their own account).
    """

    methods: tuple[str, ...]
    path: str
    handler: Handler
    action: str
    any_user: bool = False
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "regex", re.compile(pattern + "$"))


ROUTES: tuple[Route, ...] = (
    Route(("GET",), "/_security/_authenticate", authenticate, _SEC + "user/authenticate",
          any_user=True),
    Route(("GET", "POST"), "/_security/user/_has_privileges", has_privileges,
          _SEC + "user/has_privileges", any_user=True),
    Route(("GET", "POST"), "/_security/user/{user}/_has_privileges", has_privileges,
          _SEC + "user/has_privileges", any_user=True),
    Route(("GET",), "/_security/user/_privileges", user_privileges,
          _SEC + "user/list_privileges", any_user=True),
    Route(("PUT", "POST"), "/_security/user/_password", change_password,
          _SEC + "user/change_password", any_user=True),
    Route(("PUT", "POST"), "/_security/user/{username}/_password", change_password,
          _SEC + "user/change_password"),
    Route(("PUT", "POST"), "/_security/user/{username}/_enable", enable_user,
          _SEC + "user/set_enabled"),
    Route(("PUT", "POST"), "/_security/user/{username}/_disable", disable_user,
          _SEC + "user/set_enabled"),
    Route(("PUT", "POST"), "/_security/user/{username}", put_user, _SEC + "user/put"),
    Route(("GET",), "/_security/user", get_users, _SEC + "user/get"),
    Route(("GET",), "/_security/user/{username}", get_users, _SEC + "user/get"),
    Route(("DELETE",), "/_security/user/{username}", delete_user, _SEC + "user/delete"),
    Route(("PUT", "POST"), "/_security/role/{name}", put_role, _SEC + "role/put"),
    Route(("GET",), "/_security/role", get_roles, _SEC + "role/get"),
    Route(("GET",), "/_security/role/{name}", get_roles, _SEC + "role/get"),
    Route(("DELETE",), "/_security/role/{name}", delete_role, _SEC + "role/delete"),
    Route(("PUT", "POST"), "/_security/api_key", create_key, _SEC + "api_key/create"),
    Route(("POST",), "/_security/api_key/grant", grant_key, _SEC + "api_key/grant"),
    Route(("GET",), "/_security/api_key", get_keys, _SEC + "api_key/get"),
    Route(("GET", "POST"), "/_security/_query/api_key", query_keys, _SEC + "api_key/query"),
    Route(("DELETE",), "/_security/api_key", invalidate_keys, _SEC + "api_key/invalidate"),
    Route(("POST",), "/_security/api_key/{ids}/_clear_cache", clear_api_key_cache,
          _SEC + "api_key/clear_cache"),
    Route(("POST",), "/_security/oauth2/token", get_token, _SEC + "token/create"),
    Route(("DELETE",), "/_security/oauth2/token", invalidate_token, _SEC + "token/invalidate"),
    Route(("PUT", "POST"), "/_security/privilege", put_privileges, _SEC + "privilege/put"),
    Route(("GET",), "/_security/privilege", get_privileges, _SEC + "privilege/get"),
    Route(("GET",), "/_security/privilege/{application}", get_privileges,
          _SEC + "privilege/get"),
    Route(("GET",), "/_security/privilege/{application}/{name}", get_privileges,
          _SEC + "privilege/get"),
    Route(("DELETE",), "/_security/privilege/{application}/{name}", delete_privileges,
          _SEC + "privilege/delete"),
)

# actions any authenticated user may perform on their own account
_SELF_ACTIONS = {_SEC + "user/change_password"}


def handle(security: Security, method: str, path: str, query: Mapping[str, str], body: Any,
           user: AuthenticatedUser) -> tuple[int, Any] | None:
    """Serve a `/_security/…` request; None when no route matches `method path`.

    Authorizes the route's action (raising a 403 `SecurityError`) before calling its handler;
    a 405 is answered when the path exists for other methods only.
    """
    allowed: list[str] = []
    for route in ROUTES:
        match = route.regex.match(path)
        if match is None:
            continue
        if method not in route.methods:
            allowed += route.methods
            continue
        params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
        own_account = route.action in _SELF_ACTIONS and params.get("username") == user.username
        if route.any_user or own_account:
            security.check_run_as(user, route.action)
        else:
            security.authorize(user, route.action)
        return route.handler(security, SecurityRequest(method, params, query, body, user))
    if allowed:
        return 405, {"error": f"Incorrect HTTP method for uri [{path}] and method [{method}], "
                              f"allowed: {sorted(set(allowed))}", "status": 405}
    return None
