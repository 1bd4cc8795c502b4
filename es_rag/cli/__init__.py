"""The `es-rag` command line: a thin shell over the library, one module per command family."""

from es_rag.cli import (  # noqa: F401 (each module registers its commands on `cli`)
    admin_commands,
    assets_commands,
    demo_command,
    eval_commands,
    finetune_commands,
    ingest_command,
    search_commands,
    source_commands,
)
from es_rag.cli.root import cli, main

__all__ = ["cli", "main"]
