"""Embeddings by a `semantic_text` field: the cluster chunks and embeds each passage at index
time through a pinned inference endpoint, and the vector leg of a search is a `semantic` query.

With `embedding = "semantic_text"` the chunk mapping copies `text` into the semantic_text field
(`es_rag.assets.SEMANTIC_FIELD`) on `semantic_inference_id`; es-rag still extracts, chunks and
keeps offsets for citations, and sends chunks without a vector. `SemanticTextEmbedder` stands
where the local `Embedder` stands: search picks the semantic chunk layout from it, and the
passages es-rag scores itself (reranking, answer relevance) are embedded by the same model on
this machine, whose tokenizer also counts chunk tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from es_rag.connect import Capabilities
from es_rag.embedding.local import LocallyScored
from es_rag.errors import EsRagError

if TYPE_CHECKING:
    from es_rag.embedding.local import Embedder
    from es_rag.embedding.onnx_model import OnnxEmbedder

LICENSE_FEATURE = "semantic_text inference"  # as `Capabilities.license_lacks` names it


class SemanticTextUnlicensed(EsRagError, RuntimeError):
    """The cluster's license refuses inference at index time into semantic_text."""


def require_semantic_ingest(caps: Capabilities, inference_id: str) -> None:
    """Stop with one clear line when the license would refuse every chunk's inference."""
    if LICENSE_FEATURE not in caps.license_lacks:
        return
    raise SemanticTextUnlicensed(
        f'embedding = "semantic_text": the cluster at {caps.url} has a {caps.license_type} '
        f"license, which lacks inference into semantic_text (endpoint {inference_id}), so it "
        "would refuse every chunk. Search keeps working (lexical leg only); to ingest, set "
        'embedding = "local" (then `es-rag apply` and `es-rag ingest`) or use a trial or '
        "enterprise license")


class SemanticTextEmbedder(LocallyScored):
    """The chunk index's semantic_text field on `inference_id`, as es-rag's embedder."""

    def __init__(self, inference_id: str, local: Embedder | OnnxEmbedder,
                 field: str = "text_semantic") -> None:
        self.inference_id = inference_id
        super().__init__(local)
        self.semantic_field = field
        """The semantic_text field the `semantic` query searches."""

    @property
    def model_name(self) -> str:
        """Names the embedding in the ingest fingerprint: switching to or from it re-ingests."""
        return f"semantic_text:{self.inference_id}"

