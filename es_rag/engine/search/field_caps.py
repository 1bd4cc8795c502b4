"""The field capabilities API (`_field_caps`): each field's family type, searchable and
aggregatable flags, merged across the indices a request names, and the `index_filter` that
leaves out the indices it cannot match (Elasticsearch's can-match rewrite of the filter)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ActionRequestValidation, BadRequest, ParsingError
from ..index.mapping import FLOAT_TYPES, INTEGER_TYPES, FieldSpec, Mapping
from ..node import Target
from ..query import parse_query
from .context import SearchContext
from .query_phase import QueryPhase
from .request import SearchRequest
from .scope import ReadTargets, make_scopes, reader_mapping

if TYPE_CHECKING:
    from ..security.read_scope import ReadScope

# the metadata fields of every index: family type, searchable, aggregatable
METADATA: dict[str, tuple[str, bool, bool]] = {
    "_id": ("_id", True, False), "_index": ("_index", True, True),
    "_routing": ("_routing", True, False), "_source": ("_source", False, False),
    "_ignored": ("_ignored", True, True), "_version": ("_version", False, False),
    "_seq_no": ("_seq_no", True, True), "_doc_count": ("integer", False, False),
    "_field_names": ("_field_names", True, False), "_nested_path": ("_nested_path", True, False),
    "_data_stream_timestamp": ("_data_stream_timestamp", False, False),
    "_tier": ("_tier", True, True),
}
_FILTERS = {"+metadata", "-metadata", "-nested", "-multifield", "-parent"}
_DOC_VALUE_TYPES = {"keyword", "date", "date_nanos", "boolean", "ip", *INTEGER_TYPES,
                    *FLOAT_TYPES}
# queries that Elasticsearch rewrites to `match_none` on an index that does not map their field
_FIELD_QUERIES = {"term", "terms", "prefix", "wildcard", "regexp", "fuzzy", "match",
                  "match_phrase", "match_phrase_prefix", "match_bool_prefix", "range", "exists",
                  "semantic", "sparse_vector"}
_NOT_FIELDS = {"boost", "_name"}


@dataclass(frozen=True)
class Capability:
    """One field of one index, as Elasticsearch's `IndexFieldCapabilities`."""

    type: str
    searchable: bool
    aggregatable: bool
    metadata: bool = False
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FieldCapsRequest:
    """The request: field patterns, filters, family types, and the index filter."""

    fields: list[str]
    filters: set[str]
    types: set[str]
    include_unmapped: bool
    include_empty_fields: bool
    index_filter: dict[str, Any] | None


def parse_request(body: Any, params: dict[str, str], flag: Any) -> FieldCapsRequest:
    """`RestFieldCapabilitiesAction`: fields from the body or the `fields` parameter (not
    both), `index_filter` parsed as a query; `flag(name, default)` reads a boolean parameter."""
    body = body or {}
    if not isinstance(body, dict):
        raise ParsingError("request body must be an object")
    for key in body:
        if key not in ("fields", "index_filter", "runtime_mappings"):
            raise ParsingError(f"[field_caps_request] unknown field [{key}]")
    if body.get("runtime_mappings"):
        raise BadRequest("[runtime_mappings] are not supported by the embedded engine")
    fields = body.get("fields") or []
    if isinstance(fields, str):
        fields = [fields]
    if "fields" in params:
        if fields:
            raise BadRequest("can't specify a request body and [fields] request parameter, "
                             "either specify a request body or the [fields] request parameter")
        fields = [f for f in params["fields"].split(",") if f]
    if not fields:
        raise ActionRequestValidation("Validation Failed: 1: specified fields can't be null "
                                      "or empty;")
    filters = {f for f in params.get("filters", "").split(",") if f}
    unknown = sorted(filters - _FILTERS)
    if unknown:
        raise BadRequest(f"Unsupported filter [{unknown[0]}]")
    index_filter = body.get("index_filter")
    if index_filter is not None:
        parse_query(index_filter)  # a malformed filter is refused as a search refuses it
    return FieldCapsRequest(
        [str(f) for f in fields], filters,
        {t for t in params.get("types", "").split(",") if t},
        flag("include_unmapped", False), flag("include_empty_fields", True), index_filter)


