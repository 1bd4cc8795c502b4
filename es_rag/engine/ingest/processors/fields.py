"""Processors that add, move, order and remove fields: set, append, remove, rename,
dot_expander, sort."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from es_rag.engine.errors import BadRequest, EngineError
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import METADATA_FIELDS, IngestDocument, java_type
from es_rag.engine.ingest.processors.base import Processor
from es_rag.engine.mustache import MEDIA_TYPES, Template

Value = Callable[[dict[str, Any]], Any]


def compile_value(config: ProcessorConfig, name: str, value: Any, media_type: str) -> Value:
    """Elasticsearch's `ValueSource`: strings (and map keys) may be templates, at any depth."""
    if isinstance(value, str):
        compiled = config.template(name, value, media_type)
        if isinstance(compiled, Template):
            return compiled.render
        return lambda model: value
    if isinstance(value, list):
        items = [compile_value(config, name, item, media_type) for item in value]
        return lambda model: [item(model) for item in items]
    if isinstance(value, dict):
        entries = [(compile_value(config, name, key, media_type),
                    compile_value(config, name, item, media_type)) for key, item in value.items()]
        return lambda model: {key(model): item(model) for key, item in entries}
    return lambda model: copy.deepcopy(value)


def _media_type(config: ProcessorConfig) -> str:
    media_type = config.read_string("media_type", "application/json")
    if media_type not in MEDIA_TYPES:
        raise config.error("media_type", f"property does not contain a supported media type "
                                          f"[{media_type}]")
    return media_type


def _value_or_copy_from(config: ProcessorConfig) -> tuple[Value | None, str | None]:
    copy_from = config.read_string("copy_from", None)
    media_type = _media_type(config)
    if copy_from is not None:
        if config.has("value"):
            raise config.error("copy_from", "cannot set `copy_from` while also setting `value`")
        return None, copy_from
    return compile_value(config, "value", config.read("value"), media_type), None


