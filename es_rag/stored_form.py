"""Assets in the form Elasticsearch stores them, so a file and a GET response compare equal.

Elasticsearch does not hand back a role, pipeline, stored script or index exactly as it was
sent: the GET role API returns a DLS `query` as a JSON string (RoleDescriptor keeps the query's
bytes and writes them back with `builder.field("query", query.utf8ToString())`), fills in
`allow_restricted_indices`, `applications`, `run_as`, `metadata` and `transient_metadata`, turns a
single index name into a list; 9.1 and later add `created_date_millis` and
`modified_date_millis` to pipelines; a stored mustache script may come back with `options`; an
index returns its settings as text under `index`, with keys of its own, and its mapping with
field defaults filled in, `dynamic` as text and object fields without `type: object`.
`es-rag plan` compares the two sides in these forms, so that what the cluster adds on its own is
never reported as a change, and a real change always is."""

from __future__ import annotations

import contextlib
import json
from typing import Any

# Pipeline keys Elasticsearch manages itself (9.1+; `created_date`/`modified_date` with ?human).
PIPELINE_SYSTEM_KEYS = ("created_date_millis", "modified_date_millis", "created_date",
                        "modified_date")
# Role keys Elasticsearch only writes when set; an empty value equals leaving them out.
ROLE_OPTIONAL_KEYS = ("global", "remote_indices", "remote_cluster", "restriction", "description")


def role_form(body: dict[str, Any]) -> dict[str, Any]:
    """A role descriptor (from a file or from GET _security/role) as the cluster stores it.

    `transient_metadata` is left out: the cluster computes it (`{"enabled": false}` when the
    license disables DLS), it is not part of what a file asks for.
    """
    indices = body.get("indices", body.get("index")) or []
    applications = body.get("applications", body.get("application")) or []
    form: dict[str, Any] = {
        "cluster": list(body.get("cluster") or []),
        "indices": [_index_privileges_form(entry) for entry in indices],
        "applications": [_application_form(entry) for entry in applications],
        "run_as": list(body.get("run_as") or []),
        "metadata": dict(body.get("metadata") or {}),
    }
    for key in ROLE_OPTIONAL_KEYS:
        value = body.get(key)
        if value in (None, "", [], {}):
            continue
        if key == "remote_indices":
            value = [_index_privileges_form(entry) for entry in value]
        form[key] = value
    return form


def _index_privileges_form(entry: dict[str, Any]) -> dict[str, Any]:
    names = entry.get("names")
    form: dict[str, Any] = {
        "names": [names] if isinstance(names, str) else list(names or []),
        "privileges": list(entry.get("privileges") or []),
        "allow_restricted_indices": bool(entry.get("allow_restricted_indices", False)),
    }
    query = dls_query_form(entry.get("query"))
    if query is not None:
        form["query"] = query
    fields = entry.get("field_security")
    if fields is not None:
        form["field_security"] = {"grant": list(fields.get("grant") or []),
                                  "except": list(fields.get("except") or [])}
    if "clusters" in entry:  # remote_indices
        form["clusters"] = list(entry["clusters"] or [])
    return form


def dls_query_form(query: Any) -> Any:
    """A role's DLS query as an object whether it was given (or returned) as JSON text or as an
    object; None for no query (null or an empty string, which Elasticsearch also treats as none).
    Text that is not JSON stays text, so it still compares with what was sent."""
    if isinstance(query, str):
        if not query.strip():
            return None
        try:
            return json.loads(query)
        except ValueError:
            return query
    return query


def _application_form(entry: dict[str, Any]) -> dict[str, Any]:
    return {"application": entry.get("application"),
            "privileges": list(entry.get("privileges") or []),
            "resources": list(entry.get("resources") or [])}


def pipeline_form(body: dict[str, Any]) -> dict[str, Any]:
    """An ingest pipeline without the keys the cluster manages (creation and change dates)."""
    return {key: value for key, value in body.items() if key not in PIPELINE_SYSTEM_KEYS}


