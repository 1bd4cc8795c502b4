"""Uploaded models and deployments survive a restart; `_ml` actions need ML privileges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import AuthorizationException, Elasticsearch

from es_rag.embedding.cluster_upload import start_deployment
from es_rag.engine.server import EngineServer
from tests.engine_ml import eland_upload
from tests.engine_ml.eland_upload import TracedModel

PASSWORD = "elastic-password"
CONFIG = {"model_type": "pytorch", "inference_config": {"text_embedding": {}}}


def test_a_deployed_model_survives_a_restart(tmp_path: Path, traced: TracedModel) -> None:
    server = EngineServer(tmp_path, port=0, security=False).start()
    es = Elasticsearch(server.url, request_timeout=120)
    eland_upload.upload(es, "kept", traced)
    start_deployment(es, "kept")
    before = es.ml.infer_trained_model(model_id="kept", docs=[{"text_field": "durable"}])
    server.stop()

    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url, request_timeout=120)
        config = es.ml.get_trained_models(model_id="kept", include="definition_status"
                                          )["trained_model_configs"][0]
        assert config["fully_defined"] is True
        stats = es.ml.get_trained_models_stats(model_id="kept")["trained_model_stats"][0]
        assert stats["deployment_stats"]["state"] == "started"
        after = es.ml.infer_trained_model(model_id="kept", docs=[{"text_field": "durable"}])
        np.testing.assert_array_equal(after["inference_results"][0]["predicted_value"],
                                      before["inference_results"][0]["predicted_value"])
        es.ml.stop_trained_model_deployment(model_id="kept")
        es.ml.delete_trained_model(model_id="kept")
        assert not (tmp_path / "ml" / "models" / "kept").exists()
    finally:
        server.stop()


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[EngineServer]:
    """An engine with security on, a `monitor_ml` user and a `manage_ml` user."""
    server = EngineServer(tmp_path, port=0, security=True, elastic_password=PASSWORD).start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", PASSWORD))
    for name, privilege in (("ml-reader", "monitor_ml"), ("ml-admin", "manage_ml")):
        admin.security.put_role(name=name, cluster=[privilege])
        admin.security.put_user(username=name, password="password1", roles=[name])
    yield server
    server.stop()


def test_ml_actions_need_ml_privileges(secured: EngineServer) -> None:
    reader = Elasticsearch(secured.url, basic_auth=("ml-reader", "password1"))
    admin = Elasticsearch(secured.url, basic_auth=("ml-admin", "password1"))
    admin.ml.put_trained_model(model_id="guarded", **CONFIG)
    assert reader.ml.get_trained_models(model_id="guarded")["count"] == 1
    assert reader.ml.get_trained_models_stats()["count"] == 1
    with pytest.raises(AuthorizationException) as err:
        reader.ml.put_trained_model(model_id="other", **CONFIG)
    assert "cluster:admin/xpack/ml/inference/put" in err.value.body["error"]["reason"]
    with pytest.raises(AuthorizationException):
        reader.ml.start_trained_model_deployment(model_id="guarded")
    admin.ml.delete_trained_model(model_id="guarded")
