"""The query DSL: one small module per family of clauses (full text, term level, compound,
function score, kNN...), looked up by name in a registry; each clause is parsed once into a
`QueryNode` sharing its opening (an object, known keys, `boost`, `_name`) through the base class,
and compiles to a tantivy query against one index's `QueryContext`; explanations follow
Lucene's."""

from .registry import parse_query

__all__ = ["parse_query"]
