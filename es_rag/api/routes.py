"""The `/api` blueprint: search, ask (JSON or Server-Sent Events), health and the OpenAPI file.

Routes are thin: validate the body, run the library as the caller, render JSON.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import elastic_transport
from elasticsearch import ApiError as ClusterApiError
from flask import Blueprint, Response, jsonify, request

from es_rag.answer_cache import generator_identity
from es_rag.embedding.protocols import ClusterQueryEmbedder, QueryEmbedder
from es_rag.generate import AskParams, ask, ask_stream
from es_rag.observability import tracing
from es_rag.observability.answer_log import log_answer
from es_rag.retrieve import Mode, SearchResult, parse_filters, search, search_template
from es_rag.retrieve.defaults import RetrievalDefaults, read_stored
from es_rag.retrieve.filters import filter_clauses
from es_rag.retrieve.queries import CHUNKS, Layout, template_model_id
from es_rag.sources import SourceError
from es_rag.sources.layout import check_query_model, source_layout

from . import errors, observe, sse
from .clients import ClientCache
from .condense import condense
from .openapi import openapi_document
from .schemas import AskRequest, TemplateSearch, search_request, validate
from .state import ApiState, api_state

bp = Blueprint("api", __name__, url_prefix="/api")
errors.install(bp, lambda: api_state().cluster_url())


def _json_body() -> Any:
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise errors.bad_request("the request body is empty: send a JSON object",
                                 "parse_error")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}",
                                 "parse_error") from None


def _defaults(state: ApiState, client: Any) -> RetrievalDefaults:
    """The retrieval parameters `es-rag apply` stored, read as the caller (the assets' file
    when none are stored or the caller may not read them)."""
    return read_stored(client, fallback=state.settings.assets)


def _target(state: ApiState, source: str | None) -> tuple[str, Layout]:
    """The index and layout searched: the chunk index, or the `source` the request names."""
    if not source:
        return state.settings.index, CHUNKS
    try:
        layout = source_layout(state.settings.assets, source)
        check_query_model(layout, state.settings.embedding_model)
    except SourceError as exc:
        raise errors.bad_request(str(exc), "unknown_source") from None
    return layout.index, layout


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _needs_vector(state: ApiState, template: str) -> bool:
    """True when the repository's file of this template takes a `query_vector`."""
    path = state.settings.assets / "templates" / "search" / f"{template}.mustache"
    return path.is_file() and "query_vector" in path.read_text(encoding="utf-8")


def _template_vector(embedder: QueryEmbedder, query: str) -> dict[str, Any]:
    """The kNN templates' vector parameter: `model_id` when the cluster embeds the query (the
    templates then send `query_vector_builder`), else the `query_vector` embedded here."""
    if isinstance(embedder, ClusterQueryEmbedder):
        return {"model_id": template_model_id(embedder.query_vector_builder(query))}
    return {"query_vector": embedder.embed_query(query)}


def _template_search(state: ApiState, req: TemplateSearch) -> SearchResult:
    params = dict(req.params)
    if "filters" in params and req.filters:
        raise errors.bad_request("give filters either as 'filters' (filter strings) or as "
                                 "params.filters (query DSL clauses), not both")
    params.setdefault("filters", filter_clauses(parse_filters(req.filters)))
    embed = "query_vector" not in params and _needs_vector(state, req.template)
    query = params.get("query")
    if embed and (not isinstance(query, str) or not query.strip()):
        raise errors.bad_request(f"template {req.template!r} needs params.query_vector, or "
                                 "params.query (a text) for the API to embed")
    caller = state.caller()
    if embed:
        params.update(_template_vector(state.embedder(), str(query)))
    return search_template(caller.client, state.settings.index, req.template, params)


@bp.post("/search")
@observe.observed("search")
def search_chunks() -> Response:
    """Search by stored template, or by mode with a query and filters."""
    state = api_state()
    req = search_request(_json_body())
    if isinstance(req, TemplateSearch):
        found = _template_search(state, req)
        observe.searched("template", len(found.hits))
        return jsonify(found.as_dict())
    caller = state.caller()
    try:
        params = req.search_params(_defaults(state, caller.client))
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from None
    index, layout = _target(state, req.source)
    needs = params.mode is not Mode.BM25 and getattr(layout, "needs_embedder", True)
    embedder = state.embedder() if needs else None
    result = search(caller.client, caller.caps, index, req.query, params, embedder,
                    layout=layout)
    observe.searched(params.mode.value, len(result.hits))
    return jsonify(result.as_dict())


@bp.post("/ask")
@observe.observed("ask")
def ask_question() -> Response:
    """Answer a question (a follow-up is condensed first) as JSON or as Server-Sent Events.

    An answer to the same question, parameters, index version and caller is reused from the
    answer cache; every answer goes to the answer log when it is on.
    """
    state = api_state()
    req: AskRequest = validate(AskRequest, _json_body())
    caller = state.caller()
    try:
        params = AskParams(search=req.search_params(_defaults(state, caller.client)))
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from None
    index, layout = _target(state, req.source)
    generator = state.generator()
    embedder = state.embedder()
    t0 = time.perf_counter()
    question = condense(req.question, req.history, generator)
    timings = {"condense_ms": _ms(t0)} if req.history else {}
    scope = tracing.scope_hash(ClientCache.key(request.headers.get("Authorization")))
    key = state.answers.key(question, {"search": params.search, "source": req.source,
                                       **generator_identity(generator)}, index, scope)
    cached = state.answers.get(key)
    observe.cache_lookup(state.answers.enabled, cached is not None)

    def finished(answer: Any) -> None:
        if cached is None:
            state.answers.put(key, answer)
        log_answer(state.settings, question, answer, surface="api", user_scope=scope)

    if not req.stream:
        answer = cached or ask(caller.client, caller.caps, index, question, params, embedder,
                               generator, layout=layout)
        finished(answer)
        observe.answered(params.search.mode.value, answer)
        body = answer.as_dict()
        body["question"] = question
        body["timings"] = {**timings, **body["timings"]}
        return jsonify(body)
    answering = (iter([cached.text, cached]) if cached is not None else ask_stream(
        caller.client, caller.caps, index, question, params, embedder, generator,
        layout=layout))
    parts = observe.answers_of(params.search.mode.value, sse.on_answer(answering, finished))
    # retrieval and the first token happen here, so their failures still get a status code
    first = next(parts)

    def stream() -> Any:
        yield from sse.answer_events(
            itertools.chain([first], parts), question=question, timings=timings,
            to_error=lambda exc: errors.as_api_error(exc, state.cluster_url))

    return Response(stream(), mimetype="text/event-stream", headers=sse.HEADERS)


@bp.get("/health")
def health() -> Response:
    """200 when the cluster answers (a 401/403 still means it is up), else 503."""
    state = api_state()
    probe = state.clients.factory(None)
    try:
        status = int(probe.info().meta.status)
    except ClusterApiError as exc:
        status = int(exc.meta.status)
    except elastic_transport.TransportError as exc:
        error = errors.from_transport(exc, state.cluster_url())
        raise errors.ApiError(503, error.type, error.reason) from None
    finally:
        probe.close()
    return jsonify({"status": "ok", "cluster": {"reachable": True, "status": status},
                    "index": state.settings.index, "provider": state.settings.llm_provider})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of these routes."""
    return jsonify(openapi_document())
