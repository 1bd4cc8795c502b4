"""The engine's security service: authenticate, authorize and restrict reads (DLS) per request.

The HTTP layer builds one `Security` for the data directory and, for every request, calls
`authenticate`, then `authorize` with the Elasticsearch action name (see `actions.py`), then
narrows every read with `dls_query`. Security REST endpoints are routed by
`http/routes_security.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from es_rag.engine.errors import SecurityError

from .actions import (
    ALIAS_WIDER_REFUSED,
    ALIASES,
    AUTO_CREATE,
    DLS_ALIAS_REFUSED,
    DLS_BULK_UPDATE_REFUSED,
    DLS_UPDATE_REFUSED,
    ITEM_ACTIONS,
)
from .authn import AuthenticatedUser, Authenticator
from .dls import StoredScript, combine, render_role_query
from .file_realm import FileRealm
from .fls import FieldAccess
from .permissions import Permission, RolesPermission
from .privileges import Privilege, is_cluster_action, pattern_matches, privileges_granting
from .roles import QueryValidator
from .store import SecurityStore
from .throttle import LoginThrottle
from .tokens import TokenService

SEARCH_ACTION = "indices:data/read/search"
SECURITY_INDICES = (".security", ".security-7")
SYSTEM_INDEX_WARNING = ("[CRITICAL] this request accesses system indices: [.security-7], but in a "
                        "future major version, direct access to system indices will be prevented "
                        "by default")


class Security:
    """Users, roles, API keys and the checks every request goes through.

    `validate_query` is the engine's query-DSL validator (raises `EngineError` on a bad query), used
    when roles and API keys with DLS queries are created; `stored_script` returns the source of a
    stored mustache script by id, for `{"template": {"id": …}}` role queries.
    """

    def __init__(self, data_dir: Path, *, validate_query: QueryValidator | None = None,
                 stored_script: StoredScript | None = None,
                 clock: Callable[[], float] = time.time, elastic_password: str | None = None,
                 cluster_name: str = "es-rag-engine",
                 login_throttle: LoginThrottle | None = None) -> None:
        self.store = SecurityStore(data_dir, elastic_password=elastic_password)
        self.authenticator = Authenticator(self.store, clock=clock, throttle=login_throttle,
                                           file_realm=FileRealm(Path(data_dir) / "config"))
        self.tokens = TokenService(self.store, self.now_ms, self.authenticator.user)
        self.authenticator.bearer = self.tokens.authenticate
        self.validate_query = validate_query
        self.stored_script = stored_script
        self.clock = clock
        self.cluster_name = cluster_name

    def now_ms(self) -> int:
        """The current time in epoch milliseconds."""
        return int(self.clock() * 1000)

    # authentication ----------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str], *, uri: str = "/",
                     address: str | None = None) -> AuthenticatedUser:
        """The user a request from client `address` runs as; raises a 401
        `AuthenticationError` (429 while failed logins are throttled), with `.headers`."""
        return self.authenticator.authenticate(headers, uri=uri, address=address)

    # authorization -----------------------------------------------------------------------
    def permission(self, user: AuthenticatedUser) -> Permission:
        """What `user` may do (for API keys, the key's descriptors limited by its owner's)."""
        if user.api_key is not None:
            limited_by = RolesPermission((user.api_key.get("limited_by") or {}).values())
            own = user.api_key.get("role_descriptors") or {}
            if not own:
                return Permission(limited_by)
            return Permission(RolesPermission(own.values()), limited_by)
        if user.is_run_as and not user.run_as_found:
            return Permission(RolesPermission(()))
        return Permission(RolesPermission(self.role_descriptors(user).values()))

    def role_descriptors(self, user: AuthenticatedUser) -> dict[str, dict[str, Any]]:
        """The existing roles among those assigned to a (non-API-key) user."""
        found = {}
        for name in user.roles:
            role = self.store.get_role(name)
            if role is not None:
                found[name] = role
        return found

    def authorize(self, user: AuthenticatedUser, action: str, indices: Iterable[str] = ()
                  ) -> None:
        """Raise a 403 `SecurityError` worded like Elasticsearch's unless `action` is allowed.

        `indices` are the index, alias or data-stream names the request targets explicitly
        (after removing wildcard expansions the user may not see, see `is_authorized`). An index
        action with no indices is checked as a composite request (msearch, mget, bulk): allowed
        when some role grants the action on some index.
        """
        self.check_run_as(user, action)
        permission = self.permission(user)
        if is_cluster_action(action) or not action.startswith("indices:"):
            if not permission.allows_cluster(action):
                raise self.denied(user, action)
            return
        names = list(indices)
        if not names:
            if not permission.allows_action_somewhere(action):
                raise self.denied(user, action)
            return
        refused = [n for n in names if not permission.allows_index(action, [n])]
        if refused:
            raise self.denied(user, action, f"on indices [{','.join(refused)}]")

    def authorize_application_privileges(self, user: AuthenticatedUser, action: str,
                                         applications: list[str]) -> None:
        """Authorize an application-privileges action (`privilege/put`, `get`, `delete`) on
        `applications` (none: every application): granted by the cluster privilege, or by the
        global `application.manage` privilege covering each application (`*` for none)."""
        self.check_run_as(user, action)
        if not self.permission(user).allows_application_action(action, applications or ["*"]):
            raise self.denied(user, action)

    def authorize_write(self, user: AuthenticatedUser, op: str, name: str, *, exists: bool,
                        concrete: str | None = None, bulk: bool = False) -> None:
        """Authorize one document write (a bulk item or a single call) on its own target.

        `op` is index, create, update or delete; `name` the index or alias written to (after
        any ingest pipeline), `concrete` the index it resolves to. As in Elasticsearch, a
        missing index needs `indices:admin/auto_create`, the item its implied action
        (`create_doc` grants only `op_type/create`), and an update is refused (400) where
        document-level security restricts the update action.
        """
        if not exists and op != "delete":
            self.authorize(user, AUTO_CREATE, [name])
        action = ITEM_ACTIONS[f"bulk.{op}"]
        self.authorize(user, action, [name])
        aliases = [concrete] if concrete and concrete != name else []
        if op == "update" and self.restricts(user, name, aliases=aliases, action=action):
            raise SecurityError(DLS_BULK_UPDATE_REFUSED if bulk else DLS_UPDATE_REFUSED,
                                status=400)

    def authorize_alias_action(self, user: AuthenticatedUser, kind: str, indices: list[str],
                               aliases: list[str]) -> None:
        """Authorize one `add`, `remove` or `remove_index` alias action on concrete `indices`.

        As Elasticsearch: `indices:admin/aliases` (the `manage` privilege) on every index and
        every alias named; adding is refused (400) on an index where document-level security
        applies to the user, and (403) when the alias would grant more than the index does.
        """
        self.check_run_as(user, ALIASES)
        permission = self.permission(user)
        refused = [n for n in [*indices, *aliases] if not permission.allows_index(ALIASES, [n])]
        if refused:
            raise self.denied(user, ALIASES, f"on indices [{','.join(refused)}]")
        if kind != "add":
            return
        if any(self.restricts(user, index, action=ALIASES) for index in indices):
            raise SecurityError(DLS_ALIAS_REFUSED, status=400)
        if not all(permission.grants_no_more_on(alias, index)
                   for index in indices for alias in aliases):
            raise SecurityError(ALIAS_WIDER_REFUSED)

    def authorized_names(self, user: AuthenticatedUser, action: str, expression: str | None,
                         expand: Callable[[str], Iterable[str]]) -> list[str]:
        """Rewrite an index expression to the names `user` may target, as ES's security does.

        Wildcards (`*`, `_all`, `logs-*`, or no expression) are replaced by the authorized names
        among `expand(pattern)` (index and alias names the pattern matches); explicit names are
        kept and authorized, raising a 403 listing every refused one (or, with none, when the
        action is granted on no index at all); `-pattern` exclusions
        apply to what came before. An empty list means nothing may be targeted: answer an empty
        result (404 with `allow_no_indices=false`), never fall back to all indices.
        """
        parts = [p.strip() for p in (expression or "_all").split(",") if p.strip()] or ["_all"]
        chosen: dict[str, None] = {}
        explicit: list[str] = []
        permission = self.permission(user)
        for i, part in enumerate(parts):
            if part.startswith("-") and i > 0:
                for name in [n for n in chosen if pattern_matches(part[1:], n)]:
                    del chosen[name]
            elif part == "_all" or "*" in part or "?" in part:
                for name in expand(part):
                    if permission.allows_index(action, [name]):
                        chosen[name] = None
            else:
                explicit.append(part)
                chosen[part] = None
        # with no explicit name, the action must still be granted on some index (as in ES)
        self.authorize(user, action, explicit)
        return list(chosen)

    def may_target_all(self, user: AuthenticatedUser, action: str) -> bool:
        """Whether the index `action` is allowed on every index (a role granting it on `*`)."""
        self.check_run_as(user, action)
        return self.permission(user).has_index_privilege("*", Privilege(action, (action,)))

    def is_authorized(self, user: AuthenticatedUser, action: str, name: str) -> bool:
        """Whether `action` is allowed on index or alias `name` (to filter wildcard expansions)."""
        return self.permission(user).allows_index(action, [name])

    def check_run_as(self, user: AuthenticatedUser, action: str) -> None:
        """Refuse (403) when the authenticating user may not run as the effective user."""
        if not user.is_run_as:
            return
        authenticating = user.authenticating
        if user.run_as_found and self.permission(authenticating).allows_run_as(user.username):
            return
        who = _subject(authenticating)
        raise SecurityError(f"action [{action}] is unauthorized for {who}"
                            f"{self._roles_text(authenticating)}, because {who} is unauthorized "
                            f"to run as [{user.username}]")

    def denied(self, user: AuthenticatedUser, action: str, context: str | None = None
               ) -> SecurityError:
        """The 403 Elasticsearch answers when `user` may not perform `action`."""
        who = _subject(user.authenticating)
        if user.is_run_as:
            who += f" run as [{user.username}]"
        message = f"action [{action}] is unauthorized for {who}{self._roles_text(user)}"
        if context:
            message += " " + context
        granting = privileges_granting(action)
        if granting:
            kind = "cluster" if is_cluster_action(action) else "index"
            message += f", this action is granted by the {kind} privileges [{','.join(granting)}]"
        return SecurityError(message)

    def _roles_text(self, subject: AuthenticatedUser) -> str:
        if subject.api_key is not None:
            return ""
        effective = sorted(self.role_descriptors(subject))
        text = f" with effective roles [{','.join(effective)}]"
        missing = sorted(set(subject.roles) - set(effective))
        if missing:
            text += f" (assigned roles [{','.join(missing)}] were not found)"
        return text

    # document-level security -------------------------------------------------------------
    def dls_query(self, user: AuthenticatedUser, index: str, *, aliases: Iterable[str] = (),
                  action: str = SEARCH_ACTION) -> dict[str, Any] | None:
        """The query restricting what `user` reads in `index` (reached through `aliases`).

        None means no restriction. Role queries granting `action` are OR-ed (a granting role
        without a query lifts the restriction); an API key's restriction is AND-ed with its
        owner's. Templated queries are rendered with `_user`. When nothing grants `action`, the
        result matches no document (callers should have refused the request already).
        """
        permission = self.permission(user)
        params = user.template_params()
        parts = [None if texts is None else
                 [render_role_query(t, params, self.stored_script) for t in texts]
                 for texts in permission.dls_queries(action, [index, *aliases])]
        return combine(parts)

    def field_access(self, user: AuthenticatedUser, index: str, *, aliases: Iterable[str] = (),
                     action: str = SEARCH_ACTION) -> FieldAccess | None:
        """The fields `user` sees in `index` (reached through `aliases`); None: all of them."""
        return self.permission(user).field_access(action, [index, *aliases])

    def restricts(self, user: AuthenticatedUser, index: str, *, aliases: Iterable[str] = (),
                  action: str = SEARCH_ACTION) -> bool:
        """Whether document- or field-level security applies to `user` on `index`."""
        return self.dls_query(user, index, aliases=aliases, action=action) is not None or \
            self.field_access(user, index, aliases=aliases, action=action) is not None

    # the .security system index ---------------------------------------------------------
    def reset(self) -> None:
        """Drop all native users, roles, API keys and application privileges, as deleting the
        `.security` index does in Elasticsearch (REST test suites wipe it between tests)."""
        self.store.reset()
        self.authenticator.forget()

    def security_document(self, doc_id: str) -> dict[str, Any] | None:
        """`GET /.security/_doc/user-<name>` as Elasticsearch answers it (superusers only;
        send `SYSTEM_INDEX_WARNING` as a `Warning` header), or None for any other document."""
        record = self.store.get_user(doc_id[len("user-"):]) if doc_id.startswith("user-") else None
        if record is None or record.get("reserved"):
            return None
        source = {"username": record["username"], "password": record["password_hash"],
                  "roles": record["roles"], "full_name": record.get("full_name"),
                  "email": record.get("email"), "metadata": record.get("metadata") or {},
                  "enabled": record.get("enabled", True), "type": "user"}
        return {"_index": ".security-7", "_id": doc_id, "_version": 1, "_seq_no": 0,
                "_primary_term": 1, "found": True, "_source": source}


def _subject(user: AuthenticatedUser) -> str:
    text = f"user [{user.username}]"
    if user.api_key is not None:
        text = f"API key id [{user.api_key['id']}] of " + text
    return text
