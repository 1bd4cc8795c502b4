"""Index mappings: field types, validation, additive merges and dynamic mapping of new fields."""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analysis import ANALYZERS
from .dates import DEFAULT_FORMAT, DYNAMIC_DATE_FORMATS, parse_date
from .errors import BadRequest, DocumentParsingError, EngineError, MapperParsingError

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
    "dense_vector": {"type", "dims", "element_type", "index", "similarity", "index_options",
                     "meta"},
    "object": {"type", "properties", "dynamic", "enabled"},
}
for _t in INTEGER_TYPES | FLOAT_TYPES:
    PARAMS[_t] = _COMMON | {"coerce", "ignore_malformed", "scaling_factor",
                            "time_series_metric", "time_series_dimension"}
SIMILARITIES = ("cosine", "dot_product", "l2_norm", "max_inner_product")
VECTOR_INDEX_TYPES = ("hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw", "flat", "int8_flat",
                      "int4_flat", "bbq_flat")
UNSUPPORTED_PARAMS = {"copy_to", "normalizer", "index_phrases"}


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


def _check_params(name: str, body: dict[str, Any]) -> None:
    ftype = body.get("type", "object" if "properties" in body else None)
    if ftype is None:
        raise MapperParsingError(f"No type specified for field [{name}]")
    if not isinstance(ftype, str) or ftype not in PARAMS:
        if ftype in ("nested", "flattened", "geo_point", "ip", "semantic_text", "sparse_vector",
                     "alias", "wildcard", "constant_keyword", "rank_feature", "search_as_you_type",
                     "completion", "binary", "version", "histogram", "join", "percolator"):
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
    if ftype == "dense_vector":
        _check_vector(name, body)
    if ftype in ("date", "date_nanos") and "format" in body:
        for fmt in str(body["format"]).split("||"):
            if not re.fullmatch(r"[A-Za-z_'\-/:. T]+", fmt):
                raise MapperParsingError(f"Invalid format: [{body['format']}]")
    for sub, sub_body in (body.get("fields") or {}).items():
        if not isinstance(sub_body, dict):
            raise MapperParsingError(f"Expected map for property [fields] on field [{name}]")
        _check_params(f"{name}.{sub}", sub_body)


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


def _expand_dots(props: dict[str, Any]) -> dict[str, Any]:
    """`{"a.b": {...}}` → `{"a": {"properties": {"b": {...}}}}`, as Elasticsearch reads it."""
    out: dict[str, Any] = {}
    for name, body in props.items():
        if isinstance(body, dict) and isinstance(body.get("properties"), dict):
            body = {**body, "properties": _expand_dots(body["properties"])}
        if "." in name.strip(".") and ".." not in name:
            head, rest = name.split(".", 1)
            nested = _expand_dots({rest: body})
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
        _check_params(prefix + name, body)
        if "properties" in body:
            validate_properties(body["properties"], f"{prefix}{name}.")


