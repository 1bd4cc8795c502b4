"""`es-rag inspect INDEX`: propose a source definition from an index's mapping and a sample.

The passage text is the text field with the longest values in the sample (inside a `nested`
field when the documents carry their passages as nested objects); the title, URL or path,
headings, ACL and timestamp fields are recognised by name and type. A `dense_vector` field is
matched to the local embedding model by its dims and similarity; one that matches no model is
refused with what is missing (or left out with `vectors=False`: the source is lexical only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from statistics import mean
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from es_rag.connect import error_reason
from es_rag.sources.definition import SourceDefinition, SourceError, VectorField, parse_definition

SAMPLE_SIZE = 25
MODEL_SIMILARITIES = ("cosine", "dot_product")
"""What a vector field's similarity may be for a normalising sentence-transformers model."""
_ROLE_NAMES = {
    "title": re.compile(r"^(title|name|subject|headline|heading|header)$", re.I),
    "url": re.compile(r"(^|_)(url|uri|link|href|path|file|source)$", re.I),
    "headings": re.compile(r"headings|sections|breadcrumbs?", re.I),
    "acl": re.compile(r"(^|_)(acl|acls|groups|allowed\w*|permissions|readers|visibility|roles)$",
                      re.I),
    "timestamp": re.compile(r"updated|modified|timestamp|created|date", re.I),
}


@dataclass(frozen=True)
class LocalModel:
    """The embedding model queries are embedded with: its name, dims and similarity."""

    name: str
    dims: int
    similarity: str = "cosine"


@dataclass(frozen=True)
class FieldInfo:
    path: str
    type: str
    body: Mapping[str, Any]
    nested_in: str | None


def _fields(properties: Mapping[str, Any], prefix: str = "",
            nested_in: str | None = None) -> Iterator[FieldInfo]:
    for name, body in properties.items():
        path = f"{prefix}{name}"
        kind = body.get("type", "object")
        yield FieldInfo(path, kind, body, nested_in)
        if "properties" in body:
            inside = path if kind == "nested" else nested_in
            yield from _fields(body["properties"], f"{path}.", inside)


def _values(doc: Any, path: str) -> list[Any]:
    """Every value at dotted `path` in a `_source` (through lists of objects)."""
    if not path:
        return doc if isinstance(doc, list) else [doc]
    if isinstance(doc, list):
        return [v for item in doc for v in _values(item, path)]
    if not isinstance(doc, Mapping):
        return []
    head, _, rest = path.partition(".")
    if path in doc:
        return _values(doc[path], "")
    return _values(doc[head], rest) if head in doc else []


def _avg_length(docs: list[Mapping[str, Any]], path: str) -> float:
    lengths = [len(str(v)) for d in docs for v in _values(d, path) if v is not None]
    return mean(lengths) if lengths else 0.0


def _mapping(client: Elasticsearch, index: str) -> tuple[str, Mapping[str, Any]]:
    try:
        found = client.indices.get_mapping(index=index).body
    except ApiError as exc:
        raise SourceError(f"cannot read the mapping of {index!r} ({exc.meta.status}): "
                          f"{error_reason(exc)}") from None
    if not found:
        raise SourceError(f"{index!r} names no index")
    concrete = sorted(found)[0]
    return concrete, found[concrete].get("mappings") or {}


def _sample(client: Elasticsearch, index: str, vectors: list[str]) -> list[dict[str, Any]]:
    try:
        response = client.search(index=index, size=SAMPLE_SIZE, query={"match_all": {}},
                                 source_excludes=vectors or None).body
    except ApiError as exc:
        raise SourceError(f"cannot sample documents of {index!r} ({exc.meta.status}): "
                          f"{error_reason(exc)}") from None
    return [hit.get("_source") or {} for hit in response["hits"]["hits"]]


def _vector(field: FieldInfo, local_model: Callable[[], LocalModel] | None) -> VectorField:
    """The vector field matched to the local model, or SourceError saying what does not match."""
    dims = field.body.get("dims")
    similarity = field.body.get("similarity", "cosine")
    model = local_model() if local_model is not None else None
    if model is None:
        raise SourceError(f"dense_vector field {field.path!r} ({dims} dims, {similarity}) "
                          "needs the model that made it, and no local embedding model is "
                          "configured")
    problems = []
    if dims != model.dims:
        problems.append(f"it has {dims} dims, the local model {model.name!r} makes {model.dims}")
    if similarity not in MODEL_SIMILARITIES:
        problems.append(f"its similarity is {similarity}, the local model's vectors are "
                        f"compared by {' or '.join(MODEL_SIMILARITIES)}")
    if problems:
        raise SourceError(
            f"dense_vector field {field.path!r} cannot be matched to a local model: "
            f"{'; '.join(problems)}. Configure the model that made it (ES_RAG_EMBEDDING_MODEL, "
            "a sentence-transformers model with the same dims), or inspect with --no-vectors "
            "for a lexical-only source")
    return VectorField("dense_vector", field.path, model.name, int(dims), similarity)


