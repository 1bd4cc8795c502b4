"""`ask()`: question → retrieve (as the asking user) → assemble context → generate → Answer.

The context holds only what the asking user's own search returned, so DLS applies to answers
and citations too. When retrieval finds nothing relevant the answer is "I don't know" and the
generator is not called.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from es_rag.connect import Capabilities
from es_rag.embedding.cache import memoise
from es_rag.embedding.protocols import QueryEmbedder
from es_rag.generate.citations import Answer, build_answer
from es_rag.generate.context import Context, Tokenizer, assemble_context
from es_rag.generate.prompts import DONT_KNOW
from es_rag.generate.providers import ExtractiveGenerator, Generator
from es_rag.observability import tracing
from es_rag.retrieve.defaults import read_stored
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.params import SearchParams
from es_rag.retrieve.queries import CHUNKS, Layout
from es_rag.retrieve.search import search


@dataclass(frozen=True)
class AskParams:
    """How a question is answered: the search, the context budget and the relevance floor.

    `search` None searches with the retrieval parameters stored by `es-rag apply` (8 hits).
    `min_relevance` is the lowest cosine similarity between the question's embedding and the best
    retrieved chunk's text (embedded fresh) for the generator to be called at all; None disables
    the check.
    """

    search: SearchParams | None = None
    token_budget: int = 1500
    dedupe_threshold: float = 0.9
    min_relevance: float | None = 0.2


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def reaches_relevance(question: str, hits: list[Hit], embedder: QueryEmbedder,
                      floor: float) -> bool:
    """Whether some hit's text has a cosine of at least `floor` with the question.

    Hits are embedded best first, the top one alone and then the rest in one batch, so a
    relevant top hit settles it with one passage embedded. True when the embedder cannot embed
    passages (the floor cannot be checked).
    """
    embed_documents = getattr(embedder, "embed_documents", None)
    if embed_documents is None or not hits:
        return True
    query = _unit(np.asarray([embedder.embed_query(question)], dtype=np.float32))[0]
    for batch in (hits[:1], hits[1:]):
        if batch:
            vectors = _unit(np.asarray(embed_documents([h.text for h in batch]),
                                       dtype=np.float32))
            if float((vectors @ query).max()) >= floor:
                return True
    return False


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _prepare(client: Elasticsearch, caps: Capabilities, index: str, question: str,
             params: AskParams | None, embedder: QueryEmbedder | None, as_user: str | None,
             tokenizer: Tokenizer | None, client_side_acl_filter: bool, layout: Layout = CHUNKS
             ) -> tuple[Context | None, dict[str, float], dict[str, Any]]:
    """Retrieve and assemble the context (None when nothing relevant was found), with the
    timings so far and the retrieval trace (parameters searched with and their origin, path).

    The search, the relevance floor and the generator embed through one memo (`vectors`).
    """
    params = params or AskParams()
    timings: dict[str, float] = {}
    memo = memoise(embedder)
    t0 = time.perf_counter()
    search_params = params.search or read_stored(client).search_params(size=8)
    vector_memo = memo if getattr(layout, "needs_embedder", True) else None
    result = search(client, caps, index, question, search_params, vector_memo, as_user=as_user,
                    client_side_acl_filter=client_side_acl_filter, layout=layout)
    timings["retrieval_ms"] = _ms(t0)
    trace = {"path": result.path_used, "parameters": result.explain.get("parameters", {}),
             **{key: result.explain[key] for key in TRACED if key in result.explain}}
    if not result.hits:
        return None, timings, trace
    if params.min_relevance is not None and memo is not None:
        t0 = time.perf_counter()
        with tracing.span("es_rag.relevance_check", es_rag__min_relevance=params.min_relevance
                          ) as sp:
            relevant = reaches_relevance(question, result.hits, memo, params.min_relevance)
            sp.set(es_rag__relevant=relevant)
        timings["relevance_ms"] = _ms(t0)
        if not relevant:
            return None, timings, trace
    if tokenizer is None:
        tokenizer = getattr(embedder, "tokenizer", None)
    with tracing.span("es_rag.context", es_rag__token_budget=params.token_budget) as sp:
        context = assemble_context(result.hits, token_budget=params.token_budget,
                                   tokenizer=tokenizer, dedupe_threshold=params.dedupe_threshold)
        tracing.record_context(sp, context)
    context.embedder = memo
    return context, timings, trace


def _dont_know(generator: Generator) -> Answer:
    return build_answer(DONT_KNOW, Context(sources=[]), provider=generator.name,
                        extractive=generator.extractive)


def _finished(answer: Answer, timings: dict[str, float], started: float,
              trace: dict[str, Any], context: Context | None = None) -> Answer:
    """`answer` with the retrieval trace, the prompt sent and the timings, `total_ms` (since
    `started`) last."""
    timings["total_ms"] = _ms(started)
    answer.timings = timings
    answer.retrieval = trace
    if context is not None:
        answer.prompt = context.prompt
    return answer


TRACED = ("fusion", "embedded_by", "semantic_field", "knn", "fallback", "rerank")
"""What the answer's retrieval trace keeps of the search's explain, besides path and parameters:
the fusion, how the query was embedded, fallbacks, and the rerank stage and where it ran."""


@tracing.traced("es_rag.ask", tracing.ask_call, tracing.answer_attributes)
def ask(client: Elasticsearch, caps: Capabilities, index: str, question: str,
        params: AskParams | None = None, embedder: QueryEmbedder | None = None,
        generator: Generator | None = None, *, as_user: str | None = None,
        tokenizer: Tokenizer | None = None, client_side_acl_filter: bool = False,
        layout: Layout = CHUNKS) -> Answer:
    """Answer `question` from the chunks the (asking) user can retrieve, with verified citations.

    `as_user` and `client_side_acl_filter` restrict retrieval as in `search`; the context, the
    answer and its citations come only from that user's own search. `layout` (a source's
    `SourceLayout`) answers from an existing index: citations name its document ids and URLs.

    >>> answer = ask(client, caps, "es-rag-chunks", "What is RRF?", embedder=embedder,
    ...              generator=build_generator(settings, embedder=embedder))  # doctest: +SKIP
    >>> print(answer.text); [c.chunk_id for c in answer.citations]            # doctest: +SKIP
    """
    generator = generator or ExtractiveGenerator(embedder)  # type: ignore[arg-type]
    started = time.perf_counter()
    context, timings, trace = _prepare(client, caps, index, question, params, embedder, as_user,
                                tokenizer, client_side_acl_filter, layout)
    if context is None:
        return _finished(_dont_know(generator), timings, started, trace)
    t0 = time.perf_counter()
    with tracing.span(tracing.generation_name(generator),
                      **tracing.generation_attributes(generator)) as sp:
        answer = generator.generate(question, context)
        tracing.record_answer(sp, answer)
    timings["generation_ms"] = _ms(t0)
    return _finished(answer, timings, started, trace, context)


@tracing.traced_stream("es_rag.ask", tracing.ask_call, tracing.answer_attributes)
def ask_stream(client: Elasticsearch, caps: Capabilities, index: str, question: str,
               params: AskParams | None = None, embedder: QueryEmbedder | None = None,
               generator: Generator | None = None, *, as_user: str | None = None,
               tokenizer: Tokenizer | None = None,
               client_side_acl_filter: bool = False,
               layout: Layout = CHUNKS) -> Iterator[str | Answer]:
    """Like `ask`, but yields text deltas as they are generated, then the final `Answer`.

    >>> for part in ask_stream(client, caps, "es-rag-chunks", "What is RRF?",
    ...                        embedder=embedder):                      # doctest: +SKIP
    ...     print(part if isinstance(part, str) else part.citations, end="")
    """
    generator = generator or ExtractiveGenerator(embedder)  # type: ignore[arg-type]
    started = time.perf_counter()
    context, timings, trace = _prepare(client, caps, index, question, params, embedder, as_user,
                                tokenizer, client_side_acl_filter, layout)
    if context is None:
        answer = _dont_know(generator)
        yield answer.text
        yield _finished(answer, timings, started, trace)
        return
    t0 = time.perf_counter()
    parts: list[str] = []
    # not current: the span stays open across yields
    with tracing.detached(tracing.generation_name(generator),
                          **tracing.generation_attributes(generator)):
        for delta in generator.stream(question, context):
            if not parts:
                timings["first_token_ms"] = _ms(t0)
            parts.append(delta)
            yield delta
    timings["generation_ms"] = _ms(t0)
    yield _finished(generator.finish("".join(parts), context), timings, started, trace,
                    context)
