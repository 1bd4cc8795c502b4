"""Existing indices es-rag searches but does not own: definitions, inspection, layout, guard.

>>> definition = load_source(settings.assets, "handbook")            # doctest: +SKIP
>>> search(client, caps, definition.index, "leave policy", params, embedder,
...        layout=SourceLayout(definition))                         # doctest: +SKIP
"""

from es_rag.sources.definition import (
    SourceDefinition,
    SourceError,
    VectorField,
    load_source,
    load_sources,
    parse_definition,
    write_source,
)
from es_rag.sources.layout import SourceLayout

__all__ = ["SourceDefinition", "SourceError", "SourceLayout", "VectorField", "load_source",
           "load_sources", "parse_definition", "write_source"]
