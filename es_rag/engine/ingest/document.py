"""The document a pipeline works on: `_source` and metadata fields addressed by dot paths."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from es_rag.engine.errors import BadRequest
from es_rag.engine.mustache import Template

METADATA_FIELDS = ("_index", "_id", "_routing", "_version", "_version_type", "_if_seq_no",
                   "_if_primary_term", "_dynamic_templates")
_INGEST_PREFIX = "_ingest."
_SOURCE_PREFIX = "_source."


def java_type(value: Any) -> str:
    """The Java class Elasticsearch would name for a JSON value in its error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -2**31 <= value < 2**31 else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "java.util.ArrayList"
    if isinstance(value, dict):
        return "java.util.HashMap"
    return type(value).__name__


def ingest_timestamp(moment: datetime | None = None) -> str:
    """`_ingest.timestamp`: ISO-8601 in UTC with a `Z`."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class IngestDocument:
    """Source fields and metadata (`_index`, `_id`, `_routing`, `_version`, …) in one map, as
    Elasticsearch's `sourceAndMetadata`, plus the `_ingest` map (`timestamp`, `pipeline`,
    `on_failure_*`). Paths are dot separated; list elements are addressed by index."""

    def __init__(self, index: str, doc_id: str | None, source: dict[str, Any], *,
                 routing: str | None = None, version: int | None = None,
                 timestamp: str | None = None) -> None:
        self.data: dict[str, Any] = copy.deepcopy(source)
        for name, value in (("_index", index), ("_id", doc_id), ("_routing", routing),
                            ("_version", version)):
            if value is not None:
                self.data[name] = value
        self.ingest: dict[str, Any] = {"timestamp": timestamp or ingest_timestamp()}
        self.pipeline_stack: list[str] = []
        self.terminated = False  # set by the `terminate` processor

    @property
    def source(self) -> dict[str, Any]:
        """The `_source` fields (everything but metadata)."""
        return {k: v for k, v in self.data.items() if k not in METADATA_FIELDS}

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata fields that are set."""
        return {k: self.data[k] for k in METADATA_FIELDS if self.data.get(k) is not None}

    def snapshot(self) -> dict[str, Any]:
        """The document as `_simulate` prints it (metadata values as strings, like ES)."""
        out: dict[str, Any] = {k: str(v) for k, v in self.metadata.items()}
        out["_source"] = copy.deepcopy(self.source)
        out["_ingest"] = copy.deepcopy(self.ingest)
        return out

    def template_model(self) -> dict[str, Any]:
        """What `{{…}}` templates see: source, metadata and `_ingest`."""
        return {**self.data, "_ingest": self.ingest}

    def render(self, template: Template | str) -> str:
        """Render a field-name or value template against this document."""
        if isinstance(template, str):
            return template
        return template.render(self.template_model())

    # -- path access, with Elasticsearch's error messages ------------------------------------

    def _root(self, path: str) -> tuple[dict[str, Any], list[str]]:
        if not path:
            raise BadRequest("path cannot be null nor empty")
        root, rest = self.data, path
        if path.startswith(_INGEST_PREFIX):
            root, rest = self.ingest, path[len(_INGEST_PREFIX):]
        elif path.startswith(_SOURCE_PREFIX):
            rest = path[len(_SOURCE_PREFIX):]
        if not rest:
            raise BadRequest(f"path [{path}] is not valid")
        return root, rest.split(".")

    def get(self, path: str, ignore_missing: bool = False) -> Any:
        """The value at `path`; a missing path raises unless `ignore_missing` (then None)."""
        context: Any
        context, elements = self._root(path)
        for element in elements:
            try:
                context = _step(context, element, path)
            except BadRequest:
                if ignore_missing:
                    return None
                raise
        return context

    def get_string(self, path: str, ignore_missing: bool = False) -> str | None:
        """The value at `path`, which must be a string (or null)."""
        value = self.get(path, ignore_missing)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"field [{path}] of type [{java_type(value)}] cannot be cast to "
                             "[java.lang.String]")
        return value

    def has(self, path: str, fail_out_of_range: bool = False) -> bool:
        """Whether `path` resolves to something (possibly null)."""
        context: Any
        context, elements = self._root(path)
        for element in elements:
            if isinstance(context, dict):
                if element not in context:
                    return False
                context = context[element]
            elif isinstance(context, list):
                index = _index(element)
                if index is None:
                    return False
                if not 0 <= index < len(context):
                    if fail_out_of_range:
                        raise BadRequest(f"[{index}] is out of bounds for array with length "
                                         f"[{len(context)}] as part of path [{path}]")
                    return False
                context = context[index]
            else:
                return False
        return True

    def set(self, path: str, value: Any) -> None:
        """Set `path`, creating missing intermediate objects."""
        self._put(path, value, append=False, allow_duplicates=True)

    def append(self, path: str, value: Any, allow_duplicates: bool = True) -> None:
        """Append `value` (or each of its items) to the list at `path`, making one if needed."""
        self._put(path, value, append=True, allow_duplicates=allow_duplicates)

    def _put(self, path: str, value: Any, append: bool, allow_duplicates: bool) -> None:
        context: Any
        context, elements = self._root(path)
        for element in elements[:-1]:
            if isinstance(context, dict):
                context = context.setdefault(element, {})
            elif isinstance(context, list):
                context = context[_list_index(context, element, path)]
            else:
                raise _refusal("resolve", element, context, path)
        leaf = elements[-1]
        if isinstance(context, dict):
            context[leaf] = (_appended(context.get(leaf, []), value, allow_duplicates) if append
                             else value)
        elif isinstance(context, list):
            index = _list_index(context, leaf, path)
            context[index] = (_appended(context[index], value, allow_duplicates) if append
                              else value)
        elif context is None:
            raise BadRequest(f"cannot set [{leaf}] with null parent as part of path [{path}]")
        else:
            raise BadRequest(f"cannot set [{leaf}] with parent object of type "
                             f"[{java_type(context)}] as part of path [{path}]")

    def remove(self, path: str) -> None:
        """Remove the field (or list element) at `path`; raises when it is not there."""
        context: Any
        context, elements = self._root(path)
        for element in elements[:-1]:
            context = _step(context, element, path)
        del context[_key(context, elements[-1], path, "remove")]


