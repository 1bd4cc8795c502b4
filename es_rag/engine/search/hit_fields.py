"""The `fields` of a hit (values read from `_source`, typed by the mapping; `_inference_fields`,
the semantic_text embeddings, when named) and the vector fields `exclude_vectors` leaves out of
`_source`."""

from __future__ import annotations

import fnmatch
from typing import Any

from ..errors import BadRequest
from ..index.mapping.nested import level_of
from ..index.mapping.semantic_text import INFERENCE_FIELDS, field_value, values_of
from ..query.base import QueryContext
from ..source_filter import source_values
from .scope import Scope


def check_docvalue_fields(scopes: list[Scope], patterns: list[Any] | None) -> None:
    """Refuse more `docvalue_fields` (patterns expanded on each index's mapping) than its
    `index.max_docvalue_fields_search` (100), as Elasticsearch does."""
    if not patterns:
        return
    for scope in scopes:
        limit = int(scope.ctx.settings.get("index.max_docvalue_fields_search", 100))
        names: set[str] = set()
        for item in patterns:
            pattern = str(item.get("field") if isinstance(item, dict) else item)
            names.update([pattern] if "*" not in pattern else [
                path for path, spec in scope.ctx.mapping.fields.items()
                if spec.type != "object" and fnmatch.fnmatchcase(path, pattern)])
        count = len(names)
        if count > limit:
            raise BadRequest(f"Trying to retrieve too many docvalue_fields. Must be less than "
                             f"or equal to: [{limit}] but was [{count}]. This limit can be set "
                             f"by changing the [index.max_docvalue_fields_search] index level "
                             f"setting.")


def requested_fields(ctx: QueryContext, source: dict[str, Any], patterns: list[Any]
                     ) -> dict[str, Any]:
    """The values of the fields matching `patterns` (`fields`, `docvalue_fields`) in a hit;
    fields of a nested field are grouped per object under its path, as Elasticsearch returns
    them (`{"passages": [{"text": ["..."]}, ...]}`)."""
    out = _flat_fields(ctx, source, patterns)
    for path in ctx.mapping.nested_paths:
        prefix = path + "."
        if level_of(ctx.mapping.nested_paths, path) is not None or \
                not any(key.startswith(prefix) for key in out):
            continue  # (objects of deeper nested fields stay within their outer objects)
        for key in [k for k in out if k.startswith(prefix)]:
            del out[key]
        objects = []
        for obj in _raw_values(source, path):
            if not isinstance(obj, dict):
                continue
            wrapped: dict[str, Any] = obj
            for part in reversed(path.split(".")):
                wrapped = {part: wrapped}
            values = {key[len(prefix):]: value for key, value in
                      _flat_fields(ctx, wrapped, patterns).items() if key.startswith(prefix)}
            if values:
                objects.append(values)
        if objects:
            out[path] = objects
    return out


def _flat_fields(ctx: QueryContext, source: dict[str, Any], patterns: list[Any]
                 ) -> dict[str, Any]:
    """The values of the fields matching `patterns`, by full path."""
    out: dict[str, Any] = {}
    for item in patterns:
        pattern = item.get("field") if isinstance(item, dict) else str(item)
        number_format = item.get("format") if isinstance(item, dict) else None
        if pattern == INFERENCE_FIELDS:  # the semantic_text chunks and embeddings (9.0, 9.1)
            recorded = source.get(INFERENCE_FIELDS)
            if isinstance(recorded, dict) and recorded:
                out[INFERENCE_FIELDS] = [recorded]
            continue
        for path, spec in ctx.mapping.fields.items():
            if spec.type in ("object", "nested") or not fnmatch.fnmatchcase(path, pattern or ""):
                continue
            if spec.type == "dense_vector":
                values = _raw_values(source, ctx.mapping.source_path(path))
            elif spec.type == "semantic_text":  # its text (also in the legacy format)
                values = values_of(field_value(source, ctx.mapping.source_path(path)))
            else:
                values = source_values(source, ctx.mapping.source_path(path))
                values = [_typed(spec.type, v) for v in values]
                if number_format and "." in number_format:
                    decimals = len(number_format.split(".", 1)[1])
                    values = [f"{float(v):.{decimals}f}" if isinstance(v, int | float) else v
                              for v in values]
            if values:
                out[path] = values
    return out


def _raw_values(source: dict[str, Any], path: str) -> list[Any]:
    node: Any = source
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return node if isinstance(node, list) else [node]


def _typed(ftype: str, value: str) -> Any:
    if ftype in ("long", "integer", "short", "byte"):
        try:
            return int(float(value))
        except ValueError:
            return value
    if ftype in ("double", "float", "half_float", "scaled_float"):
        try:
            return float(value)
        except ValueError:
            return value
    if ftype == "boolean":
        return value in ("True", "true")
    return value


_VECTOR_TYPES = frozenset({"dense_vector", "sparse_vector", "rank_vectors"})


def vector_paths(ctx: QueryContext) -> list[str]:
    """The vector fields of an index, left out of `_source` by `exclude_vectors: true`."""
    return [path for path, spec in ctx.mapping.fields.items() if spec.type in _VECTOR_TYPES]
