"""End users of permission-aware RAG: add, list and delete them, and get a client acting as one.

A user's groups live in the user's `metadata.groups`, which the reader role's templated DLS query
(`roles/es-rag-reader.json`) turns into the `acl` values the user may read.

Acting as a user (`user_client`) takes one of two routes, chosen by what the connected identity
may do:

- `run_as`: every request carries `es-security-runas-user`. Stateless, and the cluster evaluates
  the user's roles and DLS templates itself at each request, so a change of roles or groups takes
  effect at once; it needs the powerful `run_as` privilege on the connected identity. The
  `es-rag-admin` role grants it only on the users es-rag manages, named `es-rag-user-*`
  (`roles/es-rag-admin.json`), never on reserved users, superusers or other administrators.
- `api_key`: a key for the user is created by the connected identity with `role_descriptors`
  copied from the user's roles, templated DLS queries rendered for the user beforehand (an API
  key evaluates `_user` as its owner, not as the end user). Needs only `manage_api_key` and
  `read_security`; the key's access is the intersection of those descriptors and its owner's
  privileges, so it never reads more than either. Keys are cached per user until shortly before
  they expire, and replaced (the old one invalidated) as soon as the user's roles or groups
  change, since the user and roles are read again at every call.

`auto` (the default) takes `run_as` when the cluster accepts it for this user, else `api_key`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from es_rag.connect import Capabilities, error_reason
from es_rag.errors import EsRagError

RUN_AS_HEADER = "es-security-runas-user"
READER_ROLE = "es-rag-reader"
ROLE_PREFIX = "es-rag-"
STRATEGIES = ("auto", "run_as", "api_key")
API_KEY_LIFETIME_S = 3600
API_KEY_RENEW_MARGIN_S = 300
RUN_AS_PROBE_TTL_S = 60.0
_DESCRIPTOR_KEYS = ("cluster", "indices", "applications")
_NO_ACCESS = {"es-rag-no-access": {"cluster": [], "indices": []}}


class UserError(EsRagError, RuntimeError):
    """A user cannot be added, found, deleted or acted as; the message names the user and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UserInfo:
    """An es-rag user as the cluster stores it."""

    username: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    full_name: str | None = None
    email: str | None = None
    enabled: bool = True
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_es(cls, username: str, body: Mapping[str, Any]) -> UserInfo:
        """Build from one entry of a `GET _security/user` response."""
        metadata = dict(body.get("metadata") or {})
        groups = metadata.get("groups") or []
        return cls(username=username, roles=tuple(body.get("roles") or ()),
                   groups=tuple([groups] if isinstance(groups, str) else groups),
                   full_name=body.get("full_name"), email=body.get("email"),
                   enabled=bool(body.get("enabled", True)), metadata=metadata)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        out = asdict(self)
        out.update(roles=list(self.roles), groups=list(self.groups))
        return out

    def template_user(self) -> dict[str, Any]:
        """The `_user` object a templated role query sees for this user."""
        return {"username": self.username, "roles": list(self.roles),
                "full_name": self.full_name, "email": self.email, "metadata": dict(self.metadata),
                "enabled": self.enabled}


def _fail(action: str, exc: ApiError) -> UserError:
    return UserError(f"{action} failed ({exc.meta.status}): {error_reason(exc)}", exc.meta.status)


def _check_name(username: str) -> str:
    if not isinstance(username, str) or not username.strip() or username != username.strip():
        raise UserError(f"invalid user name {username!r}: it must be non-empty and may not begin "
                        "or end with whitespace")
    return username


def _check_groups(groups: Iterable[str]) -> list[str]:
    if isinstance(groups, str):
        raise UserError(f"groups must be a list of names, not the string {groups!r}")
    out = list(groups)
    for group in out:
        if not isinstance(group, str) or not group.strip():
            raise UserError(f"invalid group name {group!r}: it must be a non-empty string")
    return out


