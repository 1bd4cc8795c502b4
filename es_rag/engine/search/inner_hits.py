"""`inner_hits` of nested queries and nested kNN searches: for each hit, the objects of its
nested field that matched (best first, or in the inner hits' `sort`), each with `_nested`
(field and offset), its score and its own `_source`, as Elasticsearch renders them."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, ParsingError
from ..index.mapping.nested import ordinal
from ..query.base import QueryNode
from ..query.knn import KnnQuery, KnnSpec
from ..query.nested import InnerHitsSpec, NestedQuery, level_context, nested_level
from ..source_filter import filter_source, source_values
from .highlight import Highlighter
from .hit_fields import requested_fields
from .scope import Scope

if TYPE_CHECKING:
    from ..storage.docstore import StoredDoc

SortKey = tuple[str, str]  # (field, order)


def inner_hit_specs(req: Any) -> list[InnerHitsSpec]:
    """The nested `inner_hits` a search request (`SearchRequest`) asks for, each name once."""
    specs: dict[int, InnerHitsSpec] = {}
    queries: list[QueryNode | None] = [req.query, *req.sub_searches]
    knns: list[KnnSpec] = list(req.knn)
    if req.retriever is not None:
        for node in _retrievers(req.retriever):
            queries.append(node.query)
            if node.knn is not None:
                knns.append(node.knn)
    for query in queries:
        for node in _walk(query):
            spec = node.inner_hits if isinstance(node, NestedQuery) else \
                node.spec.inner_hits if isinstance(node, KnnQuery) else None
            if spec is not None:
                specs[id(spec)] = spec
    for knn in knns:
        if knn.inner_hits is not None:
            specs[id(knn.inner_hits)] = knn.inner_hits
    names: set[str] = set()
    for spec in specs.values():
        if spec.name and spec.name in names:
            raise BadRequest(f"[inner_hits] already contains an entry for key [{spec.name}]")
        names.add(spec.name)
    return list(specs.values())


def _retrievers(node: Any) -> Iterator[Any]:
    """A retriever tree's nodes."""
    yield node
    for child, _ in node.children:
        yield from _retrievers(child)


def _walk(node: QueryNode | None) -> Iterator[QueryNode]:
    if node is None:
        return
    yield node
    children = [node.query] if isinstance(node, NestedQuery) else node.children()
    for child in children:
        yield from _walk(child)


def render_inner_hits(scope: Scope, specs: list[InnerHitsSpec], doc: StoredDoc,
                      source: dict[str, Any]) -> dict[str, Any]:
    """The `inner_hits` section of one hit of `scope`'s index."""
    out: dict[str, Any] = {}
    for spec in specs:
        if not spec.path:
            continue  # a knn on a field that is not nested in this search
        objects = spec.matches.get(id(scope.ctx), {}).get(doc.seq_no, [])
        rows = [(score, ordinal(key), object_source(source, spec.path, ordinal(key)))
                for score, key in objects]
        sort_keys = _parse_sort(spec.sort)
        by_fields = bool(sort_keys) and sort_keys != [("_score", "desc")]
        sort_values: list[list[Any]] = []
        if by_fields:
            rows, sort_values = _sorted(rows, spec.path, sort_keys)
        show_score = not by_fields or spec.track_scores
        page = rows[spec.from_:spec.from_ + spec.size]
        hits = []
        for pos, (score, offset, obj) in enumerate(page, start=spec.from_):
            hit: dict[str, Any] = {"_index": scope.name, "_id": doc.id,
                                   "_nested": {"field": spec.path, "offset": offset},
                                   "_score": score if show_score else None}
            if spec.version:
                hit["_version"] = doc.version
            if spec.seq_no_primary_term:
                hit["_seq_no"] = doc.seq_no
                hit["_primary_term"] = doc.primary_term
            fetch, inc, exc = spec.source
            if fetch and obj is not None:
                hit["_source"] = _unwrap(filter_source(wrap_object(spec.path, obj), inc, exc),
                                         spec.path)
            if spec.fields and obj is not None:
                values = requested_fields(scope.ctx, wrap_object(spec.path, obj), spec.fields)
                if values:
                    hit["fields"] = values
            if spec.highlight and obj is not None:
                marked = _highlight(scope.ctx, spec, wrap_object(spec.path, obj))
                if marked:
                    hit["highlight"] = marked
            if by_fields:
                hit["sort"] = sort_values[pos]
            hits.append(hit)
        out[spec.name] = {"hits": {
            "total": {"value": len(rows), "relation": "eq"},
            "max_score": max((r[0] for r in rows), default=None) if show_score else None,
            "hits": hits}}
    return out


