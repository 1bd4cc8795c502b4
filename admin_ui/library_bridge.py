"""Calls the admin UI needs that es-rag's library does not offer yet, kept in one place.

Each function names, in its docstring, the library function meant to replace it, so swapping
one in is a one-line change here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.config import Settings
from es_rag.connect import Capabilities, connect
from es_rag.evaluate.judgments import Qrels

_DEFAULT_RE = re.compile(r"\{\{\^(?P<name>\w+)\}\}(?P<value>[^{}]*)\{\{/(?P=name)\}\}")


def connect_as(settings: Settings, username: str | None = None,
               password: str | None = None) -> tuple[Elasticsearch, Capabilities]:
    """Connect with the settings, as `username`/`password` when given."""
    if username is not None:
        settings = dataclasses.replace(settings, user=username, password=password or "",
                                       api_key=None)
    return connect(settings)


def template_defaults(source: str) -> dict[str, str]:
    """The default of every `{{^name}}default{{/name}}` section of a mustache search template.

    To be replaced by `es_rag.assets.template_defaults(source) -> dict[str, str]`.
    """
    return {m["name"]: m["value"] for m in _DEFAULT_RE.finditer(source)}


def set_template_defaults(source: str, values: Mapping[str, Any]) -> str:
    """The template with the defaults of the named parameters replaced by `values`.

    Raises ValueError naming a parameter the template has no default for.
    To be replaced by `es_rag.assets.set_template_defaults(source, values) -> str`.
    """
    known = template_defaults(source)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"the template has no default for {', '.join(unknown)} "
                         f"(it has: {', '.join(sorted(known))})")

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in values:
            return match[0]
        return f"{{{{^{name}}}}}{values[name]}{{{{/{name}}}}}"

    return _DEFAULT_RE.sub(replace, source)


def file_diff(path: Path, before: str, after: str) -> str:
    """A unified diff of a file's text before and after a change (empty when unchanged).

    To be replaced by a public `es_rag.assets.file_diff(path, before, after) -> str`.
    """
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f"a/{path.name}", f"b/{path.name}"))


def chunk_and_document_counts(client: Elasticsearch, index: str) -> tuple[int, int]:
    """(chunks, distinct documents) in `index`: a count and a cardinality aggregation on doc_id.

    To be replaced by `es_rag.ingest.index_counts(client, index) -> tuple[int, int]`.
    """
    chunks = int(client.count(index=index)["count"])
    response = client.search(index=index, size=0,
                             aggs={"documents": {"cardinality": {"field": "doc_id"}}})
    return chunks, int(response["aggregations"]["documents"]["value"])


def write_trec_qrels(path: Path, qrels: Qrels) -> None:
    """Write qrels as TREC lines `query-id 0 doc-id relevance`, sorted, atomically.

    To be replaced by `es_rag.evaluate.judgments.write_trec_qrels(path, qrels)`.
    """
    lines = [f"{qid} 0 {doc} {grade}\n" for qid in sorted(qrels)
             for doc, grade in sorted(qrels[qid].items())]
    _write_atomically(path, "".join(lines))


def write_beir_queries(path: Path, queries: Mapping[str, str]) -> None:
    """Write queries as BEIR `queries.jsonl` (`{"_id", "text"}` per line), atomically.

    To be replaced by `es_rag.evaluate.judgments.write_beir_queries(path, queries)`.
    """
    lines = [json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n"
             for qid, text in sorted(queries.items())]
    _write_atomically(path, "".join(lines))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