def add_user(client: Elasticsearch, username: str, password: str, *, groups: Sequence[str],
             roles: Sequence[str] = (READER_ROLE,), full_name: str | None = None,
             email: str | None = None) -> UserInfo:
    """Create (or update) a native user with es-rag roles and `metadata.groups`.

    `metadata.groups` is always set, `[]` when the user is in no group: the reader role's
    templated DLS query would otherwise render to invalid JSON for this user.
    Raises UserError naming the problem (short password, unknown field, no privilege...).
    """
    _check_name(username)
    if not password or len(password) < 6:
        raise UserError(f"the password of user {username!r} must have at least 6 characters")
    group_list = _check_groups(groups)
    if isinstance(roles, str) or not roles:
        raise UserError(f"user {username!r} needs at least one role (e.g. {READER_ROLE})")
    body: dict[str, Any] = {"password": password, "roles": list(roles),
                            "metadata": {"groups": group_list}}
    if full_name is not None:
        body["full_name"] = full_name
    if email is not None:
        body["email"] = email
    try:
        client.security.put_user(username=username, **body)
    except ApiError as exc:
        raise _fail(f"adding user {username!r}", exc) from None
    return UserInfo(username=username, roles=tuple(roles), groups=tuple(group_list),
                    full_name=full_name, email=email, metadata={"groups": group_list})


def get_user(client: Elasticsearch, username: str) -> UserInfo:
    """One user; UserError (status 404) when there is no such user."""
    _check_name(username)
    try:
        body = client.security.get_user(username=username).body
    except ApiError as exc:
        if exc.meta.status == 404:
            raise UserError(f"there is no user named {username!r}", 404) from None
        raise _fail(f"reading user {username!r}", exc) from None
    if username not in body:
        raise UserError(f"there is no user named {username!r}", 404)
    return UserInfo.from_es(username, body[username])


def list_users(client: Elasticsearch) -> list[UserInfo]:
    """The es-rag users (those holding an `es-rag-*` role), sorted by name."""
    try:
        body = client.security.get_user().body
    except ApiError as exc:
        raise _fail("listing users", exc) from None
    users = [UserInfo.from_es(name, spec) for name, spec in body.items()]
    return sorted((u for u in users if any(r.startswith(ROLE_PREFIX) for r in u.roles)),
                  key=lambda u: u.username)


def delete_user(client: Elasticsearch, username: str) -> None:
    """Delete a user and invalidate the API keys es-rag made for them."""
    _check_name(username)
    try:
        client.security.delete_user(username=username)
    except ApiError as exc:
        if exc.meta.status == 404:
            raise UserError(f"there is no user named {username!r}", 404) from None
        raise _fail(f"deleting user {username!r}", exc) from None
    _KEYS.forget(client, username)


def _render(query: Any, user: UserInfo, client: Elasticsearch) -> Any:
    """A role's DLS query with a `{"template": …}` rendered for `user` (ES's own mustache)."""
    from es_rag.engine.mustache import render  # Elasticsearch's mustache flavour (toJson, escaping)

    if isinstance(query, str):
        query = json.loads(query)
    template = query.get("template") if isinstance(query, dict) else None
    if not isinstance(template, dict):
        return query
    source = template.get("source")
    if source is None:
        try:
            source = client.get_script(id=template["id"]).body["script"]["source"]
        except (ApiError, KeyError) as exc:
            raise UserError(f"the DLS template {template.get('id')!r} of a role of user "
                            f"{user.username!r} cannot be read: {exc}") from None
    if not isinstance(source, str):
        source = json.dumps(source)
    params = {**(template.get("params") or {}), "_user": user.template_user()}
    rendered = render(source, params)
    try:
        return json.loads(rendered)
    except ValueError:
        raise UserError(f"the DLS query of a role of user {user.username!r} renders to invalid "
                        f"JSON for that user: {rendered}") from None


def role_descriptors_for(client: Elasticsearch, user: UserInfo) -> dict[str, Any]:
    """The user's roles as API key `role_descriptors`, DLS templates rendered for the user.

    A user with no readable role gets a descriptor granting nothing (an API key with no
    descriptors would inherit all of its owner's access).
    """
    if not user.roles:
        return dict(_NO_ACCESS)
    try:
        roles = client.security.get_role(name=",".join(user.roles)).body
    except ApiError as exc:
        if exc.meta.status == 404:
            return dict(_NO_ACCESS)
        raise _fail(f"reading the roles of user {user.username!r}", exc) from None
    descriptors: dict[str, Any] = {}
    for name, role in roles.items():
        descriptor = {k: role[k] for k in _DESCRIPTOR_KEYS if role.get(k)}
        descriptor["indices"] = [
            {**grant, "query": _render(grant["query"], user, client)} if grant.get("query")
            else grant for grant in descriptor.get("indices", [])]
        descriptors[name] = descriptor
    return descriptors or dict(_NO_ACCESS)


@dataclass
class _Key:
    digest: str
    key_id: str
    encoded: str
    renew_at: float


