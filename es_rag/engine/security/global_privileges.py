"""A role's `global` privileges: cluster privileges scoped to some applications or roles.

Elasticsearch calls them configurable cluster privileges: `application.manage.applications`
(managing the application privileges of some applications), `profile.write.applications`
(writing those applications' user profile data) and `role.manage.indices` (managing roles over
some index patterns). A role stores them as `GET /_security/role` shows them (every category,
empty ones as `{}`); `GET /_security/user/_privileges` lists each privilege on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from es_rag.engine.errors import EngineError
from es_rag.engine.source_filter import json_token

from .privileges import index_privilege

# category → the one privilege kind it holds → what that privilege is scoped by
_KINDS = {"application": ("manage", "applications"), "profile": ("write", "applications"),
          "role": ("manage", "indices")}


class GlobalParseError(EngineError):
    """A `global` section Elasticsearch's parser refuses."""

    status = 400
    error_type = "x_content_parse_exception"


def parse_global(value: Any) -> dict[str, Any]:
    """The `global` section of a role descriptor, validated; its stored (rendered) form."""
    if not isinstance(value, dict):
        raise GlobalParseError(f"failed to parse privilege. expected [START_OBJECT] but found "
                               f"[{json_token(value)}] instead")
    rendered: dict[str, Any] = {category: {} for category in _KINDS}
    for category, body in value.items():
        if category not in _KINDS:
            raise GlobalParseError("failed to parse privilege. expected one of "
                                   f"[{', '.join(_KINDS)}] but found [{category}] instead")
        kind, scope = _KINDS[category]
        if not isinstance(body, dict):
            raise GlobalParseError(f"failed to parse privilege. expected [START_OBJECT] but "
                                   f"found [{json_token(body)}] instead")
        for name, spec in body.items():
            if name != kind:
                raise GlobalParseError(f"failed to parse privilege. expected field name [{kind}] "
                                       f"but found [{name}] instead")
            if not isinstance(spec, dict) or list(spec) != [scope]:
                found = next(iter(spec), None) if isinstance(spec, dict) and spec else None
                raise GlobalParseError(f"failed to parse privilege. expected field name [{scope}] "
                                       f"but found [{found}] instead")
            values = spec[scope]
            rendered[category][kind] = {scope: _indices(values) if scope == "indices"
                                        else _strings(values)}
    return rendered


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise GlobalParseError(f"failed to parse privilege. expected [START_ARRAY] but found "
                               f"[{json_token(value)}] instead")
    if not all(isinstance(v, str) for v in value):
        raise GlobalParseError("failed to parse privilege. expected an array of strings")
    return list(dict.fromkeys(value))


def _indices(value: Any) -> list[dict[str, list[str]]]:
    if not isinstance(value, list):
        raise GlobalParseError(f"failed to parse privilege. expected [START_ARRAY] but found "
                               f"[{json_token(value)}] instead")
    out = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"names", "privileges"}:
            raise GlobalParseError("failed to parse privilege. expected [names] and "
                                   "[privileges] for each entry of [role.manage.indices]")
        privileges = _strings(entry["privileges"])
        for privilege in privileges:
            index_privilege(privilege)
        out.append({"names": _strings(entry["names"]), "privileges": privileges})
    return out


def listed(descriptors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The global privileges of some roles, one entry each and each once, as
    `GET /_security/user/_privileges` lists them."""
    out: list[dict[str, Any]] = []
    for descriptor in descriptors:
        for category, kinds in (descriptor.get("global") or {}).items():
            for kind, spec in kinds.items():
                entry = {category: {kind: spec}}
                if entry not in out:
                    out.append(entry)
    return out