def _step(context: Any, element: str, path: str) -> Any:
    return context[_key(context, element, path, "resolve")]


def _key(context: Any, element: str, path: str, verb: str) -> Any:
    """The key of an existing `element` in `context`: the name in an object, the position in a
    list; anything else refuses to `verb` it."""
    if isinstance(context, dict):
        if element not in context:
            raise BadRequest(f"field [{element}] not present as part of path [{path}]")
        return element
    if isinstance(context, list):
        return _list_index(context, element, path)
    raise _refusal(verb, element, context, path)


def _refusal(verb: str, element: str, context: Any, path: str) -> BadRequest:
    """The error for `element` under a null or a value that is neither object nor list."""
    if context is None:
        return BadRequest(f"cannot {verb} [{element}] from null as part of path [{path}]")
    return BadRequest(f"cannot {verb} [{element}] from object of type [{java_type(context)}] "
                      f"as part of path [{path}]")


def _index(element: str) -> int | None:
    try:
        return int(element)
    except ValueError:
        return None


def _list_index(values: list[Any], element: str, path: str) -> int:
    index = _index(element)
    if index is None:
        raise BadRequest(f"[{element}] is not an integer, cannot be used as an index as part of "
                         f"path [{path}]")
    if not 0 <= index < len(values):
        raise BadRequest(f"[{index}] is out of bounds for array with length [{len(values)}] as "
                         f"part of path [{path}]")
    return index


def _appended(existing: Any, value: Any, allow_duplicates: bool) -> list[Any]:
    values = existing if isinstance(existing, list) else [existing]
    for item in value if isinstance(value, list) else [value]:
        if allow_duplicates or item not in values:
            values.append(item)
    return values
