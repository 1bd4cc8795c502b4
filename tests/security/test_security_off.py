"""On a cluster without security there are no users: searching as one is refused, or filtered
by es-rag itself on the user's name (and `public`) when `client_side_acl_filter` is set."""

from __future__ import annotations

import logging

import pytest

from es_rag.connect import detect_capabilities
from es_rag.retrieve import SearchParams, search
from es_rag.retrieve.permissions import PermissionRefused

from .conftest import CHUNKS, index_chunks

INDEX = "open-chunks"


@pytest.fixture
def open_cluster(es, engine):
    es.indices.create(index=INDEX, mappings={"properties": {
        "chunk_id": {"type": "keyword"}, "acl": {"type": "keyword"},
        "title": {"type": "text"}, "text": {"type": "text"},
        "embedding": {"type": "dense_vector", "dims": 384, "similarity": "cosine"}}},
        settings={"index.mapping.dynamic": "false"})
    index_chunks(es, CHUNKS, index=INDEX)
    return es, detect_capabilities(es, engine.url, es.info().body, embedded=True)


def test_searching_as_a_user_is_refused_when_security_is_off(open_cluster) -> None:
    client, caps = open_cluster
    assert not caps.security_enabled
    with pytest.raises(PermissionRefused, match=r"security is off.*client_side_acl_filter"):
        search(client, caps, INDEX, "roadmap", SearchParams(mode="bm25"), as_user="alice")


def test_the_client_side_filter_keeps_the_users_own_and_public_chunks(open_cluster, embedder,
                                                                      caplog) -> None:
    client, caps = open_cluster
    with caplog.at_level(logging.WARNING, logger="es_rag.retrieve.permissions"):
        result = search(client, caps, INDEX, "roadmap secret budget",
                        SearchParams(mode="hybrid", size=10), embedder, as_user="alice",
                        client_side_acl_filter=True)
    # no groups without security: only chunks naming alice herself, and public ones
    expected = {c["chunk_id"] for c in CHUNKS if {"alice", "public"} & set(c["acl"])}
    assert {h.chunk_id for h in result.hits} == expected
    assert "filters 'alice'" in caplog.text