def field_caps(service: ReadTargets, index: str | None, request: FieldCapsRequest,
               params: dict[str, str], read_scope: ReadScope) -> dict[str, Any]:
    """The `_field_caps` response over the indices `index` names that `read_scope` may read."""
    per_index: dict[str, dict[str, Capability]] = {}
    for target in service.targets(index, params, read_scope):
        if request.index_filter is not None and not can_match(request.index_filter, target):
            continue
        per_index[target.index.name] = _index_fields(target, request)
    return {"indices": sorted(per_index), "fields": _merge(per_index, request)}


def _simple_match(patterns: list[str], name: str) -> bool:
    return any(re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), name)
               for pattern in patterns)


def _capability(spec: FieldSpec) -> Capability:
    """A mapped field's family type and flags (`MappedFieldType.familyTypeName`,
    `isSearchable`, `isAggregatable`)."""
    params, ftype = spec.params, spec.type
    meta = tuple(sorted((str(k), str(v)) for k, v in (params.get("meta") or {}).items()))
    indexed = params.get("index", True) is not False
    if ftype in ("text", "match_only_text", "semantic_text"):
        return Capability("text", indexed, ftype == "text" and bool(params.get("fielddata")),
                          meta=meta)
    if ftype in _DOC_VALUE_TYPES:
        doc_values = params.get("doc_values", True) is not False
        return Capability(ftype, indexed or doc_values, doc_values, meta=meta)
    if ftype == "dense_vector":
        return Capability(ftype, indexed, False, meta=meta)
    return Capability(ftype, ftype not in ("object", "nested"), False, meta=meta)


def _index_fields(target: Target, request: FieldCapsRequest) -> dict[str, Capability]:
    """The fields of one index that the request asks for, with their parent objects."""
    mapping = reader_mapping(target)
    found: dict[str, Capability] = {}
    if "-metadata" not in request.filters:
        for name, (ftype, searchable, aggregatable) in METADATA.items():
            if _simple_match(request.fields, name) and \
                    (not request.types or ftype in request.types):
                found[name] = Capability(ftype, searchable, aggregatable, metadata=True)
    if "+metadata" in request.filters:
        return found
    count = _counter(target) if not request.include_empty_fields else None
    for path, spec in mapping.fields.items():
        if spec.type in ("object", "nested") or not _simple_match(request.fields, path):
            continue
        parent = path.rpartition(".")[0]
        if "-multifield" in request.filters and parent in mapping.fields and \
                mapping.fields[parent].type not in ("object", "nested"):
            continue
        if "-nested" in request.filters and any(path.startswith(p + ".")
                                                for p in mapping.nested_paths):
            continue
        source = mapping.fields.get(mapping.aliases.get(path, path), spec)
        capability = _capability(source)
        if request.types and capability.type not in request.types:
            continue
        if count is not None and count({"exists": {"field": path}}) == 0:
            continue
        found[path] = capability
        if "-parent" not in request.filters:
            _add_parents(found, mapping, path)
    return found


def _add_parents(found: dict[str, Capability], mapping: Mapping, path: str) -> None:
    """The object and nested fields above a field (not the field a multi-field belongs to)."""
    parent = path.rpartition(".")[0]
    while parent and parent not in found:
        spec = mapping.fields.get(parent)
        if spec is None or spec.type not in ("object", "nested"):
            return
        found[parent] = Capability(spec.type, False, False)
        parent = parent.rpartition(".")[0]


def _merge(per_index: dict[str, dict[str, Capability]], request: FieldCapsRequest
           ) -> dict[str, Any]:
    """`FieldCapabilities.Builder`: per field, per family type, the flags of all its indices;
    the indices of each type listed when a field has several, the non-searchable (and
    non-aggregatable) ones when they are some but not all."""
    by_field: dict[str, dict[str, list[tuple[str, Capability]]]] = {}
    for index in sorted(per_index):
        for name, capability in per_index[index].items():
            by_field.setdefault(name, {}).setdefault(capability.type, []).append(
                (index, capability))
    if request.include_unmapped:
        for types in by_field.values():
            mapped = {index for entries in types.values() for index, _ in entries}
            missing = [i for i in sorted(per_index) if i not in mapped]
            if missing:
                types["unmapped"] = [(i, Capability("unmapped", False, False)) for i in missing]
    out: dict[str, Any] = {}
    for name in sorted(by_field):
        types = by_field[name]
        out[name] = {ftype: _merged(ftype, entries, len(types) > 1)
                     for ftype, entries in sorted(types.items())}
    return out