def _slot(client: Elasticsearch, username: str) -> tuple[str, str]:
    """A cache key: the cluster's nodes and the connected credentials (hashed), and the user."""
    nodes = ",".join(sorted(str(n.base_url) for n in client.transport.node_pool.all()))
    owner = str(getattr(client, "_headers", {}).get("authorization", ""))
    return f"{nodes}|{hashlib.sha256(owner.encode()).hexdigest()}", username


class _ApiKeyCache:
    """Per-user API keys made by this process, keyed by cluster, owner credentials and user."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], _Key] = {}
        self._lock = threading.Lock()

    def key_for(self, client: Elasticsearch, user: UserInfo,
                descriptors: Mapping[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(descriptors, sort_keys=True).encode()).hexdigest()
        slot = _slot(client, user.username)
        with self._lock:
            cached = self._keys.get(slot)
            if cached and cached.digest == digest and cached.renew_at > time.monotonic():
                return cached.encoded
            try:
                created = client.security.create_api_key(
                    name=f"es-rag-user-{user.username}", expiration=f"{API_KEY_LIFETIME_S}s",
                    role_descriptors=dict(descriptors),
                    metadata={"es_rag": {"on_behalf_of": user.username}}).body
            except ApiError as exc:
                raise _fail(f"creating an API key for user {user.username!r}", exc) from None
            self._keys[slot] = _Key(digest, created["id"], created["encoded"],
                                    time.monotonic() + API_KEY_LIFETIME_S
                                    - API_KEY_RENEW_MARGIN_S)
        if cached:
            _invalidate(client, cached.key_id)
        return created["encoded"]

    def forget(self, client: Elasticsearch, username: str) -> None:
        with self._lock:
            cached = self._keys.pop(_slot(client, username), None)
        if cached:
            _invalidate(client, cached.key_id)


def _invalidate(client: Elasticsearch, key_id: str) -> None:
    client.options(ignore_status=(400, 403, 404)).security.invalidate_api_key(ids=[key_id])


_KEYS = _ApiKeyCache()
_RUN_AS_PROBES: dict[tuple[str, str], tuple[bool, float]] = {}


def may_run_as(client: Elasticsearch, username: str) -> bool:
    """Whether the connected identity may run requests as `username` (probed, cached 60 s)."""
    slot = _slot(client, username)
    known = _RUN_AS_PROBES.get(slot)
    if known and known[1] > time.monotonic():
        return known[0]
    try:
        who = client.options(headers={RUN_AS_HEADER: username}).security.authenticate().body
        allowed = who.get("username") == username
    except ApiError as exc:
        if exc.meta.status != 403:
            raise _fail(f"checking whether requests may run as {username!r}", exc) from None
        allowed = False
    _RUN_AS_PROBES[slot] = (allowed, time.monotonic() + RUN_AS_PROBE_TTL_S)
    return allowed


def user_client(client: Elasticsearch, caps: Capabilities, username: str, *,
                strategy: str = "auto") -> Elasticsearch:
    """A client whose every request is made as `username`, so the cluster's DLS applies to them.

    `strategy` is `run_as`, `api_key` or `auto` (run_as when the connected identity may run as
    this user, else a per-user API key); see the module docstring for the trade-off.
    Raises UserError when security is off, the user does not exist or is disabled, or the
    requested strategy is refused.
    """
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {strategy!r} (accepted: {', '.join(STRATEGIES)})")
    _check_name(username)
    if not caps.security_enabled:
        raise UserError(f"security is off on {caps.url or 'the cluster'}: there are no users, so "
                        f"nothing can run as {username!r}")
    if strategy == "run_as" or (strategy == "auto" and may_run_as(client, username)):
        if strategy == "run_as" and not may_run_as(client, username):
            raise UserError(f"the cluster refused to run requests as {username!r} (403): the "
                            "connected identity lacks the run_as privilege for that user, or "
                            "the user does not exist", 403)
        return client.options(headers={RUN_AS_HEADER: username})
    try:
        user = get_user(client, username)
    except UserError as exc:
        if exc.status != 403:
            raise
        raise UserError(f"cannot act as {username!r}: the connected identity may not run as "
                        "that user (the run_as of roles/es-rag-admin.json covers only the users "
                        "es-rag manages) nor read users to make a per-user API key "
                        f"(read_security): {exc}", 403) from None
    if not user.enabled:
        raise UserError(f"user {username!r} is disabled", 403)
    encoded = _KEYS.key_for(client, user, role_descriptors_for(client, user))
    return client.options(api_key=encoded)
