"""Put a local sentence-transformers model into the cluster as a `text_embedding` trained model.

This does what eland 9.2.0's `eland_import_hub_model --task-type text_embedding` does, with the
official client: trace the model to TorchScript with the four inputs Elasticsearch's
`pytorch_inference` passes a BERT model (input ids, attention mask, token type ids, position ids)
and the sentence embedding as output, then PUT the model config, the definition in base64 parts
of 1 MiB, the vocabulary, and start a deployment. eland cannot do it here: its `eland.ml.pytorch`
does not import under transformers 5 (it names `transformers.RetriBertTokenizer`, now removed),
its loader passes `torchscript=True`, which transformers 5 refuses, and its wrapper assigns
`auto_model`, which sentence-transformers 6 made read-only. The traced module and the config
below reproduce eland's (`_SentenceTransformerWrapper`, `TransformerModel._create_config`).

Nothing is downloaded: the model is read from a local folder (the bundled all-MiniLM-L6-v2 by
default).
"""

from __future__ import annotations

import base64
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from elasticsearch import ApiError, Elasticsearch

from es_rag.connect import error_reason
from es_rag.embedding.cluster import INPUT_FIELD, ClusterEmbeddingError, model_status
from es_rag.embedding.local import model_location

DEFINITION_PART_BYTES = 1024 * 1024  # eland's DEFAULT_CHUNK_SIZE
TRACE_TEXT = "This is an example sentence."  # eland's tracing input for text_embedding
DOCUMENT_PROMPTS = ("document", "passage", "corpus")  # sentence-transformers' encode_document

Progress = Callable[[str, int, int | None], None]


class ModelUploadError(ClusterEmbeddingError):
    """The model cannot be traced, uploaded or started; the message says why."""


@dataclass
class TracedModel:
    """A traced model ready to upload: TorchScript file, trained model config, vocabulary."""

    definition: Path
    config: dict[str, Any]
    vocabulary: list[str] = field(repr=False)


@dataclass
class UploadResult:
    """What `upload_model` did."""

    model_id: str
    uploaded: bool
    started: bool
    parts: int = 0
    definition_bytes: int = 0


