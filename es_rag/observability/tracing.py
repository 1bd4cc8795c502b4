"""OpenTelemetry tracing of searches and answers: `span()` for every stage, set up from `OTEL_*`.

Tracing is off unless a tracer provider is active: the one `configure_tracing()` builds from the
standard variables (`OTEL_TRACES_EXPORTER=otlp,console`, `OTEL_EXPORTER_OTLP_*`,
`OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`), one an application embedding es-rag installed with
`opentelemetry.trace.set_tracer_provider`, or one given to `use_tracer_provider` (tests). When
off, `span()` hands back one shared do-nothing span: no OpenTelemetry call, no attribute built.

Attributes follow the GenAI semantic conventions (`gen_ai.*`) where one fits, and are `es_rag.*`
otherwise. A user is never named: `scope_hash` gives a stable pseudonym instead.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode

F = TypeVar("F", bound=Callable[..., Any])
Attributes = Callable[[Any], Mapping[str, Any]]
TRACER_NAME = "es_rag"
EXPORTERS = ("otlp", "console", "none")
_TRUE = ("true", "1", "yes")


class _Off:
    """The span of disabled tracing, its own context manager: every method does nothing."""

    __slots__ = ()
    recording = False

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set(self, **attributes: Any) -> None:
        return None

    def set_many(self, attributes: Mapping[str, Any]) -> None:
        return None


OFF = _Off()


class Span:
    """A recording span with keyword setters: `span.set(es_rag__hits=3)` sets `es_rag.hits`."""

    __slots__ = ("otel",)
    recording = True

    def __init__(self, otel: trace.Span) -> None:
        self.otel = otel

    def set(self, **attributes: Any) -> None:
        """Set attributes; `__` in a keyword stands for `.`; None values are left out."""
        self.set_many({k.replace("__", "."): v for k, v in attributes.items()})

    def set_many(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            if value is not None:
                self.otel.set_attribute(key, value)


if "OTEL_PYTHON_TRACER_PROVIDER" in os.environ:
    trace.get_tracer_provider()  # loads and sets the provider that variable names
_override: Any = None
_cached: tuple[Any, trace.Tracer] | None = None


def use_tracer_provider(provider: Any) -> None:
    """Trace es-rag with `provider` (None: back to the global provider). For tests and
    applications that keep es-rag's spans apart from their own."""
    global _override, _cached
    _override, _cached = provider, None


def _tracer() -> trace.Tracer | None:
    """The tracer of the active provider, or None when tracing is off."""
    global _cached
    # the global provider as set, read directly: `get_tracer_provider()` looks up an
    # environment variable on every call (1.7 µs, more than the rest of a hook together)
    provider = _override if _override is not None else trace._TRACER_PROVIDER
    if provider is None or isinstance(provider, ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    if _cached is None or _cached[0] is not provider:
        _cached = (provider, provider.get_tracer(TRACER_NAME))
    return _cached[1]


def enabled() -> bool:
    """Whether spans are recorded now."""
    return _tracer() is not None


def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, context: Any = None,
         **attributes: Any) -> AbstractContextManager[Span | _Off]:
    """A span around a stage, child of the current one; an exception marks it as an error.
    Off, it is `OFF` itself (no generator, no OpenTelemetry call).

    >>> with span("es_rag.fusion", es_rag__fusion="rrf") as sp:   # doctest: +SKIP
    ...     sp.set(es_rag__hits=len(fused))
    """
    tracer = _tracer()
    if tracer is None:
        return OFF
    return _recording(tracer, name, kind, context, attributes)


@contextmanager
def _recording(tracer: trace.Tracer, name: str, kind: SpanKind, context: Any,
               attributes: Mapping[str, Any]) -> Iterator[Span]:
    with tracer.start_as_current_span(name, kind=kind, context=context,
                                      record_exception=True, set_status_on_exception=True) as otel:
        current = Span(otel)
        current.set(**attributes)
        yield current


@contextmanager
def detached(name: str, *, context: Any = None,
             **attributes: Any) -> Iterator[tuple[Span | _Off, Any]]:
    """A span that is not made current, and its context: for a span around `yield`s, as a
    generator's code runs in steps between its caller's (a current span would leak)."""
    tracer = _tracer()
    if tracer is None:
        yield OFF, None
        return
    otel = tracer.start_span(name, context=context)
    current = Span(otel)
    current.set(**attributes)
    try:
        yield current, trace.set_span_in_context(otel, context)
    except Exception as exc:
        otel.record_exception(exc)
        otel.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        otel.end()


