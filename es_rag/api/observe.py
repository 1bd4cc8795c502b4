"""Traces and metrics of the API: a server span per request, Prometheus metrics at `/metrics`.

`install(app)` adds the metrics and the `GET /metrics` route (authenticated like every route:
the caller's credentials must authenticate with the cluster; `metrics_open_on_loopback` lets
requests from 127.0.0.1/::1 in without). Routes wear `@observed("search")` and report what
they found with `searched(...)`, `answered(...)` and `answers_of(...)`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import elastic_transport
from elasticsearch import ApiError as ClusterApiError
from flask import Flask, Response, current_app, g, request
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind

from es_rag.observability import tracing
from es_rag.observability.metrics import CONTENT_TYPE, ApiMetrics

from . import errors
from .clients import ClientCache
from .errors import ApiError
from .state import api_state

F = TypeVar("F", bound=Callable[..., Any])
METRICS_EXTENSION = "es_rag_metrics"
LOOPBACK = ("127.0.0.1", "::1")


def metrics() -> ApiMetrics:
    """The metrics of the app serving the current request."""
    return current_app.extensions[METRICS_EXTENSION]


def observed(route: str) -> Callable[[F], F]:
    """Run a route in a server span (continuing a trace whose `traceparent` the caller sent),
    named after the route; the caller's scope is recorded as a hash of their credentials."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            g.es_rag_route = route
            if not tracing.enabled():
                return view(*args, **kwargs)
            authorization = request.headers.get("Authorization")
            with tracing.span(f"{request.method} {request.url_rule}", kind=SpanKind.SERVER,
                              context=extract(request.headers),
                              http__request__method=request.method,
                              http__route=str(request.url_rule),
                              es_rag__user_scope=tracing.scope_hash(
                                  ClientCache.key(authorization) if authorization else None)
                              ) as current:
                response = view(*args, **kwargs)
                current.set(http__response__status_code=getattr(response, "status_code", 200))
                return response

        return run  # type: ignore[return-value]

    return wrap


def searched(mode: str, hits: int) -> None:
    """A search of this request found `hits` chunks."""
    g.es_rag_mode = mode
    metrics().search(g.get("es_rag_route", "search"), mode, hits)


def answered(mode: str, answer: Any) -> None:
    """This request answered with `answer` (an `Answer`)."""
    g.es_rag_mode = mode
    metrics().answer(g.get("es_rag_route", "ask"), mode, answer)


def cache_lookup(enabled: bool, hit: bool) -> None:
    """This request looked its answer up in the answer cache (nothing when it is off)."""
    if enabled:
        metrics().cache(hit)


def answers_of(mode: str, parts: Iterator[Any]) -> Iterator[Any]:
    """The parts of a streamed answer, unchanged; the final `Answer` is counted as it passes,
    and an error in the stream is counted by kind."""
    g.es_rag_mode = mode
    app_metrics, route = metrics(), g.get("es_rag_route", "ask")
    try:
        for part in parts:
            if not isinstance(part, str):
                app_metrics.answer(route, mode, part)
            yield part
    except Exception as exc:
        app_metrics.error(route, 200, f"stream:{type(exc).__name__}")
        raise


def _error_kind(response: Response) -> str:
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("type"), str):
        return error["type"]
    return "http_error"


def _after(response: Response) -> Response:
    route = g.get("es_rag_route")
    if route is None:
        return response
    app_metrics, status = metrics(), response.status_code
    mode, started = g.get("es_rag_mode", "-"), g.es_rag_started
    if status >= 400:
        app_metrics.error(route, status, _error_kind(response))
    if not response.is_streamed:
        app_metrics.request(route, mode, status, time.perf_counter() - started)
        return response
    # a streamed answer is timed until its last event, when the server closes the response
    response.call_on_close(lambda: app_metrics.request(route, mode, status,
                                                       time.perf_counter() - started))
    return response


def _metrics_view() -> Response:
    state = api_state()
    open_here = state.settings.metrics_open_on_loopback and request.remote_addr in LOOPBACK
    if not open_here:
        try:
            caller = state.caller()
            if caller.caps.security_enabled:
                caller.client.security.authenticate()
        except (ApiError, ClusterApiError, elastic_transport.TransportError) as exc:
            error = errors.as_api_error(exc, state.cluster_url)
            assert error is not None  # every exception caught here has its ApiError
            return error.response()
    return Response(metrics().exposition(), mimetype=None, content_type=CONTENT_TYPE)


def install(app: Flask) -> ApiMetrics:
    """Give `app` its metrics, the request timing hooks and the `GET /metrics` route."""
    app_metrics = ApiMetrics()
    app.extensions[METRICS_EXTENSION] = app_metrics
    app.before_request(lambda: setattr(g, "es_rag_started", time.perf_counter()))
    app.after_request(_after)
    app.add_url_rule("/metrics", "metrics", _metrics_view, methods=["GET"])
    return app_metrics
