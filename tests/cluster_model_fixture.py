"""The bundled embedding model in the session engine as a trained model (embedding = cluster).

`cluster_model` (a session fixture, registered by tests/conftest.py) uploads it once with
`es-rag model upload`, as a user would, and starts it; tests of every area that embed in the
cluster share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from elasticsearch import Elasticsearch

if TYPE_CHECKING:
    from click.testing import Result

    from es_rag.engine.server import EngineServer

CLUSTER_MODEL_ID = "es-rag-test-minilm"


def run_cluster_cli(engine: EngineServer, data: Path, *args: str) -> Result:
    """Run the es-rag CLI in this process against the session engine, with embedding = cluster
    and the test model id."""
    from click.testing import CliRunner

    from es_rag.cli import cli

    env = {"ES_RAG_EMBEDDING": "cluster", "ES_RAG_EMBEDDING_MODEL_ID": CLUSTER_MODEL_ID,
           "ES_RAG_DATA": str(data)}
    return CliRunner().invoke(cli, ["--url", engine.url, *args], env=env)


@dataclass(frozen=True)
class ClusterModel:
    """The bundled MiniLM in the session engine as `model_id`, started, and how it got there."""

    model_id: str
    upload: Result  # `es-rag model upload --no-start`: traces and uploads it
    start: Result  # a second `es-rag model upload`: keeps the upload, starts the deployment


@pytest.fixture(scope="session")
def cluster_model(engine: EngineServer,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterModel]:
    """The bundled model uploaded with the CLI and then started, once per session."""
    upload = run_cluster_cli(engine, tmp_path_factory.mktemp("upload"), "model", "upload",
                             "--no-start")
    start = run_cluster_cli(engine, tmp_path_factory.mktemp("start"), "model", "upload")
    yield ClusterModel(CLUSTER_MODEL_ID, upload, start)
    client = Elasticsearch(engine.url)
    client.options(ignore_status=404).ml.delete_trained_model(model_id=CLUSTER_MODEL_ID,
                                                              force=True)
    client.close()


def inference_count(client: Elasticsearch, model_id: str) -> int:
    """How many inferences the model's deployment has run."""
    stats = client.ml.get_trained_models_stats(model_id=model_id)["trained_model_stats"][0]
    return int(stats["deployment_stats"]["inference_count"])


class QueryCounter:
    """Stands in for a `ClusterSearchEmbedder`'s local model: counts the queries it embeds."""

    def __init__(self, local: Any) -> None:
        self.local = local
        self.queries: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return list(self.local.embed_query(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)
