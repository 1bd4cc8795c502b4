"""The multi-field query format of the `linear` and `rrf` retrievers (`query` + `fields`, 9.1):
validated as Elasticsearch's `MultiFieldsInnerRetrieverUtils`, then expanded against the one
index searched into a lexical `multi_match` (most_fields, per-field boosts) over the non-
semantic fields and, for the semantic_text fields, an inner retriever of the same kind fusing a
`match` per field (the field's boost as its weight)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import ActionRequestValidation, BadRequest
from ..query import parse_query

if TYPE_CHECKING:
    from ..query.base import QueryContext


@dataclass
class MultiFieldSpec:
    """`query` and `fields` of a retriever written in the multi-field format."""

    query: str
    fields: list[tuple[str, float]] | None


def parse_multi_field(kind: str, spec: dict[str, Any], items: Any,
                      normalizer: str | None = None) -> MultiFieldSpec | None:
    """The multi-field spec of a `linear`/`rrf` body (None when it uses `retrievers`)."""
    query, fields = spec.get("query"), spec.get("fields")
    errors: list[str] = []
    if query is None and fields is None:
        if not items:
            errors.append(f"[{kind}] must provide [retrievers] or [query]")
    elif query is None:
        errors.append(f"[{kind}] [query] must be provided when [fields] is specified")
    else:
        if query == "":
            errors.append(f"[{kind}] [query] cannot be empty")
        if fields is not None and not fields:
            errors.append(f"[{kind}] [fields] cannot be empty")
        if items:
            errors.append(f"[{kind}] cannot combine [retrievers] and [query]")
    if kind == "linear" and query is not None and normalizer is None:
        errors.append("[linear] [normalizer] must be provided when [query] is specified")
    if errors:
        listed = "".join(f"{i}: {e};" for i, e in enumerate(errors, start=1))
        raise ActionRequestValidation(f"Validation Failed: {listed}")
    if query is None:
        return None
    if not isinstance(query, str) or (fields is not None and not (
            isinstance(fields, list) and all(isinstance(f, str) for f in fields))):
        raise BadRequest(f"[{kind}] [query] must be a string and [fields] a list of strings")
    return MultiFieldSpec(query, [_weighted(kind, f) for f in fields] if fields else None)


def _weighted(kind: str, field: str) -> tuple[str, float]:
    """`name^boost` → (name, boost), as `QueryParserHelper.parseFieldsAndWeights`."""
    name, _, boost = field.partition("^")
    try:
        weight = float(boost) if boost else 1.0
    except ValueError as err:
        raise BadRequest(f"[{kind}] invalid field weight in [{field}]") from err
    if weight < 0:
        raise BadRequest(f"[{kind}] per-field weights must be non-negative")
    return name, weight


def expand(contexts: list[QueryContext], node: Any) -> Any:
    """The retriever tree the multi-field format stands for on the one index searched
    (`contexts`: the query context of each index); nodes are built as `type(node)`."""
    make = type(node)
    spec: MultiFieldSpec = node.multi_field
    if len(contexts) > 1:
        raise BadRequest(f"[{node.kind}] does not support the simplified query format when "
                         f"querying multiple indices")
    if not contexts:
        return make("standard", query=parse_query({"match_none": {}}))
    ctx = contexts[0]
    fields = spec.fields or [
        _weighted(node.kind, f) for f in _default_fields(ctx.settings)]
    semantic: dict[str, float] = {}
    for path, field_spec in ctx.mapping.fields.items():
        if field_spec.type != "semantic_text":
            continue
        for pattern, weight in fields:
            if fnmatch.fnmatchcase(path, pattern):
                semantic[path] = semantic.get(path, 1.0) * weight
    lexical = [(f, w) for f, w in fields if f not in semantic]
    children: list[Any] = []
    if lexical:
        children.append(make("standard", query=parse_query({"multi_match": {
            "query": spec.query, "type": "most_fields",
            "fields": [f if w == 1.0 else f"{f}^{w}" for f, w in lexical]}})))
    if semantic:
        inner = [(make("standard", query=parse_query({"match": {path: spec.query}})), w)
                 for path, w in sorted(semantic.items())]
        children.append(replace(node, children=inner, multi_field=None, filters=[],
                                normalizers=node.normalizers[:1] * len(inner)))
    if not children:
        return make("standard", query=parse_query({"match_none": {}}))
    return replace(node, children=[(c, 1.0) for c in children], multi_field=None,
                   normalizers=node.normalizers[:1] * len(children))


def _default_fields(settings: dict[str, Any]) -> list[str]:
    value = settings.get("index.query.default_field", ["*"])
    return [value] if isinstance(value, str) else list(value)
