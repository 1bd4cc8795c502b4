"""Both official client majors work against the engine unchanged: the newest 9.x in this
virtualenv, 8.x in its own (`.venv-es8`, built by `make test`, since the two majors need
different elastic-transport versions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, NotFoundError, helpers
from elasticsearch.dsl import DenseVector, Document, Keyword, Text, connections

from es_rag.engine.server import EngineServer

ES8_PYTHON = Path(__file__).resolve().parents[2] / ".venv-es8" / "bin" / "python"

# The same flow as test_smoke_with_the_9x_client, written for the `elasticsearch8` package.
ES8_FLOW = """
import sys
import elasticsearch8
from elasticsearch8 import Elasticsearch, NotFoundError, helpers

client = Elasticsearch(sys.argv[1], request_timeout=30)
index = "smoke-client-8"
assert client.info()["version"]["number"].startswith("9."), client.info()
client.indices.create(index=index, mappings={"properties": {
    "text": {"type": "text"}, "vec": {"type": "dense_vector", "dims": 2, "similarity": "cosine"}}})
ok, _ = helpers.bulk(client, [
    {"_index": index, "_id": "1", "text": "red apples", "vec": [1.0, 0.0]},
    {"_index": index, "_id": "2", "text": "green pears", "vec": [0.0, 1.0]}], refresh=True)
assert ok == 2
hits = client.search(index=index, query={"match": {"text": "apples"}})["hits"]["hits"]
assert [h["_id"] for h in hits] == ["1"], hits
knn = client.search(index=index, knn={"field": "vec", "query_vector": [0.1, 1.0], "k": 1,
                                      "num_candidates": 2})
assert knn["hits"]["hits"][0]["_id"] == "2", knn
try:
    client.get(index=index, id="missing")
    raise AssertionError("a missing document was found")
except NotFoundError:
    pass
client.indices.delete(index=index)
print("client", elasticsearch8.__versionstr__, "ok")
"""


def _smoke(client: Any, index: str) -> None:
    assert client.info()["version"]["number"].startswith("9.")
    client.indices.create(index=index, mappings={"properties": {
        "text": {"type": "text"},
        "vec": {"type": "dense_vector", "dims": 2, "similarity": "cosine"}}})
    ok, _ = helpers.bulk(client, [
        {"_index": index, "_id": "1", "text": "red apples", "vec": [1.0, 0.0]},
        {"_index": index, "_id": "2", "text": "green pears", "vec": [0.0, 1.0]}],
        refresh=True)
    assert ok == 2
    assert client.indices.exists(index=index)
    hits = client.search(index=index, query={"match": {"text": "apples"}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]
    knn = client.search(index=index, knn={"field": "vec", "query_vector": [0.1, 1.0],
                                          "k": 1, "num_candidates": 2})
    assert knn["hits"]["hits"][0]["_id"] == "2"
    with pytest.raises(NotFoundError):
        client.get(index=index, id="missing")


def test_smoke_with_the_9x_client(engine: EngineServer) -> None:
    client = Elasticsearch(engine.url, request_timeout=30)
    try:
        _smoke(client, "smoke-client-9")
    finally:
        client.options(ignore_status=404).indices.delete(index="smoke-client-9")
        client.close()


def test_smoke_with_the_8x_client_in_its_own_virtualenv(engine: EngineServer) -> None:
    if not ES8_PYTHON.exists():
        pytest.skip(f"{ES8_PYTHON} is missing: `make test` builds the 8.x client's virtualenv")
    done = subprocess.run([str(ES8_PYTHON), "-c", ES8_FLOW, engine.url], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("client 8."), done.stdout


class Book(Document):
    """An elasticsearch.dsl document, as a user of the client writes one."""

    title = Text()
    genre = Keyword()
    vec = DenseVector(dims=2)

    class Index:
        name = "dsl-books"


def test_dsl_documents_init_save_and_search(engine: EngineServer) -> None:
    """Document.search() sends `_source: {exclude_vectors: false}` since client 9.2."""
    client = Elasticsearch(engine.url, request_timeout=30)
    connections.add_connection("dsl-test", client)
    try:
        Book.init(using="dsl-test")
        Book(title="Dune", genre="sf", vec=[0.1, 0.9], meta={"id": "1"}).save(
            using="dsl-test", refresh=True)
        Book(title="Emma", genre="novel", vec=[0.9, 0.1], meta={"id": "2"}).save(
            using="dsl-test", refresh=True)
        found = Book.search(using="dsl-test").query("match", title="dune").execute()
        assert [(b.meta.id, b.title, list(b.vec)) for b in found] == [("1", "Dune", [0.1, 0.9])]
        nearest = Book.search(using="dsl-test").knn(
            field="vec", k=1, num_candidates=2, query_vector=[1.0, 0.0]).execute()
        assert [b.title for b in nearest] == ["Emma"]
        search = Book.search(using="dsl-test").extra(size=0)
        search.aggs.bucket("genres", "terms", field="genre")
        buckets = search.execute().aggregations.genres.buckets
        assert sorted((b.key, b.doc_count) for b in buckets) == [("novel", 1), ("sf", 1)]
        lean = client.search(index="dsl-books", source={"exclude_vectors": True},
                             query={"ids": {"values": ["1"]}})
        assert lean["hits"]["hits"][0]["_source"] == {"title": "Dune", "genre": "sf"}
    finally:
        client.options(ignore_status=404).indices.delete(index="dsl-books")
        connections.remove_connection("dsl-test")
        client.close()


def test_the_9x_client_under_test_is_the_newest_we_support() -> None:
    import elasticsearch

    assert elasticsearch.__version__ >= (9, 5, 1), (
        f"tests run elasticsearch {elasticsearch.__versionstr__} from {sys.prefix}: "
        "`make test` installs the newest 9.x client users get")