def object_source(source: dict[str, Any], path: str, offset: int) -> dict[str, Any] | None:
    """The `offset`-th object of the nested field at `path` of a root document's source."""
    nodes: list[Any] = [source]
    for part in path.split("."):
        nodes = [item for node in nodes if isinstance(node, dict) and part in node
                 for item in (node[part] if isinstance(node[part], list) else [node[part]])]
    return _nth(nodes, offset)


def _nth(value: Any, offset: int) -> dict[str, Any] | None:
    items = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]
    return items[offset] if offset < len(items) else None


def wrap_object(path: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A nested object under its full path, so that full-path patterns apply to it."""
    for part in reversed(path.split(".")):
        obj = {part: obj}
    return obj


def _unwrap(wrapped: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = wrapped
    for part in path.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _highlight(ctx: Any, spec: InnerHitsSpec, wrapped: dict[str, Any]) -> dict[str, list[str]]:
    level = nested_level(ctx, spec.path)
    if level is None or spec.query is None or spec.highlight is None:
        return {}
    child = level_context(ctx, level)
    return Highlighter(spec.highlight).highlight(child, spec.query, wrapped)


def _sorted(rows: list[tuple[float, int, dict[str, Any] | None]], path: str,
            keys: list[SortKey]) -> tuple[list[Any], list[list[Any]]]:
    """Rows in the order of sort keys on the objects' fields, with their sort values."""
    def value(row: tuple[float, int, Any], key: SortKey) -> Any:
        if key[0] == "_score":
            return row[0]
        values = source_values(wrap_object(path, row[2] or {}), key[0])
        numbers = [_number(v) for v in values]
        pool: list[Any] = numbers if values and all(n is not None for n in numbers) else values
        return (min(pool) if key[1] == "asc" else max(pool)) if pool else None

    table = [[value(row, key) for key in keys] for row in rows]

    def compare(a: int, b: int) -> int:
        for i, key in enumerate(keys):
            va, vb = table[a][i], table[b][i]
            if va == vb:
                continue
            if va is None or vb is None:
                return 1 if va is None else -1
            less = va < vb
            return (-1 if less else 1) * (1 if key[1] == "asc" else -1)
        return rows[a][1] - rows[b][1]

    order = sorted(range(len(rows)), key=functools.cmp_to_key(compare))
    return [rows[i] for i in order], [table[i] for i in order]


def _parse_sort(spec: Any) -> list[SortKey]:
    """An inner hits `sort`: field names, `{field: order}` or `{field: {"order": ...}}`."""
    out: list[SortKey] = []
    for item in spec if isinstance(spec, list) else [] if spec is None else [spec]:
        if isinstance(item, str):
            out.append((item, "desc" if item == "_score" else "asc"))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise ParsingError("malformed sort format, within the sort array, an object, or an "
                               "actual string are allowed")
        [(name, opts)] = item.items()
        order = opts if isinstance(opts, str) else opts.get("order") \
            if isinstance(opts, dict) else None
        order = str(order or ("desc" if name == "_score" else "asc")).lower()
        if order not in ("asc", "desc"):
            raise ParsingError(f"[sort] unknown order [{order}]")
        out.append((name, order))
    return out


def _number(text: str) -> float | int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number
