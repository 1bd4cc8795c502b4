"""Field types of a mapping: their parameters (checked as Elasticsearch checks them), the flat
`FieldSpec` of each field, and the additive merge of new properties into old ones."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ...dates import DEFAULT_FORMAT
from ...errors import BadRequest, MapperParsingError
from ..analysis import ANALYZERS
from .completion import PARAMS as COMPLETION_PARAMS
from .completion import check_completion
from .semantic_text import PARAMS as SEMANTIC_TEXT_PARAMS
from .semantic_text import check_semantic_text

INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
FLOAT_TYPES = {"double", "float", "half_float", "scaled_float"}
_COMMON = {"type", "index", "store", "doc_values", "null_value", "meta", "fields", "copy_to"}
PARAMS: dict[str, set[str]] = {
    "text": _COMMON | {"analyzer", "search_analyzer", "search_quote_analyzer", "norms",
                       "similarity", "index_options", "position_increment_gap", "fielddata",
                       "term_vector", "eager_global_ordinals", "index_phrases"},
    "match_only_text": {"type", "fields", "meta"},
    "keyword": _COMMON | {"ignore_above", "eager_global_ordinals", "similarity",
                          "split_queries_on_whitespace", "normalizer", "norms",
                          "time_series_dimension"},
    "date": _COMMON | {"format", "locale", "ignore_malformed"},
    "date_nanos": _COMMON | {"format", "locale", "ignore_malformed"},
    "boolean": _COMMON,
    "ip": _COMMON | {"ignore_malformed", "time_series_dimension"},
    "dense_vector": {"type", "dims", "element_type", "index", "similarity", "index_options",
                     "meta"},
    "object": {"type", "properties", "dynamic", "enabled"},
    "nested": {"type", "properties", "dynamic", "enabled", "include_in_parent",
               "include_in_root"},
    "semantic_text": SEMANTIC_TEXT_PARAMS,
    "sparse_vector": {"type", "meta", "store", "index_options"},
    "alias": {"type", "path"},
    "completion": COMPLETION_PARAMS,
}
for _t in INTEGER_TYPES | FLOAT_TYPES:
    PARAMS[_t] = _COMMON | {"coerce", "ignore_malformed", "scaling_factor",
                            "time_series_metric", "time_series_dimension"}
SIMILARITIES = ("cosine", "dot_product", "l2_norm", "max_inner_product")
VECTOR_INDEX_TYPES = ("hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw", "flat", "int8_flat",
                      "int4_flat", "bbq_flat")
UNSUPPORTED_PARAMS = {"normalizer", "index_phrases"}


@dataclass(frozen=True)
class FieldSpec:
    """One indexable field (sub-fields such as `title.keyword` are fields of their own)."""

    path: str
    type: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def analyzer(self) -> str:
        return self.params.get("analyzer", "standard")

    @property
    def search_analyzer(self) -> str:
        return self.params.get("search_analyzer", self.analyzer)

    @property
    def indexed(self) -> bool:
        return self.params.get("index", True) is not False

    @property
    def date_format(self) -> str:
        return self.params.get("format", DEFAULT_FORMAT)


def check_params(name: str, body: dict[str, Any]) -> None:
    """Refuse a field whose type or parameters Elasticsearch refuses (with its message)."""
    ftype = body.get("type", "object" if "properties" in body else None)
    if ftype is None:
        raise MapperParsingError(f"No type specified for field [{name}]")
    if not isinstance(ftype, str) or ftype not in PARAMS:
        if ftype in ("flattened", "geo_point",
                     "wildcard", "constant_keyword", "rank_feature", "search_as_you_type",
                     "binary", "version", "histogram", "join", "percolator"):
            raise MapperParsingError(
                f"field type [{ftype}] of field [{name}] is not supported by the embedded engine")
        raise MapperParsingError(f"No handler for type [{ftype}] declared on field [{name}]")
    for param in body:
        if param not in PARAMS[ftype]:
            raise MapperParsingError(
                f"unknown parameter [{param}] on mapper [{name}] of type [{ftype}]")
        if param in UNSUPPORTED_PARAMS and body[param] is not None:
            raise MapperParsingError(
                f"parameter [{param}] on mapper [{name}] is not supported by the embedded engine")
    for key in ("analyzer", "search_analyzer", "search_quote_analyzer"):
        if key in body and body[key] not in ANALYZERS:
            raise MapperParsingError(f"analyzer [{body[key]}] has not been configured in mappings")
    if ftype == "alias" and not isinstance(body.get("path"), str):
        raise MapperParsingError(f"The [path] property must be specified for field [{name}].")
    if ftype == "dense_vector":
        _check_vector(name, body)
    if ftype == "completion":
        check_completion(name, body)
    if ftype == "semantic_text":
        check_semantic_text(name, body)
    if ftype in ("date", "date_nanos") and "format" in body:
        for fmt in str(body["format"]).split("||"):
            if not re.fullmatch(r"[A-Za-z_'\-/:. T]+", fmt):
                raise MapperParsingError(f"Invalid format: [{body['format']}]")
    for sub, sub_body in (body.get("fields") or {}).items():
        if not isinstance(sub_body, dict):
            raise MapperParsingError(f"Expected map for property [fields] on field [{name}]")
        check_params(f"{name}.{sub}", sub_body)


def _check_vector(name: str, body: dict[str, Any]) -> None:
    dims = body.get("dims")
    if dims is not None and (not isinstance(dims, int) or not 1 <= dims <= 4096):
        raise MapperParsingError(
            f"The number of dimensions should be in the range [1, 4096] but was [{dims}]")
    sim = body.get("similarity")
    if sim is not None and sim not in SIMILARITIES:
        raise MapperParsingError(
            f"Unknown value [{sim}] for field [similarity] - accepted values are "
            f"[l2_norm, dot_product, cosine, max_inner_product]")
    if body.get("element_type", "float") not in ("float", "byte"):
        raise MapperParsingError(f"invalid element_type [{body['element_type']}]")
    opts = body.get("index_options")
    if body.get("index") is False:
        for key in ("similarity", "index_options"):
            if body.get(key) is not None:
                raise MapperParsingError(f"Field [{key}] can only be specified for a field of "
                                         f"type [dense_vector] when it is indexed")
    else:
        body.setdefault("index", True)
        body.setdefault("similarity", "cosine")
        if opts is None and body.get("element_type", "float") == "float":
            body["index_options"] = opts = {"type": "int8_hnsw", "m": 16, "ef_construction": 100,
                                            "early_termination": False}
    if opts is not None:
        if not isinstance(opts, dict) or "type" not in opts:
            raise MapperParsingError("[index_options] requires field [type] to be configured")
        if opts["type"] not in VECTOR_INDEX_TYPES:
            raise MapperParsingError(f"Unknown vector index options type [{opts['type']}] for "
                                     f"field [{name}]")
        allowed = {"type", "m", "ef_construction", "confidence_interval", "rescore_vector",
                   "early_termination"}
        for key in opts:
            if key not in allowed or (opts["type"].endswith("flat") and key in
                                      ("m", "ef_construction")):
                raise MapperParsingError(f"Mapping definition for [{name}] has unsupported "
                                         f"parameters:  [{key} : {opts[key]}]")


def expand_dots(props: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": {...}}` → `{"a": {"properties": {"b": {...}}}}`, as Elasticsearch reads it."""
    out: dict[str, Any] = {}
    for name, body in props.items():
        if isinstance(body, dict) and isinstance(body.get("properties"), dict):
            body = {**body, "properties": expand_dots(body["properties"])}
        if "." in name.strip(".") and ".." not in name:
            head, rest = name.split(".", 1)
            nested = expand_dots({rest: body})
            target = out.setdefault(head, {"properties": {}})
            target.setdefault("properties", {}).update(nested)
        else:
            out[name] = body
    return out


