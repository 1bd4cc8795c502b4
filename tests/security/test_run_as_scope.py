"""An es-rag administrator searches as the end users es-rag manages, and as nobody else.

`roles/es-rag-admin.json` grants run_as on users named `es-rag-user-*` only: running as
`elastic`, another superuser or an unmanaged user is refused by the cluster (403), while
es-rag's own search-as-user path still works for a managed user and sees exactly their chunks.
"""

from __future__ import annotations

import pytest
from elasticsearch import AuthorizationException, Elasticsearch

from es_rag.retrieve import SearchParams, search
from es_rag.retrieve.permissions import PermissionRefused
from es_rag.users import RUN_AS_HEADER, add_user, user_client

from .conftest import CHUNKS, INDEX


@pytest.fixture(scope="module")
def ada(cluster) -> Elasticsearch:
    """An es-rag administrator (the role applied from roles/es-rag-admin.json)."""
    cluster.admin.security.put_user(username="ada", password="ada-password",
                                    roles=["es-rag-admin"])
    cluster.admin.security.put_user(username="root", password="root-password",
                                    roles=["superuser"])
    add_user(cluster.admin, "es-rag-user-erin", "erin-password", groups=["eng"])
    return Elasticsearch(cluster.url, basic_auth=("ada", "ada-password"))


@pytest.mark.parametrize("target", ["elastic", "root", "alice"])
def test_an_admin_may_not_run_as_a_superuser_or_an_unmanaged_user(ada, target) -> None:
    with pytest.raises(AuthorizationException) as refused:
        ada.options(headers={RUN_AS_HEADER: target}).security.authenticate()
    assert refused.value.meta.status == 403
    assert f"is unauthorized to run as [{target}]" in str(refused.value)
    with pytest.raises(AuthorizationException):
        ada.options(headers={RUN_AS_HEADER: target}).indices.delete(index=INDEX)


def test_an_admin_searches_as_a_managed_user_and_sees_only_their_chunks(cluster, ada) -> None:
    as_erin = user_client(ada, cluster.caps, "es-rag-user-erin", strategy="run_as")
    assert as_erin.security.authenticate()["username"] == "es-rag-user-erin"
    result = search(ada, cluster.caps, INDEX, "roadmap", SearchParams(mode="bm25", size=20),
                    as_user="es-rag-user-erin")
    readable = {c["chunk_id"] for c in CHUNKS if {"eng", "public"} & set(c["acl"])}
    assert {h.chunk_id for h in result.hits} == readable
    assert result.explain["as_user"]["enforced_by"] == "cluster"


def test_searching_as_an_unmanaged_user_is_refused_with_the_reason(cluster, ada) -> None:
    with pytest.raises(PermissionRefused) as refused:
        search(ada, cluster.caps, INDEX, "roadmap", SearchParams(mode="bm25"), as_user="alice")
    assert refused.value.status == 403
    assert "may not run as that user (the run_as of roles/es-rag-admin.json covers only the " \
           "users es-rag manages)" in str(refused.value)
