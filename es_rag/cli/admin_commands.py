"""Commands that serve or administer: ui, serve, model, users, engine."""

from __future__ import annotations

import json
import sys

import click

from es_rag.cli.progress import StageProgress
from es_rag.cli.root import Context, clear_errors, cli, json_flag, pass_context


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
    from es_rag.embedding.cluster import require_ml
    from es_rag.embedding.cluster_upload import upload_model

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
@json_flag("Print one JSON array.")
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
