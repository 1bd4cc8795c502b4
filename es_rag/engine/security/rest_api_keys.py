"""REST handlers for `/_security/api_key`: create, grant, get, query, invalidate, clear cache."""

from __future__ import annotations

import base64

from ..errors import ActionRequestValidation, BadRequest
from ..http.rest import RestRequest, RestResponse
from .api_key_query import query_api_keys
from .api_keys import api_key_info, create_api_key, find_api_keys
from .authn import RUN_AS_HEADER
from .rest_request import SECURITY_PREFIX, body_of, user_of
from .service import Security


def create_key(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/api_key`: a key for the caller, limited by the caller's roles."""
    owner = user_of(req)
    descriptors = security.role_descriptors(owner) if owner.run_as_found else {}
    return RestResponse(create_api_key(security.store, owner, descriptors, body_of(req),
                                       now_ms=security.now_ms(),
                                       validate_query=security.validate_query))


def grant_key(security: Security, req: RestRequest) -> RestResponse:
    """`POST /_security/api_key/grant`: create a key owned by the user whose password is given
    (or by the user that one may `run_as`), without that user having key privileges."""
    body = body_of(req)
    grant_type = body.get("grant_type")
    if grant_type != "password":
        raise ActionRequestValidation(
            f"Validation Failed: 1: grant_type [{grant_type}] is not supported by the embedded "
            "engine, use [password];")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ActionRequestValidation("Validation Failed: 1: [username] and [password] are "
                                      "required for grant_type [password];")
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    if body.get("run_as"):
        headers[RUN_AS_HEADER] = str(body["run_as"])
    grantee = security.authenticate(headers, uri="/_security/api_key/grant")
    security.check_run_as(grantee, SECURITY_PREFIX + "api_key/grant")
    descriptors = security.role_descriptors(grantee)
    return RestResponse(create_api_key(security.store, grantee, descriptors,
                                       body.get("api_key") or {}, now_ms=security.now_ms(),
                                       validate_query=security.validate_query))


def get_keys(security: Security, req: RestRequest) -> RestResponse:
    """`GET /_security/api_key` filtered by id, name, username, realm_name or owner."""
    query = req.params
    ids = [query["id"]] if query.get("id") else None
    username, realm = query.get("username"), query.get("realm_name")
    if req.flag("owner"):
        if username or realm:
            raise BadRequest("username or realm name must not be specified when the current "
                             "user should be queried")
        username = user_of(req).username
    with_limited_by = req.flag("with_limited_by")
    _limited_by_needs_manage(security, req, with_limited_by, "get")
    username, ids = _restrict_to_own(security, req, username, ids, "get")
    keys = find_api_keys(security.store, ids=ids, name=query.get("name"), username=username,
                         realm_name=realm, active_only=req.flag("active_only"),
                         now_ms=security.now_ms())
    return RestResponse({"api_keys": [api_key_info(k, with_limited_by=with_limited_by)
                                      for k in keys]})


def query_keys(security: Security, req: RestRequest) -> RestResponse:
    """`GET/POST /_security/_query/api_key`: keys matching a query, sorted and paged; only the
    caller's own keys without `manage_api_key`."""
    with_limited_by = req.flag("with_limited_by")
    _limited_by_needs_manage(security, req, with_limited_by, "query")
    username, ids = _restrict_to_own(security, req, None, None, "query")
    keys = find_api_keys(security.store, ids=ids, username=username)
    return RestResponse(query_api_keys(keys, body_of(req), with_limited_by=with_limited_by))


def _limited_by_needs_manage(security: Security, req: RestRequest,
                             with_limited_by: bool, operation: str) -> None:
    """An API key sees limited-by role descriptors only with `manage_api_key` or higher (its
    `manage_own_api_key` does not cover them), as Elasticsearch's privilege check."""
    user = user_of(req)
    if with_limited_by and user.api_key is not None and \
            not security.permission(user).allows_any_api_key():
        raise security.denied(user, SECURITY_PREFIX + "api_key/" + operation)


def invalidate_keys(security: Security, req: RestRequest) -> RestResponse:
    """`DELETE /_security/api_key` by ids, name, username, realm_name or owner."""
    body = body_of(req)
    ids = list(body.get("ids") or []) + ([body["id"]] if body.get("id") else [])
    username, realm, name = body.get("username"), body.get("realm_name"), body.get("name")
    if body.get("owner"):
        if username or realm:
            raise BadRequest("username or realm name must not be specified when the current "
                             "user should be queried")
        username = user_of(req).username
    elif not (ids or username or realm or name):
        raise ActionRequestValidation(
            "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] "
            "must be specified if [owner] flag is false;")
    username, id_filter = _restrict_to_own(security, req, username, ids or None,
                                           "invalidate")
    keys = find_api_keys(security.store, ids=id_filter, name=name, username=username,
                         realm_name=realm)
    invalidated = [k["id"] for k in keys if not k.get("invalidated")]
    previously = [k["id"] for k in keys if k.get("invalidated")]
    if invalidated:
        security.store.update_api_keys(invalidated, invalidated=True,
                                       invalidation=security.now_ms())
    return RestResponse({"invalidated_api_keys": invalidated,
                         "previously_invalidated_api_keys": previously, "error_count": 0})


def clear_api_key_cache(security: Security, req: RestRequest) -> RestResponse:
    """`POST /_security/api_key/{ids}/_clear_cache`: forget verified keys."""
    security.authenticator.forget()
    return RestResponse({"_nodes": {"total": 1, "successful": 1, "failed": 0},
                         "cluster_name": security.cluster_name, "nodes": {}})


def _restrict_to_own(security: Security, req: RestRequest, username: str | None,
                     ids: list[str] | None, operation: str
                     ) -> tuple[str | None, list[str] | None]:
    """Scope key lookups to what the caller may see: its own key, or its own keys."""
    user = user_of(req)
    if user.api_key is not None:
        own = user.api_key["id"]
        return username, [own] if ids is None else [i for i in ids if i == own]
    if security.permission(user).allows_any_api_key():
        return username, ids
    if username is not None and username != user.username:
        raise security.denied(user, SECURITY_PREFIX + "api_key/" + operation)
    return user.username, ids
