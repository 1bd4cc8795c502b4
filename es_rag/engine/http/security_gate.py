"""Security on the HTTP path: authenticate every request, authorize its action, scope its reads.

Every request is authenticated first (401 with `WWW-Authenticate` otherwise). A `/_security/...`
route authorizes its own action (`routes_security.py`); every other request is authorized by its
Elasticsearch action name (a routed request with no known action is refused). Writes are
authorized item by item on their own targets (`authorize_write`, called by the document service
for every single write, bulk item, reindex and delete-by-query copy; the items a bulk sends to
one index are also authorized together on every name they use, `authorize_shard`), alias actions
on every index and alias they name (`alias_gate`). Once authenticated, the request carries its
user's read scope (`security/read_scope.py`, DLS and FLS): the services that read documents apply
it where they read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
from collections.abc import Callable
from urllib.parse import quote, unquote

from ..date_math_names import resolve as resolve_date_math_name
from ..errors import AuthenticationError, BadRequest, EngineError
from ..node import Node
from ..security import (
    REST_ACTIONS,
    SYSTEM_INDEX_WARNING,
    AuthenticatedUser,
    RequestAction,
    Security,
    request_action,
)
from ..security.actions import ALIASES
from ..security.context import current_user
from ..security.privileges import is_index_action
from ..security.read_scope import Matches, ReadScope
from ..write_request import WriteRequest
from .alias_gate import AliasGate
from .rest import RestRequest, RestResponse, Router

SEARCH = REST_ACTIONS["search"]
BULK_SHARD = "indices:data/write/bulk[s]"  # the per-index part of a bulk request
_NO_INDEX = "-*"  # an expression matching no index, for a wildcard the user may target nowhere
_SECURITY_INDICES = (".security", ".security-7")



class SecurityGate:
    """Wraps the router's dispatch with authentication, authorization and the read scope."""

    def __init__(self, security: Security, node: Node, router: Router, matches: Matches
                 ) -> None:
        """`matches` says whether a document matches a query (`SearchService.matches`), for
        the read scope's single-document checks; `router` tells routed requests apart."""
        self.security = security
        self.node = node
        self.router = router
        self.matches = matches

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
        req.read_scope = ReadScope(user, self.security, self._expand, self.matches)
        try:
            if req.path.startswith("/_security/"):
                return inner(req)  # each security route authorizes its own action
            parts = [p for p in req.path.split("/") if p]
            if req.method == "DELETE" and len(parts) == 1 and \
                    any(_names_security_index(n) for n in unquote(parts[0]).split(",")):
                return self._delete_security_index(user, req, inner)
            if len(parts) == 3 and parts[0] in _SECURITY_INDICES and parts[1] == "_doc":
                return self._security_document(user, parts[0], parts[2])
            return inner(self._authorize(user, req))
        finally:
            current_user.reset(token)

    def _authorize(self, user: AuthenticatedUser, req: RestRequest) -> RestRequest:
        """Authorize `req` (raising a 403); the request to serve, alias wildcards narrowed."""
        action = request_action(req.method, req.path)
        if action is None:
            if self.router.has_route(req.method, req.path):
                raise self.security.denied(user, f"{req.method} {req.path}",
                                           "(no action is known for this request)")
            return req  # the router answers: no handler found
        if action.action == SEARCH:
            return req  # narrowed per index by the read scope
        if action.action == ALIASES:
            self.security.authorize(user, action.action)
            return AliasGate(self.security, self.node, user).authorize(req, action.api)
        if action.composite or not is_index_action(action.action):
            self.security.authorize(user, action.action)
            return req
        if action.api == "indices.create" and action.index is not None:
            self._authorize_create_aliases(user, req, action.index)
        return self._narrowed(user, req, action)

    def _authorize_create_aliases(self, user: AuthenticatedUser, req: RestRequest,
                                  index: str) -> None:
        """An index created with aliases needs `indices:admin/aliases` on the index and on
        each alias too (as in Elasticsearch): else `create_index` on `logs-*` would put a new
        index under the `chunks` alias that readers search."""
        body = req.json()
        aliases = body.get("aliases") if isinstance(body, dict) else None
        if isinstance(aliases, dict) and aliases:
            self.security.authorize(user, ALIASES, [resolve_date_math_name(n)
                                                    for n in (index, *aliases)])

    def _narrowed(self, user: AuthenticatedUser, req: RestRequest, action: RequestAction
                  ) -> RestRequest:
        """Authorize an index request; one naming no index, `_all` or wildcards is rewritten to
        the names `user` may target with its action, as Elasticsearch replaces wildcards, so the
        handler never reaches another index (`PUT /_settings` changes only the user's own)."""
        expression = action.index
        if expression is not None and not any(_is_wildcard(p) for p in expression.split(",")):
            self.security.authorize(user, action.action,
                                    [resolve_date_math_name(p) for p in expression.split(",")])
            return req
        if self.security.may_target_all(user, action.action):
            return req
        wildcards = req.params.get("expand_wildcards", "open")
        aliases = action.api != "indices.delete"  # deleting by wildcard never reaches aliases
        names = self.security.authorized_names(user, action.action, expression,
                                               lambda p: self._expand(p, wildcards, aliases))
        joined = ",".join(quote(n, safe="") for n in names) or _NO_INDEX
        parts = req.path.strip("/").split("/")
        if expression is not None:
            parts[[s for s in action.pattern.split("/") if s].index("{index}")] = joined
        elif parts[0] == "_cat":
            parts.append(joined)
        else:
            parts.insert(0, joined)
        return dataclasses.replace(req, path="/" + "/".join(parts))

    def _expand(self, pattern: str, expand_wildcards: str, aliases: bool = True) -> list[str]:
        """Index (and alias) names a wildcard pattern (or `_all`) matches."""
        node = self.node
        found = node.resolve(pattern, ignore_unavailable=True, allow_no_indices=True,
                             expand_wildcards=expand_wildcards, aliases=aliases)
        return [t.index.name for t in found] + [
            alias for alias in (node.alias_names() if aliases else ())
            if pattern in ("_all", "*") or fnmatch.fnmatchcase(alias, pattern)]

    def authorize_write(self, write: WriteRequest, bulk: bool) -> None:
        """Authorize one write of the current user on its own target (see
        `Security.authorize_write`)."""
        user = current_user.get()
        if user is None:
            return
        node = self.node
        index = resolve_date_math_name(write.index)
        exists = index in node.indices or index in node.alias_names()
        concrete = None
        with contextlib.suppress(EngineError):  # an alias without a write index: reported later
            concrete = node.write_index(index, auto_create=False).name if exists else None
        self.security.authorize_write(user, write.op, index, exists=exists,
                                      concrete=concrete, bulk=bulk)

    def authorize_shard(self, names: list[str]) -> None:
        """Authorize the current user's bulk request to one index under the names its items
        use (`indices:data/write/bulk[s]`, as Elasticsearch authorizes a bulk shard request)."""
        user = current_user.get()
        if user is not None:
            self.security.authorize(user, BULK_SHARD,
                                    [resolve_date_math_name(n) for n in names])

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
        req = self._authorize(user, dataclasses.replace(req, path="/" + ",".join(rest)))
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


def _is_wildcard(name: str) -> bool:
    return name == "_all" or "*" in name or "?" in name or name.startswith("-")


def _names_security_index(name: str) -> bool:
    """An index expression naming the `.security` system index (or its alias)."""
    return name in (*_SECURITY_INDICES, ".security*", ".security-*")
