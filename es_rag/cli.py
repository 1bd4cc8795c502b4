"""The `es-rag` command line: a thin shell over the library."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from es_rag import assets
from es_rag.config import ConfigError, Settings, load_settings
from es_rag.connect import Capabilities, ConnectError, connect
from es_rag.observability.tracing import configure_tracing

F = TypeVar("F", bound=Callable[..., Any])


def clear_errors(func: F) -> F:
    """Turn es-rag's expected failures into one clear line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, ConnectError, assets.AssetError, assets.ApplyError) as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            from es_rag.generate import GenerationError
            from es_rag.ingest.cluster_embed import ClusterEmbeddingError
            from es_rag.ingest.embed import ModelNotAvailableError
            from es_rag.retrieve import SearchError
            from es_rag.users import UserError

            if isinstance(exc, SearchError | UserError | GenerationError | ClusterEmbeddingError
                          | ModelNotAvailableError):
                raise click.ClickException(str(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


class Context:
    """Settings for this run, and a lazily opened connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connection: tuple[Any, Capabilities] | None = None

    def connection(self) -> tuple[Any, Capabilities]:
        if self._connection is None:
            self._connection = connect(self.settings)
        return self._connection


pass_context = click.make_pass_decorator(Context)


def _json_flag(help_text: str = "Print one JSON object.") -> Callable[[F], F]:
    """The `--json` flag of a command (its `as_json` argument)."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def _load_assets(ctx: Context) -> assets.Assets:
    """The asset files; with embedding = cluster, the cluster-embedding pipeline too (ML needed)."""
    model_id = None
    if ctx.settings.embedding == "cluster":
        from es_rag.ingest.cluster_embed import require_ml

        require_ml(ctx.connection()[1])
        model_id = ctx.settings.cluster_model_id
    return assets.load_assets(ctx.settings.assets, cluster_model_id=model_id)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", help="Elasticsearch URL (default: ES_RAG_URL, else the embedded engine).")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Embedded engine data directory (default: ES_RAG_DATA or ./.es-rag).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Settings file (default: ./es-rag.toml when present).",
)
@click.pass_context
@clear_errors
def cli(ctx: click.Context, url: str | None, data: Path | None, config_file: Path | None) -> None:
    """es-rag: retrieval-augmented generation on Elasticsearch, every search asset as code."""
    ctx.obj = Context(load_settings(config_file=config_file, url=url, data=data))
    try:
        configure_tracing()  # from the OTEL_* variables; off when they name no exporter
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@cli.command()
@_json_flag()
@pass_context
@clear_errors
def status(ctx: Context, as_json: bool) -> None:
    """Show the cluster es-rag talks to and what it can do."""
    _, caps = ctx.connection()
    report = {"capabilities": caps.as_dict(), "settings": ctx.settings.public_dict()}
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, value in caps.as_dict().items():
        click.echo(f"{key:18} {value}")


def _print_changes(changes: list[assets.Change]) -> None:
    if not changes:
        click.echo("The cluster matches the files: nothing to change.")
    for change in changes:
        target = f" -> {change.target}" if change.target else ""
        click.secho(f"{change.action} {change.kind} {change.name}{target}: {change.reason}",
                    bold=True)
        for line in change.diff.splitlines():
            color = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            click.secho("    " + line, fg=color)


@cli.command()
@_json_flag('Print one object {"changes": [...]}.')
@pass_context
@clear_errors
def plan(ctx: Context, as_json: bool) -> None:
    """Show what `apply` would change on the cluster, as a diff per asset."""
    client, caps = ctx.connection()
    changes = assets.plan(client, caps, _load_assets(ctx))
    if as_json:
        click.echo(json.dumps({"changes": [c.as_dict() for c in changes]}))
    else:
        _print_changes(changes)


@cli.command()
@click.option("--yes", is_flag=True, help="Apply without asking.")
@pass_context
@clear_errors
def apply(ctx: Context, yes: bool) -> None:
    """Apply mappings, pipelines, search templates and roles from the files to the cluster."""
    client, caps = ctx.connection()
    loaded = _load_assets(ctx)
    changes = assets.plan(client, caps, loaded)
    _print_changes(changes)
    if not changes:
        return
    if not yes and not click.confirm("Apply these changes?", default=False):
        raise click.ClickException("nothing applied")
    applied = assets.apply(client, caps, loaded, progress=lambda msg: click.echo(f"  {msg}"))
    click.echo(f"applied {len(applied)} change(s)")


@cli.command()
@click.option("--alias", default=None, help="Alias to roll back (default: the chunk index).")
@pass_context
@clear_errors
def rollback(ctx: Context, alias: str | None) -> None:
    """Point an alias back to its previous index version."""
    client, _ = ctx.connection()
    before, after = assets.rollback(client, alias or ctx.settings.index)
    click.echo(f"{alias or ctx.settings.index}: {before} -> {after}")


@cli.command("prune-versions")
@click.option("--alias", default=None, help="Alias whose old versions go (default: chunk index).")
@click.option("--keep", default=1, show_default=True, help="Older versions to keep for rollback.")
@pass_context
@clear_errors
def prune_versions(ctx: Context, alias: str | None, keep: int) -> None:
    """Delete index versions older than the one an alias serves."""
    client, _ = ctx.connection()
    deleted = assets.prune_versions(client, alias or ctx.settings.index, keep=keep)
    click.echo("deleted: " + (", ".join(deleted) if deleted else "nothing"))


def _embedder(ctx: Context) -> Any:
    """The local model, or with embedding = cluster the cluster's (checked to be started)."""
    from es_rag.ingest.cluster_embed import embedder_for

    if ctx.settings.embedding == "local":
        return embedder_for(ctx.settings)
    return embedder_for(ctx.settings, *ctx.connection())


class StageProgress:
    """A rich progress bar per ingest stage (hash, parse, embed, index, prune) on stderr.

    The parse line names the file being parsed (see `parsing`), also while a long parse runs.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[item]}"),
                            console=Console(stderr=True), transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> StageProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(f"{stage:>6}", total=total, item="")
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def parsing(self, file: Any) -> None:
        """Name the file whose parse starts on the parse line."""
        if "parse" not in self.tasks:
            self.tasks["parse"] = self.bar.add_task(f"{'parse':>6}", total=None, item="")
        self.bar.update(self.tasks["parse"], item=f"{file.source_name}/{file.source}")


def _ingest_summary(report: Any) -> str:
    skipped = f", {report.files_skipped} skipped" if report.files_skipped else ""
    return (f"{report.files_seen} files: {report.files_parsed} indexed, "
            f"{report.files_unchanged} unchanged, {report.files_failed} failed{skipped}; "
            f"{report.chunks_indexed} chunks indexed, {report.chunks_deleted} deleted "
            f"in {report.elapsed:.1f} s")


def _ingest_problems(report: Any) -> None:
    """Every failed path, cut text, skipped link or special file, and old-id documents."""
    for failure in report.failures:
        click.secho(f"  failed: {failure.source or failure.path}: {failure.reason}", fg="red",
                    err=True)
    for warning in report.warnings:
        click.secho(f"  warning: {warning.source}: {warning.reason}", fg="yellow", err=True)
    for skipped in report.skipped:
        click.echo(f"  skipped: {skipped.path}: {skipped.reason}", err=True)
    if report.legacy_replaced:
        click.echo(f"  {report.legacy_replaced} document(s) indexed before named sources "
                   "were replaced by their files", err=True)
    if report.legacy_left:
        click.secho(f"  {report.legacy_left} document(s) indexed before named sources remain "
                    "under their old ids: ingest the folders they came from to replace them "
                    "(see docs/ingestion.md)", fg="yellow", err=True)


def _save_run(settings: Settings, kind: str, report: dict[str, Any]) -> Path:
    """Keep a run's report under <data>/runs/ (private: 0700/0600) for the admin UI."""
    from es_rag.engine.storage.private import private_folder
    from es_rag.engine.storage.state import write_atomically

    runs = settings.data / "runs"
    private_folder(settings.data)
    private_folder(runs)
    path = runs / f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json"
    write_atomically(path, json.dumps(report, indent=2))
    return path


@cli.command(epilog="Exit status: 0 when every file was indexed (or was unchanged), 1 when a "
             "path or file failed (each is named on stderr; the others are still indexed).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", "source_name", metavar="NAME",
              help="Source name of the folders (part of every document id; default: setting "
                   "ingest_source, else each folder's own name).")
@click.option("--include", multiple=True, help="Glob of files to take (repeatable).")
@click.option("--exclude", multiple=True, help="Glob of files to leave out (repeatable).")
@click.option("--acl", "acl_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON rules: path globs -> users and groups allowed to read.")
@click.option("--allow", multiple=True, help="User or group allowed to read every file "
                                             "(repeatable; instead of --acl).")
@click.option("--meta", multiple=True, help="key=value stored in metadata (repeatable).")
@click.option("--records", is_flag=True,
              help="PATHS are JSONL corpora (BEIR corpus.jsonl): one document per line.")
@click.option("--prune", is_flag=True,
              help="Delete the documents of these sources that are no longer on disk.")
@click.option("--force", is_flag=True, help="Re-ingest documents even when unchanged.")
@_json_flag("Print the report as one JSON object.")
@pass_context
@clear_errors
def ingest(ctx: Context, paths: tuple[Path, ...], source_name: str | None,
           include: tuple[str, ...], exclude: tuple[str, ...], acl_file: Path | None,
           allow: tuple[str, ...], meta: tuple[str, ...], records: bool, prune: bool,
           force: bool, as_json: bool) -> None:
    """Parse, chunk, embed and index files and folders (or JSONL corpora) into the chunk index.

    Each folder is a named source: document ids come from the source name and the path inside
    the folder, so folders never replace each other's documents and --prune cleans only them.
    """
    from es_rag.ingest import AclRulesError, DiscoveryError, IngestError, load_acl_rules
    from es_rag.ingest.index import ingest_paths
    from es_rag.ingest.records import ingest_records
    from es_rag.ingest.report import IngestReport

    if acl_file and allow:
        raise click.UsageError("give either --acl FILE or --allow NAME, not both")
    metadata = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--meta")
        metadata[key] = value
    try:
        acl: Any = load_acl_rules(acl_file) if acl_file else (list(allow) or None)
    except AclRulesError as exc:
        raise click.ClickException(str(exc)) from None
    client, _ = ctx.connection()
    settings = ctx.settings
    common = {"index": settings.index, "embedder": _embedder(ctx),
              "chunk_size": settings.chunk_size, "overlap": settings.chunk_overlap, "acl": acl,
              "metadata": metadata or None, "prune": prune, "force": force,
              "source_name": source_name or settings.ingest_source}
    reports = []
    try:
        with StageProgress() as progress:
            if not records:
                reports.append(ingest_paths(client, paths, include=include, exclude=exclude,
                                            max_chars=settings.ingest_max_chars,
                                            progress=progress, parsing=progress.parsing,
                                            **common))
            for path in paths if records else ():
                try:
                    reports.append(ingest_records(client, path, progress=progress, **common))
                except DiscoveryError as exc:
                    reports.append(IngestReport())
                    reports[-1].fail_path(str(path), str(exc))
    except (IngestError, DiscoveryError) as exc:
        raise click.ClickException(str(exc)) from None
    for report in reports:
        data = report.to_dict()
        _save_run(settings, "ingest", data)
        if as_json:
            click.echo(json.dumps(data))
        else:
            click.echo(_ingest_summary(report))
        _ingest_problems(report)
    if not all(r.complete for r in reports):
        sys.exit(1)


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
        click.option("--rank-window-size", type=int, help="RRF window per leg."),
        click.option("--as-user", help="Search as this user: the cluster's DLS applies."),
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
@_json_flag()
@pass_context
@clear_errors
def search(ctx: Context, query: str, as_user: str | None, as_json: bool, explain: bool,
           template: str | None, template_params: str | None, **options: Any) -> None:
    """Search the chunk index (hybrid BM25 + kNN with RRF by default)."""
    from rich.console import Console
    from rich.table import Table

    from es_rag.retrieve import search as run_search
    from es_rag.retrieve import search_template

    settings = ctx.settings
    if template:
        params = _template_params(ctx, template, query, template_params)
        client, caps = ctx.connection()
        result = search_template(client, settings.index, template, params, as_user=as_user,
                                 caps=caps,
                                 client_side_acl_filter=settings.client_side_acl_filter)
    else:
        search_params = _search_params(ctx, explain=explain, highlight=not as_json, **options)
        client, caps = ctx.connection()
        embedder = None if search_params.mode == "bm25" else _embedder(ctx)
        result = run_search(client, caps, settings.index, query, search_params, embedder,
                            as_user=as_user,
                            client_side_acl_filter=settings.client_side_acl_filter)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    console = Console()
    console.print(f"{len(result.hits)} hits, path {result.path_used}, {result.took_ms:.1f} ms")
    if explain:
        click.echo(_parameters_line(result.explain.get("parameters") or {}))
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


def _parameters_line(parameters: dict[str, Any]) -> str:
    """`parameters (from cluster; overridden: k): mode=hybrid rank_constant=20 ...`."""
    values = dict(parameters.get("values") or {})
    boosts = ",".join(f"{k}^{v:g}"
                      for k, v in sorted((values.pop("boosts", None) or {}).items()))
    rerank = values.pop("rerank", None) or {}
    shown = " ".join(f"{k}={v}" for k, v in values.items())
    overrides = parameters.get("overrides") or []
    origin = f"from {parameters.get('source', 'caller')}" + (
        f"; overridden: {', '.join(overrides)}" if overrides else "")
    return (f"parameters ({origin}): {shown} boosts={boosts} "
            f"rerank.top_n={rerank.get('top_n')}")


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
    embedder = _embedder(ctx)
    if hasattr(embedder, "query_vector_builder"):
        params["model_id"] = embedder.model_id
    else:
        params["query_vector"] = embedder.embed_query(params["query"])
    return params


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _print_answer(answer: Any, streamed: bool) -> None:
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
@_json_flag()
@pass_context
@clear_errors
def ask(ctx: Context, question: str, as_user: str | None, stream: bool, as_json: bool,
        **options: Any) -> None:
    """Answer a question from the indexed chunks, citing them as [n]."""
    from es_rag.generate import AskParams, ask_stream, build_generator
    from es_rag.generate import ask as answer_question

    params = AskParams(search=_search_params(ctx, **{"size": 8, **options}))
    client, caps = ctx.connection()
    embedder = _embedder(ctx)
    generator = build_generator(ctx.settings, embedder=embedder)
    args = (client, caps, ctx.settings.index, question, params, embedder, generator)
    acl_filter = ctx.settings.client_side_acl_filter
    if stream and not as_json:
        answer = None
        for part in ask_stream(*args, as_user=as_user, client_side_acl_filter=acl_filter):
            if isinstance(part, str):
                click.echo(part, nl=False)
            else:
                answer = part
        click.echo()
        if answer is not None:
            _print_answer(answer, streamed=True)
        return
    answer = answer_question(*args, as_user=as_user, client_side_acl_filter=acl_filter)
    if as_json:
        click.echo(json.dumps(answer.as_dict()))
    else:
        _print_answer(answer, streamed=False)


DEMO_QUESTION = "How does es-rag combine BM25 and kNN results in hybrid search?"


@cli.command()
@click.option("--question", default=DEMO_QUESTION, show_default=True, help="What to ask.")
@pass_context
@clear_errors
def demo(ctx: Context, question: str) -> None:
    """Apply the assets, ingest the project's docs, and answer a question with citations."""
    from es_rag.generate import ask as answer_question
    from es_rag.generate import build_generator
    from es_rag.ingest.index import ingest_paths

    settings = ctx.settings
    client, caps = ctx.connection()
    click.secho(f"1. cluster: {caps.engine} {caps.version} at {caps.url} "
                f"(hybrid path: {caps.hybrid_path})", bold=True)
    loaded = _load_assets(ctx)
    applied = assets.apply(client, caps, loaded)
    click.secho(f"2. assets applied: {len(applied)} change(s)", bold=True)
    docs = settings.assets / "docs"
    if not docs.is_dir():
        raise click.ClickException(f"{docs}: the demo corpus is missing")
    embedder = _embedder(ctx)
    click.secho(f"3. ingesting {docs}", bold=True)
    with StageProgress() as progress:
        report = ingest_paths(client, [docs, settings.assets / "README.md"],
                              index=settings.index, embedder=embedder, root=settings.assets,
                              chunk_size=settings.chunk_size, overlap=settings.chunk_overlap,
                              progress=progress)
    _save_run(settings, "ingest", report.to_dict())
    click.echo("   " + _ingest_summary(report))
    click.secho(f"4. question: {question}", bold=True)
    answer = answer_question(client, caps, settings.index, question, embedder=embedder,
                             generator=build_generator(settings, embedder=embedder))
    click.echo()
    _print_answer(answer, streamed=False)


@cli.command("eval")
@click.option("--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv), indexed into its "
                   "own eval-<name> index.")
@click.option("--judgments", type=click.Path(exists=True, path_type=Path),
              help="Evaluate the live chunk index: a qrels file (TREC, or BEIR .tsv; e.g. "
                   "judgments/playground.qrels) or a BEIR folder (its corpus is not read).")
@click.option("--answers", "golden", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Golden questions (JSON lines): measure the answers of the indexed chunks.")
@click.option("--queries", "queries_file", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="Queries (JSONL {_id, text}) of a --judgments qrels file (default: "
                   "<name>-queries.jsonl or queries.jsonl beside it).")
@click.option("--configs", help="Retrieval configurations, e.g. 'current,bm25,"
              "hybrid:rank_constant=20,template:knn' (default: bm25,knn,hybrid with --dataset, "
              "current — what `es-rag search` does — with --judgments).")
@click.option("--split", default="test", show_default=True, help="Which qrels split to use.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an HTML report (table, chart, worst queries).")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fail when a metric drops below this baseline by more than --max-drop.")
@click.option("--max-drop", default=0.01, show_default=True, help="Allowed drop per metric.")
@click.option("--ci-subset", is_flag=True, help="Use the small, fixed subset CI measures.")
@_json_flag("Print one JSON object as the last line.")
@pass_context
@clear_errors
def evaluate(ctx: Context, dataset: Path | None, judgments: Path | None, golden: Path | None,
             queries_file: Path | None, configs: str | None, split: str,
             report_path: Path | None, baseline: Path | None, max_drop: float, ci_subset: bool,
             as_json: bool) -> None:
    """Measure retrieval quality on judgments (nDCG@10, recall, MRR, MAP) and gate regressions;
    with --answers, measure answers on golden questions."""
    from es_rag import evaluate as ev
    from es_rag.retrieve.defaults import RetrievalFileError, read_stored

    if sum(given is not None for given in (dataset, judgments, golden)) != 1:
        raise click.UsageError("give one of --dataset (a BEIR folder, indexed on its own), "
                               "--judgments (evaluated on the live index) or --answers "
                               "(golden questions, answered from the live index)")
    if golden is not None:
        _evaluate_answers(ctx, golden, baseline, max_drop, as_json)
        return
    settings = ctx.settings
    try:
        parsed = ev.parse_configs(configs or ("current" if judgments else "bm25,knn,hybrid"))
    except ev.ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--configs") from None
    client, caps = ctx.connection()
    try:
        if judgments is not None:
            judged = ev.read_judgments(judgments, queries_file, split)
            with StageProgress() as progress:
                report = ev.evaluate_live(
                    client, caps, settings.index, judged, parsed, embedder=_embedder(ctx),
                    defaults=read_stored(client, fallback=settings.assets), progress=progress)
        else:
            with StageProgress() as progress:
                report = ev.run_evaluation(
                    client, caps, dataset, parsed, embedder=_embedder(ctx), split=split,
                    subset=ev.CI_SUBSET if ci_subset else None,
                    chunk_size=ev.CI_CHUNK_SIZE if ci_subset else settings.chunk_size,
                    overlap=settings.chunk_overlap,
                    mapping_path=settings.assets / "mappings" / "chunks.json",
                    progress=progress)
        _save_run(settings, "eval", json.loads(report.to_json()))
        if report_path:
            ev.write_html_report(report, report_path)
        regressions = ev.check_baseline(report, baseline, max_drop) if baseline else []
    except (ev.JudgmentsError, ev.CorpusIndexError, ev.BaselineError,
            RetrievalFileError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(report.to_json())
    else:
        ev.print_report(report)
        click.echo(_parameters_line(report.parameters))
        if report.skipped:
            click.echo(f"skipped {len(report.skipped)} empty or unparsable document(s), "
                       f"first: {report.skipped[0]}")
        if report_path:
            click.echo(f"report written to {report_path}")
    for regression in regressions:
        click.secho(f"regression: {regression}", fg="red", err=True)
    if regressions:
        sys.exit(1)


def _evaluate_answers(ctx: Context, golden: Path, baseline: Path | None, max_drop: float,
                      as_json: bool) -> None:
    """`eval --answers`: ask the golden questions as `es-rag ask` would, score, gate."""
    from es_rag.evaluate import BaselineError
    from es_rag.evaluate import answers as ev_answers
    from es_rag.generate import build_generator

    try:
        questions = ev_answers.read_golden(golden)
    except ev_answers.GoldenError as exc:
        raise click.ClickException(str(exc)) from None
    client, caps = ctx.connection()
    embedder = _embedder(ctx)
    try:
        with StageProgress() as progress:
            report = ev_answers.run_answer_evaluation(
                client, caps, ctx.settings.index, questions, embedder=embedder,
                generator=build_generator(ctx.settings, embedder=embedder),
                client_side_acl_filter=ctx.settings.client_side_acl_filter, name=golden.name,
                progress=progress)
        _save_run(ctx.settings, "eval-answers", json.loads(report.to_json()))
        regressions = (ev_answers.check_answer_baseline(report, baseline, max_drop)
                       if baseline else [])
    except BaselineError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(report.to_json())
    else:
        ev_answers.print_answer_report(report)
    for regression in regressions:
        click.secho(f"regression: {regression}", fg="red", err=True)
    if regressions:
        sys.exit(1)


@cli.command()
@click.option("--dataset", required=True, type=click.Path(exists=True, file_okay=False,
                                                          path_type=Path),
              help="BEIR folder with train and test qrels (qrels/train.tsv, qrels/test.tsv).")
@click.option("--budget", default=30, show_default=True, help="Train evaluations at most.")
@click.option("--grid", "grid_options", multiple=True,
              help="Grid axis, e.g. 'rank_constant=10,20,60' or 'title_boost=1,2' (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Seed for sampling a large grid.")
@click.option("--write", is_flag=True, help="Write the best setting into retrieval.json "
              "(then `es-rag apply` stores it).")
@_json_flag("Print one JSON object as the last line.")
@pass_context
@clear_errors
def tune(ctx: Context, dataset: Path, budget: int, grid_options: tuple[str, ...], seed: int,
         write: bool, as_json: bool) -> None:
    """Grid-search hybrid parameters on train queries; compare best vs current on test queries."""
    from es_rag import evaluate as ev
    from es_rag.evaluate import tuning
    from es_rag.retrieve.defaults import RetrievalFileError, read_file

    settings = ctx.settings
    try:
        grid = tuning.TuneGrid.from_mapping(dict(
            option.partition("=")[::2] for option in grid_options)) if grid_options else None
    except (ValueError, tuning.TuneError) as exc:
        raise click.BadParameter(str(exc), param_hint="--grid") from None
    try:
        current = tuning.HybridSetting.from_defaults(read_file(settings.assets))
    except RetrievalFileError as exc:
        raise click.ClickException(str(exc)) from None
    client, caps = ctx.connection()
    try:
        with StageProgress() as progress:
            result = tuning.tune(client, caps, dataset, embedder=_embedder(ctx), grid=grid,
                                 budget=budget, seed=seed, chunk_size=settings.chunk_size,
                                 overlap=settings.chunk_overlap, current=current,
                                 mapping_path=settings.assets / "mappings" / "chunks.json",
                                 progress=progress)
        _save_run(settings, "tune", json.loads(result.to_json()))
        if not as_json:
            ev.print_report(result.test_report())
        diff = result.diff_for_file(settings.assets)
        if write and diff:
            result.write_file(settings.assets)
            click.echo(f"wrote the best setting into {settings.assets / 'retrieval.json'}; "
                       "apply it with `es-rag apply`", err=as_json)
    except (tuning.TuneError, ev.JudgmentsError, ev.CorpusIndexError) as exc:
        raise click.ClickException(str(exc)) from None
    if not as_json:
        click.echo(diff or "retrieval.json already holds the best setting found")
    else:
        click.echo(result.to_json())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5601, show_default=True, help="Port to listen on.")
@click.option("--allow-without-security", is_flag=True,
              help="Development only: let anyone in when the cluster has security disabled.")
@pass_context
@clear_errors
def ui(ctx: Context, host: str, port: int, allow_without_security: bool) -> None:
    """Serve the admin UI: tune relevance, judge results, run evaluations."""
    import admin_ui

    ctx.connection()  # fail fast, with a clear line, when the cluster is not there
    click.echo(f"admin UI on http://{host}:{port}")
    admin_ui.serve(ctx.settings, host=host, port=port,
                   allow_without_security=allow_without_security)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@pass_context
@clear_errors
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the HTTP API for applications: /api/search, /api/ask, /api/openapi.json, /metrics."""
    from es_rag.api import serve_api

    ctx.connection()  # fail fast, with a clear line, when the cluster is not there
    click.echo(f"es-rag API on http://{host}:{port}/api (OpenAPI: /api/openapi.json)")
    serve_api(ctx.settings, host=host, port=port)


@cli.group()
def model() -> None:
    """Put the embedding model in the cluster, for embedding = cluster."""


@model.command("upload")
@click.option("--model", "model_name", help="Local sentence-transformers model folder "
              "(default: ES_RAG_EMBEDDING_MODEL, the bundled all-MiniLM-L6-v2).")
@click.option("--model-id", help="Trained model id in the cluster (default: "
              "ES_RAG_EMBEDDING_MODEL_ID, else derived from the model as eland names it).")
@click.option("--start/--no-start", default=True, show_default=True,
              help="Start the model's deployment after the upload.")
@click.option("--replace", is_flag=True, help="Delete the model in the cluster and upload again.")
@pass_context
@clear_errors
def model_upload(ctx: Context, model_name: str | None, model_id: str | None, start: bool,
                 replace: bool) -> None:
    """Trace the sentence-transformers model and upload it as a text_embedding trained model."""
    from es_rag.config import trained_model_id, trained_model_id_problem
    from es_rag.ingest.cluster_embed import require_ml
    from es_rag.ingest.cluster_model import upload_model

    name = model_name or ctx.settings.embedding_model
    model_id = model_id or (trained_model_id(name) if model_name
                            else ctx.settings.cluster_model_id)
    problem = trained_model_id_problem(model_id)
    if problem:
        raise click.BadParameter(f"{model_id!r} {problem}", param_hint="--model-id")
    client, caps = ctx.connection()
    require_ml(caps)
    with StageProgress() as progress:
        result = upload_model(client, name, model_id, start=start, replace=replace,
                              progress=progress)
    done = (f"uploaded in {result.parts} parts ({result.definition_bytes / 1e6:.1f} MB)"
            if result.uploaded else "already in the cluster (--replace uploads it again)")
    click.echo(f"model {model_id}: {done}; " + ("deployment started" if result.started
                                                else "not started (--start starts it)"))


@cli.group()
def users() -> None:
    """Manage the cluster's es-rag users (native realm) and their groups."""


@users.command("add")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The user's password (asked for when not given).")
@click.option("--group", "groups", multiple=True, help="Group the user belongs to (repeatable).")
@click.option("--role", "roles", multiple=True,
              help="Role to grant (repeatable; default es-rag-reader).")
@click.option("--full-name", help="Display name.")
@click.option("--email", help="E-mail address.")
@pass_context
@clear_errors
def users_add(ctx: Context, username: str, password: str, groups: tuple[str, ...],
              roles: tuple[str, ...], full_name: str | None, email: str | None) -> None:
    """Create or update a user; groups go to metadata.groups, which the reader role's DLS reads."""
    from es_rag.users import add_user

    client, _ = ctx.connection()
    user = add_user(client, username, password, groups=list(groups),
                    roles=roles or ("es-rag-reader",), full_name=full_name, email=email)
    click.echo(f"user {user.username}: roles {', '.join(user.roles)}; "
               f"groups {', '.join(user.groups) or '-'}")


@users.command("list")
@_json_flag("Print one JSON array.")
@pass_context
@clear_errors
def users_list(ctx: Context, as_json: bool) -> None:
    """List the users that hold an es-rag role."""
    from es_rag.users import list_users

    client, _ = ctx.connection()
    found = list_users(client)
    if as_json:
        click.echo(json.dumps([u.as_dict() for u in found]))
        return
    for user in found:
        click.echo(f"{user.username:20} roles: {', '.join(user.roles):30} "
                   f"groups: {', '.join(user.groups) or '-'}")


@users.command("delete")
@click.argument("username")
@pass_context
@clear_errors
def users_delete(ctx: Context, username: str) -> None:
    """Delete a user."""
    from es_rag.users import delete_user

    client, _ = ctx.connection()
    delete_user(client, username)
    click.echo(f"user {username} deleted")


@cli.group()
def engine() -> None:
    """Run the embedded Elasticsearch-compatible engine in the background."""


@engine.command("start")
@click.option("--port", type=int, help="Port (default: ES_RAG_ENGINE_PORT or 9200).")
@pass_context
@clear_errors
def engine_start(ctx: Context, port: int | None) -> None:
    """Start the engine on the data directory (a no-op when it already runs)."""
    from es_rag.engine.daemon import start_background
    from es_rag.engine.security import PASSWORD_FILE

    password_file = ctx.settings.data / PASSWORD_FILE
    first_start = not password_file.exists()
    try:
        url = start_background(ctx.settings.data, port or ctx.settings.engine_port)
    except RuntimeError as exc:
        raise click.ClickException(f"the embedded engine did not start: {exc}") from None
    click.echo(f"engine running at {url} (data: {ctx.settings.data})")
    if first_start and password_file.exists():
        click.echo(f"password of the 'elastic' superuser: {password_file.read_text().strip()} "
                   f"(stored in {password_file}; es-rag uses it when ES_RAG_USER is unset)")


@engine.command("stop")
@pass_context
def engine_stop(ctx: Context) -> None:
    """Stop the engine serving the data directory."""
    from es_rag.engine.daemon import stop

    click.echo("engine stopped" if stop(ctx.settings.data) else "engine was not running")


@engine.command("status")
@pass_context
def engine_status(ctx: Context) -> None:
    """Say whether an engine serves the data directory, and where."""
    from es_rag.engine.daemon import status as engine_state

    state = engine_state(ctx.settings.data)
    if state is None:
        click.echo(f"no engine running on {ctx.settings.data}")
        sys.exit(1)
    click.echo(f"engine running at {state['url']} (pid {state['pid']}, data: {ctx.settings.data})")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="es-rag")
