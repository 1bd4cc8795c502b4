"""eland's own `PyTorchModel` uploads, starts, infers, lists, stops and deletes on the engine.

eland is not a dependency of es-rag (its pins — pandas<3, transformers<5, torch 2.7 — clash
with this project's), so this runs only where it was installed by hand
(`pip install eland==9.2.0 --no-deps`). eland 9.2 imports `transformers.RetriBertTokenizer`,
which transformers 5 removed; a stand-in class lets its upload module import. Its tracing
(`TransformerModel`) still cannot run with transformers 5, so the traced model comes from
`eland_upload.trace`.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from tests.engine_ml.eland_upload import TracedModel

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

pytestmark = pytest.mark.skipif(importlib.util.find_spec("eland") is None,
                                reason="eland is not installed (pip install eland==9.2.0 "
                                       "--no-deps)")


def test_eland_pytorch_model_round_trip(ml: Elasticsearch, traced: TracedModel,
                                        sentence_model: SentenceTransformer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    if not hasattr(transformers, "RetriBertTokenizer"):
        monkeypatch.setattr(transformers, "RetriBertTokenizer",
                            type("RetriBertTokenizer", (), {}), raising=False)
    from eland.ml.pytorch import PyTorchModel
    from eland.ml.pytorch.nlp_ml_model import (
        NlpBertTokenizationConfig,
        NlpTrainedModelConfig,
        TextEmbeddingInferenceOptions,
    )

    config = NlpTrainedModelConfig(
        description="all-MiniLM-L6-v2 through eland",
        inference_config=TextEmbeddingInferenceOptions(
            tokenization=NlpBertTokenizationConfig(do_lower_case=True,
                                                   max_sequence_length=512),
            embedding_size=384),
        prefix_strings=None)
    model = PyTorchModel(ml, "eland-minilm")
    model.import_model(model_path=str(traced.model_path), config_path=None,
                       vocab_path=str(traced.vocab_path), config=config)
    model.start()
    result = model.infer(docs=[{"text_field": "Hello world"}])
    np.testing.assert_allclose(result["inference_results"][0]["predicted_value"],
                               sentence_model.encode(["Hello world"])[0], atol=1e-5)
    assert "eland-minilm" in PyTorchModel.list(ml)
    model.stop()
    model.delete()
    assert "eland-minilm" not in PyTorchModel.list(ml)
