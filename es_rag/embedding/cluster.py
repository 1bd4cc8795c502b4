"""Embeddings computed by the cluster: a `text_embedding` trained model deployed in Elasticsearch.

With `embedding = "cluster"`, chunks are embedded by the ingest pipeline's `inference` processor
(`CLUSTER_EMBEDDING_PIPELINE`) and kNN searches send `query_vector_builder` instead of a vector.
`ClusterEmbedder` stands where the local `Embedder` stands: it names the model and the pipeline,
and embeds texts with `_ml/trained_models/<id>/_infer` for the stages that need vectors in
es-rag (reranking, answer relevance). Chunk sizes are still counted in the model's tokens when
the model is on this machine. Servers that search as each caller (the HTTP API, the admin UI)
use `ClusterSearchEmbedder` (built by `es_rag.embedding.factory`): the cluster embeds
queries, this machine the passages es-rag scores itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from es_rag.connect import Capabilities, error_reason
from es_rag.embedding.local import Embedder, LocallyScored, ModelNotAvailableError, load_model
from es_rag.errors import EsRagError

if TYPE_CHECKING:
    from es_rag.embedding.onnx_model import OnnxEmbedder

CLUSTER_EMBEDDING_PIPELINE = "chunks-cluster-embedding"
"""The ingest pipeline (pipelines/chunks-cluster-embedding.json) that embeds chunks in the
cluster: the `chunks` pipeline, then the `inference` processor from `text` to `embedding`."""


INPUT_FIELD = "text_field"  # the input field eland gives NLP models; _infer docs use it


class ClusterEmbeddingError(EsRagError, RuntimeError):
    """The cluster cannot embed: no machine learning, or the model is missing or not started."""


def require_ml(caps: Capabilities) -> None:
    """Stop with one clear line when the cluster has no machine learning to embed with."""
    if caps.ml_inference:
        return
    raise ClusterEmbeddingError(
        f'embedding = "cluster" needs machine learning in the cluster, and {caps.url} has none '
        f"(license {caps.license_type}, {caps.license_status}; trained models need ML enabled "
        'and a platinum, enterprise or trial license): set embedding = "local"')


def model_status(client: Elasticsearch, model_id: str) -> str:
    """`missing`, `partial` (definition incomplete), `uploaded`, or the deployment's state."""
    try:
        found = client.ml.get_trained_models(model_id=model_id, include="definition_status")
    except NotFoundError:
        return "missing"
    configs = found["trained_model_configs"]
    if not configs:
        return "missing"
    if not configs[0].get("fully_defined", True):
        return "partial"
    stats = client.ml.get_trained_models_stats(model_id=model_id)["trained_model_stats"]
    deployment = stats[0].get("deployment_stats") if stats else None
    return str(deployment.get("state", "uploaded")) if deployment else "uploaded"


def text_embedding_builder(model_id: str, text: str) -> dict[str, Any]:
    """The kNN `query_vector_builder` that has the cluster embed `text` with `model_id`."""
    return {"text_embedding": {"model_id": model_id, "model_text": text}}


