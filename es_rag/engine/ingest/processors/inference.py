"""The `inference` processor: run a deployed trained model on document fields.

Two forms, as in Elasticsearch:

- `input_output` (one object or a list of `{input_field, output_field}`; with
  `ignore_missing`): each input field's text is embedded and the vector written to its output
  field; `model_id` is written beside the first output field.
- `target_field` (default `ml.inference`, or `ml.inference.<tag>`) with an optional
  `field_map` (document field → the model's input field): the whole document is the model's
  input and `{<results_field>: vector, model_id}` is written to `target_field`.

The model must be deployed: an unknown model fails with 404 "Could not find trained model",
an undeployed one with 409 "Model [..] must be deployed to use ...", both handled by
`on_failure` / `ignore_failure` like any processor failure. The model's `ingest` prefix
string is prepended to the text.
"""

from __future__ import annotations

import copy
from typing import Any

from es_rag.engine.errors import BadRequest, EngineError
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.processors.base import Processor, Run
from es_rag.engine.ml.service import MlService, extract_input, inference_update

_DEFAULT_TARGET = "ml.inference"
_INFERENCE_TYPES = ("classification", "regression", "fill_mask", "ner", "pass_through",
                    "question_answering", "text_classification", "text_embedding",
                    "text_expansion", "text_similarity", "zero_shot_classification")


class Inference(Processor):
    type = "inference"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.model_id: str = config.read_string("model_id")
        self.inference_config = _inference_config(config)
        self.inputs: list[tuple[str, str]] | None = None
        if config.has("input_output"):
            for name in ("target_field", "field_map"):
                if config.has(name):
                    raise config.error(name, "option is incompatible with [input_output]. Use "
                                             "the [output_field] option to specify where to "
                                             "write the inference results to.")
            self.inputs = _input_output(config, config.read("input_output"))
            self.ignore_missing = config.read_bool("ignore_missing", False)
        else:
            default = _DEFAULT_TARGET if config.tag is None else f"{_DEFAULT_TARGET}.{config.tag}"
            self.target_field: str = config.read_string("target_field", default)
            field_map = config.read("field_map", None)
            if field_map is None:
                field_map = config.read("field_mappings", None)
            if field_map is not None and not isinstance(field_map, dict):
                raise config.error("field_map", f"property isn't a map, but of type "
                                                f"[{java_type(field_map)}]")
            self.field_map: dict[str, str] = field_map or {}

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        ml = run.ml
        if ml is None:
            raise EngineError("the inference processor needs the engine's trained model "
                              "service", status=500, error_type="illegal_state_exception")
        if self.inputs is not None:
            return self._input_output(doc, ml)
        return self._target_field(doc, ml)

    def _input_output(self, doc: IngestDocument, ml: MlService) -> IngestDocument:
        present: list[tuple[str, str]] = []
        for input_field, output_field in self.inputs or []:
            value = doc.get(input_field, self.ignore_missing)
            if value is None:
                if self.ignore_missing:
                    continue
                raise BadRequest(f"field [{input_field}] is null, cannot process it.")
            if not isinstance(value, str):
                raise BadRequest(f"input value [{value}] for field [{input_field}] is not a "
                                 "string")
            present.append((value, output_field))
        if not present:
            return doc
        _, tokenization = self._update(ml)
        for position, (text, output_field) in enumerate(present):
            vector, truncated = ml.embed_for_ingest(self.model_id, text, tokenization)
            base, _, leaf = output_field.rpartition(".")
            values: dict[str, Any] = {leaf: vector}
            if truncated:
                values["is_truncated"] = True
            if position == 0:
                values["model_id"] = self.model_id
            for name, value in values.items():
                _set_or_append(doc, f"{base}.{name}" if base else name, value)
        return doc

    def _target_field(self, doc: IngestDocument, ml: MlService) -> IngestDocument:
        fields = copy.deepcopy(doc.data)
        if doc.ingest:
            fields["_ingest"] = copy.deepcopy(doc.ingest)
        for source, destination in self.field_map.items():
            value = _dig(fields, source)
            if value is not None:
                fields[destination] = value
        deployment = ml.deployment_for(self.model_id)
        model_input = ml.store.config(deployment.model_id)["input"]["field_names"][0]
        text = extract_input(model_input, fields)
        results_field, tokenization = self._update(ml)
        vector, truncated = ml.embed_for_ingest(self.model_id, text, tokenization)
        result: dict[str, Any] = {results_field: vector}
        if truncated:
            result["is_truncated"] = True
        result["model_id"] = self.model_id
        _set_or_append(doc, doc.render(self.target_field), result)
        return doc

    def _update(self, ml: MlService) -> tuple[str, Any]:
        deployment = ml.deployment_for(self.model_id)
        return inference_update(ml.store.config(deployment.model_id), self.inference_config)


def _inference_config(config: ProcessorConfig) -> dict[str, Any] | None:
    value = config.read("inference_config", None)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1 or \
            not isinstance(next(iter(value.values())), dict):
        raise BadRequest("inference_config must be an object with one inference type mapped "
                         "to an object.")
    [kind] = value
    if kind not in _INFERENCE_TYPES:
        raise BadRequest(f"unrecognized inference configuration type [{kind}]. Supported "
                         f"types [{', '.join(_INFERENCE_TYPES)}]")
    return value


def _input_output(config: ProcessorConfig, value: Any) -> list[tuple[str, str]]:
    entries = value if isinstance(value, list) else [value]
    if not entries:
        raise config.error("input_output", "property must contain at least one input/output "
                                           "configuration")
    inputs = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise config.error("input_output", f"property isn't a map, but of type "
                                               f"[{java_type(entry)}]")
        unknown = sorted(set(entry) - {"input_field", "output_field"})
        if unknown:
            raise config.error("input_output", f"Unrecognized fields {unknown} in "
                                               "[input_output] map")
        for name in ("input_field", "output_field"):
            if not isinstance(entry.get(name), str):
                raise config.error(name, "required property is missing")
        inputs.append((entry["input_field"], entry["output_field"]))
    outputs = [output for _, output in inputs]
    if len(set(outputs)) != len(outputs):
        raise config.error("input_output", "Invalid input output configuration. The output "
                                           "fields must be unique")
    return inputs


def _dig(fields: dict[str, Any], path: str) -> Any:
    if path in fields:
        return fields[path]
    value: Any = fields
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set_or_append(doc: IngestDocument, path: str, value: Any) -> None:
    """Elasticsearch's `setOrAppendValue`: a second result on the same field makes a list."""
    if doc.has(path):
        doc.append(path, value)
    else:
        doc.set(path, value)


def model_references(pipelines: dict[str, Any]) -> dict[str, int]:
    """How many `inference` processors of the stored pipelines name each model id."""
    counts: dict[str, int] = {}

    def walk(processors: Any) -> None:
        for entry in processors if isinstance(processors, list) else []:
            for kind, options in (entry.items() if isinstance(entry, dict) else []):
                if not isinstance(options, dict):
                    continue
                if kind == "inference" and isinstance(options.get("model_id"), str):
                    counts[options["model_id"]] = counts.get(options["model_id"], 0) + 1
                if kind == "foreach":
                    walk([options.get("processor")])
                walk(options.get("on_failure"))

    for definition in pipelines.values():
        if isinstance(definition, dict):
            walk(definition.get("processors"))
            walk(definition.get("on_failure"))
    return counts


PROCESSORS = [Inference]
