"""The `search` and `ask` commands, and how their results are printed."""

from __future__ import annotations

import json
from typing import Any

import click

from es_rag.cli.root import Context, F, clear_errors, cli, json_flag, pass_context, run_embedder
from es_rag.cli.source_commands import source_embedder, source_target


def _search_options(func: F) -> F:
    options = [
        click.option("--mode", help="bm25, knn, hybrid or hybrid+rerank "
                     "(default: retrieval.json, as `es-rag apply` stored it)."),
        click.option("--size", type=int, help="Hits to return (default 10)."),
        click.option("--filter", "filters", multiple=True,
                     help="Filter such as 'mime_type=text/markdown', 'page>=3', 'title exists' "
                          "or 'metadata.team=hr' (from ingest --meta team=hr); repeatable."),
        click.option("--boosts", help="Field boosts, e.g. 'title^3,text^1,headings^1.5'."),
        click.option("--k", type=int, help="kNN neighbours (knn mode)."),
        click.option("--num-candidates", type=int, help="kNN candidates per shard."),
        click.option("--rank-constant", type=int, help="RRF rank constant."),
        click.option("--rank-window-size", type=int, help="Fusion window per leg."),
        click.option("--fusion", type=click.Choice(["rrf", "linear"]),
                     help="How hybrid combines the legs: rrf (ranks) or linear (normalized "
                          "scores)."),
        click.option("--weights", help="Leg weights for fusion, e.g. 'bm25=1,knn=2'."),
        click.option("--normalizer", type=click.Choice(["minmax", "l2_norm", "none"]),
                     help="Score normalizer of linear fusion."),
        click.option("--as-user", help="Search as this user: the cluster's DLS applies."),
        click.option("--source", "source", metavar="NAME",
                     help="Search the existing index of sources/NAME.json instead of the "
                          "chunk index (see `es-rag inspect`)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _search_params(ctx: Context, **options: Any) -> Any:
    """The stored retrieval parameters (retrieval.json as applied) with the options on top."""
    from es_rag.retrieve.defaults import RetrievalFileError, read_stored

    try:
        defaults = read_stored(ctx.connection()[0], fallback=ctx.settings.assets)
    except RetrievalFileError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return defaults.search_params(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@cli.command()
@click.argument("query")
@_search_options
@click.option("--template", help="Run this stored search template (_search/template) instead.")
@click.option("--params", "template_params", help="JSON parameters for --template; `query` "
              "defaults to QUERY, `query_vector` to its embedding, `filters` to [].")
@click.option("--explain", is_flag=True, help="Show per-leg ranks and scores for every hit.")
@json_flag()
@pass_context
@clear_errors
def search(ctx: Context, query: str, as_user: str | None, as_json: bool, explain: bool,
           template: str | None, template_params: str | None, source: str | None,
           **options: Any) -> None:
    """Search the chunk index, or a defined source (hybrid BM25 + kNN with RRF by default)."""
    from es_rag.retrieve import search as run_search
    from es_rag.retrieve import search_template

    settings = ctx.settings
    if template and source:
        raise click.UsageError("--template runs a stored template on the chunk index; "
                               "it cannot be combined with --source")
    if template:
        params = _template_params(ctx, template, query, template_params)
        client, caps = ctx.connection()
        result = search_template(client, settings.index, template, params, as_user=as_user,
                                 caps=caps,
                                 client_side_acl_filter=settings.client_side_acl_filter)
    else:
        search_params = _search_params(ctx, explain=explain, highlight=not as_json, **options)
        client, caps = ctx.connection()
        index, layout = source_target(ctx, source)
        embedder = source_embedder(ctx, layout, search_params.mode.value)
        result = run_search(client, caps, index, query, search_params, embedder,
                            as_user=as_user,
                            client_side_acl_filter=settings.client_side_acl_filter,
                            layout=layout)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    from rich.console import Console  # only for the printed form
    from rich.table import Table

    console = Console()
    console.print(f"{len(result.hits)} hits, path {result.path_used}, {result.took_ms:.1f} ms")
    if explain:
        click.echo(retrieval_line({"path": result.path_used, **result.explain}))
        click.echo(parameters_line(result.explain.get("parameters") or {}))
        if "source" in result.explain:
            click.echo(source_line(result.explain))
        table = Table("rank", "chunk", "bm25 rank", "bm25 score", "knn rank", "knn score",
                      "fused", "rerank")
        for row in result.explain_rows():
            table.add_row(*(_cell(row[key]) for key in (
                "rank", "chunk_id", "bm25_rank", "bm25_score", "knn_rank", "knn_score",
                "fused_score", "rerank_score")))
        console.print(table)
        return
    for rank, hit in enumerate(result.hits, start=1):
        where = f"{hit.source}" + (f" p.{hit.page}" if hit.page else "")
        console.print(f"[bold]{rank}. {hit.title or hit.source}[/bold]  ({where}, "
                      f"score {hit.score:.4f})", highlight=False)
        console.print("   " + " ".join((hit.text or "").split())[:300], markup=False)


def parameters_line(parameters: dict[str, Any]) -> str:
    """`parameters (from cluster; overridden: k): mode=hybrid rank_constant=20 ...`."""
    values = dict(parameters.get("values") or {})
    boosts = ",".join(f"{k}^{v:g}"
                      for k, v in sorted((values.pop("boosts", None) or {}).items()))
    if "weights" in values:
        values["weights"] = ",".join(f"{k}={v:g}" for k, v in values["weights"].items())
    if values.get("fusion") == "rrf":
        values.pop("normalizer", None)
    rerank = values.pop("rerank", None) or {}
    shown = " ".join(f"{k}={v}" for k, v in values.items())
    overrides = parameters.get("overrides") or []
    origin = f"from {parameters.get('source', 'caller')}" + (
        f"; overridden: {', '.join(overrides)}" if overrides else "")
    return (f"parameters ({origin}): {shown} boosts={boosts} "
            f"rerank.top_n={rerank.get('top_n')}")


def retrieval_line(explain: dict[str, Any]) -> str:
    """`retrieval: path retriever (rrf), vector leg semantic query on text_semantic, rerank
    text_similarity_reranker in the cluster (endpoint es-rag-rerank)`, with any fallback."""
    parts = [f"retrieval: path {explain.get('path')}"
             + (f" ({explain['fusion']})" if explain.get("fusion") else "")]
    if explain.get("embedded_by") == "semantic_text":
        parts.append(f"vector leg semantic query on {explain.get('semantic_field')}")
    elif explain.get("embedded_by") == "cluster":
        parts.append("vector leg kNN, query embedded by the cluster")
    elif explain.get("knn"):
        parts.append(f"vector leg {explain['knn']}")
    rerank = explain.get("rerank")
    if rerank:
        where = "in the cluster" if rerank.get("where") == "cluster" else "in es-rag"
        endpoint = f" (endpoint {rerank['inference_id']})" if rerank.get("inference_id") else ""
        parts.append(f"rerank {rerank.get('reranker')} {where}{endpoint}")
        if rerank.get("fallback"):
            parts.append(f"rerank fallback: {rerank['fallback']}")
    fallback = explain.get("fallback")
    if fallback:
        parts.append(f"fallback from {fallback.get('from')}: {fallback.get('reason')}")
    return "; ".join(parts)


def source_line(explain: dict[str, Any]) -> str:
    """`source handbook (index team-docs, layout document, vector none): kNN off: ...`."""
    src = explain["source"]
    boosts = ",".join(f"{k}^{v:g}" for k, v in (src.get("lexical") or {}).items())
    line = (f"source {src.get('name')} (index {src.get('index')}, layout {src.get('layout')}, "
            f"vector {src.get('vector')}, lexical {boosts})")
    return line + (f"; kNN {explain['knn']}" if "knn" in explain else "")


def _template_params(ctx: Context, template: str, query: str,
                     raw: str | None) -> dict[str, Any]:
    """Parameters for a stored template: the given JSON, with the query (and its embedding, or
    with embedding = cluster the model that embeds it, when the template takes a vector)."""
    settings = ctx.settings
    try:
        params = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}", param_hint="--params") from None
    if not isinstance(params, dict):
        raise click.BadParameter("expected a JSON object", param_hint="--params")
    params.setdefault("query", query)
    params.setdefault("filters", [])
    source = settings.assets / "templates" / "search" / f"{template}.mustache"
    if {"query_vector", "model_id"} & set(params) or not source.is_file() or \
            "query_vector" not in source.read_text(encoding="utf-8"):
        return params
    embedder = run_embedder(ctx)
    if hasattr(embedder, "query_vector_builder"):
        params["model_id"] = embedder.model_id
    else:
        params["query_vector"] = embedder.embed_query(params["query"])
    return params


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def print_answer(answer: Any, streamed: bool) -> None:
    if not streamed:
        click.echo(answer.text)
    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            page = f", page {c.page}" if c.page else ""
            click.echo(f"  [{c.n}] {c.title or c.source} ({c.source}{page})")
    for removed in answer.removed_citations:
        click.secho(f"  note: {removed}", fg="yellow", err=True)
    for flagged in answer.instruction_like:
        click.secho(f"  warning: source [{flagged.n}] ({flagged.source}) holds instruction-like "
                    f"text, treated as data ({flagged.kind}): {flagged.sentence[:120]!r}",
                    fg="red", err=True)


@cli.command()
@click.argument("question")
@_search_options
@click.option("--stream", is_flag=True, help="Print the answer as it is generated.")
@click.option("--explain", is_flag=True,
              help="Also print how retrieval ran: path, vector leg, rerank, fallbacks (on "
                   "stderr with --json).")
@json_flag()
@pass_context
@clear_errors
def ask(ctx: Context, question: str, as_user: str | None, stream: bool, as_json: bool,
        source: str | None, explain: bool, **options: Any) -> None:
    """Answer a question from the indexed chunks (or a defined source), citing them as [n]."""
    from es_rag.generate import AskParams, ask_stream, build_generator
    from es_rag.generate import ask as answer_question

    params = AskParams(search=_search_params(ctx, **{"size": 8, **options}))
    client, caps = ctx.connection()
    index, layout = source_target(ctx, source)
    source_embedder(ctx, layout, params.search.mode.value)  # refuses a model mismatch
    embedder = run_embedder(ctx)
    generator = build_generator(ctx.settings, embedder=embedder)
    args = (client, caps, index, question, params, embedder, generator)
    acl_filter = ctx.settings.client_side_acl_filter
    if stream and not as_json:
        answer = None
        for part in ask_stream(*args, as_user=as_user, client_side_acl_filter=acl_filter,
                               layout=layout):
            if isinstance(part, str):
                click.echo(part, nl=False)
            else:
                answer = part
        click.echo()
        if answer is not None:
            _log_answer(ctx, question, answer, as_user)
            print_answer(answer, streamed=True)
            if explain:
                click.echo(retrieval_line(answer.retrieval))
        return
    answer = answer_question(*args, as_user=as_user, client_side_acl_filter=acl_filter,
                             layout=layout)
    _log_answer(ctx, question, answer, as_user)
    if as_json:
        click.echo(json.dumps(answer.as_dict()))
    else:
        print_answer(answer, streamed=False)
    if explain:
        click.echo(retrieval_line(answer.retrieval), err=as_json)


def _log_answer(ctx: Context, question: str, answer: Any, as_user: str | None) -> None:
    """Into the answer log (when `answer_log` is on), scoped to the user asked as or logged in."""
    from es_rag.observability.answer_log import log_answer
    from es_rag.observability.tracing import scope_hash

    settings = ctx.settings
    log_answer(settings, question, answer, surface="cli",
               user_scope=scope_hash(as_user or settings.user or settings.api_key))