def validate_properties(props: dict[str, Any], prefix: str = "") -> None:
    """Refuse unknown types and parameters the way Elasticsearch does."""
    if not isinstance(props, dict):
        raise MapperParsingError("Expected map for property [properties]")
    for name, body in props.items():
        if not name or not name.strip() or name.startswith(".") or name.endswith(".") or \
                ".." in name:
            raise BadRequest("field name cannot be an empty string" if not name.strip()
                             else f"field name [{name}] is invalid")
        if not isinstance(body, dict):
            raise MapperParsingError(
                f"Expected map for property [fields] on field [{prefix}{name}] but got a class "
                f"java.lang.String")
        check_params(prefix + name, body)
        if "properties" in body:
            validate_properties(body["properties"], f"{prefix}{name}.")


def _merge_field(path: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_type = old.get("type", "object")
    new_type = new.get("type", "object" if "properties" in new else None)
    if old_type != new_type:
        raise BadRequest(f"mapper [{path}] cannot be changed from type [{old_type}] to "
                         f"[{new_type}]")
    merged = dict(old)
    if old_type in ("object", "nested"):
        merged["properties"] = merge_properties(old.get("properties", {}),
                                                new.get("properties", {}), path + ".")
        for key in ("include_in_parent", "include_in_root"):
            if key in new and bool(new[key]) != bool(old.get(key, False)):
                raise BadRequest(f"the [{key}] parameter can't be updated for the nested "
                                 f"object mapping [{path}]")
        for key in ("dynamic", "enabled"):
            if key in new:
                merged[key] = new[key]
        return merged
    for key, value in new.items():
        if key == "fields":
            merged["fields"] = merge_properties(old.get("fields", {}), value, path + ".")
        elif key in ("ignore_above", "meta", "search_analyzer", "search_inference_id") or (
                key == "dims" and "dims" not in old):
            merged[key] = value
        elif old.get(key) != value:
            raise BadRequest(f"Mapper for [{path}] conflicts with existing mapper:\n\t"
                             f"Cannot update parameter [{key}] from [{old.get(key)}] to [{value}]")
    return merged


def merge_properties(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Additive merge of two `properties` maps; a changed type or parameter is refused."""
    merged = copy.deepcopy(old)
    for name, body in new.items():
        merged[name] = _merge_field(prefix + name, merged[name], body) if name in merged \
            else copy.deepcopy(body)
    return merged
