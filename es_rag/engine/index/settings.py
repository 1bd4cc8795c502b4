"""Index settings: normalization to flat `index.*` keys, validation, and nested rendering."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .similarity import index_similarities

_KNOWN = {
    "number_of_shards", "number_of_replicas", "refresh_interval", "default_pipeline",
    "final_pipeline", "max_result_window", "hidden", "auto_expand_replicas", "codec",
    "uuid", "creation_date", "provided_name", "version.created", "max_inner_result_window",
    "number_of_routing_shards", "translog.durability", "translog.sync_interval",
    "query.default_field", "priority", "format", "sort.field", "sort.order", "mode",
    "routing_path", "max_terms_count", "query.parse.allow_unmapped_fields",
    "analyze.max_token_count",
}
# Elasticsearch's defaults of the index settings the engine honours (`include_defaults`)
DEFAULTS = {
    "index.refresh_interval": "1s", "index.max_result_window": "10000",
    "index.max_inner_result_window": "100", "index.max_rescore_window": "10000",
    "index.max_terms_count": "65536", "index.max_regex_length": "1000",
    "index.highlight.max_analyzed_offset": "1000000", "index.hidden": "false",
    "index.default_pipeline": "_none", "index.final_pipeline": "_none",
    "index.query.default_field": ["*"], "index.query.parse.allow_unmapped_fields": "true",
    "index.translog.durability": "REQUEST", "index.analyze.max_token_count": "10000",
}
# settings fixed when the index is created (Elasticsearch's `Property.Final`)
FINAL = {"index.mapping.semantic_text.use_legacy_format"}
_PREFIXES = ("mapping.", "blocks.", "routing.", "lifecycle.", "merge.", "search.", "store.",
             "shard.", "write.", "unassigned.", "indexing.", "analysis.", "knn", "highlight.",
             "max_", "time_series.", "look_ahead_time", "look_back_time", "similarity.")


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"index": {"number_of_shards": 1}}` and `{"number_of_shards": 1}` → `index.*` keys."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return {(k if k.startswith("index.") else "index." + k): v for k, v in out.items()}


def validate(flat: dict[str, Any]) -> dict[str, str | list[str] | None]:
    """Refuse unknown settings as Elasticsearch does; values become strings."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        name = key[len("index."):]
        if name.startswith("analysis."):
            raise BadRequest(f"custom analysis settings are not supported by the embedded engine "
                             f"[{key}]; use the built-in analyzers")
        if name not in _KNOWN and not name.startswith(_PREFIXES):
            raise BadRequest(f"unknown setting [{key}] please check that any required plugins are "
                             f"installed, or check the breaking changes documentation for removed "
                             f"settings")
        if name == "number_of_shards" and int(value) < 1:
            raise BadRequest(f"Failed to parse value [{value}] for setting "
                             f"[index.number_of_shards] must be >= 1")
        if value is None:
            out[key] = None
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = str(value)
    index_similarities(out)
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat `index.*` keys → the nested form `GET _settings` returns."""
    out: dict[str, Any] = {}
    for key, value in sorted(flat.items()):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return out