def script_form(script: dict[str, Any]) -> dict[str, Any]:
    """A stored script (`script` of GET _scripts/<id>) as `{lang, source}`.

    `lang` defaults to mustache; a source sent as a JSON object is stored as its JSON text, so a
    source that is JSON compares as the value it holds; `options` (the content type the cluster
    records for a source sent as an object) is left out.
    """
    source = script.get("source")
    if isinstance(source, str):
        with contextlib.suppress(ValueError):
            source = json.loads(source)
    return {"lang": script.get("lang") or "mustache", "source": source}


# Index settings the cluster sets by itself, and the shard counts, fixed at creation.
VOLATILE_SETTINGS = ("creation_date", "uuid", "version.created", "provided_name", "version",
                     "routing.allocation.include._tier_preference", "number_of_shards",
                     "number_of_replicas")
# Field parameters the cluster reports with their default when a mapping leaves them out.
FILLED_FIELD_PARAMS = ("index", "similarity", "index_options", "element_type")
# What es-rag itself records in a mapping's `_meta.es_rag` when it applies the file.
APPLY_RECORD_KEYS = ("asset", "digest")


def _setting_text(value: Any) -> Any:
    """A setting value as Elasticsearch returns it: text (`true`, `1`), lists and objects of it."""
    if isinstance(value, dict):
        return {key: _setting_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_setting_text(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def index_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Index settings flattened to `key: text` without the `index.` prefix, without the ones the
    cluster sets by itself; `analysis` stays one object. A file's `{"refresh_interval": 5}`
    and the cluster's `{"index": {"refresh_interval": "5"}}` give the same."""
    flat: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = prefix + key
            if isinstance(value, dict) and name.removeprefix("index.") != "analysis":
                walk(value, name + ".")
            else:
                flat[name.removeprefix("index.")] = _setting_text(value)

    walk(settings, "")
    for volatile in VOLATILE_SETTINGS:
        flat.pop(volatile, None)
    return flat


def _mapping_node_form(live: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """A mapping node (root, object or field) of the cluster, as far as the file's node says."""
    form: dict[str, Any] = {}
    for key, value in live.items():
        if key == "type" and value == "object":
            continue  # the default type; Elasticsearch omits it for objects with properties
        if key in FILLED_FIELD_PARAMS and key not in wanted:
            continue
        if key == "dynamic":
            value = str(value).lower()
        elif key == "properties":
            # fields the file does not name came from dynamic mapping (e.g. metadata.team)
            dynamic = str(wanted.get("dynamic", "true")).lower() not in ("strict", "false")
            wanted_fields = wanted.get("properties") or {}
            value = {name: _mapping_node_form(spec, wanted_fields.get(name, {}))
                     for name, spec in value.items()
                     if name in wanted_fields or not dynamic}
            if not value and "properties" not in wanted:
                continue
        form[key] = value
    return form


def _meta_form(meta: dict[str, Any]) -> dict[str, Any]:
    es_rag = {k: v for k, v in (meta.get("es_rag") or {}).items() if k not in APPLY_RECORD_KEYS}
    form = {k: v for k, v in meta.items() if k != "es_rag"}
    if es_rag:
        form["es_rag"] = es_rag
    return form


def index_forms(live: dict[str, Any], wanted: dict[str, Any]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The live index (`settings` and `mappings` of GET <index>) and the file's index body, each
    as far as the file states it: defaults the cluster fills in, fields dynamic mapping added,
    the cluster's own settings and es-rag's apply record left out. Equal forms: nothing to do."""
    wanted_mappings = wanted.get("mappings") or {}
    wanted_settings = index_settings(wanted.get("settings") or {})
    live_settings = index_settings(live.get("settings") or {})
    forms = []
    for mappings, settings in ((_mapping_node_form(live.get("mappings") or {}, wanted_mappings),
                                {k: live_settings.get(k) for k in wanted_settings}),
                               (_mapping_node_form(wanted_mappings, wanted_mappings),
                                wanted_settings)):
        meta = _meta_form(mappings.pop("_meta", {}))
        if meta:
            mappings["_meta"] = meta
        forms.append({"settings": settings, "mappings": mappings})
    return forms[0], forms[1]
