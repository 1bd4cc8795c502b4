"""Highlighting: the query's terms marked in the stored text, in sentence-bounded fragments."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from ..errors import BadRequest, ParsingError
from ..index.analysis import words_with_offsets
from ..query import parse_query
from ..query.base import QueryContext, QueryNode
from ..source_filter import source_values
from .semantic_highlight import semantic_fragments

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_OPTIONS = {"pre_tags", "post_tags", "fragment_size", "number_of_fragments", "type",
            "require_field_match", "highlight_query", "no_match_size", "order", "fields",
            "encoder", "boundary_scanner", "fragmenter", "tags_schema", "max_analyzed_offset",
            "boundary_chars", "boundary_max_scan", "phrase_limit", "matched_fields",
            "fragment_offset", "force_source"}


class Highlighter:
    """Highlights the hits of one search request."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if not isinstance(spec, dict):
            raise ParsingError("[highlight] must be an object")
        for key in spec:
            if key not in _OPTIONS:
                raise ParsingError(f"[highlight] unknown field [{key}]",
                                   error_type="x_content_parse_exception")
        fields = spec.get("fields", {})
        if isinstance(fields, list):
            fields = {k: v for item in fields for k, v in item.items()}
        self.fields: dict[str, dict[str, Any]] = {
            name: {**{k: v for k, v in spec.items() if k != "fields"}, **(opts or {})}
            for name, opts in fields.items()}
        for opts in (spec, *self.fields.values()):
            if any(key in opts and not opts[key] for key in ("pre_tags", "post_tags")):
                raise BadRequest("pre_tags or post_tags must not be empty")
        self.queries: dict[str, QueryNode] = {}
        for name, opts in self.fields.items():
            if opts.get("highlight_query") is not None:
                self.queries[name] = parse_query(opts["highlight_query"])

    def highlight(self, ctx: QueryContext, query: QueryNode | None, source: dict[str, Any]
                  ) -> dict[str, list[str]]:
        """`{"field": [fragments]}` for one hit (fields without a match are left out)."""
        out: dict[str, list[str]] = {}
        for pattern, opts in self.fields.items():
            node = self.queries.get(pattern, query)
            if node is None:
                continue
            for path, spec in ctx.mapping.fields.items():
                if spec.type == "semantic_text" and fnmatch.fnmatchcase(path, pattern) and \
                        opts.get("type", "semantic") == "semantic":
                    chunks = semantic_fragments(node, spec, source, opts)
                    if chunks:
                        out[path] = chunks
                    continue
                if spec.type not in ("text", "keyword", "match_only_text") or \
                        not fnmatch.fnmatchcase(path, pattern):
                    continue
                # require_field_match: false takes the query's terms of every field
                sources = [path] if opts.get("require_field_match", True) not in (
                    False, "false") else list(ctx.mapping.fields)
                terms = {t for p in sources for t in node.highlight_terms(ctx, p)}
                patterns = [x for p in sources for x in node.highlight_patterns(ctx, p)]
                if not terms and not patterns:
                    continue
                values = source_values(source, path)
                if spec.type == "keyword" and "ignore_above" in spec.params:
                    # a value longer than ignore_above is not indexed: nothing to highlight
                    values = [v for v in values
                              if len(str(v)) <= int(spec.params["ignore_above"])]
                analyzer_name = spec.analyzer if spec.type == "text" else "keyword"
                fragments = []
                for text in values:
                    text = _within_offset(ctx, path, str(text), opts)
                    fragments += _fragments(text, analyzer_name, terms, opts, patterns)
                number = int(opts.get("number_of_fragments", 5))
                if fragments:
                    out[path] = fragments if number == 0 else fragments[:number]
        return out


def _within_offset(ctx: QueryContext, path: str, text: str, opts: dict[str, Any]) -> str:
    """The text a highlighter may analyze: longer than `index.highlight.max_analyzed_offset` is
    refused as in Elasticsearch, unless the request's `max_analyzed_offset` truncates it."""
    limit = int(ctx.settings.get("index.highlight.max_analyzed_offset", 1_000_000))
    requested = opts.get("max_analyzed_offset")
    if requested is not None and int(requested) >= 0:
        return text[:min(int(requested), limit)]
    if len(text) > limit:
        raise BadRequest(
            f"The length [{len(text)}] of field [{path}] in doc[0]/index[{ctx.index_name}] "
            f"exceeds the [index.highlight.max_analyzed_offset] limit [{limit}]. To avoid this "
            f"error, set the query parameter [max_analyzed_offset] to a value less than index "
            f"setting [{limit}] and this will tolerate long field values by truncating them.")
    return text


def _fragments(text: str, analyzer_name: str, terms: set[str], opts: dict[str, Any],
               patterns: list[re.Pattern[str]] = ()) -> list[str]:
    pre = (opts.get("pre_tags") or ["<em>"])[0]
    post = (opts.get("post_tags") or ["</em>"])[0]
    spans = [(s, e) for term, s, e in words_with_offsets(analyzer_name, text)
             if term in terms or any(p.fullmatch(term) for p in patterns)]
    if not spans:
        return []
    size = int(opts.get("fragment_size", 100))
    if int(opts.get("number_of_fragments", 5)) == 0:
        return [_mark(text, 0, len(text), spans, pre, post)]
    pieces, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        pieces.append((start, m.start()))
        start = m.end()
    pieces.append((start, len(text)))
    merged: list[tuple[int, int]] = []
    for begin, end in pieces:
        if merged and end - merged[-1][0] <= size:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    scored = []
    for order, (begin, end) in enumerate(merged):
        inside = [(s, e) for s, e in spans if s >= begin and e <= end]
        if inside:
            scored.append((order, _mark(text, begin, end, inside, pre, post)))
    return [frag for _, frag in scored]


def _mark(text: str, begin: int, end: int, spans: list[tuple[int, int]], pre: str, post: str
          ) -> str:
    out, pos = [], begin
    for s, e in spans:
        if s < pos or e > end:
            continue
        out.append(text[pos:s])
        out.append(pre + text[s:e] + post)
        pos = e
    out.append(text[pos:end])
    return "".join(out)
