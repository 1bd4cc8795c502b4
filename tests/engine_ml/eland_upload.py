"""What eland does to put a sentence-transformers model into Elasticsearch, as a test helper.

eland 9.2 (`eland_import_hub_model --task-type text_embedding`) cannot run beside this
project's transformers 5 (it imports `transformers.RetriBertTokenizer` and loads models with
`torchscript=True`, both gone), so this reproduces its two halves:

- `trace`: `TransformerModel` for `text_embedding` — the sentence-transformers model wrapped
  so that `forward(input_ids, attention_mask, token_type_ids, position_ids)` returns its
  `sentence_embedding` (pooling and normalization included), traced on "This is an example
  sentence.", frozen and saved; the vocabulary in id order; the config `to_dict()` sends.
- `upload`: `eland_import_hub_model`'s calls — `info()` for the version, a 404-tolerant
  `get_trained_models` for existence, then `PyTorchModel.import_model`: `put_trained_model`,
  one `put_trained_model_definition_part` per 1 MiB chunk (base64), and the vocabulary with a
  raw `PUT _ml/trained_models/<id>/vocabulary`; `start` is `PyTorchModel.start`.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class TracedModel:
    """A traced TorchScript file, the config eland would send, and the vocabulary file."""

    model_path: Path
    config: dict[str, Any]
    vocab_path: Path


def trace(model_dir: Path, out_dir: Path) -> TracedModel:
    """Trace a local sentence-transformers (BERT-tokenizer) model the way eland does."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    st_model = SentenceTransformer(str(model_dir), device="cpu")

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self._st_model = st_model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                      "token_type_ids": token_type_ids, "position_ids": position_ids}
            return self._st_model(inputs)["sentence_embedding"]

    wrapper = Wrapper().eval()
    example = tokenizer("This is an example sentence.", padding="longest", return_tensors="pt")
    positions = torch.arange(example["input_ids"].size(1), dtype=torch.long)
    inputs = (example["input_ids"], example["attention_mask"], example["token_type_ids"],
              positions)
    with torch.no_grad():
        embedding_size = int(wrapper(*inputs).size(-1))
        traced = torch.jit.freeze(torch.jit.trace(wrapper, example_inputs=inputs))
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "traced_pytorch_model.pt"
    torch.jit.save(traced, str(model_path))
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    vocab_path = out_dir / "vocabulary.json"
    vocab_path.write_text(json.dumps({"vocabulary": vocab}))
    max_length = tokenizer.model_max_length if tokenizer.model_max_length <= 8192 else 512
    parameters = sum(p.nelement() * p.element_size() for p in wrapper.parameters())
    config = {
        "description": f"Model {model_dir} for task type 'text_embedding'",
        "inference_config": {"text_embedding": {
            "tokenization": {"bert": {"max_sequence_length": int(max_length),
                                      "do_lower_case": bool(tokenizer.do_lower_case)}},
            "embedding_size": embedding_size}},
        "input": {"field_names": ["text_field"]},
        "metadata": {"per_deployment_memory_bytes": parameters,
                     "per_allocation_memory_bytes": 0},
        "model_type": "pytorch",
    }
    return TracedModel(model_path, config, vocab_path)


def upload(es: Elasticsearch, model_id: str, model: TracedModel,
           chunk_size: int = CHUNK_SIZE) -> None:
    """`eland_import_hub_model` without `--start`: version check, existence, config, parts,
    vocabulary."""
    major = int(es.info()["version"]["number"].split(".")[0])
    if major < 9:
        raise RuntimeError("eland 9.x needs Elasticsearch 9")
    exists = es.options(ignore_status=404).ml.get_trained_models(
        model_id=model_id).meta.status == 200
    if exists:
        raise RuntimeError(f"Trained model with id '{model_id}' already exists")
    es.ml.put_trained_model(model_id=model_id, **model.config)
    size = os.stat(model.model_path).st_size
    total_parts = math.ceil(size / chunk_size)
    with open(model.model_path, "rb") as handle:
        for part in range(total_parts):
            es.ml.put_trained_model_definition_part(
                model_id=model_id, part=part, total_definition_length=size,
                total_parts=total_parts,
                definition=base64.b64encode(handle.read(chunk_size)).decode())
    es.perform_request("PUT", f"/_ml/trained_models/{model_id}/vocabulary",
                       headers={"accept": "application/json",
                                "content-type": "application/json"},
                       body=json.loads(model.vocab_path.read_text()))


def start(es: Elasticsearch, model_id: str) -> Any:
    """`PyTorchModel.start`."""
    return es.options(request_timeout=60).ml.start_trained_model_deployment(
        model_id=model_id, timeout="60s", wait_for="started")
