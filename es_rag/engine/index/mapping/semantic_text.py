"""The `semantic_text` field type: its mapping parameters, and where its chunks and their
embeddings live in a document (`_inference_fields`, Elasticsearch 9.x's format):

    {"body": "text as sent",
     "_inference_fields": {"body": {"inference": {
         "inference_id": "my-endpoint", "model_settings": {...},
         "chunks": {"body": [{"start_offset": 0, "end_offset": 42, "embeddings": ...}]}}}}}

Offsets index the field's values joined with one separator character, so a chunk's text is
`joined[start_offset:end_offset]`; embeddings are a dense vector (list) or sparse weights
(token → weight).

An index created with `index.mapping.semantic_text.use_legacy_format: true` keeps the 8.x
format instead: the field's own value becomes an object holding the text and its chunks, each
chunk with its own text:

    {"body": {"text": "text as sent", "inference": {
         "inference_id": "my-endpoint", "model_settings": {...},
         "chunks": [{"text": "text as sent", "embeddings": ...}]}}}

Either way Elasticsearch maps the chunks as nested objects under `<field>.inference.chunks`,
their vectors under `<field>.inference.chunks.embeddings` (see `chunks_path`)."""

from __future__ import annotations

from typing import Any

from ...chunking import parse_chunking
from ...errors import MapperParsingError

INFERENCE_FIELDS = "_inference_fields"
LEGACY_FORMAT = "index.mapping.semantic_text.use_legacy_format"
CHUNKS = ".inference.chunks"
EMBEDDINGS = ".inference.chunks.embeddings"
DEFAULT_INFERENCE_ID = ".elser-2-elasticsearch"
PARAMS = {"type", "inference_id", "search_inference_id", "model_settings", "chunking_settings",
          "index_options", "meta"}
SEPARATOR = "\n"


def check_semantic_text(name: str, body: dict[str, Any]) -> None:
    """Validate a semantic_text mapping and fill in the default `inference_id`."""
    for key in ("inference_id", "search_inference_id"):
        value = body.get(key)
        if key in body and (not isinstance(value, str) or not value):
            raise MapperParsingError(f"[{key}] on mapper [{name}] of type [semantic_text] must "
                                     "not be empty")
    body.setdefault("inference_id", DEFAULT_INFERENCE_ID)
    if body.get("chunking_settings") is not None:
        try:
            body["chunking_settings"] = parse_chunking(body["chunking_settings"])
        except Exception as err:
            raise MapperParsingError(f"Failed to parse mapping: {getattr(err, 'reason', err)}"
                                     ) from err


def search_inference_id(params: dict[str, Any]) -> str:
    return params.get("search_inference_id") or params.get("inference_id") or \
        DEFAULT_INFERENCE_ID


def uses_legacy_format(settings: dict[str, Any]) -> bool:
    """Whether an index keeps semantic_text results in the 8.x format (the setting is fixed
    when the index is created)."""
    return str(settings.get(LEGACY_FORMAT, "false")).lower() == "true"


def legacy_object(value: Any) -> dict[str, Any] | None:
    """A semantic_text value in the legacy format (`{"text", "inference"}`), else None."""
    if isinstance(value, dict) and isinstance(value.get("inference"), dict):
        return value
    return None


def chunks_owner(fields: dict[str, Any], path: str, suffix: str = CHUNKS) -> str | None:
    """The semantic_text field whose internal `<field>.inference.chunks` (or `suffix`) path
    `path` is, or None."""
    if not path.endswith(suffix):
        return None
    owner = path[:-len(suffix)]
    spec = fields.get(owner)
    return owner if spec is not None and spec.type == "semantic_text" else None


def values_of(value: Any) -> list[str]:
    """The string values of a semantic_text field (null values dropped; a legacy-format
    object gives its `text`)."""
    legacy = legacy_object(value)
    if legacy is not None:
        return values_of(legacy.get("text"))
    items = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            for v in items if v is not None and not isinstance(v, dict | list)]


def field_value(source: dict[str, Any], path: str) -> Any:
    """The value of a (possibly dotted) field path in a source, or None."""
    node: Any = source
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return source.get(path) if isinstance(source, dict) else None
        node = node[part]
    return node


def joined_text(source: dict[str, Any], path: str) -> str | None:
    """A field's values joined as semantic_text chunk offsets count them."""
    value = field_value(source, path)
    values = values_of(value) if value is not None else []
    return SEPARATOR.join(values) if values else None


def field_inference(source: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The `inference` object recorded for a semantic_text field, if any (under
    `_inference_fields`, or in the field's legacy-format object)."""
    record = (source.get(INFERENCE_FIELDS) or {}).get(path)
    if not isinstance(record, dict) or not isinstance(record.get("inference"), dict):
        legacy = legacy_object(field_value(source, path))
        return None if legacy is None else legacy["inference"]
    return record["inference"]


def chunks_of(source: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The chunks (offsets and embeddings) recorded for a semantic_text field, from its own
    values and those copied to it (`copy_to`)."""
    return [chunk for _, chunk in chunk_texts(source, path)]


def chunk_texts(source: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """(text, chunk) of each chunk recorded for a semantic_text field."""
    inference = field_inference(source, path)
    chunks = inference.get("chunks") if inference is not None else None
    if isinstance(chunks, list):  # legacy format: each chunk holds its text
        return [(str(c.get("text") or ""), c) for c in chunks if isinstance(c, dict)]
    if not isinstance(chunks, dict):
        return []
    out = []
    for name, items in chunks.items():
        text = joined_text(source, name) or ""
        for chunk in items if isinstance(items, list) else []:
            if isinstance(chunk, dict):
                start, end = chunk.get("start_offset", 0), chunk.get("end_offset", 0)
                out.append((text[start:end] if isinstance(start, int) and
                            isinstance(end, int) else "", chunk))
    return out


def _touches(patch: dict[str, Any], path: str) -> bool:
    node: Any = patch
    for part in path.split("."):
        if not isinstance(node, dict):
            return False
        if part not in node:
            return path in patch
        node = node[part]
    return True


def without_stale_inference(sources_of: Any, source: dict[str, Any], patch: dict[str, Any]
                            ) -> dict[str, Any]:
    """An updated source without the recorded chunks of the semantic_text fields whose text
    (or a field copied to them, `sources_of(field)`) the partial update `patch` changes: the
    model runs again for them, as Elasticsearch re-runs inference on updated fields."""
    recorded = source.get(INFERENCE_FIELDS)
    if not isinstance(recorded, dict) or not patch:
        return source
    kept = {name: record for name, record in recorded.items()
            if not any(_touches(patch, s) for s in sources_of(name))}
    if len(kept) == len(recorded):
        return source
    out = {k: v for k, v in source.items() if k != INFERENCE_FIELDS}
    if kept:
        out[INFERENCE_FIELDS] = kept
    return out
