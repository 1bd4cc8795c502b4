"""Commands over the asset files: status, plan, apply, rollback, prune-versions.

`es_rag.assets` is imported by the commands that use it, so other commands (`search`) do not
pay for it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from es_rag.answer_cache import bump_index_version
from es_rag.cli.root import Context, clear_errors, cli, json_flag, load_assets, pass_context

if TYPE_CHECKING:
    from es_rag import assets


@cli.command()
@json_flag()
@pass_context
@clear_errors
def status(ctx: Context, as_json: bool) -> None:
    """Show the cluster es-rag talks to and what it can do."""
    client, caps = ctx.connection()
    report = {"capabilities": caps.as_dict(), "settings": ctx.settings.public_dict(),
              "retrieval": _retrieval_paths(ctx, client, caps)}
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, value in caps.as_dict().items():
        if key == "license_lacks":
            value = ", ".join(value) or "nothing"
            value += (" (es-rag falls back to client-side fusion and rerank, and to lexical "
                      "search where a semantic_text leg needs inference)"
                      if caps.license_lacks else "")
        click.echo(f"{key:18} {value}")
    for key, value in report["retrieval"].items():
        click.echo(f"{key:18} {value}")


def _retrieval_paths(ctx: Context, client: Any, caps: Any) -> dict[str, str]:
    """How the vector leg and the rerank stage run on this cluster, with this license."""
    from es_rag.retrieve.defaults import RetrievalFileError, read_stored

    settings = ctx.settings
    lacks = caps.license_lacks
    embedding = {"local": "local: es-rag embeds chunks and queries (kNN)",
                 "cluster": f"cluster: trained model {settings.cluster_model_id} (kNN with "
                            "query_vector_builder)"}.get(settings.embedding, "")
    if settings.embedding == "semantic_text":
        from es_rag.assets import SEMANTIC_FIELD

        embedding = (f"semantic_text: {SEMANTIC_FIELD} on endpoint "
                     f"{settings.semantic_inference_id} (semantic query)")
        if "semantic_text inference" in lacks:
            embedding += (f"; the {caps.license_type} license lacks inference: search is "
                          "lexical only and ingest is refused")
    try:
        rerank_id = read_stored(client, fallback=settings.assets).params.rerank.inference_id
    except RetrievalFileError:
        rerank_id = None
    if not rerank_id:
        rerank = "es-rag (client-side; no rerank.inference_id in retrieval.json)"
    elif "text_similarity_reranker" in lacks:
        rerank = (f"es-rag (client-side): the {caps.license_type} license lacks "
                  f"text_similarity_reranker (endpoint {rerank_id} unused)")
    else:
        rerank = f"text_similarity_reranker in the cluster (endpoint {rerank_id})"
    return {"embedding_path": embedding, "rerank_path": rerank}


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
@json_flag('Print one object {"changes": [...]}.')
@pass_context
@clear_errors
def plan(ctx: Context, as_json: bool) -> None:
    """Show what `apply` would change on the cluster, as a diff per asset."""
    from es_rag import assets
    from es_rag.sources.guard import read_only_lines

    client, caps = ctx.connection()
    changes = assets.plan(client, caps, load_assets(ctx))
    read_only = read_only_lines(ctx.settings.assets)
    if as_json:
        payload: dict[str, Any] = {"changes": [c.as_dict() for c in changes]}
        if read_only:  # the defined sources, which apply never touches
            payload["read_only"] = read_only
        click.echo(json.dumps(payload))
    else:
        _print_changes(changes)
        for line in read_only:
            click.echo(line)


@cli.command()
@click.option("--yes", is_flag=True, help="Apply without asking.")
@pass_context
@clear_errors
def apply(ctx: Context, yes: bool) -> None:
    """Apply mappings, pipelines, search templates and roles from the files to the cluster."""
    from es_rag import assets
    from es_rag.sources.guard import refuse_sources

    client, caps = ctx.connection()
    loaded = load_assets(ctx)
    refuse_sources(ctx.settings.assets, [asset.alias for asset in loaded.indices], "apply")
    changes = assets.plan(client, caps, loaded)
    _print_changes(changes)
    if not changes:
        return
    if not yes and not click.confirm("Apply these changes?", default=False):
        raise click.ClickException("nothing applied")
    applied = assets.apply(client, caps, loaded, progress=lambda msg: click.echo(f"  {msg}"))
    bump_index_version(ctx.settings.data)  # cached answers are stale
    click.echo(f"applied {len(applied)} change(s)")


@cli.command()
@click.option("--alias", default=None, help="Alias to roll back (default: the chunk index).")
@pass_context
@clear_errors
def rollback(ctx: Context, alias: str | None) -> None:
    """Point an alias back to its previous index version; for the chunk index, retrieval.json's
    embedding model becomes the one recorded for that version (`es-rag finetune activate`)."""
    from es_rag import assets
    from es_rag.finetune.activate import restore_models

    client, _ = ctx.connection()
    before, after = assets.rollback(client, alias or ctx.settings.index)
    bump_index_version(ctx.settings.data)
    click.echo(f"{alias or ctx.settings.index}: {before} -> {after}")
    if (alias or ctx.settings.index) == ctx.settings.index:
        click.echo(restore_models(client, after, ctx.settings.assets))


@cli.command("prune-versions")
@click.option("--alias", default=None, help="Alias whose old versions go (default: chunk index).")
@click.option("--keep", default=1, show_default=True, help="Older versions to keep for rollback.")
@pass_context
@clear_errors
def prune_versions(ctx: Context, alias: str | None, keep: int) -> None:
    """Delete index versions older than the one an alias serves."""
    from es_rag import assets

    client, _ = ctx.connection()
    deleted = assets.prune_versions(client, alias or ctx.settings.index, keep=keep)
    click.echo("deleted: " + (", ".join(deleted) if deleted else "nothing"))
