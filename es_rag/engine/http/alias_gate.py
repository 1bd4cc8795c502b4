"""Alias actions authorized on their own targets: every index and every alias they name.

`PUT /{index}/_alias/{name}`, `DELETE /{index}/_alias/{name}` and each action of
`POST /_aliases` need `indices:admin/aliases` (the `manage` privilege) on the concrete indices
and on the alias names, as in Elasticsearch, with its two extra rules for `add` (see
`Security.authorize_alias_action`).
Wildcards are replaced by the names the user may manage before the request runs, so the handler
never touches an index or alias the check did not see.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import orjson

from ..errors import EngineError, IndexNotFound
from ..security import AuthenticatedUser, Security
from ..security.actions import ALIASES
from .rest import RestRequest

if TYPE_CHECKING:
    from ..node import Node

_NAME_KEYS = ("index", "indices", "alias", "aliases")


class AliasGate:
    """Checks and narrows the alias actions of one request made by `user`."""

    def __init__(self, security: Security, node: Node, user: AuthenticatedUser) -> None:
        self.security = security
        self.node = node
        self.user = user

    def authorize(self, req: RestRequest, api: str) -> RestRequest:
        """`req` with its alias actions checked, and wildcards narrowed to permitted names."""
        if api == "indices.update_aliases":
            return self._update_aliases(req)
        index, word, name = [unquote(p) for p in req.path.split("/") if p]
        kind = "add" if api == "indices.put_alias" else "remove"
        # the path forms resolve an alias in the index position too (the handler does)
        indices = self._indices([index], aliases=kind == "remove")
        names = self._aliases(indices, name.split(","), kind)
        self.security.authorize_alias_action(self.user, kind, indices, names)
        path = f"/{','.join(map(_quoted, indices))}/{word}/{','.join(map(_quoted, names))}"
        return dataclasses.replace(req, path=path)

    def _update_aliases(self, req: RestRequest) -> RestRequest:
        body = req.json(required=True)
        actions = body.get("actions") if isinstance(body, dict) else None
        if not isinstance(actions, list):
            return req  # the handler refuses it before doing anything
        checked = [self._action(action) for action in actions]
        return req.with_body(orjson.dumps({**body, "actions": checked}))

    def _action(self, action: Any) -> Any:
        if not isinstance(action, dict) or len(action) != 1:
            return action
        kind, spec = next(iter(action.items()))
        if kind not in ("add", "remove", "remove_index") or not isinstance(spec, dict):
            return action
        given = _names(spec, "indices", "index")
        if given is None:
            return action  # the handler refuses the request before doing anything
        indices = self._indices(given, aliases=False)
        out = {k: v for k, v in spec.items() if k not in _NAME_KEYS}
        out["indices"] = indices
        names: list[str] = []
        if kind != "remove_index":
            wanted = _names(spec, "aliases", "alias")
            if wanted is None:
                return action
            names = self._aliases(indices, wanted, kind)
            if kind == "remove" and names != wanted and "must_exist" not in spec:
                out["must_exist"] = False  # wildcards: no index has to hold every match
            out["aliases"] = names
        self.security.authorize_alias_action(self.user, kind, indices, names)
        return {kind: out}

    def _indices(self, expressions: list[str], *, aliases: bool) -> list[str]:
        """Concrete index names: wildcards narrowed to the indices the user may manage (none
        left: index not found), explicit names kept for the check to allow or refuse."""
        out: list[str] = []
        for expression in expressions:
            for part in expression.split(","):
                if _is_wildcard(part):
                    found = self._resolve(part, aliases)
                    allowed = [n for n in found if self._may(n)]
                    if not allowed:
                        raise IndexNotFound(part)
                    out += allowed
                else:
                    out += self._resolve(part, aliases) or [part]
        return list(dict.fromkeys(out))

    def _resolve(self, part: str, aliases: bool) -> list[str]:
        return [t.index.name for t in self.node.resolve(
            part, aliases=aliases, ignore_unavailable=True, allow_no_indices=True)]

    def _aliases(self, indices: list[str], wanted: list[str], kind: str) -> list[str]:
        """Alias names: for `remove`, wildcards narrowed to the user's existing aliases."""
        out: list[str] = []
        for pattern in wanted:
            if kind == "add" or not _is_wildcard(pattern):
                out.append(pattern)
                continue
            present = [a for name in indices if name in self.node.indices
                       for a in self.node.indices[name].aliases
                       if pattern == "_all" or fnmatch.fnmatchcase(a, pattern)]
            allowed = [a for a in present if self._may(a)]
            if not allowed:
                raise EngineError(f"aliases [{pattern}] missing", status=404,
                                  error_type="aliases_not_found_exception",
                                  **{"resource.type": "aliases", "resource.id": pattern})
            out += allowed
        return list(dict.fromkeys(out))

    def _may(self, name: str) -> bool:
        return self.security.is_authorized(self.user, ALIASES, name)


def _names(spec: dict[str, Any], plural: str, singular: str) -> list[str] | None:
    """The names an alias action gives (a string or a list of strings, as Elasticsearch
    parses them); None when it gives none; a 400 when they are not strings."""
    given = spec.get(plural) or spec.get(singular)
    if given is None:
        return None
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise EngineError("[aliases] failed to parse field [actions]", status=400,
                          error_type="x_content_parse_exception")
    return names


def _is_wildcard(name: str) -> bool:
    return name == "_all" or "*" in name or "?" in name


def _quoted(name: str) -> str:
    return quote(name, safe="")
