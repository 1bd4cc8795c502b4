"""`nested` fields: which mapped fields belong to which nested level, the nested objects of a
parsed document, and Elasticsearch's limits on them (`index.mapping.nested_fields.limit`,
`index.mapping.nested_objects.limit`).

Each object of a nested field is indexed as a document of its own (its fields matched
together), as Lucene indexes nested objects as hidden documents of the block of their root.
"""

from __future__ import annotations

from typing import Any, Protocol

from ...errors import BadRequest, DocumentParsingError
from .fields import FieldSpec
from .parsed import ParsedDocument


class NestedMapping(Protocol):
    """What this module reads of a `Mapping`."""

    fields: dict[str, FieldSpec]
    nested_paths: list[str]

NESTED_FIELDS_LIMIT = 50
NESTED_OBJECTS_LIMIT = 10000
OFFSET_BITS = 20
"""A nested object's key is its root document's key shifted by this, plus its ordinal."""


def nested_paths(fields: dict[str, FieldSpec]) -> list[str]:
    """Paths of the nested fields of a mapping, outermost first."""
    return sorted((p for p, s in fields.items() if s.type == "nested"), key=len)


def level_of(paths: list[str], path: str) -> str | None:
    """The innermost nested path holding field `path` (None: the root document)."""
    best = None
    for nested in paths:
        if path.startswith(nested + ".") and (best is None or len(nested) > len(best)):
            best = nested
    return best


def root_fields(mapping: NestedMapping) -> list[FieldSpec]:
    """Fields the root document indexes: those outside nested fields, and those of nested
    fields copied into it (`include_in_parent` / `include_in_root` of a top-level nested)."""
    out = []
    for path, spec in mapping.fields.items():
        level = level_of(mapping.nested_paths, path)
        if level is None or (level_of(mapping.nested_paths, level) is None and
                             _copied_up(mapping.fields[level].params)):
            out.append(spec)
    return out


def level_fields(mapping: NestedMapping, level: str) -> list[FieldSpec]:
    """The fields a nested level's documents index (not those of deeper nested fields)."""
    return [spec for path, spec in mapping.fields.items()
            if level_of(mapping.nested_paths, path) == level]


def _copied_up(params: dict[str, Any]) -> bool:
    return bool(params.get("include_in_parent")) or bool(params.get("include_in_root"))


def copy_up(parent: ParsedDocument, child: ParsedDocument, params: dict[str, Any]) -> None:
    """`include_in_parent` / `include_in_root`: the child's values also go to the parent."""
    if not _copied_up(params):
        return
    for path, values in child.values.items():
        parent.values.setdefault(path, []).extend(values)
    parent.field_names.update(child.field_names)


def check_nested_fields_limit(mapping: NestedMapping, settings: dict[str, Any]) -> None:
    """Refuse a mapping with more nested fields than `index.mapping.nested_fields.limit`."""
    limit = int(settings.get("index.mapping.nested_fields.limit", NESTED_FIELDS_LIMIT))
    if len(mapping.nested_paths) > limit:
        raise BadRequest(f"Limit of nested fields [{limit}] has been exceeded")


def check_nested_objects_limit(parsed: ParsedDocument, settings: dict[str, Any]) -> None:
    """Refuse a document with more nested objects than `index.mapping.nested_objects.limit`."""
    limit = int(settings.get("index.mapping.nested_objects.limit", NESTED_OBJECTS_LIMIT))
    if count_objects(parsed) > limit:
        raise DocumentParsingError(
            f"The number of nested documents has exceeded the allowed limit of [{limit}]. This "
            f"limit can be set by changing the [index.mapping.nested_objects.limit] index "
            f"level setting.")


def count_objects(parsed: ParsedDocument) -> int:
    """Nested objects of a document, at every level."""
    return sum(1 + count_objects(obj.parsed) for obj in parsed.nested)


def child_key(root_key: int, ordinal: int) -> int:
    """The key of a nested object: its root document's key and its ordinal in that document."""
    return (root_key << OFFSET_BITS) | ordinal


def root_key(key: int) -> int:
    """The root document key of a nested object's key."""
    return key >> OFFSET_BITS


def ordinal(key: int) -> int:
    """The ordinal of a nested object in its root document (its `_nested.offset`)."""
    return key & ((1 << OFFSET_BITS) - 1)
