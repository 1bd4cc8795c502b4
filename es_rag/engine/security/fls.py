"""Field-level security: which fields of an index a user may see, as Elasticsearch decides it.

A role's `field_security: {grant: [...], except: [...]}` (wildcards or `/regex/`) allows the
fields matching a `grant` pattern and no `except` pattern; metadata fields (`_id`, `_source`, any
name starting with `_`) stay visible. Within one set of roles the groups granting access to an
index are OR-ed (a group without `field_security` shows every field); an API key's view is the
AND of its own descriptors' view and its owner's. Hidden fields are as if absent: dropped from
`_source`, unknown to queries, aggregations, sorts, highlighting and `fields` (see
`search/scope.py` and the document service, which apply a `FieldAccess` where DLS applies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..source_filter import json_token
from .privileges import any_matches, pattern_covers


class FieldSecurityError(ValueError):
    """A `field_security` definition Elasticsearch refuses (the message is its reason,
    `cause` the `caused_by` it reports, if any)."""

    def __init__(self, reason: str, cause: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.cause = cause


def parse_field_security(role: str, value: Any) -> dict[str, list[str]]:
    """The `field_security` of an `indices` entry of role `role`, validated as
    Elasticsearch's `RoleDescriptor` parses it (raises `FieldSecurityError`)."""
    where = f"failed to parse indices privileges for role [{role}]."
    if not isinstance(value, dict):
        raise FieldSecurityError(f'{where} expected START_OBJECT but got {json_token(value)} in '
                                 '"field_security".')
    if not value:
        raise FieldSecurityError(f'{where} "field_security" must not be empty.')
    out: dict[str, list[str]] = {}
    for key, names in value.items():
        if key not in ("grant", "except"):
            raise FieldSecurityError(f'{where} "field_security" only accepts options grant and '
                                     f"except, but got: {key}")
        if names is None:
            raise FieldSecurityError(f"{where} {key} must not be null.")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            found = json_token(names if not isinstance(names, list) else
                               next(n for n in names if not isinstance(n, str)))
            raise FieldSecurityError(f"failed to parse role [{role}]", {
                "type": "parse_exception", "reason": f"could not parse [{key}] field. expected "
                f"a string array but found [{found}] value instead"})
        out[key] = list(names)
    if "except" in out and "grant" not in out:
        raise FieldSecurityError(f"{where} field_security requires grant if except is given")
    grant, denied = out.get("grant", []), out.get("except", [])
    if denied and not all(any(pattern_covers(g, d) for g in grant) for d in denied):
        raise FieldSecurityError(
            f"failed to parse indices privileges for role [{role}] - Exceptions for field "
            f"permissions must be a subset of the granted fields but {','.join(denied)} is not "
            f"a subset of {','.join(grant)}")
    return {"grant": grant, **({"except": denied} if "except" in out else {})}


@dataclass(frozen=True)
class FieldGroup:
    """One `field_security` definition: the fields it grants minus those it excepts."""

    grant: tuple[str, ...]
    denied: tuple[str, ...] = ()

    @classmethod
    def of(cls, definition: Mapping[str, Any] | None) -> FieldGroup | None:
        """The group of a stored `field_security` (None: the entry shows every field)."""
        if definition is None:
            return None
        grant = tuple(definition.get("grant", ()))
        if "*" in grant and not definition.get("except"):
            return None
        return cls(grant, tuple(definition.get("except", ())))

    def allows(self, path: str) -> bool:
        """Whether the field `path` is visible (metadata fields always are)."""
        if any_matches(self.denied, path):
            return False
        return path.startswith("_") or any_matches(self.grant, path)


@dataclass
class FieldAccess:
    """The fields one user sees in one index: per part an OR of groups, AND across parts."""

    parts: tuple[tuple[FieldGroup, ...], ...]
    _cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def combine(cls, parts: Iterable[list[FieldGroup | None] | None]) -> FieldAccess | None:
        """The access of some parts, each the groups granting the read (None in a part: that
        part shows everything); None when every field is visible."""
        restricting = tuple(tuple(g for g in part if g is not None) for part in parts
                            if part is not None and part and all(g is not None for g in part))
        return cls(restricting) if restricting else None

    def allows(self, path: str) -> bool:
        """Whether the field `path` (a dotted leaf path) is visible."""
        known = self._cache.get(path)
        if known is None:
            known = self._cache[path] = all(any(g.allows(path) for g in part)
                                            for part in self.parts)
        return known

    def filter_source(self, source: Any, prefix: str = "") -> Any:
        """`_source` with the hidden fields removed (objects left empty are dropped, as
        Elasticsearch's `FieldSubsetReader` filters it)."""
        if isinstance(source, dict):
            out: dict[str, Any] = {}
            for key, value in source.items():
                path = f"{prefix}{key}"
                if isinstance(value, dict | list):
                    kept = self.filter_source(value, path + ("." if isinstance(value, dict)
                                                              else ""))
                    if kept or (not value and self.allows(path)):
                        out[key] = kept
                elif self.allows(path):
                    out[key] = value
            return out
        if isinstance(source, list):
            path = prefix
            out_list = []
            for item in source:
                if isinstance(item, dict):
                    kept = self.filter_source(item, path + ".")
                    if kept:
                        out_list.append(kept)
                elif isinstance(item, list):
                    kept = self.filter_source(item, path)
                    if kept:
                        out_list.append(kept)
                elif self.allows(path):
                    out_list.append(item)
            return out_list
        return source

    def filter_properties(self, properties: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """Mapping `properties` without the hidden fields, as Elasticsearch filters the
        mappings it returns: an object or multi-field stays while a visible field remains under
        it (a hidden multi-field holding visible sub-fields becomes an object of them)."""
        out: dict[str, Any] = {}
        for name, body in properties.items():
            path = prefix + name
            if not isinstance(body, dict):
                continue
            body = dict(body)
            under = {}
            if isinstance(body.get("properties"), dict):
                under = body["properties"] = self.filter_properties(body["properties"], path + ".")
            elif isinstance(body.get("fields"), dict):
                under = self.filter_properties(body["fields"], path + ".")
                if under:
                    body["fields"] = under
                else:
                    body.pop("fields")
            if self.allows(path):
                out[name] = body
            elif under:
                if "fields" in body:  # a hidden field's visible multi-fields: an object of them
                    body = {"properties": body["fields"]}
                out[name] = body
        return out
