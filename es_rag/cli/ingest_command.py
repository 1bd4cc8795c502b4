"""The `ingest` command: files, folders or JSONL corpora into the chunk index."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from es_rag import run_records
from es_rag.answer_cache import bump_index_version
from es_rag.cli.progress import StageProgress
from es_rag.cli.root import Context, clear_errors, cli, json_flag, pass_context, run_embedder


def ingest_summary(report: Any) -> str:
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
@json_flag("Print the report as one JSON object.")
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
    from es_rag.ingest.options import IngestOptions
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
    from es_rag.sources.guard import refuse_foreign

    client, caps = ctx.connection()
    settings = ctx.settings
    refuse_foreign(client, settings.assets, settings.index, "ingest into")
    if settings.embedding == "semantic_text":
        from es_rag.embedding.semantic_text import require_semantic_ingest

        require_semantic_ingest(caps, settings.semantic_inference_id)
    options = IngestOptions(index=settings.index, embedder=run_embedder(ctx),
                            chunk_size=settings.chunk_size, overlap=settings.chunk_overlap,
                            acl=acl, metadata=metadata or None, prune=prune, force=force,
                            source_name=source_name or settings.ingest_source, include=include,
                            exclude=exclude, max_chars=settings.ingest_max_chars)
    reports = []
    try:
        with StageProgress() as progress:
            if not records:
                reports.append(ingest_paths(client, paths, options, progress=progress,
                                            parsing=progress.parsing))
            for path in paths if records else ():
                try:
                    reports.append(ingest_records(client, path, options, progress=progress))
                except DiscoveryError as exc:
                    reports.append(IngestReport())
                    reports[-1].fail_path(str(path), str(exc))
    except (IngestError, DiscoveryError) as exc:
        raise click.ClickException(str(exc)) from None
    bump_index_version(settings.data)  # cached answers are stale
    for report in reports:
        data = report.to_dict()
        run_records.write_record(settings.data, "ingest", data)
        if as_json:
            click.echo(json.dumps(data))
        else:
            click.echo(ingest_summary(report))
        _ingest_problems(report)
    if not all(r.complete for r in reports):
        sys.exit(1)
