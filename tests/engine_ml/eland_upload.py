"""What eland does to put a sentence-transformers model into Elasticsearch, as a test helper.

eland 9.2 (`eland_import_hub_model --task-type text_embedding`) cannot run beside this
project's transformers 5 (it imports `transformers.RetriBertTokenizer` and loads models with
`torchscript=True`, both gone). es-rag reproduces its tracing (`es_rag.embedding.cluster_upload`,
which `es-rag model upload` runs); this adds what the engine tests need to see eland's own
requests:

- `trace`: es-rag's traced model, with the files and the config eland would send — the
  tokenizer's `model_max_length` (512) as the sequence length rather than the sentence model's,
  and memory estimates in `metadata` — and the vocabulary as the JSON file eland reads.
- `upload`: `eland_import_hub_model`'s calls — `info()` for the version, a 404-tolerant
  `get_trained_models` for existence, then `PyTorchModel.import_model`: `put_trained_model`,
  one `put_trained_model_definition_part` per 1 MiB part (base64), and the vocabulary with a
  raw `PUT _ml/trained_models/<id>/vocabulary`. Deployments start with es-rag's
  `start_deployment`, which makes `PyTorchModel.start`'s request.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.embedding.cluster_upload import DEFINITION_PART_BYTES, definition_parts, trace_model


@dataclass(frozen=True)
class TracedModel:
    """A traced TorchScript file, the config eland would send, and the vocabulary file."""

    model_path: Path
    config: dict[str, Any]
    vocab_path: Path


def trace(model_dir: Path, out_dir: Path) -> TracedModel:
    """Trace a local sentence-transformers (BERT-tokenizer) model as eland does."""
    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    traced = trace_model(str(model_dir), out_dir)
    vocab_path = out_dir / "vocabulary.json"
    vocab_path.write_text(json.dumps({"vocabulary": traced.vocabulary}))
    max_length = AutoTokenizer.from_pretrained(str(model_dir)).model_max_length
    config = copy.deepcopy(traced.config)
    config["description"] = f"Model {model_dir} for task type 'text_embedding'"
    config["inference_config"]["text_embedding"]["tokenization"]["bert"][
        "max_sequence_length"] = int(max_length if max_length <= 8192 else 512)
    # eland measures the parameters' bytes; the frozen definition holds them (and little else)
    config["metadata"] = {"per_deployment_memory_bytes": traced.definition.stat().st_size,
                          "per_allocation_memory_bytes": 0}
    return TracedModel(traced.definition, config, vocab_path)


def upload(es: Elasticsearch, model_id: str, model: TracedModel,
           chunk_size: int = DEFINITION_PART_BYTES) -> None:
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
    size = model.model_path.stat().st_size
    total_parts = math.ceil(size / chunk_size)
    for number, part in enumerate(definition_parts(model.model_path, chunk_size)):
        es.ml.put_trained_model_definition_part(
            model_id=model_id, part=number, total_definition_length=size,
            total_parts=total_parts, definition=part)
    es.perform_request("PUT", f"/_ml/trained_models/{model_id}/vocabulary",
                       headers={"accept": "application/json",
                                "content-type": "application/json"},
                       body=json.loads(model.vocab_path.read_text()))
