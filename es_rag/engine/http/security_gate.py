"""Security on the HTTP path: authenticate every request, authorize its action, narrow reads.

Every request is authenticated first (401 with `WWW-Authenticate` otherwise). `/_security/...`
is served by the security package; every other request is authorized by its Elasticsearch action
name. Search-family reads (search, count, msearch, templates, delete_by_query, rank_eval) resolve
only the indices the user may read and carry the user's DLS query as a required filter, the way
filtered aliases do, so the query, the kNN pre-filter, retrievers, aggregations and highlight all
see the same restricted set; `get`/`mget` hide documents outside it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..errors import AuthenticationError, BadRequest, IndexNotFound
from ..security import (
    REST_ACTIONS,
    SYSTEM_INDEX_WARNING,
    AuthenticatedUser,
    Security,
    handle,
    request_action,
)
from .rest import RestRequest, RestResponse

if TYPE_CHECKING:
    from ..app import EngineApp
    from ..node import Target

SEARCH = REST_ACTIONS["search"]
_SECURITY_INDICES = (".security", ".security-7")

current_user: contextvars.ContextVar[AuthenticatedUser | None] = contextvars.ContextVar(
    "engine_user", default=None)


class SecurityGate:
    """Wraps the router's dispatch with authentication, authorization and DLS."""

    def __init__(self, app: EngineApp, security: Security) -> None:
        self.app = app
        self.security = security

    def dispatch(self, req: RestRequest, inner: Callable[[RestRequest], RestResponse]
                 ) -> RestResponse:
        """Serve `req` as its authenticated user."""
        query = "&".join(f"{k}={v}" for k, v in req.params.items())
        try:
            user = self.security.authenticate(req.headers, uri=req.path + (
                "?" + query if query else ""), address=req.remote_address)
        except AuthenticationError as err:
            headers = {name: ", ".join(value) if isinstance(value, list) else value
                       for name, value in getattr(err, "headers", {}).items()}
            return RestResponse(err.body(), err.status, headers=headers)
        token = current_user.set(user)
        try:
            if req.path.startswith("/_security/"):
                result = handle(self.security, req.method, req.path, req.params, req.json(),
                                user)
                if result is not None:
                    return RestResponse(result[1], result[0])
            parts = [p for p in req.path.split("/") if p]
            if req.method == "DELETE" and len(parts) == 1 and \
                    any(_names_security_index(n) for n in unquote(parts[0]).split(",")):
                return self._delete_security_index(user, req, inner)
            if len(parts) == 3 and parts[0] in _SECURITY_INDICES and parts[1] == "_doc":
                return self._security_document(user, parts[0], parts[2])
            self._authorize(user, req)
            return inner(req)
        finally:
            current_user.reset(token)

    def _authorize(self, user: AuthenticatedUser, req: RestRequest) -> None:
        action = request_action(req.method, req.path)
        if action is None:
            return
        if action.action == SEARCH:
            return  # narrowed per index in `targets`
        if action.composite or action.index is None:
            self.security.authorize(user, action.action)
        else:
            self.security.authorize(user, action.action, action.index.split(","))

    def _delete_security_index(self, user: AuthenticatedUser, req: RestRequest,
                               inner: Callable[[RestRequest], RestResponse]) -> RestResponse:
        """`DELETE /.security-7` (or `.security*`): as in Elasticsearch, the native realm's
        users, roles, API keys and application privileges are gone; the `elastic` user keeps
        its password (Elasticsearch's bootstrap password lives outside the index too)."""
        names = unquote(req.path.strip("/")).split(",")
        if ".security" in names:
            raise BadRequest("The provided expression [.security] matches an alias, specify the "
                             "corresponding concrete indices instead.")
        self.security.authorize(user, REST_ACTIONS["indices.delete"], [".security-7"])
        self.security.reset()
        warning = {"Warning": f'299 Elasticsearch-9.1.0 "{SYSTEM_INDEX_WARNING}"'}
        rest = [n for n in names if not _names_security_index(n)]
        if not rest:
            return RestResponse({"acknowledged": True}, 200, headers=warning)
        req = dataclasses.replace(req, path="/" + ",".join(rest))
        self._authorize(user, req)
        response = inner(req)
        response.headers = {**(response.headers or {}), **warning}
        return response

    def _security_document(self, user: AuthenticatedUser, index: str, doc_id: str
                           ) -> RestResponse:
        self.security.authorize(user, REST_ACTIONS["get"], [index])
        warning = {"Warning": f'299 Elasticsearch-9.1.0 "{SYSTEM_INDEX_WARNING}"'}
        doc = self.security.security_document(doc_id)
        if doc is None:
            return RestResponse({"_index": ".security-7", "_id": doc_id, "found": False}, 404,
                                headers=warning)
        return RestResponse(doc, 200, headers=warning)

    def targets(self, index: str | None, options: dict[str, Any],
                resolve: Callable[[str | None], list[Target]]) -> list[Target]:
        """The search targets the current user may read, each carrying the user's DLS filter."""
        user = current_user.get()
        if user is None:
            return resolve(index)
        node = self.app.node

        def expand(pattern: str) -> list[str]:
            found = node.resolve(pattern, ignore_unavailable=True, allow_no_indices=True,
                                 expand_wildcards=options["expand_wildcards"])
            names = [t.index.name for t in found]
            names += [alias for alias in node.alias_names()
                      if pattern in ("_all", "*") or fnmatch.fnmatchcase(alias, pattern)]
            return names

        names = self.security.authorized_names(user, SEARCH, index, expand)
        if not names:
            if not options["allow_no_indices"]:
                raise IndexNotFound(index or "_all")
            return []
        resolved = resolve(",".join(names))
        for target in resolved:
            aliases = [n for n in names if n in target.index.aliases]
            dls = self.security.dls_query(user, target.index.name, aliases=aliases)
            if dls is not None:
                base = target.alias_filters
                target.alias_filters = [dls if not base else
                                        {"bool": {"filter": [{"bool": {"should": base}}, dls]}}]
        return resolved

    def visible(self, index: str, doc_id: str) -> bool:
        """Whether the current user's DLS lets them read the document (for get and mget)."""
        user = current_user.get()
        if user is None:
            return True
        service = self.app.node.get_index(index)
        dls = self.security.dls_query(user, service.name)
        if dls is None:
            return True
        service.shard.refresh()  # a get is real-time: the check must see unrefreshed writes
        query = {"bool": {"filter": [{"ids": {"values": [doc_id]}}, dls]}}
        return self.app.search.count(service.name, {"query": query}, {})["count"] > 0


def _names_security_index(name: str) -> bool:
    """An index expression naming the `.security` system index (or its alias)."""
    return name in (*_SECURITY_INDICES, ".security*", ".security-*")
