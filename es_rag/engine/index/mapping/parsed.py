"""A document parsed against a mapping: typed values per field path, vectors, the objects of
its nested fields, and the dynamic mappings it introduced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(slots=True)
class ParsedDocument:
    """A document turned into typed values per field path, vectors and new dynamic mappings."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    field_names: set[str] = field(default_factory=set)
    new_properties: dict[str, Any] = field(default_factory=dict)
    nested: list[NestedObject] = field(default_factory=list)


@dataclass(slots=True)
class NestedObject:
    """One object of a nested field of a document: its position in the field's array and its
    own typed values (which may hold deeper nested objects)."""

    path: str
    offset: int
    parsed: ParsedDocument
