"""The trained-model service: models, deployments and inference, with Elasticsearch's errors.

Used by the `_ml` REST routes, the ingest `inference` processor and kNN's
`query_vector_builder.text_embedding`. PyTorch models need a platinum (or trial) license in
Elasticsearch; under `basic` every upload, deployment and inference is refused with 403
"current license is non-compliant for [ml]".
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import (
    ActionRequestValidation,
    BadRequest,
    EngineError,
    ResourceNotFound,
    SecurityError,
)
from ..node import Node
from .config import (
    Tokenization,
    parse_model_config,
    parse_tokenization,
    results_field_of,
    tokenization_of,
)
from .deployments import Deployment
from .runtime import LoadedModel
from .store import ModelStore, model_not_found

ML_FEATURE = "ml"
_LICENSED = ("trial", "platinum", "enterprise")
_MEMORY_OVERHEAD = 240 * 1024 * 1024
_MAX_PARTS = 10_000
_GENERATED = ("create_time", "created_by", "version", "license_level", "model_size_bytes",
              "estimated_operations")


def conflict(reason: str) -> EngineError:
    """Elasticsearch's `conflictStatusException` (409 `status_exception`)."""
    return EngineError(reason, status=409, error_type="status_exception")


def not_deployed(model_id: str) -> EngineError:
    """What inference on a PyTorch model without a deployment answers."""
    return conflict(f"Model [{model_id}] must be deployed to use. Please deploy with the "
                    "start trained model deployment API.")


def extract_input(field: str, doc: dict[str, Any]) -> str:
    """The model input from a document, by (dotted) field name, as `NlpTask.extractInput`."""
    value: Any = doc.get(field)
    if value is None and "." in field:
        value = doc
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        raise BadRequest(f"Input field [{field}] does not exist in the source document")
    if not isinstance(value, str):
        raise BadRequest(f"Input value [{value}] for field [{field}] must be a string")
    return value


