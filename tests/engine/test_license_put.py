"""`PUT _license`: a license is checked as Elasticsearch checks it and installed (signatures are
not verified: the engine holds no Elastic public key)."""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import BadRequestError, Elasticsearch, ElasticsearchWarning

from es_rag.engine.server import EngineServer

DAY_MS = 86_400_000
SIGNATURE_V5 = base64.b64encode(b"\x00\x00\x00\x05" + b"signed-by-elastic").decode()


def _license(kind: str, **fields: object) -> dict:
    now = int(time.time() * 1000)
    body = {"uid": f"uid-{kind}", "type": kind, "issue_date_in_millis": now - DAY_MS,
            "expiry_date_in_millis": now + 365 * DAY_MS, "issued_to": "acme",
            "issuer": "elasticsearch", "signature": SIGNATURE_V5, "start_date_in_millis": -1}
    if kind == "enterprise":
        body.update(max_nodes=None, max_resource_units=20)
    else:
        body["max_nodes"] = 3
    return {**body, **fields}


@pytest.fixture
def es(tmp_path: Path) -> Iterator[Elasticsearch]:
    server = EngineServer(tmp_path, port=0, security=False).start()
    yield Elasticsearch(server.url)
    server.stop()


def test_an_enterprise_license_is_installed_and_reported(es: Elasticsearch) -> None:
    answer = es.license.post(license=_license("enterprise"), acknowledge=True)
    assert answer.body == {"acknowledged": True, "license_status": "valid"}
    got = es.license.get()["license"]
    assert list(got) == ["status", "uid", "type", "issue_date", "issue_date_in_millis",
                         "expiry_date", "expiry_date_in_millis", "max_nodes",
                         "max_resource_units", "issued_to", "issuer", "start_date_in_millis"]
    assert (got["status"], got["type"], got["max_nodes"], got["max_resource_units"]) == \
        ("active", "enterprise", None, 20)
    assert es.xpack.info()["license"]["mode"] == "enterprise"
    # a lower license needs acknowledging; the `licenses` list form takes the latest valid one
    older = _license("gold", uid="old", issue_date_in_millis=1)
    lower = es.license.post(licenses=[older, _license("gold")])
    assert lower["acknowledged"] is False and "acknowledge" in lower
    assert es.license.post(licenses=[older, _license("gold")], acknowledge=True)[
        "license_status"] == "valid"
    assert es.license.get()["license"]["uid"] == "uid-gold"
    es.license.post_start_basic(acknowledge=True)
    basic = es.license.get()["license"]  # the node's own basic license replaces it
    assert basic["type"] == "basic" and basic["issued_to"] != "acme" and "expiry_date" not in basic


def test_invalid_licenses_are_refused_as_elasticsearch_refuses_them(es: Elasticsearch) -> None:
    expired = _license("platinum", expiry_date_in_millis=int(time.time() * 1000) - DAY_MS)
    assert es.license.post(license=expired, acknowledge=True).body == \
        {"acknowledged": True, "license_status": "expired"}
    assert es.license.get()["license"]["type"] == "trial"  # not installed
    refusals = {
        "maxNodes may not be set for enterprise licenses (type=[enterprise])":
            _license("enterprise", max_nodes=5),
        "maxNodes has to be set": _license("gold", max_nodes=None),
        "Registering basic licenses is not allowed.": _license("basic"),
        "malformed signature for license [uid-gold]": _license("gold", signature="AAAAAA=="),
        "issuedTo can not be null": _license("gold", issued_to=None),
    }
    for reason, body in refusals.items():
        with pytest.raises(BadRequestError) as err:
            es.license.post(license=body, acknowledge=True)
        assert err.value.body["error"]["reason"] == reason


def test_accept_enterprise_is_deprecated_and_may_only_be_true(es: Elasticsearch) -> None:
    with pytest.warns(ElasticsearchWarning, match=r"\[CRITICAL\] Including \[accept_enterprise"):
        assert es.license.get(accept_enterprise=True)["license"]["type"] == "trial"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ElasticsearchWarning)
        for call in (es.license.get, es.xpack.info):
            with pytest.raises(BadRequestError) as err:
                call(accept_enterprise=False)
            assert err.value.body["error"]["reason"] == \
                "The [accept_enterprise] parameters may not be false"
