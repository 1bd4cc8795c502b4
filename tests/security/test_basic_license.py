"""On a Basic license the cluster cannot enforce DLS: es-rag refuses, unless told to filter."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from es_rag.connect import detect_capabilities
from es_rag.retrieve import SearchParams, search
from es_rag.retrieve.permissions import PermissionRefused

from .conftest import INDEX, SecuredCluster, readable, start_cluster


@pytest.fixture(scope="module")
def basic_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredCluster]:
    server, secured = start_cluster(tmp_path_factory.mktemp("basic"))
    secured.admin.license.post_start_basic(acknowledge=True)
    secured.caps = detect_capabilities(secured.admin, secured.url, secured.admin.info().body,
                                       embedded=True)
    yield secured
    secured.admin.close()
    server.stop()


def test_permissioned_search_is_refused_naming_the_setting(basic_cluster, embedder) -> None:
    assert basic_cluster.caps.license_type == "basic" and not basic_cluster.caps.dls
    with pytest.raises(PermissionRefused) as refused:
        search(basic_cluster.admin, basic_cluster.caps, INDEX, "roadmap",
               SearchParams(mode="hybrid"), embedder, as_user="alice")
    message = str(refused.value)
    assert "does not enforce document-level security" in message
    assert "basic license" in message and "client_side_acl_filter" in message
    assert "ES_RAG_CLIENT_SIDE_ACL_FILTER" in message


@pytest.mark.parametrize("mode", ["bm25", "knn", "hybrid"])
def test_with_the_client_side_filter_it_searches_and_warns(basic_cluster, embedder, caplog,
                                                           mode) -> None:
    with caplog.at_level(logging.WARNING, logger="es_rag.retrieve.permissions"):
        result = search(basic_cluster.admin, basic_cluster.caps, INDEX, "roadmap secret budget",
                        SearchParams(mode=mode, size=10), embedder, as_user="bob",
                        client_side_acl_filter=True)
    assert {h.chunk_id for h in result.hits} == readable("bob")
    assert result.explain["as_user"] == {"user": "bob", "enforced_by": "client"}
    assert "does not enforce document-level security" in caplog.text
