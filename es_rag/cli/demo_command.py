"""The `demo` command: apply, ingest the project's docs, answer with citations."""

from __future__ import annotations

import click

from es_rag import run_records
from es_rag.cli.ingest_command import ingest_summary
from es_rag.cli.progress import StageProgress
from es_rag.cli.root import Context, clear_errors, cli, load_assets, pass_context, run_embedder
from es_rag.cli.search_commands import print_answer

DEMO_QUESTION = "How does es-rag combine BM25 and kNN results in hybrid search?"


@cli.command()
@click.option("--question", default=DEMO_QUESTION, show_default=True, help="What to ask.")
@pass_context
@clear_errors
def demo(ctx: Context, question: str) -> None:
    """Apply the assets, ingest the project's docs, and answer a question with citations."""
    from es_rag import assets
    from es_rag.generate import ask as answer_question
    from es_rag.generate import build_generator
    from es_rag.ingest.index import ingest_paths
    from es_rag.ingest.options import IngestOptions

    settings = ctx.settings
    client, caps = ctx.connection()
    click.secho(f"1. cluster: {caps.engine} {caps.version} at {caps.url} "
                f"(hybrid path: {caps.hybrid_path})", bold=True)
    loaded = load_assets(ctx)
    applied = assets.apply(client, caps, loaded)
    click.secho(f"2. assets applied: {len(applied)} change(s)", bold=True)
    docs = settings.assets / "docs"
    if not docs.is_dir():
        raise click.ClickException(f"{docs}: the demo corpus is missing")
    embedder = run_embedder(ctx)
    click.secho(f"3. ingesting {docs}", bold=True)
    with StageProgress() as progress:
        report = ingest_paths(client, [docs, settings.assets / "README.md"],
                              IngestOptions(index=settings.index, embedder=embedder,
                                            root=settings.assets, chunk_size=settings.chunk_size,
                                            overlap=settings.chunk_overlap), progress=progress)
    run_records.write_record(settings.data, "ingest", report.to_dict())
    click.echo("   " + ingest_summary(report))
    click.secho(f"4. question: {question}", bold=True)
    answer = answer_question(client, caps, settings.index, question, embedder=embedder,
                             generator=build_generator(settings, embedder=embedder))
    click.echo()
    print_answer(answer, streamed=False)
