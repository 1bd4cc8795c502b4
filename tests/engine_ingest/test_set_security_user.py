"""`set_security_user` records who indexed a document, as Elasticsearch's processor does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from es_rag.engine.server import EngineServer

PASSWORD = "bootstrap-secret"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Elasticsearch]:
    server = EngineServer(tmp_path_factory.mktemp("ssu"), port=0,
                          elastic_password=PASSWORD).start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", PASSWORD))
    admin.security.put_role(name="notes-writer", cluster=["manage_own_api_key"], indices=[
        {"names": ["notes"], "privileges": ["write", "read", "create_index"]}])
    admin.security.put_user(username="uma", password="uma-password", roles=["notes-writer"],
                            full_name="Uma Writer", email="uma@example.com",
                            metadata={"groups": ["eng"]})
    admin.ingest.put_pipeline(id="who", processors=[{"set_security_user": {"field": "by"}}])
    admin.ingest.put_pipeline(id="who-name", processors=[
        {"set_security_user": {"field": "by", "properties": ["username", "realm"]}}])
    yield admin
    admin.close()
    server.stop()


def _indexed(admin: Elasticsearch, client: Elasticsearch, pipeline: str,
             doc: dict | None = None) -> dict:
    done = client.index(index="notes", document=doc or {"text": "x"}, pipeline=pipeline)
    return admin.get(index="notes", id=done["_id"])["_source"]["by"]


def test_the_user_who_indexed_is_written_into_the_document(engine: Elasticsearch) -> None:
    uma = Elasticsearch(engine.transport.node_pool.get().base_url,
                        basic_auth=("uma", "uma-password"))
    assert _indexed(engine, uma, "who") == {
        "username": "uma", "roles": ["notes-writer"], "full_name": "Uma Writer",
        "email": "uma@example.com", "metadata": {"groups": ["eng"]},
        "realm": {"name": "default_native", "type": "native"},
        "authentication_type": "REALM"}
    assert _indexed(engine, uma, "who-name", {"by": {"note": "kept"}}) == {
        "note": "kept", "username": "uma", "realm": {"name": "default_native", "type": "native"}}


def test_an_api_key_is_named_with_its_owner_and_its_owners_realm(engine: Elasticsearch) -> None:
    url = engine.transport.node_pool.get().base_url
    uma = Elasticsearch(url, basic_auth=("uma", "uma-password"))
    key = uma.security.create_api_key(name="uma-app", metadata={"app": "notes"})
    by = _indexed(engine, Elasticsearch(url, api_key=key["encoded"]), "who")
    assert by == {"username": "uma", "full_name": "Uma Writer", "email": "uma@example.com",
                  "metadata": {"groups": ["eng"]},
                  "api_key": {"name": "uma-app", "id": key["id"], "metadata": {"app": "notes"}},
                  "realm": {"name": "default_native", "type": "native"},
                  "authentication_type": "API_KEY"}


def test_an_unknown_property_is_refused_when_the_pipeline_is_stored(
        engine: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as refused:
        engine.ingest.put_pipeline(id="bad", processors=[
            {"set_security_user": {"field": "by", "properties": ["password"]}}])
    assert "Property value [password] is in valid" in str(refused.value)