def _merged(ftype: str, entries: list[tuple[str, Capability]], with_indices: bool
            ) -> dict[str, Any]:
    searchable = [i for i, c in entries if c.searchable]
    aggregatable = [i for i, c in entries if c.aggregatable]
    body: dict[str, Any] = {"type": ftype, "metadata_field": entries[0][1].metadata,
                            "searchable": len(searchable) == len(entries),
                            "aggregatable": len(aggregatable) == len(entries)}
    if with_indices:
        body["indices"] = [i for i, _ in entries]
    if 0 < len(searchable) < len(entries):
        body["non_searchable_indices"] = [i for i, c in entries if not c.searchable]
    if 0 < len(aggregatable) < len(entries):
        body["non_aggregatable_indices"] = [i for i, c in entries if not c.aggregatable]
    meta: dict[str, set[str]] = {}
    for _, capability in entries:
        for key, value in capability.meta:
            meta.setdefault(key, set()).add(value)
    if meta:
        body["meta"] = {k: sorted(v) for k, v in sorted(meta.items())}
    return body


def _counter(target: Target) -> Any:
    """Counts the documents of one index (within its alias and read filters) a query matches."""
    [scope] = make_scopes([Target(target.index, target.alias_filters)])
    phase = QueryPhase(SearchContext(SearchRequest(), [scope]))

    def count(query: dict[str, Any]) -> int:
        return scope.ctx.shard.fulltext.count(phase.scope_query(0, parse_query(query), []))
    return count


def can_match(query: dict[str, Any], target: Target) -> bool:
    """Whether `query` may match documents of the index: False where Elasticsearch's shard
    rewrite turns it into `match_none` (a field the index does not map, a date range outside
    the values the index holds, `match_none` itself, a bool whose required clauses cannot
    match), True otherwise (the query is not run)."""
    return _can_match(query, reader_mapping(target), target, _counter(target))


def _can_match(query: dict[str, Any], mapping: Mapping, target: Target, count: Any) -> bool:
    kind, spec = next(iter(query.items()))
    if kind == "match_none":
        return False
    if kind == "bool":
        def clauses(key: str) -> list[dict[str, Any]]:
            value = spec.get(key) or []
            return value if isinstance(value, list) else [value]
        required = clauses("must") + clauses("filter")
        if not all(_can_match(c, mapping, target, count) for c in required):
            return False
        should = clauses("should")
        return bool(required) or not should or \
            any(_can_match(c, mapping, target, count) for c in should)
    if kind == "constant_score":
        return _can_match(spec["filter"], mapping, target, count)
    if kind not in _FIELD_QUERIES:
        return True
    field = spec.get("field") if kind in ("exists", "semantic", "sparse_vector") else \
        next((k for k in spec if k not in _NOT_FIELDS), None)
    if not isinstance(field, str):
        return True
    if field == "_index" and kind in ("term", "terms"):
        values = spec[field]
        if kind == "term":
            values = [values.get("value") if isinstance(values, dict) else values]
        return target.index.name in [str(v) for v in values] or \
            any(alias in [str(v) for v in values] for alias in target.index.aliases)
    names = [p for p in [*mapping.fields, *METADATA] if _simple_match([field], p)] \
        if "*" in field else [field]
    if not any(n in mapping.fields or n in METADATA for n in names):
        return False
    if kind == "range" and mapping.fields.get(mapping.aliases.get(field, field), FieldSpec(
            field, "")).type in ("date", "date_nanos"):
        return _date_range_can_match(field, spec[field], count)
    return True


def _date_range_can_match(field: str, bounds: dict[str, Any], count: Any) -> bool:
    """`DateFieldType.isFieldWithinQuery`: disjoint when the index holds no value of the field,
    or none at or above the lower bound, or none at or below the upper one."""
    if not isinstance(bounds, dict):
        return True
    lower_keys, upper_keys = ("gt", "gte", "from", "include_lower"), \
        ("lt", "lte", "to", "include_upper")
    common = {k: v for k, v in bounds.items() if k not in (*lower_keys, *upper_keys)}
    lower = {k: v for k, v in bounds.items() if k in lower_keys}
    upper = {k: v for k, v in bounds.items() if k in upper_keys}
    if lower.get("from", 0) is None:
        lower = {}
    if upper.get("to", 0) is None:
        upper = {}
    if not any(k in lower for k in ("gt", "gte", "from")) and \
            not any(k in upper for k in ("lt", "lte", "to")):
        return count({"exists": {"field": field}}) > 0
    for part in (lower, upper):
        if any(k in part for k in ("gt", "gte", "from", "lt", "lte", "to")) and \
                count({"range": {field: {**common, **part}}}) == 0:
            return False
    return True
