"""The query DSL: one small module per family of clauses, looked up by name in a registry."""

from .registry import parse_query

__all__ = ["parse_query"]
