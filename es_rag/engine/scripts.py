"""Stored scripts (`_scripts/{id}`, mustache only) and rendering of search templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from es_rag.engine.errors import (
    ActionRequestValidation,
    BadRequest,
    EngineError,
    ParsingError,
    ResourceNotFound,
    XContentParseError,
)
from es_rag.engine.ingest.persisted import PersistedJson
from es_rag.engine.limits import current as current_limits
from es_rag.engine.mustache import compile_template

TEMPLATE_CONTENT_TYPE = "application/json;charset=utf-8"
_TEMPLATE_FIELDS = {"id", "source", "inline", "params", "explain", "profile"}
_TEMPLATE_CONTEXTS = (None, "search", "template")


class ScriptNotFound(EngineError):
    """GET of a missing stored script: Elasticsearch answers 404 with `{"_id", "found": false}`."""

    status = 404
    error_type = "resource_not_found_exception"

    def __init__(self, script_id: str) -> None:
        super().__init__(f"stored script [{script_id}] does not exist")
        self.script_id = script_id

    def body(self) -> dict[str, Any]:
        """Not an error body: the `found: false` document Elasticsearch returns."""
        return {"_id": self.script_id, "found": False}


class ScriptStore:
    """Stored mustache scripts, persisted to a JSON file so that they survive a restart.

    Example::

        store = ScriptStore(data_dir / "scripts.json")
        store.put("by_title", {"script": {"lang": "mustache",
                                          "source": {"query": {"match": {"title": "{{q}}"}}}}})
        store.get("by_title")["script"]["source"]  # '{"query":{"match":{"title":"{{q}}"}}}'
    """

    def __init__(self, path: Path) -> None:
        self._scripts = PersistedJson(path)

    def put(self, script_id: str, body: dict[str, Any], context: str | None = None) -> None:
        """Store (or replace) a script from a `PUT _scripts/{id}[/{context}]` body.

        Raises `BadRequest` for a body without `script.lang`/`script.source`, an empty source
        or a language other than mustache, and `MustacheError` (400 `script_exception`) for a
        template that does not compile.
        """
        if not script_id or "#" in script_id:
            raise ActionRequestValidation("Validation Failed: 1: "
                                          + ("id cannot contain '#' for stored script;"
                                             if script_id else "must specify id for stored "
                                             "script;"))
        if context not in _TEMPLATE_CONTEXTS:
            raise BadRequest(f"mustache engine does not know how to handle context [{context}]")
        script = _parse_stored_script(body)
        limit = current_limits().script_max_size
        if len(script["source"]) > limit:
            raise BadRequest(f"exceeded max allowed stored script size in bytes [{limit}] with "
                             f"size [{len(script['source'])}] for script [{script_id}]")
        compile_template(script["source"])
        with self._scripts.changing() as scripts:
            scripts[script_id] = script

    def get(self, script_id: str) -> dict[str, Any]:
        """The `GET _scripts/{id}` response body; raises `ScriptNotFound` (404) when missing."""
        script = self._scripts.get(script_id)
        if script is None:
            raise ScriptNotFound(script_id)
        return {"_id": script_id, "found": True, "script": dict(script)}

    def delete(self, script_id: str) -> None:
        """Remove a script; raises `ResourceNotFound` (404) like Elasticsearch when missing."""
        with self._scripts.changing() as scripts:
            if script_id not in scripts:
                raise ResourceNotFound(f"stored script [{script_id}] does not exist")
            del scripts[script_id]

    def source(self, script_id: str) -> str:
        """The template text of a stored script, as search templates look it up."""
        script = self._scripts.get(script_id)
        if script is None:
            raise ResourceNotFound(f"unable to find script [{script_id}] in cluster state")
        return str(script["source"])


def _parse_stored_script(body: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ParsingError("unexpected token, expected [{]")
    unknown = [key for key in body if key != "script"]
    if unknown:
        raise ParsingError(f"unexpected field [{unknown[0]}], expected [script]")
    script = body.get("script")
    if not isinstance(script, dict):
        raise ParsingError("must specify a script object in [script]")
    lang = script.get("lang")
    if lang is None:
        raise BadRequest("must specify lang for stored script")
    if not lang:
        raise BadRequest("lang cannot be empty")
    if lang != "mustache":
        raise BadRequest(f"script lang [{lang}] is not supported by the embedded engine "
                         "(only [mustache] search templates are)")
    if "source" not in script and "code" not in script:
        raise BadRequest("must specify source for stored script")
    source = script.get("source", script.get("code"))
    options = dict(script.get("options") or {})
    if isinstance(source, dict):
        source = json.dumps(source, ensure_ascii=False, separators=(",", ":"))
        options.setdefault("content_type", TEMPLATE_CONTENT_TYPE)
    elif not isinstance(source, str):
        raise BadRequest("source must be a string or an object")
    if not source:
        raise BadRequest("source cannot be empty")
    unknown_options = sorted(set(options) - {"content_type"})
    if unknown_options:
        raise BadRequest(f"illegal compiler options [{unknown_options}] specified")
    stored: dict[str, Any] = {"lang": "mustache", "source": source}
    if options:
        stored["options"] = options
    return stored


def render_search_template(body: dict[str, Any], store: ScriptStore,
                           script_id: str | None = None) -> dict[str, Any]:
    """Render a `_render/template` or `_search/template` body into a search request body.

    `body` holds `id` or `source` (text or object) and `params`; `script_id` (the `{id}` of
    `_render/template/{id}`) overrides `id`. Raises `ResourceNotFound` for an unknown stored
    template, `ActionRequestValidation` when no template is given, `MustacheError` when it does
    not compile and `XContentParseError` when the rendered text is not a JSON object.
    """
    template, params = _template_and_params(body, store, script_id)
    rendered = compile_template(template).render(params)
    try:
        request = json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise XContentParseError(f"[{exc.lineno}:{exc.colno}] {exc.msg} in rendered search "
                                 f"template: {rendered}") from exc
    if not isinstance(request, dict):
        raise XContentParseError(f"[1:1] the rendered search template is not a JSON object: "
                                 f"{rendered}")
    return request


def search_body_from_template(body: dict[str, Any], store: ScriptStore) -> dict[str, Any]:
    """The search request a `_search/template` body stands for: the rendered template plus the
    request's `explain` and `profile` flags (left for the search layer to honour or refuse)."""
    request = render_search_template(body, store)
    for flag in ("explain", "profile"):
        if body.get(flag):
            request[flag] = True
    return request


def _template_and_params(body: dict[str, Any], store: ScriptStore,
                         script_id: str | None) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise ParsingError("the search template request body must be an object")
    unknown = sorted(set(body) - _TEMPLATE_FIELDS)
    if unknown:
        raise XContentParseError(f"[search_template] unknown field [{unknown[0]}]")
    for flag in ("explain", "profile"):
        if flag in body and not isinstance(body[flag], bool):
            raise XContentParseError(f"[search_template] failed to parse field [{flag}]")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise XContentParseError("[search_template] params must be an object")
    stored_id = script_id if script_id is not None else body.get("id")
    if stored_id is not None:
        return store.source(str(stored_id)), params
    source = body.get("source", body.get("inline"))
    if isinstance(source, dict):
        return json.dumps(source, ensure_ascii=False, separators=(",", ":")), params
    if isinstance(source, str) and source:
        return source, params
    raise ActionRequestValidation("Validation Failed: 1: template is missing;")
