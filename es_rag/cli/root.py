"""The `es-rag` command group, its shared options and context, and the console entry point."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from es_rag.config import Settings, load_settings
from es_rag.connect import Capabilities, connect
from es_rag.errors import EsRagError
from es_rag.observability.tracing import configure_tracing

if TYPE_CHECKING:
    from es_rag import assets

F = TypeVar("F", bound=Callable[..., Any])


def clear_errors(func: F) -> F:
    """Turn es-rag's expected failures (`EsRagError`) into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EsRagError as exc:
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


def json_flag(help_text: str = "Print one JSON object.") -> Callable[[F], F]:
    """The `--json` flag of a command (its `as_json` argument)."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def load_assets(ctx: Context) -> assets.Assets:
    """The asset files; with embedding = cluster, the cluster-embedding pipeline too (ML needed);
    with embedding = semantic_text, the chunk mapping's semantic_text variant."""
    from es_rag import assets

    model_id = None
    if ctx.settings.embedding == "cluster":
        from es_rag.embedding.cluster import require_ml

        require_ml(ctx.connection()[1])
        model_id = ctx.settings.cluster_model_id
    semantic = ctx.settings.embedding == "semantic_text"
    return assets.load_assets(
        ctx.settings.assets, cluster_model_id=model_id,
        semantic_inference_id=ctx.settings.semantic_inference_id if semantic else None)


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


def run_embedder(ctx: Context) -> Any:
    """The local model, or with embedding = cluster the cluster's (checked to be started)."""
    from es_rag.embedding.factory import embedder_for

    if ctx.settings.embedding == "local":
        return embedder_for(ctx.settings)
    return embedder_for(ctx.settings, *ctx.connection())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="es-rag")
