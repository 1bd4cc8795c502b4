"""The `/_security/…` routes: users, roles, privileges and API keys, each authorized by its action.

The security filter authenticates these requests like any other; each route then authorizes its
own action before its handler runs, because some need no privilege (`any_user`: a user asking
about their own account) and changing one's own password is allowed to everyone.
"""

from __future__ import annotations

from collections.abc import Callable

from ..security.rest_api_keys import (
    clear_api_key_cache,
    create_key,
    get_keys,
    grant_key,
    invalidate_keys,
    query_keys,
)
from ..security.rest_privileges import authenticate, has_privileges, user_privileges
from ..security.rest_request import SECURITY_PREFIX as _SEC
from ..security.rest_request import user_of
from ..security.rest_roles import (
    delete_privileges,
    delete_role,
    get_privileges,
    get_roles,
    put_privileges,
    put_role,
)
from ..security.rest_tokens import get_token, invalidate_token
from ..security.rest_users import (
    change_password,
    delete_user,
    disable_user,
    enable_user,
    get_users,
    put_user,
)
from ..security.service import Security
from .rest import RestRequest, RestResponse, Router

SecurityHandler = Callable[[Security, RestRequest], RestResponse]
_API_KEY_PARAMS = "id name username realm_name owner active_only with_limited_by"
# (methods, path, handler, action, any_user, URL parameters acted on)
ROUTES: tuple[tuple[str, str, SecurityHandler, str, bool, str], ...] = (
    ("GET", "/_security/_authenticate", authenticate, _SEC + "user/authenticate", True, ""),
    ("GET POST", "/_security/user/_has_privileges", has_privileges,
     _SEC + "user/has_privileges", True, ""),
    ("GET POST", "/_security/user/{user}/_has_privileges", has_privileges,
     _SEC + "user/has_privileges", True, ""),
    ("GET", "/_security/user/_privileges", user_privileges, _SEC + "user/list_privileges",
     True, ""),
    ("PUT POST", "/_security/user/_password", change_password, _SEC + "user/change_password",
     True, ""),
    ("PUT POST", "/_security/user/{username}/_password", change_password,
     _SEC + "user/change_password", False, ""),
    ("PUT POST", "/_security/user/{username}/_enable", enable_user, _SEC + "user/set_enabled",
     False, ""),
    ("PUT POST", "/_security/user/{username}/_disable", disable_user,
     _SEC + "user/set_enabled", False, ""),
    ("PUT POST", "/_security/user/{username}", put_user, _SEC + "user/put", False, ""),
    ("GET", "/_security/user", get_users, _SEC + "user/get", False, ""),
    ("GET", "/_security/user/{username}", get_users, _SEC + "user/get", False, ""),
    ("DELETE", "/_security/user/{username}", delete_user, _SEC + "user/delete", False, ""),
    ("PUT POST", "/_security/role/{name}", put_role, _SEC + "role/put", False, ""),
    ("GET", "/_security/role", get_roles, _SEC + "role/get", False, ""),
    ("GET", "/_security/role/{name}", get_roles, _SEC + "role/get", False, ""),
    ("DELETE", "/_security/role/{name}", delete_role, _SEC + "role/delete", False, ""),
    ("PUT POST", "/_security/api_key", create_key, _SEC + "api_key/create", False, ""),
    ("POST", "/_security/api_key/grant", grant_key, _SEC + "api_key/grant", False, ""),
    ("GET", "/_security/api_key", get_keys, _SEC + "api_key/get", False, _API_KEY_PARAMS),
    ("GET POST", "/_security/_query/api_key", query_keys, _SEC + "api_key/query", False,
     "with_limited_by with_profile_uid"),
    ("DELETE", "/_security/api_key", invalidate_keys, _SEC + "api_key/invalidate", False, ""),
    ("POST", "/_security/oauth2/token", get_token, _SEC + "token/create", False, ""),
    ("DELETE", "/_security/oauth2/token", invalidate_token, _SEC + "token/invalidate", False,
     ""),
    ("POST", "/_security/api_key/{ids}/_clear_cache", clear_api_key_cache,
     _SEC + "api_key/clear_cache", False, ""),
    ("PUT POST", "/_security/privilege", put_privileges, _SEC + "privilege/put", False, ""),
    ("GET", "/_security/privilege", get_privileges, _SEC + "privilege/get", False, ""),
    ("GET", "/_security/privilege/{application}", get_privileges, _SEC + "privilege/get",
     False, ""),
    ("GET", "/_security/privilege/{application}/{name}", get_privileges,
     _SEC + "privilege/get", False, ""),
    ("DELETE", "/_security/privilege/{application}/{name}", delete_privileges,
     _SEC + "privilege/delete", False, ""),
)
# actions any authenticated user may perform on their own account
_SELF_ACTIONS = {_SEC + "user/change_password"}


def register(router: Router, security: Security) -> None:
    """Add the `/_security/…` routes served by `security`."""
    for methods, path, handler, action, any_user, params in ROUTES:
        router.add(methods, path, _authorized(security, handler, action, any_user), params)


def _authorized(security: Security, handler: SecurityHandler, action: str, any_user: bool
                ) -> Callable[[RestRequest], RestResponse]:
    """`handler` run once the caller may perform `action` (a 403 `security_exception` else)."""

    def serve(req: RestRequest) -> RestResponse:
        user = user_of(req)
        own_account = action in _SELF_ACTIONS and req.path_params.get("username") == user.username
        if any_user or own_account:
            security.check_run_as(user, action)
        elif action.startswith(_SEC + "privilege/"):
            security.authorize_application_privileges(user, action, _applications(req))
        else:
            security.authorize(user, action)
        return handler(security, req)

    return serve


def _applications(req: RestRequest) -> list[str]:
    """The applications an application-privileges request is about (none: all of them)."""
    app = req.path_params.get("application")
    if app is not None:
        return [] if app == "_all" else [app]
    if req.method in ("PUT", "POST"):
        body = req.json()
        return list(body) if isinstance(body, dict) else []
    return []
