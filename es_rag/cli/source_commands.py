"""The `inspect` command, and how `--source NAME` turns into the index and layout searched."""

from __future__ import annotations

import json
from typing import Any

import click

from es_rag.cli.root import Context, clear_errors, cli, json_flag, pass_context, run_embedder


def source_target(ctx: Context, name: str | None) -> tuple[str, Any]:
    """The index and search layout of `--source NAME`; the chunk index without one."""
    from es_rag.retrieve.queries import CHUNKS

    if not name:
        return ctx.settings.index, CHUNKS
    from es_rag.sources.layout import source_layout

    layout = source_layout(ctx.settings.assets, name)
    return layout.index, layout


def source_embedder(ctx: Context, layout: Any, mode: str) -> Any:
    """The query embedder a search on `layout` needs (None when it needs none); a source whose
    vectors another model made is refused (`check_query_model`)."""
    from es_rag.sources.layout import check_query_model

    if mode == "bm25" or not getattr(layout, "needs_embedder", True):
        return None
    check_query_model(layout, ctx.settings.embedding_model)
    return run_embedder(ctx)


def local_model(ctx: Context) -> Any:
    """The local model's name, dims and similarity, for matching a vector field."""
    from es_rag.sources.inspect import LocalModel

    embedder = run_embedder(ctx)
    dims = len(embedder.embed_query("dimension probe"))
    return LocalModel(ctx.settings.embedding_model, dims, "cosine")


@cli.command()
@click.argument("index")
@click.option("--name", help="Source name (default: the index name, lowercased).")
@click.option("--write", is_flag=True, help="Write sources/<name>.json (and, when the documents "
              "carry an ACL field, the templated reader role roles/es-rag-source-<name>-reader"
              ".json).")
@click.option("--no-vectors", is_flag=True, help="Leave vector fields out: lexical only.")
@json_flag("Print the proposed definition and notes as one JSON object.")
@pass_context
@clear_errors
def inspect(ctx: Context, index: str, name: str | None, write: bool, no_vectors: bool,
            as_json: bool) -> None:
    """Propose a source definition for an existing INDEX (or alias) from its mapping and a
    sample of its documents; es-rag then searches it without ever writing to it."""
    from es_rag.sources import write_source
    from es_rag.sources.inspect import propose
    from es_rag.sources.roles import write_reader_role

    client, _ = ctx.connection()
    name = name or index.lower().lstrip("._-").replace(".", "-")
    definition, notes = propose(client, index, name, lambda: local_model(ctx),
                                vectors=not no_vectors)
    written = []
    if write:
        written.append(str(write_source(ctx.settings.assets, definition)))
        if definition.fields.get("acl"):
            written.append(str(write_reader_role(ctx.settings.assets, definition)))
    if as_json:
        click.echo(json.dumps({"name": name, "definition": definition.as_dict(),
                               "notes": notes, "written": written}))
        return
    click.echo(f"# source {name!r} for {index}")
    for note in notes:
        click.echo(f"# {note}")
    click.echo(definition.to_json(), nl=False)
    for path in written:
        click.echo(f"wrote {path}")
    if not write:
        click.echo(f"(not written: add --write to save it as sources/{name}.json)")
