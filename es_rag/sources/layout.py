"""How a source is searched: its lexical query, its vector leg and how its hits become passages.

`SourceLayout` is the `es_rag.retrieve.queries.Layout` of a source definition. Passages are
whole documents (the text field is the passage; a citation names the document id, its URL or
path and the quote's offsets in that field), `nested` objects (the `nested` query and the nested
kNN search return `inner_hits`, each inner hit becomes a passage `<id>#<offset>`), or
`semantic_text` chunks (the `semantic` query). The source's filters join every leg, with the
request's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from es_rag.retrieve.filters import filter_clauses
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.params import SearchParams
from es_rag.retrieve.queries import VectorQuery, vector_source
from es_rag.sources.definition import SourceDefinition, SourceError, load_source

INNER_HITS = 3  # passages per document in the nested layout


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _get(source: Mapping[str, Any], path: str | None) -> Any:
    """A (dotted) field of `_source`, as an object path or a dotted key."""
    if not path:
        return None
    if path in source:
        return source[path]
    head, _, rest = path.partition(".")
    inner = source.get(head)
    return _get(inner, rest) if isinstance(inner, Mapping) and rest else None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


class SourceLayout:
    """The search shape of one `SourceDefinition` (see the module docstring)."""

    def __init__(self, definition: SourceDefinition) -> None:
        self.definition = definition
        self.name = definition.name
        self.index = definition.index
        self.has_vectors = definition.has_vectors
        self.semantic = definition.vector.kind == "semantic_text"
        """The vector leg is a `semantic` query (the cluster embeds), not a kNN clause."""
        self.acl_field = definition.fields.get("acl")
        self.explain = {"name": definition.name, "index": definition.index,
                        "layout": definition.layout, "vector": definition.vector.kind,
                        "lexical": dict(definition.lexical),
                        "filters": list(definition.filters)}

    @property
    def needs_embedder(self) -> bool:
        """Whether queries are embedded by es-rag (a dense_vector field)."""
        return self.definition.vector.kind == "dense_vector"

    def _filters(self, params: SearchParams) -> list[dict[str, Any]]:
        return filter_clauses((*self.definition.parsed_filters(), *params.filters))

    def _nested(self, query: dict[str, Any]) -> dict[str, Any]:
        return {"nested": {"path": self.definition.nested_path, "query": query,
                           "score_mode": "max", "inner_hits": {"size": INNER_HITS}}}

    def bm25_query(self, query_text: str, params: SearchParams) -> dict[str, Any]:
        """multi_match over the source's lexical fields and boosts, in its nested path when
        passages are nested; the source's and the request's filters in `bool.filter`."""
        d = self.definition
        match: dict[str, Any] = {"multi_match": {
            "query": query_text, "type": "best_fields",
            "fields": [f"{name}^{boost:g}" for name, boost in d.lexical.items()]}}
        if d.layout == "nested":
            inside = [f for f in d.lexical if f.startswith(f"{d.nested_path}.")]
            match["multi_match"]["fields"] = [f"{f}^{d.lexical[f]:g}" for f in inside]
            match = self._nested(match)
        filters = self._filters(params)
        return {"bool": {"must": [match], "filter": filters}} if filters else match

    def semantic_query(self, query_text: str, params: SearchParams) -> dict[str, Any]:
        """The `semantic` query on the source's semantic_text field (its vector leg)."""
        semantic = {"semantic": {"field": self.definition.vector.field, "query": query_text}}
        filters = self._filters(params)
        return {"bool": {"must": [semantic], "filter": filters}} if filters else semantic

    def knn_clause(self, vector: VectorQuery, params: SearchParams) -> dict[str, Any]:
        """kNN on the source's dense_vector field; nested vectors return their inner hits."""
        k = params.rank_window_size if params.mode.is_hybrid else max(params.k, params.size)
        clause: dict[str, Any] = {"field": self.definition.vector.field,
                                  **vector_source(vector), "k": k,
                                  "num_candidates": max(params.num_candidates, k)}
        filters = self._filters(params)
        if filters:
            clause["filter"] = {"bool": {"filter": filters}}
        if params.similarity is not None:
            clause["similarity"] = params.similarity
        if self.definition.layout == "nested":
            # named apart from the lexical leg's: one request may not repeat an inner_hits name
            clause["inner_hits"] = {"size": INNER_HITS, "name": self._knn_inner_hits}
        return clause

    @property
    def _knn_inner_hits(self) -> str:
        return f"{self.definition.nested_path}_knn"

    def finish(self, body: dict[str, Any], query_text: str,
               params: SearchParams) -> dict[str, Any]:
        """Leave vectors (and nested passages, which come as inner hits) out of `_source`;
        highlight the passage field of whole-document passages."""
        d = self.definition
        excludes = [name for name in (d.vector.field, d.nested_path) if name]
        if d.vector.kind == "dense_vector" or d.layout == "nested":
            body["_source"] = {"excludes": excludes}
        if d.layout == "semantic_text":  # the best chunks of the field are the passages
            body["highlight"] = {"fields": {d.text_field: {
                "type": "semantic", "number_of_fragments": INNER_HITS, "order": "score"}}}
        elif params.highlight and d.layout == "document":
            fields = {name: {} for name in (d.text_field, d.fields.get("title")) if name}
            body["highlight"] = {"fields": fields, "highlight_query": {"multi_match": {
                "query": query_text, "fields": list(d.lexical)}}}
        return body

    def hits(self, response: Mapping[str, Any]) -> list[Hit]:
        out: list[Hit] = []
        for raw in response["hits"]["hits"]:
            if self.definition.layout == "nested":
                out += self._passages(raw)
            elif self.definition.layout == "semantic_text":
                out += self._chunks(raw)
            else:
                out.append(self._hit(raw, raw.get("_source") or {}, str(raw["_id"])))
        return out

    def _hit(self, raw: Mapping[str, Any], text_source: Mapping[str, Any], chunk_id: str,
             text_field: str | None = None, score: float | None = None) -> Hit:
        d = self.definition
        src = raw.get("_source") or {}
        text_field = text_field or d.text_field
        text = _first(_get(text_source, text_field))
        url = _first(_get(src, d.fields.get("url")))
        metadata: dict[str, Any] = {"source_definition": d.name, "index": raw.get("_index")}
        if d.layout == "document":
            metadata["field"] = d.text_field  # the passage is this whole field
        stamp = _first(_get(src, d.fields.get("timestamp")))
        if stamp is not None:
            metadata["timestamp"] = stamp
        hit = Hit(chunk_id=chunk_id, doc_id=str(raw["_id"]),
                  score=float(raw.get("_score") if score is None else score or 0.0),
                  source=str(url) if url is not None else str(raw["_id"]),
                  source_name=d.name, title=_first(_get(src, d.fields.get("title"))),
                  text=str(text or ""), headings=_values(_get(src, d.fields.get("headings"))),
                  acl=_values(_get(src, d.fields.get("acl"))), metadata=metadata,
                  highlight=self._highlight(raw))
        if d.layout == "document" and hit.text:
            hit.offsets = {"start": 0, "end": len(hit.text)}
        return hit

    def _highlight(self, raw: Mapping[str, Any]) -> dict[str, list[str]]:
        """The hit's highlight under the passage roles (`text`, `title`), as chunks have it."""
        found = dict(raw.get("highlight") or {})
        roles = {self.definition.text_field: "text", self.definition.fields.get("title"): "title"}
        return {roles.get(name) or name: fragments for name, fragments in found.items()}

    def _chunks(self, raw: Mapping[str, Any]) -> list[Hit]:
        """The semantic highlighter's fragments of a semantic_text field, each a passage
        `<_id>#chunk<n>` (the whole field when the cluster returned none)."""
        field = self.definition.text_field
        fragments = (raw.get("highlight") or {}).get(field) or []
        if not fragments:
            return [self._hit(raw, raw.get("_source") or {}, str(raw["_id"]))]
        bare = {**raw, "highlight": {}}
        return [self._hit(bare, {field: text}, f"{raw['_id']}#chunk{n}")
                for n, text in enumerate(fragments)]

    def _passages(self, raw: Mapping[str, Any]) -> list[Hit]:
        """The inner hits of one document, each a passage `<_id>#<offset>`."""
        path = self.definition.nested_path or ""
        relative = self.definition.text_field.removeprefix(f"{path}.")
        groups = raw.get("inner_hits") or {}
        best: dict[int, Mapping[str, Any]] = {}  # each passage once, at its best score
        for name in (path, self._knn_inner_hits):
            for nested in ((groups.get(name) or {}).get("hits") or {}).get("hits") or []:
                offset = (nested.get("_nested") or {}).get("offset", 0)
                if offset not in best or (nested.get("_score") or 0) > \
                        (best[offset].get("_score") or 0):
                    best[offset] = nested
        out = []
        for nested in sorted(best.values(), key=lambda n: -(n.get("_score") or 0)):
            offset = (nested.get("_nested") or {}).get("offset", 0)
            body = nested.get("_source") or {}
            fields = (nested.get("fields") or {}).get(path)
            if not body and isinstance(fields, list) and fields:
                body = fields[0]
            hit = self._hit(raw, body, f"{raw['_id']}#{offset}", relative,
                            float(nested.get("_score") or raw.get("_score") or 0.0))
            hit.metadata["nested_offset"] = offset
            out.append(hit)
        return out


def check_query_model(layout: object, model: str) -> None:
    """SourceError when a source's dense_vector field was made with another model than `model`,
    the one es-rag embeds queries with (its vectors and the query's would not compare)."""
    definition = getattr(layout, "definition", None)
    if definition is None or definition.vector.kind != "dense_vector":
        return
    if definition.vector.model != model:
        raise SourceError(
            f"source {definition.name!r}: its vectors ({definition.vector.field}) were made "
            f"with {definition.vector.model!r}, but es-rag embeds queries with {model!r} "
            "(ES_RAG_EMBEDDING_MODEL)")


def source_layout(assets: Path, name: str) -> SourceLayout:
    """The layout of `sources/<name>.json` (SourceError naming the defined sources if none)."""
    return SourceLayout(load_source(assets, name))