class Set(Processor):
    type = "set"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.value, self.copy_from = _value_or_copy_from(config)
        self.override = config.read_bool("override", True)
        self.ignore_empty_value = config.read_bool("ignore_empty_value", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        field = doc.render(self.field)
        if self.override or not doc.has(field) or doc.get(field) is None:
            if self.copy_from is not None:
                value = copy.deepcopy(doc.get(self.copy_from, self.ignore_empty_value))
            else:
                assert self.value is not None
                value = self.value(doc.template_model())
            if self.ignore_empty_value and (value is None or value == ""):
                return doc
            doc.set(field, value)
        return doc


class Append(Processor):
    type = "append"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.value, self.copy_from = _value_or_copy_from(config)
        self.allow_duplicates = config.read_bool("allow_duplicates", True)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        if self.copy_from is not None:
            value = copy.deepcopy(doc.get(self.copy_from))
        else:
            assert self.value is not None
            value = self.value(doc.template_model())
        doc.append(doc.render(self.field), value, self.allow_duplicates)
        return doc


class Remove(Processor):
    type = "remove"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.fields = [config.template("field", f) for f in config.read_strings("field", [])]
        self.keep = [config.template("keep", f) for f in config.read_strings("keep", [])]
        if not self.fields and not self.keep:
            raise config.error("keep", "or [field] must be specified")
        if self.fields and self.keep:
            raise config.error("keep", "and [field] cannot both be used in the same processor")
        self.ignore_missing = config.read_bool("ignore_missing", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        if self.keep:
            kept = [doc.render(path) for path in self.keep]
            for path in _all_paths(doc.data):
                if path.split(".")[0] in METADATA_FIELDS or _is_kept(path, kept):
                    continue
                if doc.has(path):
                    doc.remove(path)
            return doc
        for template in self.fields:
            path = doc.render(template)
            if not self.ignore_missing or doc.has(path):
                doc.remove(path)
        return doc


def _all_paths(data: dict[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in data.items():
        path = prefix + key
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_all_paths(value, path + "."))
    return paths


def _is_kept(path: str, kept: list[str]) -> bool:
    return any(path == keep or keep.startswith(path + ".") or path.startswith(keep + ".")
               for keep in kept)


class Rename(Processor):
    type = "rename"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.target_field = config.read_template("target_field")
        self.ignore_missing = config.read_bool("ignore_missing", False)
        self.override = config.read_bool("override", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        path = doc.render(self.field)
        if not doc.has(path, fail_out_of_range=True):
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{path}] doesn't exist")
        target = doc.render(self.target_field)
        if doc.has(target, fail_out_of_range=True) and not self.override:
            raise BadRequest(f"field [{target}] already exists")
        value = doc.get(path)
        doc.remove(path)
        try:
            doc.set(target, value)
        except BadRequest:
            doc.set(path, value)
            raise
        return doc


class DotExpander(Processor):
    type = "dot_expander"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        if "." not in self.field and self.field != "*":
            raise config.error("field", "field does not contain a dot and is not a wildcard")
        if self.field.startswith(".") or self.field.endswith("."):
            raise config.error("field", "Field can't start or end with a dot")
        if ".." in self.field:
            raise config.error("field", "No space between dots")
        self.path = config.read_string("path", None)
        self.override = config.read_bool("override", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        container = doc.data if self.path is None else doc.get(self.path)
        if not isinstance(container, dict):
            raise BadRequest(f"field [{self.path}] of type [{java_type(container)}] cannot be "
                             "cast to [java.util.Map]")
        fields = ([key for key in container if "." in key] if self.field == "*"
                  else [self.field])
        for field in fields:
            if field in container:
                self._expand(doc, container, field)
        return doc

    def _expand(self, doc: IngestDocument, container: dict[str, Any], field: str) -> None:
        path = field if self.path is None else f"{self.path}.{field}"
        if doc.has(path):
            value = container.pop(field)
            if self.override:
                doc.set(path, value)
            else:
                doc.append(path, value)
            return
        parts = path.split(".")
        for end in range(1, len(parts)):
            partial = ".".join(parts[:end])
            if not doc.has(partial):
                break
            if not isinstance(doc.get(partial), dict):
                raise BadRequest(f"cannot expand [{path}], because [{partial}] is not an object "
                                 "field, but a value field")
        doc.set(path, container.pop(field))


class Sort(Processor):
    """Elasticsearch's `SortProcessor`: a list sorted in natural order (`asc` or `desc`)."""

    type = "sort"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        self.target_field = config.read_string("target_field", None)
        self.order = config.read_string("order", "asc")
        if self.order not in ("asc", "desc"):
            raise config.error("order", f"Sort direction [{self.order}] not recognized. Valid "
                                        "values are: [asc, desc]")

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        values = doc.get(self.field)
        if values is None:
            raise BadRequest(f"field [{self.field}] is null, cannot sort.")
        if not isinstance(values, list):
            raise BadRequest(f"field [{self.field}] of type [{java_type(values)}] cannot be cast "
                             "to [java.util.List]")
        kinds = sorted({java_type(v) for v in values})
        if len(kinds) > 1 or kinds in (["java.util.HashMap"], ["java.util.ArrayList"]):
            # Java's natural order compares values of one class only
            raise EngineError(f"class {kinds[-1]} cannot be cast to class {kinds[0]}",
                              status=500, error_type="class_cast_exception")
        ordered = sorted(values, key=_utf16, reverse=self.order == "desc")
        doc.set(self.target_field or self.field, ordered)
        return doc


def _utf16(value: Any) -> Any:
    """Java's `String.compareTo` order (UTF-16 code units), or the value itself."""
    return value.encode("utf-16-be") if isinstance(value, str) else value


PROCESSORS: list[type[Processor]] = [Set, Append, Remove, Rename, DotExpander, Sort]
