"""What a set of role descriptors allows: cluster actions, index actions, run-as, applications.

`RolesPermission` is the union of some roles; `Permission` is what a request may do: a user's
roles, or for an API key its own descriptors intersected with its owner's (`limited_by`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fls import FieldAccess, FieldGroup
from .privileges import (
    Privilege,
    any_matches,
    cluster_privilege,
    index_privilege,
    pattern_covers,
    pattern_matches,
)

RESTRICTED_PREFIX = ".security"  # system indices holding users, roles and keys

ApplicationDefinitions = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class IndexGroup:
    """One `indices` entry of a role: name patterns, privileges, optional DLS query text and
    field security (None: every field)."""

    names: tuple[str, ...]
    privileges: tuple[Privilege, ...]
    query: str | None
    allow_restricted_indices: bool = False
    fields: FieldGroup | None = None

    def matches(self, index: str) -> bool:
        """Whether an index or alias name matches this group's patterns (the `.security`
        indices only when the group allows restricted indices)."""
        if index.startswith(RESTRICTED_PREFIX) and not self.allow_restricted_indices:
            return False
        return any_matches(self.names, index)

    def grants(self, action: str) -> bool:
        """Whether this group's privileges allow `action`."""
        return any(p.grants(action) for p in self.privileges)


class RolesPermission:
    """The union of the permissions of some role descriptors."""

    def __init__(self, descriptors: Iterable[Mapping[str, Any]]) -> None:
        self.cluster: list[Privilege] = []
        self.groups: list[IndexGroup] = []
        self.run_as: list[str] = []
        self.applications: list[Mapping[str, Any]] = []
        self.managed_applications: list[str] = []  # global `application.manage`
        for descriptor in descriptors:
            self.cluster += [cluster_privilege(name) for name in descriptor.get("cluster", ())]
            for entry in descriptor.get("indices", ()):
                self.groups.append(IndexGroup(
                    tuple(entry["names"]),
                    tuple(index_privilege(name) for name in entry["privileges"]),
                    entry.get("query"), entry.get("allow_restricted_indices", False),
                    FieldGroup.of(entry.get("field_security"))))
            self.run_as += descriptor.get("run_as", ())
            self.applications += descriptor.get("applications", ())
            manage = (descriptor.get("global") or {}).get("application", {}).get("manage")
            if manage:
                self.managed_applications += manage["applications"]

    def allows_cluster(self, action: str) -> bool:
        """Whether the cluster `action` is allowed."""
        return any(p.grants(action) for p in self.cluster)

    def allows_application_action(self, action: str, applications: list[str]) -> bool:
        """Whether an application-privileges `action` on `applications` is allowed: by the
        cluster privilege, or by the global `application.manage` privilege covering every
        application named (`*` only when it is granted on `*`)."""
        return self.allows_cluster(action) or all(
            any(pattern_covers(p, a) for p in self.managed_applications) for a in applications)

    def allows_any_api_key(self) -> bool:
        """Whether API-key actions are allowed on every user's keys, not only one's own."""
        return any(p.grants("cluster:admin/xpack/security/api_key/get")
                   and not p.own_api_keys_only for p in self.cluster)

    def allows_index(self, action: str, names: Iterable[str]) -> bool:
        """Whether `action` is allowed on the index reached through any of `names`."""
        names = list(names)
        return any(g.grants(action) and any(g.matches(n) for n in names) for g in self.groups)

    def allows_action_somewhere(self, action: str) -> bool:
        """Whether the index `action` is allowed on some index (composite requests)."""
        return any(g.grants(action) for g in self.groups)

    def allows_run_as(self, username: str) -> bool:
        """Whether requests may run as `username`."""
        return any_matches(self.run_as, username)

    def grants_no_more_on(self, name: str, than: str) -> bool:
        """Whether every index action allowed on `name` is also allowed on `than` (an alias may
        not open more than its index does)."""
        wider = [p for g in self.groups if g.matches(than) for p in g.privileges]
        return all(any(w.covers(pattern) for w in wider)
                   for g in self.groups if g.matches(name)
                   for p in g.privileges for pattern in p.patterns)

    def dls_queries(self, action: str, names: Iterable[str]) -> list[str] | None:
        """The DLS query texts restricting `action` on an index known by `names`.

        None means unrestricted (some granting group has no query); an empty list means no
        group grants the action at all.
        """
        names = list(names)
        granting = [g for g in self.groups if g.grants(action) and any(g.matches(n) for n in names)]
        if any(g.query is None for g in granting):
            return None
        return [g.query for g in granting if g.query is not None]

    def field_groups(self, action: str, names: Iterable[str]) -> list[FieldGroup | None]:
        """The field security of the groups granting `action` on an index known by `names`
        (a None among them: every field is visible)."""
        names = list(names)
        return [g.fields for g in self.groups
                if g.grants(action) and any(g.matches(n) for n in names)]

    def has_cluster_privilege(self, privilege: Privilege) -> bool:
        """Whether every action of the cluster `privilege` is held."""
        return all(any(p.covers(pattern) for p in self.cluster) for pattern in privilege.patterns)

    def has_index_privilege(self, resource: str, privilege: Privilege) -> bool:
        """Whether `privilege` is held on every index the name or pattern `resource` can mean."""
        covering = [g for g in self.groups if any(pattern_covers(n, resource) for n in g.names)]
        return all(any(p.covers(pattern) for g in covering for p in g.privileges)
                   for pattern in privilege.patterns)

    def has_application_privilege(self, application: str, resource: str, privilege: str,
                                  definitions: ApplicationDefinitions) -> bool:
        """Whether `privilege` (a name or action) is held on the application `resource`."""
        wanted = _application_actions(application, privilege, definitions)
        granted: list[str] = []
        for entry in self.applications:
            if (pattern_matches(entry["application"], application)
                    and any(pattern_covers(r, resource) for r in entry["resources"])):
                for name in entry["privileges"]:
                    granted += _application_actions(application, name, definitions)
        return bool(wanted) and all(any(pattern_covers(g, w) for g in granted) for w in wanted)