def traced(name: str, attributes: Attributes | None = None,
           on_result: Attributes | None = None) -> Callable[[F], F]:
    """Decorate a function with a span: `attributes(arguments)` (the call's arguments by name,
    defaults applied) at the start, `on_result(result)` at the end. Off: a plain call."""

    def wrap(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            if _tracer() is None:
                return func(*args, **kwargs)
            with span(name) as current:
                if attributes is not None:
                    bound = signature.bind(*args, **kwargs)
                    bound.apply_defaults()
                    current.set_many(attributes(bound.arguments))
                result = func(*args, **kwargs)
                if on_result is not None:
                    current.set_many(on_result(result))
                return result

        return run  # type: ignore[return-value]

    return wrap


def traced_stream(name: str, attributes: Attributes | None = None,
                  on_item: Attributes | None = None) -> Callable[[F], F]:
    """Like `traced`, for a generator function: the span is current only while the generator
    runs a step (so its stages nest under it), and ends with the last item or an error.
    `on_item(item)` gives attributes of each item (e.g. of the final answer)."""

    def wrap(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            if _tracer() is None:
                return func(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            start = attributes(bound.arguments) if attributes is not None else {}
            return _steps(func(*args, **kwargs), name, start, on_item)

        return run  # type: ignore[return-value]

    return wrap


def _steps(inner: Iterator[Any], name: str, start: Mapping[str, Any],
           on_item: Attributes | None) -> Iterator[Any]:
    with detached(name) as (current, context), closing(inner):
        current.set_many(start)
        while True:
            token = otel_context.attach(context)
            try:
                item = next(inner)
            except StopIteration:
                return
            finally:
                otel_context.detach(token)
            if on_item is not None:
                current.set_many(on_item(item))
            yield item


def fail(current: Span | _Off, kind: str, message: str) -> None:
    """Mark a span as failed with an error kind (`error.type`), when it records."""
    if isinstance(current, Span):
        current.otel.set_attribute("error.type", kind)
        current.otel.set_status(Status(StatusCode.ERROR, message))


def scope_hash(scope: str | None) -> str | None:
    """A stable pseudonym of a user scope (a user name, a hashed credential): 16 hex digits.

    Not a secret: whoever guesses the name can compute it; it keeps names out of traces.
    """
    if not scope:
        return None
    return hashlib.sha256(f"es-rag-scope:{scope}".encode()).hexdigest()[:16]


def search_attributes(index: str, params: Any) -> dict[str, Any]:
    """The retrieval parameters of a search (a `SearchParams`) as span attributes."""
    if params is None:
        return {"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": index,
                "es_rag.index": index}
    mode = getattr(params.mode, "value", params.mode)
    return {"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": index,
            "es_rag.index": index, "es_rag.search.mode": mode, "es_rag.search.size": params.size,
            "es_rag.search.k": getattr(params, "k", None),
            "es_rag.search.num_candidates": getattr(params, "num_candidates", None),
            "es_rag.search.rank_constant": getattr(params, "rank_constant", None),
            "es_rag.search.rank_window_size": getattr(params, "rank_window_size", None),
            "es_rag.search.filters": len(getattr(params, "filters", None) or ()) or None}


def search_call(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of a `search(...)` call: index, parameters, user scope (hashed)."""
    return {**search_attributes(arguments["index"], arguments.get("params")),
            "es_rag.user_scope": scope_hash(arguments.get("as_user"))}


def ask_call(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of an `ask(...)` call: index, search parameters, user scope, generator."""
    params = arguments.get("params")
    return {**search_attributes(arguments["index"], getattr(params, "search", None)),
            "gen_ai.operation.name": None,
            "es_rag.user_scope": scope_hash(arguments.get("as_user")),
            "es_rag.generator": getattr(arguments.get("generator"), "name", None)}


def search_result(result: Any) -> dict[str, Any]:
    """Attributes of a `SearchResult`: hits, the hybrid path taken, a license fallback."""
    fallback = (result.explain or {}).get("fallback") or {}
    return {"es_rag.hits": len(result.hits), "es_rag.hybrid_path": result.path_used,
            "es_rag.fallback_from": fallback.get("from")}


def leg_name(body: Mapping[str, Any]) -> str:
    """Which retrieval leg a search body is: `fused` (RRF run by the cluster), `knn`, `bm25`."""
    if "retriever" in body or "rank" in body:
        return "fused"
    return "knn" if "knn" in body and "query" not in body else "bm25"


def record_response(current: Span | _Off, response: Mapping[str, Any]) -> None:
    """Hits, the cluster's `took` and the concrete indices (the index version behind an alias)
    of one search response."""
    if not current.recording:
        return
    hits = response.get("hits", {}).get("hits", [])
    current.set_many({"es_rag.hits": len(hits), "es_rag.es_took_ms": response.get("took"),
                      "es_rag.index.versions": sorted({h["_index"] for h in hits
                                                       if "_index" in h})})


def record_legs(current: Span | _Off, response: Mapping[str, Any]) -> None:
    """Hits and `took` of each leg of a BM25 + kNN `_msearch` response."""
    if not current.recording:
        return
    for leg, item in zip(("bm25", "knn"), response.get("responses", []), strict=False):
        current.set_many({f"es_rag.{leg}.hits": len(item.get("hits", {}).get("hits", [])),
                          f"es_rag.{leg}.took_ms": item.get("took"),
                          f"es_rag.{leg}.error": (item.get("error") or {}).get("type")
                          if isinstance(item.get("error"), dict) else None})


def embedding_attributes(embedder: Any) -> dict[str, Any]:
    """GenAI attributes of a query embedding by `embedder`."""
    model = getattr(getattr(embedder, "inner", embedder), "model_name", None)
    return {"gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": model if isinstance(model, str) else None}


def generation_name(generator: Any) -> str:
    """The span name of a generation: `chat MODEL` (GenAI) for a chat model, else
    `es_rag.generate` (the extractive answerer calls no model)."""
    model = getattr(generator, "model", None)
    return f"chat {model}" if isinstance(model, str) and model else "es_rag.generate"


def record_context(current: Span | _Off, context: Any) -> None:
    """Sources, tokens and dropped hits of an assembled context."""
    if current.recording:
        current.set_many({"es_rag.context.sources": len(context.sources),
                          "es_rag.context.tokens": context.tokens,
                          "es_rag.context.dropped": len(context.dropped)})


def record_answer(current: Span | _Off, answer: Any) -> None:
    """`answer_attributes` of an answer on a span, when it records."""
    if current.recording:
        current.set_many(answer_attributes(answer))


def generation_attributes(generator: Any) -> dict[str, Any]:
    """GenAI request attributes of an answer generator (the extractive one has no model)."""
    model = getattr(generator, "model", None)
    return {"gen_ai.operation.name": "chat" if model else None,
            "gen_ai.provider.name": getattr(generator, "name", None),
            "gen_ai.request.model": model if isinstance(model, str) else None,
            "gen_ai.request.temperature": getattr(generator, "temperature", None),
            "gen_ai.request.max_tokens": getattr(generator, "max_tokens", None),
            "es_rag.generator": getattr(generator, "name", None)}


def record_chat_response(response: Any) -> None:
    """Usage, finish reasons and response model of an OpenAI-style chat completion (or one
    streamed chunk), on the current span."""
    current = trace.get_current_span()
    if not current.is_recording():
        return
    choices = getattr(response, "choices", None) or []
    reasons = [c.finish_reason for c in choices if getattr(c, "finish_reason", None)]
    usage = getattr(response, "usage", None)
    values = {"gen_ai.response.model": getattr(response, "model", None),
              "gen_ai.response.id": getattr(response, "id", None),
              "gen_ai.response.finish_reasons": reasons or None,
              "gen_ai.usage.input_tokens": getattr(usage, "prompt_tokens", None),
              "gen_ai.usage.output_tokens": getattr(usage, "completion_tokens", None)}
    for key, value in values.items():
        if isinstance(value, str | int | list):
            current.set_attribute(key, value)


def answer_attributes(answer: Any) -> dict[str, Any]:
    """What an `Answer` says about itself, as span attributes (none for a streamed text part)."""
    if isinstance(answer, str):
        return {}
    from es_rag.observability.answers import citation_coverage, is_refusal

    return {"es_rag.answer.refusal": is_refusal(answer),
            "es_rag.answer.citations": len(answer.citations),
            "es_rag.answer.citation_coverage": citation_coverage(answer),
            "es_rag.answer.removed_citations": len(answer.removed_citations),
            "es_rag.answer.sources": len(answer.sources_used)}


def _exporters(names: list[str]) -> list[Any]:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    processors: list[Any] = []
    for name in names:
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            # one JSON object a line on stderr, written as each span ends: command output on
            # stdout stays parseable, and a server stopped by a signal loses no span
            exporter = ConsoleSpanExporter(out=sys.stderr,
                                           formatter=lambda s: s.to_json(indent=None) + "\n")
            processors.append(SimpleSpanProcessor(exporter))
        elif name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError:
                raise ValueError("OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pip "
                                 "install 'es-rag[otlp]' (opentelemetry-exporter-otlp-proto-http)"
                                 ) from None
            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    return processors


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The exporters the `OTEL_*` variables ask for: `OTEL_TRACES_EXPORTER`, else `otlp` when an
    OTLP endpoint is set, else none (tracing off). `OTEL_SDK_DISABLED=true` turns it off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return []
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip()
    if not raw:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or \
            env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return ["otlp"] if endpoint else []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {', '.join(unknown)} "
                         f"(accepted: {', '.join(EXPORTERS)})")
    return [n for n in names if n != "none"]


def configure_tracing(env: Mapping[str, str] | None = None,
                      install: Callable[[Any], None] = trace.set_tracer_provider) -> Any:
    """Install a tracer provider with the exporters the `OTEL_*` variables name; None (and
    nothing installed) when they name none. Raises ValueError for an unknown exporter."""
    env = os.environ if env is None else env
    names = exporter_names(env)
    if not names:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "es-rag"}))
    provider = TracerProvider(resource=resource)
    for processor in _exporters(names):
        provider.add_span_processor(processor)
    install(provider)
    return provider
