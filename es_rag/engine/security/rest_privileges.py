"""REST handlers telling users who they are and what they may do: authenticate, privileges."""

from __future__ import annotations

from typing import Any

from ..errors import ActionRequestValidation, BadRequest
from ..http.rest import RestRequest, RestResponse
from . import global_privileges
from .fls import FieldGroup
from .privileges import cluster_privilege, index_privilege
from .rest_request import body_of, user_of
from .service import Security


def authenticate(security: Security, req: RestRequest) -> RestResponse:
    """`GET /_security/_authenticate`: who the caller is and how they logged in."""
    return RestResponse(user_of(req).to_authenticate_response())


def has_privileges(security: Security, req: RestRequest) -> RestResponse:
    """`/_security/user/_has_privileges`: which cluster, index and application
    privileges the caller holds (only their own)."""
    user = user_of(req)
    target = req.path_params.get("user")
    if target is not None and target != user.username:
        raise BadRequest("users may only check the privileges of their own account")
    body = body_of(req)
    unknown = set(body) - {"cluster", "index", "application"}
    if unknown:
        raise BadRequest(f"failed to parse privileges check for [{user.username}]. unexpected "
                         f"field [{sorted(unknown)[0]}]")
    permission = security.permission(user)
    cluster = {name: permission.has_cluster_privilege(cluster_privilege(name))
               for name in body.get("cluster") or []}
    index: dict[str, dict[str, bool]] = {}
    for entry in body.get("index") or []:
        names = entry.get("names")
        names = [names] if isinstance(names, str) else names
        privileges = entry.get("privileges")
        if not names or not privileges:
            raise ActionRequestValidation("Validation Failed: 1: indices privileges must refer "
                                          "to at least one index name and one privilege;")
        for name in names:
            for privilege in privileges:
                allowed = permission.has_index_privilege(name, index_privilege(privilege))
                index.setdefault(name, {})[privilege] = allowed
    definitions = security.store.application_privileges()
    application: dict[str, dict[str, dict[str, bool]]] = {}
    for entry in body.get("application") or []:
        app = entry.get("application")
        if not isinstance(app, str):
            raise BadRequest("application privilege checks must name an [application]")
        for resource in entry.get("resources") or []:
            for privilege in entry.get("privileges") or []:
                allowed = permission.has_application_privilege(app, resource, privilege,
                                                               definitions)
                application.setdefault(app, {}).setdefault(resource, {})[privilege] = allowed
    answers = [*cluster.values(), *(v for p in index.values() for v in p.values()),
               *(v for r in application.values() for p in r.values() for v in p.values())]
    return RestResponse({"username": user.username, "has_all_requested": all(answers),
                         "cluster": cluster, "index": index, "application": application})


def user_privileges(security: Security, req: RestRequest) -> RestResponse:
    """`GET /_security/user/_privileges`: the caller's roles merged as Elasticsearch merges
    them into one role (API keys: the key's own descriptors)."""
    user = user_of(req)
    if user.api_key is not None:
        own = user.api_key.get("role_descriptors") or {}
        descriptors = list((own or user.api_key.get("limited_by") or {}).values())
    else:
        descriptors = list(security.role_descriptors(user).values())
    return RestResponse({
        "cluster": sorted({p for d in descriptors for p in d.get("cluster", [])}),
        "global": global_privileges.listed(descriptors),
        "indices": _merged_indices(descriptors),
        "applications": _merged_applications(descriptors),
        "run_as": sorted({r for d in descriptors for r in d.get("run_as", [])})})


def _merged_indices(descriptors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per set of index names (and `allow_restricted_indices`): privileges, field
    security and queries united; no query (or field security) in one of them lifts it."""
    merged: dict[tuple[frozenset[str], bool], dict[str, Any]] = {}
    for descriptor in descriptors:
        for entry in descriptor.get("indices", []):
            restricted = entry.get("allow_restricted_indices", False)
            key = (frozenset(entry["names"]), restricted)
            fls = entry.get("field_security")
            fls = None if fls is None or FieldGroup.of(fls) is None else fls
            query = entry.get("query")
            group = merged.get(key)
            if group is None:
                merged[key] = {"names": entry["names"], "privileges": list(entry["privileges"]),
                               "field_security": None if fls is None else [fls],
                               "query": None if query is None else [query],
                               "allow_restricted_indices": restricted}
                continue
            group["privileges"] += [p for p in entry["privileges"]
                                    if p not in group["privileges"]]
            group["field_security"] = None if fls is None or group["field_security"] is None \
                else group["field_security"] + [fls] * (fls not in group["field_security"])
            group["query"] = None if query is None or group["query"] is None \
                else group["query"] + [query] * (query not in group["query"])
    return [{k: v for k, v in group.items() if v is not None} for group in merged.values()]


def _merged_applications(descriptors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Application privileges united per (application, resources), then the resources of
    equal privilege sets united, as Elasticsearch builds a role's application permission."""
    by_resources: dict[tuple[str, frozenset[str]], dict[str, Any]] = {}
    for descriptor in descriptors:
        for entry in descriptor.get("applications", []):
            key = (entry["application"], frozenset(entry["resources"]))
            found = by_resources.setdefault(key, {"application": entry["application"],
                                                  "privileges": [],
                                                  "resources": list(entry["resources"])})
            found["privileges"] += [p for p in entry["privileges"]
                                    if p not in found["privileges"]]
    by_privileges: dict[tuple[str, frozenset[str]], dict[str, Any]] = {}
    for entry in by_resources.values():
        key = (entry["application"], frozenset(entry["privileges"]))
        found = by_privileges.setdefault(key, {**entry, "resources": []})
        found["resources"] += [r for r in entry["resources"] if r not in found["resources"]]
    return list(by_privileges.values())