class ClusterEmbedder:
    """The trained model `model_id`, deployed in the cluster, as es-rag's embedder.

    ```
    embedder = ClusterEmbedder(client, "sentence-transformers__all-minilm-l6-v2")
    embedder.query_vector_builder("what is RRF?")   # for the kNN clause: the cluster embeds
    embedder.embed_documents(["a passage"])         # vectors through _infer
    ```
    `local_model` (a sentence-transformers model on this machine, the same one) only lends its
    tokenizer, so chunks are cut at the same token counts as with local embedding.
    """

    pipeline = CLUSTER_EMBEDDING_PIPELINE

    def __init__(self, client: Elasticsearch, model_id: str, *,
                 local_model: str | None = None, batch_size: int = 32,
                 timeout: str = "60s") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.client = client
        self.model_id = model_id
        self.local_model = local_model
        self.batch_size = batch_size
        self.timeout = timeout
        self._config: dict[str, Any] | None = None
        self._tokenizer: Any = None

    @property
    def model_name(self) -> str:
        """Names the embedding in the ingest fingerprint: switching to or from it re-embeds."""
        return f"cluster:{self.model_id}"

    def config(self) -> dict[str, Any]:
        """The trained model's config (fetched once). Raises ClusterEmbeddingError if missing."""
        if self._config is None:
            try:
                found = self.client.ml.get_trained_models(model_id=self.model_id)
            except NotFoundError:
                found = {"trained_model_configs": []}
            except ApiError as exc:
                raise ClusterEmbeddingError(f"cannot read trained model {self.model_id!r}: "
                                            f"{error_reason(exc)}") from None
            if not found["trained_model_configs"]:
                raise ClusterEmbeddingError(
                    f"trained model {self.model_id!r} is not in the cluster: upload it with "
                    "`es-rag model upload`")
            self._config = dict(found["trained_model_configs"][0])
        return self._config

    def check_deployed(self) -> None:
        """Raise ClusterEmbeddingError unless the model is deployed and started."""
        status = model_status(self.client, self.model_id)
        if status == "missing":
            raise ClusterEmbeddingError(f"trained model {self.model_id!r} is not in the cluster: "
                                        "upload it with `es-rag model upload`")
        if status != "started":
            raise ClusterEmbeddingError(
                f"trained model {self.model_id!r} is {status}, not started: start it with "
                "`es-rag model upload` (it keeps the uploaded model)")

    @property
    def dims(self) -> int | None:
        """The model's `embedding_size`, when its config states it."""
        options = self.config().get("inference_config", {}).get("text_embedding", {})
        size = options.get("embedding_size")
        return int(size) if size else None

    @property
    def tokenizer(self) -> Any:
        """The local model's tokenizer for chunk sizes; None when it is not on this machine."""
        if self._tokenizer is None and self.local_model:
            try:
                self._tokenizer = load_model(self.local_model).tokenizer
            except ModelNotAvailableError:
                self.local_model = None
        return self._tokenizer

    def query_vector_builder(self, text: str) -> dict[str, Any]:
        """The kNN `query_vector_builder` that has the cluster embed `text` with this model."""
        return text_embedding_builder(self.model_id, text)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per passage, in order, computed by the cluster in batches."""
        return self._infer(texts, "ingest")

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query, computed by the cluster."""
        return self._infer([text], "search")[0]

    def _infer(self, texts: Sequence[str], prefix: str) -> list[list[float]]:
        # _infer adds no prefix string; the inference processor and query_vector_builder do
        start = self.config().get("prefix_strings", {}).get(prefix, "")
        vectors: list[list[float]] = []
        for first in range(0, len(texts), self.batch_size):
            docs = [{INPUT_FIELD: start + text} for text in texts[first:first + self.batch_size]]
            try:
                response = self.client.ml.infer_trained_model(
                    model_id=self.model_id, docs=docs, timeout=self.timeout)
            except ApiError as exc:
                raise ClusterEmbeddingError(f"trained model {self.model_id!r} could not embed: "
                                            f"{error_reason(exc)}") from None
            vectors.extend([float(x) for x in result["predicted_value"]]
                           for result in response["inference_results"])
        return vectors


class ClusterSearchEmbedder(LocallyScored):
    """The cluster's model for servers that search as each caller (the HTTP API, the admin UI).

    kNN clauses send `query_vector_builder`, so the cluster embeds the query inside the caller's
    own search: no client, credentials or ML privilege of es-rag's is involved. Questions and
    passages that es-rag itself scores (answer relevance, reranking, citation support) are
    embedded by the same model on this machine, `local` (the factory's `local_embedder`),
    whose tokenizer also counts chunk tokens.
    """

    def __init__(self, model_id: str, local: Embedder | OnnxEmbedder) -> None:
        self.model_id = model_id
        super().__init__(local)

    @property
    def model_name(self) -> str:
        """The same name as `ClusterEmbedder`'s: the chunks were embedded by the cluster."""
        return f"cluster:{self.model_id}"

    def query_vector_builder(self, text: str) -> dict[str, Any]:
        """The kNN `query_vector_builder` that has the cluster embed `text` with this model."""
        return text_embedding_builder(self.model_id, text)