def _application_actions(application: str, privilege: str,
                         definitions: ApplicationDefinitions) -> list[str]:
    if privilege == "*":
        return ["*"]
    defined = definitions.get(application, {}).get(privilege)
    if defined is not None:
        return list(defined.get("actions", ()))
    return [privilege] if any(c in privilege for c in "/:*") else []


class Permission:
    """What a request may do: `primary`, further limited by `limited_by` for API keys."""

    def __init__(self, primary: RolesPermission, limited_by: RolesPermission | None = None
                 ) -> None:
        self.primary = primary
        self.limited_by = limited_by

    @property
    def _parts(self) -> list[RolesPermission]:
        return [self.primary] + ([self.limited_by] if self.limited_by is not None else [])

    def allows_cluster(self, action: str) -> bool:
        """Whether the cluster `action` is allowed."""
        return all(p.allows_cluster(action) for p in self._parts)

    def allows_application_action(self, action: str, applications: list[str]) -> bool:
        """Whether an application-privileges `action` on `applications` is allowed."""
        return all(p.allows_application_action(action, applications) for p in self._parts)

    def allows_any_api_key(self) -> bool:
        """Whether API-key actions are allowed on every user's keys."""
        return all(p.allows_any_api_key() for p in self._parts)

    def allows_index(self, action: str, names: Iterable[str]) -> bool:
        """Whether `action` is allowed on the index reached through any of `names`."""
        names = list(names)
        return all(p.allows_index(action, names) for p in self._parts)

    def allows_action_somewhere(self, action: str) -> bool:
        """Whether the index `action` is allowed on some index (composite requests)."""
        return all(p.allows_action_somewhere(action) for p in self._parts)

    def allows_run_as(self, username: str) -> bool:
        """Whether requests may run as `username`."""
        return all(p.allows_run_as(username) for p in self._parts)

    def grants_no_more_on(self, name: str, than: str) -> bool:
        """Whether every index action allowed on `name` is allowed on `than` (per part: exact
        for a user, on the safe side for an API key's intersection)."""
        return all(p.grants_no_more_on(name, than) for p in self._parts)

    def dls_queries(self, action: str, names: Iterable[str]) -> list[list[str] | None]:
        """Per part, the query texts (OR-ed within a part, AND-ed across parts)."""
        names = list(names)
        return [p.dls_queries(action, names) for p in self._parts]

    def field_access(self, action: str, names: Iterable[str]) -> FieldAccess | None:
        """The fields visible in an index known by `names` for `action` (None: all of them):
        OR-ed within a part, AND-ed across parts (an API key and its owner)."""
        names = list(names)
        return FieldAccess.combine(p.field_groups(action, names) for p in self._parts)

    def has_cluster_privilege(self, privilege: Privilege) -> bool:
        """Whether every action of the cluster `privilege` is held."""
        return all(p.has_cluster_privilege(privilege) for p in self._parts)

    def has_index_privilege(self, resource: str, privilege: Privilege) -> bool:
        """Whether `privilege` is held on every index `resource` can mean."""
        return all(p.has_index_privilege(resource, privilege) for p in self._parts)

    def has_application_privilege(self, application: str, resource: str, privilege: str,
                                  definitions: ApplicationDefinitions) -> bool:
        """Whether `privilege` (a name or action) is held on the application `resource`."""
        return all(p.has_application_privilege(application, resource, privilege, definitions)
                   for p in self._parts)
