"""Bad uploads, deployments and inferences get Elasticsearch's errors, naming the problem."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch

from es_rag.engine.server import EngineServer

CONFIG: dict[str, Any] = {"model_type": "pytorch",
                          "inference_config": {"text_embedding": {"tokenization": {"bert": {
                              "do_lower_case": True}}}}}
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "words"]


def error(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    """(status, error type, reason) of a call that must fail."""
    with pytest.raises(ApiError) as err:
        call(**kwargs)
    body = err.value.body["error"]
    return err.value.meta.status, body["type"], body["reason"]


def part(es: Elasticsearch, model_id: str, number: int, total: int, data: bytes,
         length: int | None = None) -> Any:
    return es.ml.put_trained_model_definition_part(
        model_id=model_id, part=number, total_parts=total,
        total_definition_length=length if length is not None else len(data) * total,
        definition=base64.b64encode(data).decode())


def test_unknown_models_are_404(ml: Elasticsearch) -> None:
    missing = (404, "resource_not_found_exception", "Could not find trained model [nope]")
    assert error(ml.ml.get_trained_models, model_id="nope") == missing
    assert error(ml.ml.infer_trained_model, model_id="nope",
                 docs=[{"text_field": "x"}]) == missing
    assert error(ml.ml.start_trained_model_deployment, model_id="nope") == missing
    assert error(ml.ml.put_trained_model_vocabulary, model_id="nope",
                 vocabulary=VOCAB) == missing
    assert error(part, es=ml, model_id="nope", number=0, total=1, data=b"x") == missing
    assert error(ml.ml.delete_trained_model, model_id="nope") == missing
    assert ml.ml.get_trained_models(model_id="nope*")["count"] == 0


def test_a_model_id_is_created_once_and_must_be_valid(ml: Elasticsearch) -> None:
    ml.ml.put_trained_model(model_id="twice", **CONFIG)
    assert error(ml.ml.put_trained_model, model_id="twice", **CONFIG) == (
        400, "resource_already_exists_exception",
        "Trained machine learning model [twice] already exists")
    status, _, reason = error(ml.ml.put_trained_model, model_id="Bad_ID", **CONFIG)
    assert status == 400 and "can contain lowercase alphanumeric" in reason


def test_unsupported_configurations_are_refused_by_name(ml: Elasticsearch) -> None:
    ner = {"model_type": "pytorch", "inference_config": {"ner": {}}}
    assert error(ml.ml.put_trained_model, model_id="ner", **ner)[2] == (
        "inference_config [ner] is not supported by the embedded engine; supported: "
        "[text_embedding]")
    roberta = {"model_type": "pytorch", "inference_config": {"text_embedding": {
        "tokenization": {"roberta": {}}}}}
    assert "tokenization [roberta] is not supported" in \
        error(ml.ml.put_trained_model, model_id="rob", **roberta)[2]


def test_part_numbers_are_validated(ml: Elasticsearch) -> None:
    ml.ml.put_trained_model(model_id="parts", **CONFIG)
    assert error(part, es=ml, model_id="parts", number=2, total=2, data=b"ab") == (
        400, "action_request_validation_exception",
        "Validation Failed: 1: [part] must be less than total_parts;")
    assert error(part, es=ml, model_id="parts", number=-1, total=0, data=b"ab",
                 length=2)[2] == (
        "Validation Failed: 1: [part] must be greater or equal to 0;2: [total_parts] must be "
        "greater than 0;")
    part(ml, "parts", 0, 2, b"ab")
    assert error(part, es=ml, model_id="parts", number=0, total=2, data=b"ab") == (
        400, "resource_already_exists_exception",
        "Trained machine learning model chunked doc [parts][0] already exists")
    assert error(part, es=ml, model_id="parts", number=1, total=3, data=b"ab")[2] == (
        "[total_parts] [3] does not match the [total_parts] [2] of the parts already uploaded "
        "for model [parts]")


def test_deploying_needs_every_part_and_the_vocabulary(ml: Elasticsearch) -> None:
    ml.ml.put_trained_model(model_id="partial", **CONFIG)
    assert error(ml.ml.start_trained_model_deployment, model_id="partial") == (
        404, "resource_not_found_exception", "Could not find trained model definition [partial]")
    part(ml, "partial", 0, 2, b"ab")
    assert not ml.ml.get_trained_models(model_id="partial", include="definition_status"
                                        )["trained_model_configs"][0]["fully_defined"]
    assert error(ml.ml.start_trained_model_deployment, model_id="partial") == (
        400, "status_exception",
        "Model definition truncated. Unable to deserialize trained model definition [partial]")
    part(ml, "partial", 1, 2, b"ab")
    assert error(ml.ml.start_trained_model_deployment, model_id="partial")[2] == (
        "[partial] Could not find vocabulary document [partial_vocabulary] for model ")
    ml.ml.put_trained_model_vocabulary(model_id="partial", vocabulary=VOCAB)
    status, kind, reason = error(ml.ml.start_trained_model_deployment, model_id="partial")
    assert (status, kind) == (400, "status_exception")
    assert reason.startswith("Could not load the definition of model [partial] as a "
                             "TorchScript module")
    assert ml.ml.get_trained_models_stats(model_id="partial"
                                          )["trained_model_stats"][0].get("deployment_stats") \
        is None


def test_inference_before_deployment_is_a_conflict(ml: Elasticsearch) -> None:
    ml.ml.put_trained_model(model_id="idle", **CONFIG)
    assert error(ml.ml.infer_trained_model, model_id="idle", docs=[{"text_field": "x"}]) == (
        409, "status_exception", "Model [idle] must be deployed to use. Please deploy with the "
                                 "start trained model deployment API.")


def test_deployments_refuse_duplicates_and_deletes(ml: Elasticsearch, minilm: str) -> None:
    assert error(ml.ml.start_trained_model_deployment, model_id=minilm) == (
        409, "status_exception", "Could not start model deployment because an existing "
                                 "deployment with the same id [minilm] exist")
    assert error(ml.ml.delete_trained_model, model_id=minilm) == (
        409, "status_exception", "Cannot delete model [minilm] as it is currently deployed; use "
                                 "force to delete the model")
    assert error(ml.ml.start_trained_model_deployment, model_id=minilm,
                 number_of_allocations=2, priority="low")[2] == (
        "Validation Failed: 1: [number_of_allocations] must be 1 when [priority] is low;")
    assert ml.ml.stop_trained_model_deployment(model_id="not-deployed")["stopped"] is True
    assert error(ml.ml.stop_trained_model_deployment, model_id="not-deployed",
                 allow_no_match=False) == (
        404, "resource_not_found_exception", "No known model deployment with id [not-deployed]")


def test_a_second_deployment_of_a_model_has_its_own_id(ml: Elasticsearch, minilm: str) -> None:
    started = ml.ml.start_trained_model_deployment(model_id=minilm, deployment_id="minilm-2",
                                                   wait_for="started")
    assert started["assignment"]["task_parameters"]["deployment_id"] == "minilm-2"
    try:
        vector = ml.ml.infer_trained_model(model_id="minilm-2", docs=[{"text_field": "hi"}]
                                           )["inference_results"][0]["predicted_value"]
        assert len(vector) == 384
        stats = ml.ml.get_trained_models_stats(model_id=minilm)["trained_model_stats"]
        assert [s["deployment_stats"]["deployment_id"] for s in stats] == [minilm, "minilm-2"]
    finally:
        ml.ml.stop_trained_model_deployment(model_id="minilm-2")


def test_a_basic_license_refuses_pytorch_models(tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url)
        es.license.post_start_basic(acknowledge=True)
        assert es.xpack.info()["features"]["ml"] == {"available": False, "enabled": True}
        status, kind, reason = error(es.ml.put_trained_model, model_id="m", **CONFIG)
        assert (status, kind, reason) == (403, "security_exception",
                                          "current license is non-compliant for [ml]")
    finally:
        server.stop()
