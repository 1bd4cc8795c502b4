"""The mapping of one index (`Mapping`) and the parsing of a document into typed field values,
vectors and new dynamic mappings (`ParsedDocument`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...dates import DYNAMIC_DATE_FORMATS, parse_date
from ...errors import DocumentParsingError, EngineError, MapperParsingError
from .aliases import alias_values, resolve_aliases
from .completion import completion_inputs
from .dynamic_templates import check_templates, substitute, template_matches
from .fields import FieldSpec, check_params, expand_dots, merge_properties, validate_properties
from .nested import copy_up, nested_paths
from .parsed import NestedObject, ParsedDocument
from .semantic_text import INFERENCE_FIELDS, values_of
from .values import convert


class Mapping:
    """The mapping of one index: `properties`, `dynamic`, and the flat list of fields."""

    def __init__(self, body: dict[str, Any] | None = None, *, complete: bool = True) -> None:
        """`complete=False` for a put-mapping body, whose aliases may point to fields the
        index already has (they are checked once merged)."""
        body = dict(body or {})
        self.dynamic = body.pop("dynamic", True)
        self.meta = body.pop("_meta", None)
        self.source = body.pop("_source", None)
        self.date_detection = body.pop("date_detection", True)
        self.numeric_detection = body.pop("numeric_detection", False)
        self.dynamic_date_formats = body.pop("dynamic_date_formats", DYNAMIC_DATE_FORMATS)
        self.dynamic_templates = check_templates(body.pop("dynamic_templates", []))
        body.pop("_routing", None)
        props = body.pop("properties", {})
        if body:
            key = next(iter(body))
            raise MapperParsingError(f"Root mapping definition has unsupported parameters:  "
                                     f"[{key} : {body[key]}]")
        if self.dynamic not in (True, False, "true", "false", "strict", "runtime"):
            raise MapperParsingError(f"Could not convert [dynamic] to boolean: [{self.dynamic}]")
        props = expand_dots(props) if isinstance(props, dict) else props
        validate_properties(props)
        self.properties: dict[str, Any] = props
        self.fields = self._flatten(props)
        self.aliases = resolve_aliases(self.fields) if complete else {}
        self.nested_paths = nested_paths(self.fields)
        self._subfields = {path: [self.fields[f"{path}.{sub}"] for sub in spec.params["fields"]]
                           if spec.params.get("fields") else []
                           for path, spec in self.fields.items()}

    @staticmethod
    def _flatten(props: dict[str, Any], prefix: str = "") -> dict[str, FieldSpec]:
        out: dict[str, FieldSpec] = {}
        for name, body in props.items():
            path = prefix + name
            ftype = body.get("type", "object")
            if ftype in ("object", "nested"):
                out[path] = FieldSpec(path, ftype, body)
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
        incoming = Mapping(body, complete=False)
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

    @property
    def source_enabled(self) -> bool:
        """False when `_source` is disabled: reads return no `_source` (it stays stored here,
        the engine's own copy to rebuild its indexes from)."""
        return not (isinstance(self.source, dict) and self.source.get("enabled") in (False,
                                                                                     "false"))

    def parse(self, source: dict[str, Any], doc_id: str) -> ParsedDocument:
        """Typed field values of a document; unknown fields are mapped dynamically."""
        doc = ParsedDocument()
        if INFERENCE_FIELDS in source:  # semantic_text chunks: metadata, not fields
            source = {k: v for k, v in source.items() if k != INFERENCE_FIELDS}
        self._parse_object(source, "", self.properties, self.dynamic, doc, doc.new_properties,
                           doc_id)
        if self.aliases:
            alias_values(doc, self.aliases)
        return doc

    def source_path(self, path: str) -> str:
        """Where a field's values are in `_source`: a field alias reads its target's."""
        return self.aliases.get(path, path)

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
            ftype = body.get("type", "object")
            if ftype not in ("object", "nested"):
                self._parse_leaf(path, body, value, doc, doc_id)
                continue
            if body.get("enabled") is False:
                continue
            is_new = new_props.get(name) is body
            child_props = body.setdefault("properties", {}) if is_new \
                else body.get("properties", {})
            child_new = child_props if is_new else {}
            offset = 0
            for item in value if isinstance(value, list) else [value]:
                if item is None:
                    continue
                if not isinstance(item, dict):
                    raise DocumentParsingError(
                        f"object mapping for [{path}] tried to parse field [{name}] as object, "
                        f"but found a concrete value")
                target = doc if ftype == "object" else \
                    ParsedDocument(new_properties=doc.new_properties)
                self._parse_object(item, path + ".", child_props, body.get("dynamic", dynamic),
                                   target, child_new, doc_id)
                if target is not doc:
                    doc.nested.append(NestedObject(path, offset, target))
                    copy_up(doc, target, body)
                    offset += 1
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
            if template_matches(spec, path, kind):
                mapping = substitute(spec.get("mapping", {}), path.rsplit(".", 1)[-1],
                                      body.get("type", "object"))
                if "type" not in mapping and "properties" not in mapping:
                    mapping = {**body, **mapping}
                try:
                    check_params(path, mapping)
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
                    doc_id: str, copying: bool = False) -> None:
        ftype = body["type"]
        if ftype == "alias":
            raise DocumentParsingError(f"Cannot write to a field alias [{path}].")
        if ftype == "dense_vector":
            self._parse_vector(path, body, value, doc, doc_id)
            return
        if ftype == "semantic_text":  # searched through its chunks (query/semantic.py)
            if values_of(value):
                doc.field_names.add(path)
            return
        if ftype == "completion":  # kept in _source (no suggest API)
            if completion_inputs(path, value, doc_id):
                doc.field_names.add(path)
            return
        if ftype == "sparse_vector":  # scored from _source (query/chunk_scores.py)
            _check_sparse(path, value, doc_id)
            if value:
                doc.field_names.add(path)
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
        if body.get("copy_to") and not copying:
            self._copy_to(path, body["copy_to"], value, doc, doc_id)
        values, names = doc.values, doc.field_names
        for item in items:
            if item is None:
                item = body.get("null_value")
                if item is None:
                    continue
            converted = convert(spec, item, doc_id)
            if converted is None:
                continue
            values.setdefault(path, []).append(converted)
            names.add(path)
            for sub_spec in subs:
                sub_value = convert(sub_spec, item, doc_id)
                if sub_value is not None:
                    values.setdefault(sub_spec.path, []).append(sub_value)
                    names.add(sub_spec.path)

    def _copy_to(self, path: str, targets: Any, value: Any, doc: ParsedDocument,
                  doc_id: str) -> None:
        """Index `value` in the `copy_to` fields too (as Elasticsearch: one level, the copy is
        not copied further); an unmapped target is mapped dynamically."""
        for target in targets if isinstance(targets, list) else [targets]:
            spec = self.fields.get(target)
            if spec is not None and spec.type == "object":
                raise DocumentParsingError(f"Cannot copy to field [{target}] since it is mapped "
                                           f"as an object")
            body = spec.params if spec is not None else self._dynamic_body(target, value,
                                                                            self.dynamic)
            if body is None:
                continue
            if spec is None:
                _set_path(doc.new_properties, target, body)
            self._parse_leaf(target, body, value, doc, doc_id, copying=True)

    def copy_sources(self, path: str) -> list[str]:
        """The fields whose values a field receives through `copy_to`, itself first."""
        sources = [path]
        for spec in self.fields.values():
            targets = spec.params.get("copy_to") if spec.type != "object" else None
            if targets and path in (targets if isinstance(targets, list) else [targets]):
                sources.append(spec.path)
        return sources

    def _parse_vector(self, path: str, body: dict[str, Any], value: Any, doc: ParsedDocument,
                      doc_id: str) -> None:
        if value is None:
            return
        if isinstance(value, str):
            value = _hex_vector(path, body, value, doc_id)
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


