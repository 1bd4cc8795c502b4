"""The document store: `_source` kept byte for byte (vectors packed as float32), version-only
lookups, and the migration of a format-1 store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import orjson
import pytest

from es_rag.engine.storage.docstore import FORMAT, DocStore, StoredDoc, Tombstone
from es_rag.engine.storage.source_codec import PYTHON_REPR, SPACED, pack, render, unpack


def _vector(seed: int, dims: int = 64) -> np.ndarray:
    """A unit float32 vector with some components small enough for exponent notation."""
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=dims).astype(np.float32)
    vector[::9] *= 1e-4
    vector[5] = 3e-8
    return (vector / np.linalg.norm(vector)).astype(np.float32)


ENCODERS = {
    "elasticsearch client (json, compact)":
        lambda doc: json.dumps(doc, separators=(",", ":")).encode(),
    "json.dumps defaults": lambda doc: json.dumps(doc).encode(),
    "orjson": orjson.dumps,
}


@pytest.mark.parametrize("encoder", ENCODERS.values(), ids=ENCODERS.keys())
def test_vectors_are_packed_and_the_source_comes_back_byte_for_byte(encoder) -> None:
    vector = _vector(1)
    raw = encoder({"title": "a [title]", "emb": vector.tolist(), "n": 1})
    source, packed = pack(raw, {"emb": vector})
    assert packed is not None
    assert len(source) + len(packed) < len(raw) / 3
    assert unpack(source, packed) == raw


def test_renderers_write_what_json_and_orjson_write() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):  # float32 values of every magnitude, denormals and zeros included
        vector = (rng.choice([-1, 1], 64) * 10.0 ** rng.uniform(-40, 38, 64)).astype(np.float32)
        vector[:2] = [0.0, -0.0]
        values = vector.astype(np.float64).tolist()
        assert render(vector, PYTHON_REPR) == json.dumps(values, separators=(",", ":")).encode()
        assert render(vector, PYTHON_REPR | SPACED) == json.dumps(values).encode()
        assert render(vector, 0) == orjson.dumps(values)


def test_float32_shortest_text_is_packed() -> None:
    vector = np.array([0.1, -0.25, 3.0, 1e-7], dtype=np.float32)
    raw = b'{"v":[0.1,-0.25,3.0,1e-7]}'
    source, packed = pack(raw, {"v": vector})
    assert packed is not None and unpack(source, packed) == raw


@pytest.mark.parametrize("raw", [
    b'{"v":[0.123456789,0.2,0.3]}',          # a float64 value that float32 cannot hold
    b'{"v":[0.5,0.25,1.00]}',                # a number not written the shortest way
    b'{"v":[0.5, 0.25,1.0]}',                # mixed separators
    b'{"v":[0.5,0.25,1.0],"w":{"v":[1.0]}}',  # the field name twice
])
def test_anything_that_does_not_render_back_exactly_stays_text(raw: bytes) -> None:
    vector = np.asarray(orjson.loads(raw)["v"], dtype=np.float32)
    assert pack(raw, {"v": vector}) == (raw, None)


def test_two_vector_fields_and_nested_paths() -> None:
    a, b = _vector(2, 16), _vector(3, 8)
    raw = json.dumps({"a": a.tolist(), "x": "y", "obj": {"b": b.tolist()}}).encode()
    source, packed = pack(raw, {"a": a, "obj.b": b})
    assert packed is not None and b"[" not in source
    assert unpack(source, packed) == raw


def test_store_round_trip_and_version_lookups(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "docs.sqlite")
    vector = _vector(4)
    raw = json.dumps({"t": "x", "v": vector.tolist()}, separators=(",", ":")).encode()
    store.apply([StoredDoc("a", 0, 1, 1, raw, None, {"v": vector}),
                 StoredDoc("b", 1, 1, 1, b'{"t":"y"}', "r1")])
    store.apply([StoredDoc("a", 2, 2, 1, raw, None, {"v": vector}), Tombstone("b", 3, 2)])
    assert store.get("a").source == raw
    assert store.by_seq_nos([2])[2].source == raw
    assert store.by_seq_nos([0]) == {}
    assert {k: (v.seq_no, v.version) for k, v in store.versions(["a", "b", "c"]).items()} == \
        {"a": (2, 2)}
    assert store.tombstones(["b"])["b"].version == 2
    assert [d.id for d in store.since(-1)] == ["a"]
    store.close()
    reopened = DocStore(tmp_path / "docs.sqlite")
    assert reopened.max_seq_no == 3
    assert reopened.get("a").source == raw
    reopened.close()
    conn = sqlite3.connect(tmp_path / "docs.sqlite")
    stored, packed = conn.execute("SELECT source, vectors FROM docs WHERE id='a'").fetchone()
    conn.close()
    assert packed is not None and stored == b'{"t":"x","v":}'


def _format_1_store(path: Path, rows: list[tuple]) -> None:
    """A store as the previous engine wrote it (rows keyed by id, `_source` as sent)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript("""
        CREATE TABLE docs (
            id TEXT PRIMARY KEY, seq_no INTEGER NOT NULL UNIQUE, version INTEGER NOT NULL,
            primary_term INTEGER NOT NULL, routing TEXT, source BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE tombstones (
            id TEXT PRIMARY KEY, seq_no INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;""")
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.execute("INSERT INTO tombstones VALUES ('gone', 7, 3)")
    conn.execute("INSERT INTO meta VALUES ('max_seq_no', 7)")
    conn.close()


def test_a_format_1_store_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "docs.sqlite"
    _format_1_store(path, [("b", 5, 2, 1, None, b'{"t": "b"}'),
                           ("a", 6, 1, 1, "r", b'{"t":"a","v":[1.0,2.0]}')])
    store = DocStore(path)
    assert store.max_seq_no == 7
    assert store.get("a").source == b'{"t":"a","v":[1.0,2.0]}' and store.get("a").routing == "r"
    assert [(d.id, d.seq_no) for d in store.since(-1)] == [("b", 5), ("a", 6)]
    assert store.tombstones(["gone"])["gone"].seq_no == 7
    store.apply([StoredDoc("b", 8, 3, 1, b'{"t":"b2"}')])
    assert store.versions(["b"])["b"].seq_no == 8
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == FORMAT
    conn.close()


def test_a_store_from_a_newer_engine_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docs.sqlite"
    DocStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={FORMAT + 1}")
    conn.close()
    with pytest.raises(ValueError, match="written by a newer engine"):
        DocStore(path)


def test_sources_with_vectors_come_back_through_the_api(es) -> None:
    es.indices.create(index="packed", mappings={"properties": {
        "v": {"type": "dense_vector", "dims": 64, "similarity": "cosine"}}})
    vector = _vector(5)
    source = {"title": "packed", "v": vector.tolist(), "tags": ["a", "b"]}
    es.index(index="packed", id="1", document=source, refresh=True)
    assert es.get(index="packed", id="1")["_source"] == source
    hit = es.search(index="packed", knn={"field": "v", "query_vector": vector.tolist(), "k": 1,
                                         "num_candidates": 5})["hits"]["hits"][0]
    assert hit["_source"] == source
    es.update(index="packed", id="1", doc={"title": "updated"}, refresh=True)
    assert es.get(index="packed", id="1")["_source"] == {**source, "title": "updated"}