class MlService:
    """Trained models of one engine: durable configs and definitions, live deployments."""

    def __init__(self, data_dir: Path, node: Node) -> None:
        self.node = node
        self.store = ModelStore(data_dir / "ml")
        self._lock = threading.RLock()
        self._models: dict[str, LoadedModel] = {}
        self.deployments: dict[str, Deployment] = {
            deployment_id: Deployment(record, self._load)
            for deployment_id, record in self.store.deployments().items()}
        # model id → how many ingest inference processors name it (set by the ingest routes)
        self.pipeline_references: Callable[[], dict[str, int]] = dict
        self.ingest_counts: dict[str, dict[str, int]] = {}

    # license --------------------------------------------------------------------------------

    @property
    def licensed(self) -> bool:
        """Whether the license allows PyTorch models (platinum, enterprise or trial)."""
        return self.node.license.get("type") in _LICENSED

    def require_license(self) -> None:
        """403 `security_exception` as Elasticsearch's `newComplianceException("ml")`."""
        if not self.licensed:
            raise SecurityError(f"current license is non-compliant for [{ML_FEATURE}]",
                                **{"license.expired.feature": ML_FEATURE})

    # models ---------------------------------------------------------------------------------

    def put_model(self, model_id: str, body: Any) -> dict[str, Any]:
        """Create a model configuration; the stored config is the response."""
        self.require_license()
        config = parse_model_config(model_id, body)
        if model_id in self.deployments:
            raise BadRequest(f"Cannot create model [{model_id}] the id is the same as an "
                             "current model deployment")
        self.store.create(config)
        return config

    def put_vocabulary(self, model_id: str, body: Any) -> None:
        """Store the vocabulary (`vocabulary`, optional `merges` and `scores`)."""
        self.require_license()
        self.store.config(model_id)
        _check_body(body, "put_trained_model_vocabulary", {"vocabulary", "merges", "scores"})
        vocabulary = body.get("vocabulary")
        if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
            raise ActionRequestValidation("Validation Failed: 1: [vocabulary] must be a list "
                                          "of strings;")
        if not vocabulary:
            raise ActionRequestValidation("Validation Failed: 1: [vocabulary] must not be "
                                          "empty;")
        self.store.put_vocabulary(model_id, {k: v for k, v in body.items() if v is not None})

    def put_part(self, model_id: str, part: str, body: Any) -> None:
        """Store one base64 definition part, validated as `PutTrainedModelDefinitionPart`."""
        self.require_license()
        try:
            number = int(part)
        except ValueError as err:
            raise BadRequest(f"Failed to parse int parameter [part] with value [{part}]"
                             ) from err
        _check_body(body, "put_trained_model_part_action",
                    {"definition", "total_definition_length", "total_parts"})
        total_parts = _int(body.get("total_parts", 0), "total_parts")
        total_length = _int(body.get("total_definition_length", 0), "total_definition_length")
        errors = []
        if number < 0:
            errors.append("[part] must be greater or equal to 0")
        if total_parts <= 0:
            errors.append("[total_parts] must be greater than 0")
        if total_parts > _MAX_PARTS:
            errors.append(f"[total_parts] must be less than or equal to {_MAX_PARTS}")
        if total_length <= 0:
            errors.append("[total_definition_length] must be greater than 0")
        if number >= total_parts:
            errors.append("[part] must be less than total_parts")
        definition = body.get("definition")
        if not isinstance(definition, str):
            errors.append("[definition] must not be null")
        if errors:
            raise ActionRequestValidation("Validation Failed: " + "".join(
                f"{i}: {e};" for i, e in enumerate(errors, 1)))
        try:
            data = base64.b64decode(definition, validate=True)
        except (binascii.Error, ValueError) as err:
            raise EngineError("[put_trained_model_part_action] failed to parse field "
                              "[definition]: not valid base64", status=400,
                              error_type="x_content_parse_exception") from err
        self.store.put_part(model_id, number, total_parts, total_length, data)
        if not self.store.config(model_id).get("model_size_bytes"):
            self.store.update(model_id, model_size_bytes=total_length)

    def get_models(self, expression: str | None, params: dict[str, str]) -> dict[str, Any]:
        """`GET _ml/trained_models[/<ids>]`."""
        includes = {i.strip() for i in params.get("include", "").split(",") if i.strip()}
        if "definition" in includes or params.get("include_model_definition") == "true":
            raise BadRequest("Getting the definition of a pytorch model is not supported; its "
                             "definition is stored in parts")
        ids = self._match(expression, params.get("allow_no_match", "true") != "false")
        tags = [t for t in params.get("tags", "").split(",") if t]
        configs = [self.store.config(i) for i in ids]
        configs = [c for c in configs if all(t in c.get("tags", []) for t in tags)]
        start, size = int(params.get("from", 0)), int(params.get("size", 100))
        out = []
        for config in configs[start:start + size]:
            if "definition_status" in includes:
                config["fully_defined"] = \
                    self.store.definition_status(config["model_id"])["fully_defined"]
            if params.get("exclude_generated") == "true":
                for key in _GENERATED:
                    config.pop(key, None)
            out.append(config)
        return {"count": len(configs), "trained_model_configs": out}

    def stats(self, expression: str | None, params: dict[str, str]) -> dict[str, Any]:
        """`GET _ml/trained_models[/<ids>]/_stats`: one entry per deployment (or model)."""
        ids = self._match(expression, params.get("allow_no_match", "true") != "false")
        references = self.pipeline_references()
        entries = []
        for model_id in ids:
            size = self.store.config(model_id).get("model_size_bytes", 0)
            base: dict[str, Any] = {
                "model_id": model_id,
                "model_size_stats": {"model_size_bytes": size,
                                     "required_native_memory_bytes":
                                         _MEMORY_OVERHEAD + 2 * size},
                "pipeline_count": references.get(model_id, 0)}
            counts = self.ingest_counts.get(model_id)
            if counts:
                base["ingest"] = {"total": {**counts, "current": 0}, "pipelines": {}}
            deployments = sorted((d for d in self.deployments.values()
                                  if d.model_id == model_id), key=lambda d: d.deployment_id)
            entries += [{**base, "deployment_stats": d.stats(self._node())}
                        for d in deployments] or [base]
        start, size = int(params.get("from", 0)), int(params.get("size", 100))
        return {"count": len(ids), "trained_model_stats": entries[start:start + size]}

    def delete(self, model_id: str, force: bool) -> None:
        """Delete a model; refused while deployed or referenced by a pipeline unless forced."""
        self.require_license()
        self.store.config(model_id)
        deployed = [d for d in self.deployments.values() if d.model_id == model_id]
        if not force:
            if self.pipeline_references().get(model_id):
                raise conflict(f"Cannot delete model [{model_id}] as it is still referenced "
                               "by ingest processors; use force to delete the model")
            if deployed:
                raise conflict(f"Cannot delete model [{model_id}] as it is currently deployed; "
                               "use force to delete the model")
        for deployment in deployed:
            self._forget(deployment.deployment_id)
        self.store.delete(model_id)
        self.ingest_counts.pop(model_id, None)

    # deployments ----------------------------------------------------------------------------

    def start(self, model_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Start a deployment: load and check the model now, answer with its assignment."""
        self.require_license()
        config = self.store.config(model_id)
        deployment_id = str(params.get("deployment_id") or model_id)
        record = _deployment_record(model_id, deployment_id, params)
        with self._lock:
            if deployment_id in self.deployments:
                raise conflict("Could not start model deployment because an existing "
                               f"deployment with the same id [{deployment_id}] exist")
            if deployment_id != model_id and self.store.exists(deployment_id):
                raise BadRequest(f"Deployment id [{deployment_id}] is the same as an another "
                                 "model which is not the model being deployed. Deployment id "
                                 "can be the same as the model being deployed but cannot "
                                 "match a different model")
            deployment = Deployment(record, self._load)
            deployment.model  # noqa: B018 - load now, so a bad definition fails the start
            self.deployments[deployment_id] = deployment
            self.store.save_deployment(deployment_id, record)
        return {"assignment": deployment.assignment(self.node.node_id,
                                                    config.get("model_size_bytes", 0))}

    def stop(self, deployment_id: str, allow_no_match: bool, force: bool) -> None:
        """Stop deployments matching `deployment_id` (ids, wildcards, `_all`)."""
        self.require_license()
        matched = [d for d in sorted(self.deployments) if _matches(deployment_id, d)]
        if not matched:
            if allow_no_match:
                return
            raise ResourceNotFound(f"No known model deployment with id [{deployment_id}]")
        references = self.pipeline_references()
        for name in matched:
            if not force and references.get(self.deployments[name].model_id) and \
                    not _is_pattern(deployment_id):
                raise conflict(f"Cannot stop deployment [{name}] as it is referenced by ingest "
                               "processors; use force to stop the deployment")
        for name in matched:
            self._forget(name)

    def _forget(self, deployment_id: str) -> None:
        with self._lock:
            stopped = self.deployments.pop(deployment_id, None)
            self.store.save_deployment(deployment_id, None)
            if stopped is not None and not any(d.model_id == stopped.model_id
                                               for d in self.deployments.values()):
                self._models.pop(stopped.model_id, None)

    def _load(self, model_id: str) -> LoadedModel:
        """The loaded model, shared by the deployments of one model."""
        with self._lock:
            if model_id not in self._models:
                self._models[model_id] = self._read(model_id)
            return self._models[model_id]

    def _read(self, model_id: str) -> LoadedModel:
        config = self.store.config(model_id)
        definition = self.store.definition(model_id)
        vocabulary = self.store.vocabulary(model_id)
        if vocabulary is None:
            raise ResourceNotFound(f"[{model_id}] Could not find vocabulary document "
                                   f"[{model_id}_vocabulary] for model ")
        return LoadedModel(model_id, definition, vocabulary["vocabulary"],
                           tokenization_of(config))

    # inference ------------------------------------------------------------------------------

    def deployment_for(self, model_id: str) -> Deployment:
        """The deployment serving `model_id` (a deployment id or a deployed model's id)."""
        deployment = self.deployments.get(model_id)
        if deployment is None:
            deployment = next((d for _, d in sorted(self.deployments.items())
                               if d.model_id == model_id), None)
        if deployment is None:
            if not self.store.exists(model_id):
                raise model_not_found(model_id)
            raise not_deployed(model_id)
        self.require_license()
        return deployment

    def infer(self, model_id: str, body: Any, deployment_route: bool = False
              ) -> dict[str, Any]:
        """`POST _ml/trained_models/<id>/_infer` (and the deprecated `deployment/_infer`)."""
        if not isinstance(body, dict):
            raise BadRequest("request body is required",
                             error_type="action_request_validation_exception")
        unknown = sorted(set(body) - {"docs", "inference_config"})
        if unknown:
            raise EngineError(f"[infer_trained_model_request] unknown field [{unknown[0]}]",
                              status=400, error_type="x_content_parse_exception")
        docs = body.get("docs")
        if not isinstance(docs, list) or not docs or \
                not all(isinstance(d, dict) for d in docs):
            raise ActionRequestValidation("Validation Failed: 1: at least one document is "
                                          "required;")
        if deployment_route and model_id not in self.deployments and \
                not any(d.model_id == model_id for d in self.deployments.values()):
            if not self.store.exists(model_id):
                raise model_not_found(model_id)
            raise conflict(f"Trained model [{model_id}] is not deployed")
        deployment = self.deployment_for(model_id)
        config = self.store.config(deployment.model_id)
        results_field, tokenization = inference_update(config, body.get("inference_config"))
        field = config["input"]["field_names"][0]
        texts = [extract_input(field, doc) for doc in docs]
        results = []
        for text in texts:
            vector, truncated = deployment.embed(text, tokenization)
            result: dict[str, Any] = {results_field: vector}
            if truncated:
                result["is_truncated"] = True
            results.append(result)
        return {"inference_results": results}

    def embed_for_ingest(self, model_id: str, text: str, tokenization: Tokenization | None
                         ) -> tuple[list[float], bool]:
        """Embed a document field for the ingest processor (with the model's ingest prefix)."""
        deployment = self.deployment_for(model_id)
        config = self.store.config(deployment.model_id)
        prefix = config.get("prefix_strings", {}).get("ingest", "")
        counts = self.ingest_counts.setdefault(deployment.model_id, {
            "count": 0, "time_in_millis": 0, "failed": 0})
        started = time.perf_counter()
        try:
            return deployment.embed(prefix + text, tokenization)
        except EngineError:
            counts["failed"] += 1
            raise
        finally:
            counts["count"] += 1
            counts["time_in_millis"] += int((time.perf_counter() - started) * 1000)

    def embed_query(self, model_id: str, text: str) -> list[float]:
        """The query vector of kNN's `query_vector_builder.text_embedding` (search prefix)."""
        deployment = self.deployments.get(model_id) or next(
            (d for _, d in sorted(self.deployments.items()) if d.model_id == model_id), None)
        if deployment is None:
            raise EngineError(f"[{model_id}] is not an inference service model or a deployed "
                              "ml model", status=404, error_type="status_exception")
        self.require_license()
        config = self.store.config(deployment.model_id)
        if "text_embedding" not in config["inference_config"]:
            raise BadRequest(f"expected a result of type [text_embedding_result] received "
                             f"[{next(iter(config['inference_config']))}]. Is [{model_id}] a "
                             "text embedding model?")
        prefix = config.get("prefix_strings", {}).get("search", "")
        return deployment.embed(prefix + text)[0]

    def info(self) -> dict[str, Any]:
        """`GET _ml/info`: the engine has no anomaly detection; limits are this machine's."""
        import os

        from ..node import VERSION

        processors = os.cpu_count() or 1
        return {"defaults": {"anomaly_detectors": {}, "datafeeds": {}},
                "upgrade_mode": False,
                "native_code": {"version": VERSION, "build_hash": "es-rag-embedded"},
                "limits": {"max_single_ml_node_processors": processors,
                           "total_ml_processors": processors}}

    # helpers --------------------------------------------------------------------------------

    def _match(self, expression: str | None, allow_no_match: bool) -> list[str]:
        ids = self.store.ids()
        if expression in (None, "", "_all", "*"):
            return ids
        found: list[str] = []
        for part in (p.strip() for p in expression.split(",")):
            hits = [i for i in ids if _matches(part, i)]
            if not hits and (not _is_pattern(part) or not allow_no_match):
                raise model_not_found(part)
            found += [h for h in hits if h not in found]
        return sorted(found)

    def _node(self) -> dict[str, Any]:
        return {self.node.node_id: {"name": "es-rag-engine", "ephemeral_id": self.node.node_id,
                                    "transport_address": "127.0.0.1:9300",
                                    "attributes": {}, "roles": ["ml"]}}


def _is_pattern(expression: str) -> bool:
    return expression in ("_all", "*") or "*" in expression or "," in expression


def _matches(expression: str, name: str) -> bool:
    return any(part.strip() in ("_all", "*") or fnmatch.fnmatchcase(name, part.strip())
               for part in expression.split(","))


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EngineError(f"[put_trained_model_part_action] failed to parse field [{name}]",
                          status=400, error_type="x_content_parse_exception")
    return value


def _deployment_record(model_id: str, deployment_id: str, params: dict[str, Any]
                       ) -> dict[str, Any]:
    """Validated start parameters (URL parameters or body), with Elasticsearch's defaults."""
    def number(name: str, default: int) -> int:
        value = params.get(name, default)
        try:
            return int(value)
        except (TypeError, ValueError) as err:
            raise BadRequest(f"Failed to parse int parameter [{name}] with value [{value}]"
                             ) from err

    allocations = number("number_of_allocations", 1)
    threads = number("threads_per_allocation", 1)
    queue = number("queue_capacity", 1024)
    priority = str(params.get("priority", "normal"))
    errors = []
    if allocations < 1:
        errors.append("[number_of_allocations] must be a positive integer")
    if threads < 1 or threads > 32 or threads & (threads - 1):
        errors.append("[threads_per_allocation] must be a power of 2 less than or equal to 32")
    if queue < 1:
        errors.append("[queue_capacity] must be a positive integer")
    if priority not in ("normal", "low"):
        raise BadRequest(f"No enum constant Priority.{priority.upper()}")
    if priority == "low" and allocations > 1:
        errors.append("[number_of_allocations] must be 1 when [priority] is low")
    if priority == "low" and threads > 1:
        errors.append("[threads_per_allocation] must be 1 when [priority] is low")
    wait_for = str(params.get("wait_for", "started"))
    if wait_for not in ("starting", "started", "fully_allocated"):
        errors.append(f"[wait_for] must be one of [starting, started, fully_allocated]; "
                      f"received [{wait_for}]")
    if errors:
        raise ActionRequestValidation("Validation Failed: " + "".join(
            f"{i}: {e};" for i, e in enumerate(errors, 1)))
    return {"model_id": model_id, "deployment_id": deployment_id,
            "number_of_allocations": allocations, "threads_per_allocation": threads,
            "queue_capacity": queue, "priority": priority,
            "cache_size": str(params.get("cache_size", "0")),
            "start_time": int(time.time() * 1000)}


def inference_update(config: dict[str, Any], update: Any) -> tuple[str, Tokenization | None]:
    """The results field and tokenization an `inference_config` update asks for (None: the
    model's own tokenization)."""
    results_field = results_field_of(config)
    if update is None:
        return results_field, None
    [task] = config["inference_config"]
    if not isinstance(update, dict) or len(update) != 1:
        raise BadRequest("inference_config must be an object with one inference type mapped "
                         "to an object.")
    [(kind, options)] = update.items()
    if kind != task:
        raise BadRequest(f"Inference config update [{kind}] cannot be applied to model "
                         f"[{config['model_id']}] of type [{task}]")
    options = options or {}
    unknown = sorted(set(options) - {"results_field", "tokenization"})
    if unknown:
        raise EngineError(f"[{kind}] unknown field [{unknown[0]}]", status=400,
                          error_type="x_content_parse_exception")
    tokenization = None
    if options.get("tokenization") is not None:
        tokenization = parse_tokenization(options["tokenization"], tokenization_of(config))
    return str(options.get("results_field") or results_field), tokenization


def _check_body(body: Any, parser: str, fields: set[str]) -> None:
    """Refuse a missing body or an unknown field of it, as Elasticsearch's parser `parser` does."""
    if not isinstance(body, dict):
        raise BadRequest("request body is required",
                         error_type="action_request_validation_exception")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise EngineError(f"[{parser}] unknown field [{unknown[0]}]", status=400,
                          error_type="x_content_parse_exception")