def model_config(*, description: str, do_lower_case: bool, max_sequence_length: int,
                 embedding_size: int, prompts: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The body of `PUT _ml/trained_models/<id>` for a BERT-tokenized text embedding model.

    `prompts` are the model's sentence-transformers prompts: the document prompt becomes the
    ingest prefix and the query prompt the search prefix (`prefix_strings`, ES 8.12+). Unlike
    eland, no memory estimates measured with the torch profiler go in `metadata`: Elasticsearch
    then reserves its default (240 MB plus twice the definition's size) for the deployment.
    """
    config: dict[str, Any] = {
        "description": description,
        "model_type": "pytorch",
        "inference_config": {"text_embedding": {
            "tokenization": {"bert": {"do_lower_case": do_lower_case,
                                      "max_sequence_length": max_sequence_length}},
            "embedding_size": embedding_size,
        }},
        "input": {"field_names": [INPUT_FIELD]},
    }
    prompts = prompts or {}
    ingest = next((prompts[name] for name in DOCUMENT_PROMPTS if prompts.get(name)), None)
    prefixes = {key: value for key, value in (("ingest", ingest),
                                              ("search", prompts.get("query"))) if value}
    if prefixes:
        config["prefix_strings"] = prefixes
    return config


def local_model_folder(name: str) -> Path:
    """The folder of the model `name`; ModelUploadError when it is not on this machine."""
    location = Path(model_location(name))
    if not location.is_dir():
        raise ModelUploadError(f"model {name!r} is not a local folder: es-rag uploads a "
                               "sentence-transformers model from this machine, never downloads")
    return location


def trace_model(name: str, folder: Path) -> TracedModel:
    """Trace the sentence-transformers model `name` (a local folder or the bundled model).

    The TorchScript file is written into `folder`. Raises ModelUploadError when the model is
    not on this machine or its tokenizer is not one Elasticsearch runs as `bert`.
    """
    from sentence_transformers import SentenceTransformer
    from transformers import BertTokenizer

    location = local_model_folder(name)
    try:
        # eager attention traces to plain matmul/softmax, which older libtorch builds also run
        model = SentenceTransformer(str(location), device="cpu", local_files_only=True,
                                    model_kwargs={"attn_implementation": "eager"})
    except (OSError, ValueError) as exc:
        raise ModelUploadError(f"model {name!r} cannot be loaded from {location}: {exc}") from None
    tokenizer = model.tokenizer
    if not isinstance(tokenizer, BertTokenizer):
        raise ModelUploadError(
            f"model {name!r} uses {type(tokenizer).__name__}; es-rag uploads models with a BERT "
            "WordPiece tokenizer (all-MiniLM-L6-v2, bge, e5, gte...): import this one with "
            "eland_import_hub_model")
    module = SentenceEmbedding(model).eval()
    example = tokenizer(TRACE_TEXT, padding="longest", return_tensors="pt")
    inputs = (example["input_ids"], example["attention_mask"], example["token_type_ids"],
              torch.arange(example["input_ids"].size(1), dtype=torch.long))
    definition = folder / "traced_pytorch_model.pt"
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python branches on shapes; none depends on the input's length.
        # TorchScript is deprecated in torch 2.13 but is the format Elasticsearch loads.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", r"`torch\.jit\.", DeprecationWarning)
        embedding_size = int(module(*inputs).size(-1))
        traced = torch.jit.freeze(torch.jit.trace(module, example_inputs=inputs))
        torch.jit.save(traced, str(definition))
    config = model_config(
        description=f"{name} (sentence-transformers) for task type 'text_embedding', "
                    "uploaded by es-rag",
        do_lower_case=bool(getattr(tokenizer, "do_lower_case", True)),
        # the model's own limit (256 for MiniLM), so the cluster truncates as es-rag does
        max_sequence_length=int(model.max_seq_length), embedding_size=embedding_size,
        prompts=model.prompts)
    vocab = tokenizer.get_vocab()
    return TracedModel(definition, config, sorted(vocab, key=vocab.__getitem__))


class SentenceEmbedding(torch.nn.Module):
    """eland's `_SentenceTransformerWrapper`: the four BERT inputs in, the model's sentence
    embedding (pooled, normalised when the model normalises) out, the unused pooler removed."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        transformer = model[0].auto_model
        if hasattr(transformer, "pooler"):
            transformer.pooler = None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        features = {"input_ids": input_ids, "attention_mask": attention_mask,
                    "token_type_ids": token_type_ids, "position_ids": position_ids}
        return self.model(features)["sentence_embedding"]


def definition_parts(path: Path, part_bytes: int = DEFINITION_PART_BYTES) -> Iterator[str]:
    """The model file in base64 parts of `part_bytes` raw bytes, as the definition API takes it."""
    with path.open("rb") as fh:
        while block := fh.read(part_bytes):
            yield base64.b64encode(block).decode("ascii")


def put_model(client: Elasticsearch, model_id: str, traced: TracedModel,
              progress: Progress | None = None,
              part_bytes: int = DEFINITION_PART_BYTES) -> int:
    """Create the trained model: config, definition parts, vocabulary. Returns the part count."""
    size = traced.definition.stat().st_size
    total = math.ceil(size / part_bytes)
    client.ml.put_trained_model(model_id=model_id, **traced.config)
    for number, part in enumerate(definition_parts(traced.definition, part_bytes)):
        client.ml.put_trained_model_definition_part(
            model_id=model_id, part=number, definition=part, total_definition_length=size,
            total_parts=total)
        if progress:
            progress("upload", number + 1, total)
    client.ml.put_trained_model_vocabulary(model_id=model_id, vocabulary=traced.vocabulary)
    return total


def start_deployment(client: Elasticsearch, model_id: str, timeout_s: int = 120) -> None:
    """Start the model's deployment and wait until it is allocated (a no-op when started)."""
    if model_status(client, model_id) == "started":
        return
    client.options(request_timeout=timeout_s + 30).ml.start_trained_model_deployment(
        model_id=model_id, wait_for="started", timeout=f"{timeout_s}s")


def upload_model(client: Elasticsearch, name: str, model_id: str, *, start: bool = True,
                 replace: bool = False, progress: Progress | None = None) -> UploadResult:
    """Trace the local model `name` and put it in the cluster as `model_id`, then start it.

    A model already fully uploaded is left as it is unless `replace` (which stops and deletes
    it first); an upload that was cut off is redone. Raises ModelUploadError with the cluster's
    reason when a request is refused.
    """
    local_model_folder(name)  # before anything is sent
    result = UploadResult(model_id, uploaded=False, started=False)
    try:
        status = model_status(client, model_id)
        if status == "partial" or (replace and status != "missing"):
            client.ml.delete_trained_model(model_id=model_id, force=True)
            status = "missing"
        if status == "missing":
            with tempfile.TemporaryDirectory(prefix="es-rag-model-") as folder:
                if progress:
                    progress("trace", 0, 1)
                traced = trace_model(name, Path(folder))
                if progress:
                    progress("trace", 1, 1)
                result.definition_bytes = traced.definition.stat().st_size
                result.parts = put_model(client, model_id, traced, progress)
            result.uploaded = True
        if start:
            if progress:
                progress("start", 0, 1)
            start_deployment(client, model_id)
            result.started = True
            if progress:
                progress("start", 1, 1)
    except ApiError as exc:
        raise ModelUploadError(f"the cluster refused model {model_id!r}: "
                               f"{exc.meta.status} {error_reason(exc)}") from None
    return result
