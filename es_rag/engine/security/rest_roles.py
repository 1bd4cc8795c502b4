"""REST handlers for `/_security/role` and application privileges (`/_security/privilege`)."""

from __future__ import annotations

from ..errors import ActionRequestValidation, BadRequest
from ..http.rest import RestRequest, RestResponse
from .rest_request import body_of, deleted, named, split_names, validate_name
from .roles import RESERVED_ROLES, parse_role
from .service import Security


def put_role(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/role/{name}`: create or replace a role after validating it."""
    name = req.path_params["name"]
    validate_name(name, "role name", RESERVED_ROLES)
    descriptor = parse_role(name, body_of(req), validate_query=security.validate_query)
    return RestResponse({"role": {"created": security.store.put_role(name, descriptor)}})


def get_roles(security: Security, req: RestRequest) -> RestResponse:
    """`GET /_security/role[/{name,…}]`: roles by name (404 `{}` when none exists)."""
    return named(security.store.roles(), split_names(req.path_params.get("name")))


def delete_role(security: Security, req: RestRequest) -> RestResponse:
    """`DELETE /_security/role/{name}` (reserved roles refused)."""
    name = req.path_params["name"]
    if name in RESERVED_ROLES:
        raise BadRequest(f"role [{name}] is reserved and cannot be deleted")
    return deleted(security.store.delete_role(name))


def put_privileges(security: Security, req: RestRequest) -> RestResponse:
    """`PUT/POST /_security/privilege`: define application privileges."""
    body = body_of(req)
    definitions = []
    for app, privileges in body.items():
        if not isinstance(privileges, dict):
            raise BadRequest(f"privileges of application [{app}] must be an object")
        for name, definition in privileges.items():
            if not isinstance(definition, dict):
                raise BadRequest(f"privilege [{app}/{name}] must be an object")
            if definition.get("application", app) != app or definition.get("name", name) != name:
                raise BadRequest(f"privilege [{app}/{name}] names a different application or "
                                 "name in its body")
            actions = definition.get("actions")
            if not isinstance(actions, list) or not actions:
                raise ActionRequestValidation(
                    "Validation Failed: 1: Application privileges must have at least one "
                    "action;")
            for action in actions:
                if not isinstance(action, str) or not any(c in action for c in "/*:"):
                    raise BadRequest(f"action [{action}] must contain one of [/*:]")
            definitions.append({"application": app, "name": name, "actions": actions,
                                "metadata": definition.get("metadata") or {}})
    return RestResponse(security.store.put_application_privileges(definitions))


def get_privileges(security: Security, req: RestRequest) -> RestResponse:
    """`GET /_security/privilege[/{application}[/{name,…}]]`."""
    app = req.path_params.get("application")
    names = split_names(req.path_params.get("name"))
    defined = security.store.application_privileges()
    if app is not None and app != "_all":
        defined = {a: p for a, p in defined.items() if a == app}
    if names is not None:
        defined = {a: {n: d for n, d in p.items() if n in names} for a, p in defined.items()}
        defined = {a: p for a, p in defined.items() if p}
    if app is not None and not defined:
        return RestResponse({}, 404)
    return RestResponse(defined)


def delete_privileges(security: Security, req: RestRequest) -> RestResponse:
    """`DELETE /_security/privilege/{application}/{name,…}`."""
    app = req.path_params["application"]
    found = security.store.delete_application_privileges(app, split_names(req.path_params["name"])
                                                         or [])
    status = 200 if any(found.values()) else 404
    return RestResponse({app: {name: {"found": f} for name, f in found.items()}}, status)
