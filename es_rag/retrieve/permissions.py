"""How one user's search is restricted: by the cluster's DLS, or by an ACL filter es-rag adds.

Searching as a user never falls back to the connected (service) identity's view: where the cluster
enforces DLS the search runs as the user (`es_rag.users.user_client`); where it cannot (Basic
license, security off) permissioned search is refused unless `client_side_acl_filter` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.connect import Capabilities
from es_rag.retrieve.filters import In, filter_clauses
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.params import SearchParams
from es_rag.retrieve.search import SearchError
from es_rag.users import UserError, get_user, user_client

log = logging.getLogger(__name__)
ACL_FIELD = "acl"
PUBLIC_ACL = "public"  # readable by everyone, as in roles/es-rag-reader.json
SETTING = "client_side_acl_filter"
SETTING_ENV = "ES_RAG_CLIENT_SIDE_ACL_FILTER"


class PermissionRefused(SearchError, PermissionError):
    """Searching as a user is not possible safely on this cluster, or the user is unknown."""


@dataclass(frozen=True)
class Scope:
    """How `user`'s search is restricted and which client it goes through.

    `enforced_by` is `cluster` (the cluster's DLS, the search runs as the user) or `client`
    (es-rag adds an `acl` terms filter over `principals` to every leg; the cluster does not
    enforce it).
    """

    user: str
    client: Elasticsearch
    enforced_by: str
    principals: tuple[str, ...] = ()

    def restrict(self, params: SearchParams, acl_field: str | None = None) -> SearchParams:
        """`params` with the ACL filter added to every leg when es-rag enforces the ACL
        (on `acl_field`: a source's own ACL field, else the chunks' `acl`)."""
        if self.enforced_by != "client":
            return params
        field = acl_field or ACL_FIELD
        return params.with_(filters=(*params.filters, In(field, self.principals)))

    def restrict_template_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Search-template params with the ACL filter added to their `filters` list."""
        if self.enforced_by != "client":
            return params
        acl = filter_clauses([In(ACL_FIELD, self.principals)])
        return {**params, "filters": [*(params.get("filters") or []), *acl]}

    def admitted(self, hits: Sequence[Hit]) -> list[Hit]:
        """The hits the user may read: all of them under DLS; re-checked against the ACL else."""
        if self.enforced_by != "client":
            return list(hits)
        allowed = set(self.principals)
        kept = [h for h in hits if allowed.intersection(h.acl)]
        if len(kept) != len(hits):
            log.warning("dropped %d hit(s) outside %r's ACL (a template without the filters "
                        "parameter?)", len(hits) - len(kept), self.user)
        return kept


def permission_scope(client: Elasticsearch, caps: Capabilities, as_user: str, *,
                     client_side_acl_filter: bool, strategy: str = "auto") -> Scope:
    """Decide how `as_user`'s search is restricted on this cluster.

    With DLS (security on and a platinum/enterprise/trial license) the search runs as the user.
    Without it, raises PermissionRefused naming the `client_side_acl_filter` setting, unless that
    setting is true: then the ACL filter (the user's name, their `metadata.groups` when security
    is on, and `public`) goes into every leg, and a warning says the cluster does not enforce it.
    """
    try:
        if caps.dls:
            return Scope(as_user, user_client(client, caps, as_user, strategy=strategy),
                         "cluster")
        if not client_side_acl_filter:
            why = ("security is off" if not caps.security_enabled
                   else f"its {caps.license_type} license has no document-level security")
            raise PermissionRefused(
                f"refusing to search as {as_user!r}: the cluster at {caps.url or '?'} does not "
                f"enforce document-level security ({why}). Use a cluster with DLS, or set "
                f"{SETTING} = true ({SETTING_ENV}=true) to let es-rag filter on the acl field "
                "itself, which the cluster then does not enforce", 403)
        groups = get_user(client, as_user).groups if caps.security_enabled else ()
    except UserError as exc:
        raise PermissionRefused(f"cannot search as {as_user!r}: {exc}", exc.status) from None
    principals = tuple(dict.fromkeys((as_user, *groups, PUBLIC_ACL)))
    log.warning("the cluster does not enforce document-level security: es-rag filters %r's "
                "search on acl %s itself (%s = true)", as_user, list(principals), SETTING)
    return Scope(as_user, client, "client", principals)