def _hex_vector(path: str, body: dict[str, Any], text: str, doc_id: str) -> list[int]:
    """A `byte` vector given as a hex string (two digits a dimension, signed bytes), as
    Elasticsearch accepts since 8.13; a `float` vector must be an array."""
    preview = (f"failed to parse field [{path}] of type [dense_vector] in document with id "
               f"'{doc_id}'. Preview of field's value: '{text[:200]}'")
    if body.get("element_type", "float") != "byte":
        raise DocumentParsingError(preview, caused_by={
            "type": "parsing_exception", "reason": "Failed to parse object: expecting token "
            "of type [START_ARRAY] but found [VALUE_STRING]"})
    try:
        return signed_bytes(text)
    except ValueError as err:
        raise DocumentParsingError(preview, caused_by={
            "type": "illegal_argument_exception", "reason": str(err)}) from err


def signed_bytes(text: str) -> list[int]:
    """`"807f0a"` -> [-128, 127, 10]; refuses what is not an even number of hex digits."""
    if len(text) % 2 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"[{text}] is not a hex string of whole bytes")
    return [b - 256 if b > 127 else b for b in bytes.fromhex(text)]
def _check_sparse(path: str, value: Any, doc_id: str) -> None:
    """A sparse_vector value: token → strictly positive weight."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise DocumentParsingError(
            f"[sparse_vector] fields take hashes that map a feature to a strictly positive "
            f"float, but got unexpected token {type(value).__name__} in document with id "
            f"'{doc_id}' for field [{path}]")
    for token, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise DocumentParsingError(
                f"[sparse_vector] fields do not support negative or zero values, nor non-number "
                f"values, but got [{weight}] for feature [{token}] of field [{path}] in "
                f"document with id '{doc_id}'")


def _set_path(props: dict[str, Any], path: str, patch: dict[str, Any]) -> None:
    parts = path.split(".")
    node = props
    for part in parts[:-1]:
        node = node.setdefault(part, {}).setdefault("properties", {})
    node.setdefault(parts[-1], {}).update(patch)
