"""Assets in the form Elasticsearch stores them, so a file and a GET response compare equal.

Elasticsearch does not hand back a role, pipeline or stored script exactly as it was sent: the
GET role API returns a DLS `query` as a JSON string (RoleDescriptor keeps the query's bytes and
writes them back with `builder.field("query", query.utf8ToString())`), fills in
`allow_restricted_indices`, `applications`, `run_as`, `metadata` and `transient_metadata`, turns a
single index name into a list; 9.1 and later add `created_date_millis` and
`modified_date_millis` to pipelines; a stored mustache script may come back with `options`.
`es-rag plan` compares `stored_form(file)` with `stored_form(GET response)`, so that what the
cluster adds on its own is never reported as a change, and a real change always is.
"""

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
