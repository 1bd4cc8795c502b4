"""Trained model configurations: validating `PUT _ml/trained_models/<id>` and their defaults.

Elasticsearch stores a PyTorch model's configuration with every default filled in
(`TrainedModelConfig`): the tokenization options, `input.field_names`, the native definition
index as `location`. The embedded engine runs `text_embedding` models with `bert` or `mpnet`
tokenization; other task types and tokenizers are refused with a 400 naming them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest, XContentParseError
from ..node import VERSION

NATIVE_INDEX = ".ml-inference-native-000002"
MAX_ID_LENGTH = 64
TASK_TYPES = ("text_embedding",)
TOKENIZERS = ("bert", "mpnet")
TRUNCATE = ("first", "second", "none")
# Elasticsearch's lenient parser also knows these; the engine refuses them by name.
_KNOWN_TASKS = ("fill_mask", "ner", "pass_through", "question_answering", "text_classification",
                "text_expansion", "text_similarity", "zero_shot_classification", "classification",
                "regression", "learning_to_rank")
_KNOWN_TOKENIZERS = ("bert_ja", "roberta", "xlm_roberta", "deberta_v2")
_ID = re.compile(r"[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?")
_CONFIG_KEYS = {"model_id", "description", "tags", "metadata", "input", "inference_config",
                "model_type", "default_field_map", "prefix_strings", "platform_architecture",
                "location", "estimated_heap_memory_usage_bytes", "estimated_operations",
                "model_size_bytes", "per_deployment_memory_bytes", "per_allocation_memory_bytes",
                "definition", "compressed_definition", "model_package"}
_TOKENIZATION_KEYS = {"do_lower_case", "with_special_tokens", "max_sequence_length", "truncate",
                      "span"}


@dataclass(frozen=True)
class Tokenization:
    """The tokenizer options of a model (Elasticsearch's defaults when not given)."""

    kind: str = "bert"
    do_lower_case: bool = False
    with_special_tokens: bool = True
    max_sequence_length: int = 512
    truncate: str = "first"
    span: int = -1

    def as_dict(self) -> dict[str, Any]:
        """The `tokenization` object as Elasticsearch renders it."""
        return {self.kind: {"do_lower_case": self.do_lower_case,
                            "with_special_tokens": self.with_special_tokens,
                            "max_sequence_length": self.max_sequence_length,
                            "truncate": self.truncate, "span": self.span}}


def validate_model_id(model_id: str) -> None:
    """Elasticsearch's trained model id rules (lowercase alphanumerics, `-`, `_`, `.`)."""
    if len(model_id) > MAX_ID_LENGTH:
        raise BadRequest(f"Invalid model_id; '{model_id}' cannot contain more than "
                         f"{MAX_ID_LENGTH} characters.")
    if not _ID.fullmatch(model_id):
        raise BadRequest(f"Invalid model_id; '{model_id}' can contain lowercase alphanumeric "
                         "(a-z and 0-9), hyphens or underscores; must start and end with "
                         "alphanumeric")


def parse_tokenization(body: Any, base: Tokenization | None = None,
                       where: str = "tokenization") -> Tokenization:
    """`{"bert": {...}}` into a `Tokenization`; `base` supplies values not given (updates)."""
    if not isinstance(body, dict) or len(body) != 1:
        raise XContentParseError(f"[{where}] must be an object with exactly one tokenizer")
    [(kind, options)] = body.items()
    if kind in _KNOWN_TOKENIZERS:
        raise BadRequest(f"tokenization [{kind}] is not supported by the embedded engine; "
                         f"supported: [{', '.join(TOKENIZERS)}]")
    if kind not in TOKENIZERS:
        raise XContentParseError(f"[{where}] unknown tokenization [{kind}]")
    if base is not None and base.kind != kind:
        raise BadRequest(f"Tokenization type [{kind}] does not match the model's "
                         f"tokenization type [{base.kind}]")
    options = options if options is not None else {}
    if not isinstance(options, dict):
        raise XContentParseError(f"[{kind}] tokenization options must be an object")
    unknown = sorted(set(options) - _TOKENIZATION_KEYS)
    if unknown:
        raise XContentParseError(f"[{kind}] unknown field [{unknown[0]}]")
    current = base or Tokenization(kind=kind)
    values = {**current.__dict__, **{k: v for k, v in options.items() if v is not None}}
    for name in ("do_lower_case", "with_special_tokens"):
        if not isinstance(values[name], bool):
            raise XContentParseError(f"[{kind}] failed to parse field [{name}]")
    for name in ("max_sequence_length", "span"):
        if isinstance(values[name], bool) or not isinstance(values[name], int):
            raise XContentParseError(f"[{kind}] failed to parse field [{name}]")
    truncate = str(values["truncate"]).lower()
    if truncate not in TRUNCATE:
        raise BadRequest(f"No enum constant Tokenization.Truncate.{truncate.upper()}")
    if values["max_sequence_length"] < 1:
        raise BadRequest("[max_sequence_length] must be greater than 0")
    if values["span"] != -1:
        raise BadRequest("[span] is not supported by the embedded engine for text_embedding; "
                         "only -1 (no windowing)")
    return Tokenization(kind=kind, do_lower_case=values["do_lower_case"],
                        with_special_tokens=values["with_special_tokens"],
                        max_sequence_length=values["max_sequence_length"], truncate=truncate,
                        span=values["span"])


def parse_model_config(model_id: str, body: Any) -> dict[str, Any]:
    """Validate a `PUT _ml/trained_models/<id>` body; the stored config with defaults."""
    validate_model_id(model_id)
    if not isinstance(body, dict):
        raise XContentParseError("[trained_model_config] must be an object")
    for key in body:
        if key not in _CONFIG_KEYS:
            raise XContentParseError(f"[trained_model_config] unknown field [{key}]")
    if body.get("model_id") not in (None, model_id):
        raise BadRequest(f"Inconsistent model_id; '{body['model_id']}' specified in the body "
                         f"differs from '{model_id}' specified as a URL argument")
    for key in ("definition", "compressed_definition", "model_package"):
        if key in body:
            raise BadRequest(f"[{key}] is not supported by the embedded engine; upload a "
                             "pytorch model definition in parts")
    model_type = body.get("model_type", "pytorch")
    if model_type != "pytorch":
        raise BadRequest(f"model_type [{model_type}] is not supported by the embedded engine; "
                         "supported: [pytorch]")
    inference = body.get("inference_config")
    if inference is None:
        raise BadRequest("[inference_config] must not be null.")
    task, task_config = _task(inference)
    tokenization = parse_tokenization(task_config.get("tokenization", {"bert": {}}),
                                      where=f"{task}.tokenization")
    embedding_size = task_config.get("embedding_size")
    if embedding_size is not None and (isinstance(embedding_size, bool) or
                                       not isinstance(embedding_size, int) or
                                       embedding_size < 1):
        raise BadRequest("[embedding_size] must be a number greater than 0; configured size "
                         f"[{embedding_size}]")
    task_out: dict[str, Any] = {"vocabulary": {"index": NATIVE_INDEX},
                                "tokenization": tokenization.as_dict()}
    if task_config.get("results_field") is not None:
        task_out["results_field"] = str(task_config["results_field"])
    if embedding_size is not None:
        task_out["embedding_size"] = embedding_size
    config: dict[str, Any] = {
        "model_id": model_id, "model_type": "pytorch", "created_by": "api_user",
        "version": VERSION, "create_time": int(time.time() * 1000),
        "model_size_bytes": 0, "estimated_operations": 0, "license_level": "platinum",
        "description": body.get("description"), "tags": _tags(body.get("tags", [])),
        "metadata": body.get("metadata"),
        "input": _input(body.get("input")),
        "inference_config": {task: task_out},
        "location": {"index": {"name": NATIVE_INDEX}},
    }
    for key in ("default_field_map", "platform_architecture"):
        if body.get(key) is not None:
            config[key] = body[key]
    if body.get("prefix_strings") is not None:
        config["prefix_strings"] = _prefix_strings(body["prefix_strings"])
    return {k: v for k, v in config.items() if v is not None}


def tokenization_of(config: dict[str, Any]) -> Tokenization:
    """The stored tokenization of a model config."""
    [(task, task_config)] = config["inference_config"].items()
    del task
    return parse_tokenization(task_config["tokenization"])


def results_field_of(config: dict[str, Any]) -> str:
    """Where the model's results go (`predicted_value` unless configured)."""
    [task_config] = config["inference_config"].values()
    return str(task_config.get("results_field") or "predicted_value")


def _task(inference: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(inference, dict) or len(inference) != 1:
        raise XContentParseError("[inference_config] must be an object with one inference type")
    [(task, task_config)] = inference.items()
    if task in _KNOWN_TASKS:
        raise BadRequest(f"inference_config [{task}] is not supported by the embedded engine; "
                         f"supported: [{', '.join(TASK_TYPES)}]")
    if task not in TASK_TYPES:
        raise XContentParseError(f"[inference_config] unknown inference config type [{task}]")
    task_config = task_config if task_config is not None else {}
    if not isinstance(task_config, dict):
        raise XContentParseError(f"[{task}] must be an object")
    unknown = sorted(set(task_config) - {"tokenization", "vocabulary", "results_field",
                                         "embedding_size"})
    if unknown:
        raise XContentParseError(f"[{task}] unknown field [{unknown[0]}]")
    return task, task_config


def _input(value: Any) -> dict[str, Any]:
    if value is None:
        return {"field_names": ["text_field"]}
    names = value.get("field_names") if isinstance(value, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise XContentParseError("[input] failed to parse field [field_names]")
    if len(names) != 1:
        raise BadRequest("[input.field_names] must contain exactly one field for a "
                         "text_embedding model")
    return {"field_names": names}


def _tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise XContentParseError("[trained_model_config] failed to parse field [tags]")
    return tags


def _prefix_strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"search", "ingest"} or \
            not all(isinstance(v, str) for v in value.values()):
        raise XContentParseError("[prefix_strings] failed to parse: expected [search] and "
                                 "[ingest] strings")
    return dict(value)

