"""Fixtures for generation tests: the real embedding model and a few retrieved hits."""

from __future__ import annotations

import pytest

from es_rag.ingest.embed import Embedder
from es_rag.retrieve import Hit


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def hits() -> list[Hit]:
    """Hits as retrieval returns them: about RRF, the Eiffel Tower and sourdough bread."""
    texts = [
        ("rrf", "Reciprocal rank fusion combines several ranked lists into one. Each document "
                "scores the sum of one over the rank constant plus its rank. It needs no tuning."),
        ("eiffel", "The Eiffel Tower stands in Paris. It was completed in 1889 for the World's "
                   "Fair. Gustave Eiffel's company designed and built it."),
        ("bread", "Sourdough bread rises with wild yeast. The starter is fed with flour and "
                  "water every day."),
    ]
    return [Hit(chunk_id=f"{name}-0", doc_id=name, score=1.0 / (i + 1), source=f"docs/{name}.md",
                title=name.title(), text=text, page=i + 1, offsets={"start": 0, "end": len(text)},
                content_hash=f"h-{name}")
            for i, (name, text) in enumerate(texts)]