def propose(client: Elasticsearch, index: str, name: str,
            local_model: Callable[[], LocalModel] | None, *,
            vectors: bool = True) -> tuple[SourceDefinition, list[str]]:
    """A source definition for `index` and notes on how each choice was made.

    `local_model` gives the model queries are embedded with; it is called (and the model
    loaded) only when the index has a dense_vector field to match.
    """
    concrete, mappings = _mapping(client, index)
    notes: list[str] = []
    if (mappings.get("_meta") or {}).get("es_rag"):
        notes.append(f"{concrete} was created by es-rag: search it directly, no source needed")
    fields = list(_fields(mappings.get("properties") or {}))
    dense = [f for f in fields if f.type == "dense_vector"]
    semantic = [f for f in fields if f.type == "semantic_text"]
    docs = _sample(client, index, [f.path for f in dense])
    if not docs:
        raise SourceError(f"{index!r} holds no documents to sample")
    texts = [f for f in fields if f.type in ("text", "match_only_text")]
    vector = VectorField()
    layout, nested_path = "document", None
    if semantic and vectors:
        vector = VectorField("semantic_text", semantic[0].path)
        layout = "semantic_text"
        text = semantic[0].path
        notes.append(f"{text}: semantic_text, embedded by its inference endpoint")
    else:
        nested_vectors = [f for f in dense if f.nested_in]
        if vectors and dense:
            chosen = nested_vectors[0] if nested_vectors else dense[0]
            vector = _vector(chosen, local_model)
            notes.append(f"{chosen.path}: dense_vector matched to {vector.model!r} "
                         f"({vector.dims} dims, {vector.similarity})")
        elif dense:
            notes.append(f"{', '.join(f.path for f in dense)}: left out (--no-vectors); "
                         "hybrid search is lexical only")
        nested_path = (nested_vectors[0].nested_in if nested_vectors and vectors else
                       next((f.nested_in for f in texts if f.nested_in), None))
        candidates = [f for f in texts if f.nested_in == nested_path] or texts
        if not candidates:
            raise SourceError(f"{index!r} has no text field to hold passages")
        text = max(candidates, key=lambda f: _avg_length(docs, f.path)).path
        if nested_path:
            layout = "nested"
            notes.append(f"{nested_path}: nested objects are the passages (inner hits)")
        notes.append(f"{text}: passage text (longest values in {len(docs)} sampled documents)")
    roles = _roles(fields, docs, text, nested_path)
    lexical = {text: 1.0, **{roles[r]: 1.0 for r in ("title", "headings") if r in roles
                             and _is_text(fields, roles[r])}}
    data = {"index": index, "fields": {"text": text, **roles}, "lexical": lexical,
            "vector": vector.as_dict(), "passages": {"layout": layout, "path": nested_path},
            "filters": []}
    return parse_definition(name, data, f"proposal for {index}"), notes


def _is_text(fields: list[FieldInfo], path: str) -> bool:
    return any(f.path == path and f.type in ("text", "match_only_text") for f in fields)


def _roles(fields: list[FieldInfo], docs: list[Mapping[str, Any]], text: str,
           nested_path: str | None) -> dict[str, str]:
    """Title, URL or path, headings, ACL and timestamp fields, by name and type."""
    top = [f for f in fields if f.nested_in is None and f.path != text
           and f.type not in ("object", "nested", "dense_vector")]
    roles: dict[str, str] = {}
    for role, pattern in _ROLE_NAMES.items():
        wanted = {"timestamp": ("date", "date_nanos"), "acl": ("keyword",),
                  "url": ("keyword", "text", "wildcard"),
                  "title": ("text", "keyword", "match_only_text"),
                  "headings": ("text", "keyword")}[role]
        found = next((f for f in top if f.type in wanted and pattern.search(f.path.split(".")[-1])
                      and f.path not in roles.values()), None)
        if found is not None:
            roles[role] = found.path
    if "url" not in roles:  # a keyword field whose sampled values look like URLs or paths
        looks = re.compile(r"^(https?://|/|\w+/)")
        for f in top:
            values = [v for d in docs for v in _values(d, f.path) if isinstance(v, str)]
            if f.type == "keyword" and values and all(looks.match(v) for v in values):
                roles["url"] = f.path
                break
    return roles
