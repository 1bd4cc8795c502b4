"""The `completion` suggester: the documents whose completion inputs begin with the prefix
(both analyzed with the field's analyzer), best weight first, one option per document (its
best input), among the documents the reader may see."""

from __future__ import annotations

from typing import Any

import tantivy

from ..index.analysis import analyze
from ..index.fulltext import KEY
from ..index.mapping.completion import completion_inputs
from ..query import parse_query
from ..query.base import QueryContext

COMPLETION_KEYS = {"field", "size", "skip_duplicates", "analyzer", "fuzzy", "contexts"}


def _normal(analyzer: str, text: str) -> str:
    return " ".join(analyze(analyzer, text))


def completion_entries(ctx: QueryContext, prefix: str, options: dict[str, Any]
                       ) -> list[dict[str, Any]]:
    """The single entry of a completion suggestion in one index."""
    field = str(options["field"])
    spec = ctx.spec(field)
    analyzer = str(options.get("analyzer") or (spec.search_analyzer if spec else "simple"))
    wanted = _normal(analyzer, prefix)
    has_field = parse_query({"exists": {"field": field}}).compile(ctx)
    query = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, has_field)] +
        ([(tantivy.Occur.Must, ctx.alias_filter)] if ctx.alias_filter is not None else []))
    fulltext = ctx.shard.fulltext
    count = fulltext.count(query)
    found = []
    if count:
        hits = fulltext.searcher.search(query, count, count=False).hits
        keys = [int(k) for k in fulltext.searcher.fast_field_values(KEY, [a for _, a in hits])]
        path = ctx.mapping.source_path(field)
        for doc in ctx.shard.store.by_seq_nos(keys).values():
            source = doc.source_json()
            matches = [(weight, text) for text, weight in
                       completion_inputs(field, _value_at(source, path), doc.id)
                       if _normal(analyzer, text).startswith(wanted)]
            if matches:
                weight, text = max(matches, key=lambda m: (m[0], m[1]))
                found.append({"text": text, "_index": ctx.index_name, "_id": doc.id,
                              "_score": float(weight), "_source": source})
    return [{"text": prefix, "offset": 0, "length": len(prefix), "options": found}]


def _value_at(node: Any, path: str) -> Any:
    """A completion field's value in `_source` (objects or dotted names on the way)."""
    if not isinstance(node, dict):
        return None
    if path in node:
        return node[path]
    head, dot, rest = path.partition(".")
    while dot:
        if head in node:
            return _value_at(node[head], rest)
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


def merge_completion(per_index: list[list[dict[str, Any]]], options: dict[str, Any]
                     ) -> list[dict[str, Any]]:
    """The options of every index, best score first, `size` of them (distinct texts with
    `skip_duplicates`)."""
    if not per_index:
        return []
    found = sorted((o for entries in per_index for o in entries[0]["options"]),
                   key=lambda o: (-o["_score"], o["text"], o["_index"], o["_id"]))
    if options.get("skip_duplicates") is True:
        seen: set[str] = set()
        found = [o for o in found if not (o["text"] in seen or seen.add(o["text"]))]
    return [{**per_index[0][0], "options": found[:int(options.get("size", 5))]}]
