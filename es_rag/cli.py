"""The `es-rag` command line: a thin shell over the library."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from es_rag import assets
from es_rag.config import ConfigError, Settings, load_settings
from es_rag.connect import Capabilities, ConnectError, connect

F = TypeVar("F", bound=Callable[..., Any])


def clear_errors(func: F) -> F:
    """Turn es-rag's expected failures into one clear line on stderr and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, ConnectError, assets.AssetError, assets.ApplyError) as exc:
            raise click.ClickException(str(exc)) from None

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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
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
@click.option("--json", "as_json", is_flag=True, help='Print one object {"changes": [...]}.')
@pass_context
@clear_errors
def plan(ctx: Context, as_json: bool) -> None:
    """Show what `apply` would change on the cluster, as a diff per asset."""
    client, caps = ctx.connection()
    changes = assets.plan(client, caps, assets.load_assets(ctx.settings.assets))
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
    loaded = assets.load_assets(ctx.settings.assets)
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

    url = start_background(ctx.settings.data, port or ctx.settings.engine_port)
    click.echo(f"engine running at {url} (data: {ctx.settings.data})")


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