def _merge_field(path: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_type = old.get("type", "object")
    new_type = new.get("type", "object" if "properties" in new else None)
    if old_type != new_type:
        raise BadRequest(f"mapper [{path}] cannot be changed from type [{old_type}] to "
                         f"[{new_type}]")
    merged = dict(old)
    if old_type == "object":
        merged["properties"] = merge_properties(old.get("properties", {}),
                                                new.get("properties", {}), path + ".")
        for key in ("dynamic", "enabled"):
            if key in new:
                merged[key] = new[key]
        return merged
    for key, value in new.items():
        if key == "fields":
            merged["fields"] = merge_properties(old.get("fields", {}), value, path + ".")
        elif key in ("ignore_above", "meta", "search_analyzer") or (
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


@dataclass(slots=True)
class ParsedDocument:
    """A document turned into typed values per field path, vectors and new dynamic mappings."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    field_names: set[str] = field(default_factory=set)
    new_properties: dict[str, Any] = field(default_factory=dict)


class Mapping:
    """The mapping of one index: `properties`, `dynamic`, and the flat list of fields."""

    def __init__(self, body: dict[str, Any] | None = None) -> None:
        body = dict(body or {})
        self.dynamic = body.pop("dynamic", True)
        self.meta = body.pop("_meta", None)
        self.source = body.pop("_source", None)
        self.date_detection = body.pop("date_detection", True)
        self.numeric_detection = body.pop("numeric_detection", False)
        self.dynamic_date_formats = body.pop("dynamic_date_formats", DYNAMIC_DATE_FORMATS)
        self.dynamic_templates = _check_templates(body.pop("dynamic_templates", []))
        body.pop("_routing", None)
        props = body.pop("properties", {})
        if body:
            key = next(iter(body))
            raise MapperParsingError(f"Root mapping definition has unsupported parameters:  "
                                     f"[{key} : {body[key]}]")
        if self.dynamic not in (True, False, "true", "false", "strict", "runtime"):
            raise MapperParsingError(f"Could not convert [dynamic] to boolean: [{self.dynamic}]")
        props = _expand_dots(props) if isinstance(props, dict) else props
        validate_properties(props)
        self.properties: dict[str, Any] = props
        self.fields = self._flatten(props)
        self._subfields = {path: [self.fields[f"{path}.{sub}"] for sub in spec.params["fields"]]
                           if spec.params.get("fields") else []
                           for path, spec in self.fields.items()}

    @staticmethod
    def _flatten(props: dict[str, Any], prefix: str = "") -> dict[str, FieldSpec]:
        out: dict[str, FieldSpec] = {}
        for name, body in props.items():
            path = prefix + name
            ftype = body.get("type", "object")
            if ftype == "object":
                out[path] = FieldSpec(path, "object", body)
                out.update(Mapping._flatten(body.get("properties", {}), path + "."))
                continue
            out[path] = FieldSpec(path, ftype, body)
            for sub, sub_body in (body.get("fields") or {}).items():
                out[f"{path}.{sub}"] = FieldSpec(f"{path}.{sub}", sub_body["type"], sub_body)
        return out

    def to_json(self) -> dict[str, Any]:
        """The mapping as `GET _mapping` shows it."""
        out: dict[str, Any] = {}
        if self.dynamic not in (True, "true"):
            out["dynamic"] = self.dynamic
        if self.meta is not None:
            out["_meta"] = self.meta
        if self.source is not None:
            out["_source"] = self.source
        if self.date_detection is not True:
            out["date_detection"] = self.date_detection
        if self.numeric_detection:
            out["numeric_detection"] = self.numeric_detection
        if self.dynamic_date_formats != DYNAMIC_DATE_FORMATS:
            out["dynamic_date_formats"] = self.dynamic_date_formats
        if self.dynamic_templates:
            out["dynamic_templates"] = self.dynamic_templates
        if self.properties:
            out["properties"] = self.properties
        return out

    def merged(self, body: dict[str, Any]) -> Mapping:
        """A new mapping with `body` (a put-mapping body) merged in additively."""
        incoming = Mapping(body)
        current = self.to_json()
        current["properties"] = merge_properties(self.properties, incoming.properties)
        if "dynamic" in body:
            current["dynamic"] = body["dynamic"]
        for key in ("_meta", "date_detection", "numeric_detection", "dynamic_date_formats"):
            if key in body:
                current[key] = body[key]
        if "dynamic_templates" in body:
            by_name = {next(iter(t)): t for t in self.dynamic_templates}
            for template in incoming.dynamic_templates:
                by_name[next(iter(template))] = template
            current["dynamic_templates"] = list(by_name.values())
        return Mapping(current)

    def parse(self, source: dict[str, Any], doc_id: str) -> ParsedDocument:
        """Typed field values of a document; unknown fields are mapped dynamically."""
        doc = ParsedDocument()
        self._parse_object(source, "", self.properties, self.dynamic, doc, doc.new_properties,
                           doc_id)
        return doc

    def _parse_object(self, obj: dict[str, Any], prefix: str, props: dict[str, Any],
                      dynamic: Any, doc: ParsedDocument, new_props: dict[str, Any],
                      doc_id: str) -> None:
        for name, value in obj.items():
            if not name:
                raise DocumentParsingError("field name cannot be an empty string")
            if "." in name:
                if name.strip(".") != name or ".." in name:
                    raise DocumentParsingError(f"field name [{name}] is invalid")
                head, rest = name.split(".", 1)
                value, name = {rest: value}, head
            path = prefix + name
            body = props.get(name) or new_props.get(name)
            if body is None:
                body = self._dynamic_body(path, value, dynamic)
                if body is None:
                    continue
                new_props[name] = body
            if body.get("type", "object") != "object":
                self._parse_leaf(path, body, value, doc, doc_id)
                continue
            if body.get("enabled") is False:
                continue
            is_new = new_props.get(name) is body
            child_props = body.setdefault("properties", {}) if is_new \
                else body.get("properties", {})
            child_new = child_props if is_new else {}
            for item in value if isinstance(value, list) else [value]:
                if item is None:
                    continue
                if not isinstance(item, dict):
                    raise DocumentParsingError(
                        f"object mapping for [{path}] tried to parse field [{name}] as object, "
                        f"but found a concrete value")
                self._parse_object(item, path + ".", child_props, body.get("dynamic", dynamic),
                                   doc, child_new, doc_id)
            if child_new and not is_new:
                new_props.setdefault(name, {"properties": {}})["properties"].update(child_new)

    def _dynamic_body(self, path: str, value: Any, dynamic: Any) -> dict[str, Any] | None:
        if dynamic in (False, "false", "runtime"):
            return None
        sample = value
        while isinstance(sample, list):
            if (len(sample) >= 128 and len(sample) <= 4096
                    and all(isinstance(v, float) for v in sample)):
                if dynamic == "strict":
                    break
                return {"type": "dense_vector", "dims": len(sample), "index": True,
                        "similarity": "cosine"}
            sample = next((v for v in sample if v is not None), None)
        if sample is None:
            return None
        if dynamic == "strict":
            parent, _, leaf = path.rpartition(".")
            raise EngineError(f"mapping set to strict, dynamic introduction of [{leaf}] within "
                              f"[{parent or '_doc'}] is not allowed", status=400,
                              error_type="strict_dynamic_mapping_exception")
        kind, body = self._detect(sample)
        for template in self.dynamic_templates:
            name, spec = next(iter(template.items()))
            if _template_matches(spec, path, kind):
                mapping = _substitute(spec.get("mapping", {}), path.rsplit(".", 1)[-1],
                                      body.get("type", "object"))
                if "type" not in mapping and "properties" not in mapping:
                    mapping = {**body, **mapping}
                try:
                    _check_params(path, mapping)
                except MapperParsingError as err:
                    raise MapperParsingError(f"dynamic template [{name}] has invalid content: "
                                             f"{err.reason}") from err
                return mapping
        return body

    def _detect(self, sample: Any) -> tuple[str, dict[str, Any]]:
        """The JSON kind of a value (as dynamic templates name it) and its default mapping."""
        if isinstance(sample, bool):
            return "boolean", {"type": "boolean"}
        if isinstance(sample, int):
            return "long", {"type": "long"}
        if isinstance(sample, float):
            return "double", {"type": "float"}
        if isinstance(sample, dict):
            return "object", {"properties": {}}
        text = str(sample)
        if self.date_detection:
            for fmt in self.dynamic_date_formats:
                try:
                    parse_date(text, fmt)
                except ValueError:
                    continue
                if not text.lstrip("-").isdigit():
                    return "date", {"type": "date"}
        if self.numeric_detection:
            try:
                float(text)
                return ("long", {"type": "long"}) if text.lstrip("-").isdigit() \
                    else ("double", {"type": "float"})
            except ValueError:
                pass
        return "string", {"type": "text",
                          "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}

    def _parse_leaf(self, path: str, body: dict[str, Any], value: Any, doc: ParsedDocument,
                    doc_id: str) -> None:
        ftype = body["type"]
        if ftype == "dense_vector":
            self._parse_vector(path, body, value, doc, doc_id)
            return
        if type(value) is not list:
            items: list[Any] | tuple[Any] = (value,)
        elif any(isinstance(item, list) for item in value):
            items = [inner for item in value
                     for inner in (item if isinstance(item, list) else (item,))]
        else:
            items = value
        spec = self.fields.get(path)
        if spec is not None and spec.params is body:
            subs = self._subfields[path]
        else:  # a field mapped by this document
            spec = FieldSpec(path, ftype, body)
            subs = [self.fields.get(f"{path}.{sub}") or FieldSpec(f"{path}.{sub}", sb["type"], sb)
                    for sub, sb in (body.get("fields") or {}).items()]
        values, names = doc.values, doc.field_names
        for item in items:
            if item is None:
                item = body.get("null_value")
                if item is None:
                    continue
            converted = _convert(spec, item, doc_id)
            if converted is None:
                continue
            values.setdefault(path, []).append(converted)
            names.add(path)
            for sub_spec in subs:
                sub_value = _convert(sub_spec, item, doc_id)
                if sub_value is not None:
                    values.setdefault(sub_spec.path, []).append(sub_value)
                    names.add(sub_spec.path)

    def _parse_vector(self, path: str, body: dict[str, Any], value: Any, doc: ParsedDocument,
                      doc_id: str) -> None:
        if value is None:
            return
        vector = np.asarray(value) if isinstance(value, list) else None
        if vector is None or vector.ndim != 1 or vector.dtype.kind not in "iuf":
            raise DocumentParsingError(
                f"failed to parse field [{path}] of type [dense_vector] in document with id "
                f"'{doc_id}'. Preview of field's value: '{str(value)[:200]}'")
        dims = body.get("dims")
        if dims is None:
            dims = len(value)
            _set_path(doc.new_properties, path, {"type": "dense_vector", "dims": dims})
        if len(value) != dims:
            raise DocumentParsingError(
                f"The [dense_vector] field [{path}] in doc [document with id '{doc_id}'] has a "
                f"different number of dimensions [{len(value)}] than defined in the mapping "
                f"[{dims}]")
        vector = vector.astype(np.float32)
        sim = body.get("similarity", "cosine")
        norm = math.sqrt(float(vector.dot(vector)))
        if sim == "dot_product" and abs(norm - 1.0) > 1e-4:
            raise DocumentParsingError(
                f"The [dot_product] similarity can only be used with unit-length vectors. "
                f"Preview of invalid vector: {value[:5]}")
        if sim == "cosine" and norm == 0.0:
            raise DocumentParsingError(
                "The [cosine] similarity does not support vectors with zero magnitude. "
                f"Preview of invalid vector: {value[:5]}")
        doc.vectors[path] = vector
        doc.field_names.add(path)


_TEMPLATE_KEYS = {"match_mapping_type", "match", "unmatch", "path_match", "path_unmatch",
                  "match_pattern", "mapping", "unmatch_mapping_type"}


def _check_templates(templates: Any) -> list[dict[str, Any]]:
    if not isinstance(templates, list):
        raise MapperParsingError("Dynamic template syntax error. An array of named objects is "
                                 "expected.")
    for template in templates:
        if not isinstance(template, dict) or len(template) != 1:
            raise MapperParsingError("Dynamic template syntax error. An array of named objects "
                                     "is expected.")
        name, spec = next(iter(template.items()))
        if not isinstance(spec, dict):
            raise MapperParsingError(f"dynamic template [{name}] must be an object")
        for key in spec:
            if key not in _TEMPLATE_KEYS:
                raise MapperParsingError(f"Illegal dynamic template parameter: [{key}]")
        if "runtime" in spec:
            raise MapperParsingError("runtime dynamic templates are not supported by the "
                                     "embedded engine")
    return templates


def _as_patterns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _template_matches(spec: dict[str, Any], path: str, kind: str) -> bool:
    import fnmatch
    import re as regex

    name = path.rsplit(".", 1)[-1]
    types = _as_patterns(spec.get("match_mapping_type"))
    if types and "*" not in types and kind not in types:
        return False
    if kind in _as_patterns(spec.get("unmatch_mapping_type")):
        return False
    use_regex = spec.get("match_pattern") == "regex"

    def hit(pattern: str, text: str) -> bool:
        return bool(regex.fullmatch(pattern, text)) if use_regex \
            else fnmatch.fnmatchcase(text, pattern)

    checks = [("match", name, True), ("unmatch", name, False), ("path_match", path, True),
              ("path_unmatch", path, False)]
    for key, text, wanted in checks:
        patterns = _as_patterns(spec.get(key))
        if patterns and any(hit(p, text) for p in patterns) != wanted:
            return False
    return True


def _substitute(mapping: Any, name: str, dynamic_type: str) -> Any:
    if isinstance(mapping, dict):
        return {k: _substitute(v, name, dynamic_type) for k, v in mapping.items()}
    if isinstance(mapping, list):
        return [_substitute(v, name, dynamic_type) for v in mapping]
    if isinstance(mapping, str):
        return mapping.replace("{name}", name).replace("{dynamic_type}", dynamic_type)
    return mapping


def _set_path(props: dict[str, Any], path: str, patch: dict[str, Any]) -> None:
    parts = path.split(".")
    node = props
    for part in parts[:-1]:
        node = node.setdefault(part, {}).setdefault("properties", {})
    node.setdefault(parts[-1], {}).update(patch)


def _fail(spec: FieldSpec, value: Any, doc_id: str, cause: str) -> DocumentParsingError:
    return DocumentParsingError(
        f"failed to parse field [{spec.path}] of type [{spec.type}] in document with id "
        f"'{doc_id}'. Preview of field's value: '{value}'",
        caused_by={"type": "illegal_argument_exception", "reason": cause})


def _convert(spec: FieldSpec, value: Any, doc_id: str) -> Any:
    """One value converted to the field's type, or None when it is not indexed."""
    ftype = spec.type
    if type(value) is str:
        if ftype == "text":
            return value
        if ftype == "keyword":
            return None if len(value) > spec.params.get("ignore_above", 2**31) else value
    elif type(value) is int and ftype in INTEGER_TYPES:
        return value
    if isinstance(value, dict):
        raise _fail(spec, value, doc_id, f"Can't parse [{ftype}] from an object")
    if ftype in ("text", "match_only_text"):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if ftype == "keyword":
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return None if len(text) > spec.params.get("ignore_above", 2**31) else text
    if ftype == "boolean":
        if value in (True, False):
            return value
        if value in ("true", "false", ""):
            return value == "true"
        raise _fail(spec, value, doc_id, f"Failed to parse value [{value}] as only [true] or "
                                         f"[false] are allowed.")
    if ftype in ("date", "date_nanos"):
        try:
            return parse_date(value, spec.date_format)
        except ValueError as err:
            if spec.params.get("ignore_malformed"):
                return None
            raise _fail(spec, value, doc_id, str(err)) from err
    if ftype in INTEGER_TYPES or ftype in FLOAT_TYPES:
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if math.isnan(number) or math.isinf(number):
                raise ValueError
            if isinstance(value, str) and spec.params.get("coerce") is False:
                raise ValueError
        except (TypeError, ValueError) as err:
            if spec.params.get("ignore_malformed"):
                return None
            raise _fail(spec, value, doc_id, f"For input string: \"{value}\"") from err
        if ftype in INTEGER_TYPES:
            if not float(number).is_integer() and spec.params.get("coerce") is False:
                raise _fail(spec, value, doc_id, f"Value [{value}] has a decimal part")
            return int(number)
        return number
    raise MapperParsingError(f"No handler for type [{ftype}] declared on field [{spec.path}]")
