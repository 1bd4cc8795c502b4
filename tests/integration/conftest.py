"""Real Elasticsearch (8.19 and 9.x) in Docker through testcontainers; skipped where Docker is not.

These tests check that what runs on the embedded engine runs unchanged on Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

IMAGES = {
    "8.19": "docker.elastic.co/elasticsearch/elasticsearch:8.19.0",
    "9.1": "docker.elastic.co/elasticsearch/elasticsearch:9.1.0",
}


def docker_unavailable() -> str | None:
    """Why Docker cannot run containers here, or None when it can."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Docker engine
        return f"no Docker engine to start Elasticsearch in ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="module", params=sorted(IMAGES))
def real_es_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh single-node Elasticsearch with a trial license (RRF, ML)."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    from testcontainers.community.elasticsearch import ElasticSearchContainer

    container = (ElasticSearchContainer(IMAGES[request.param], mem_limit="2G")
                 .with_env("xpack.license.self_generated.type", "trial")
                 .with_env("ES_JAVA_OPTS", "-Xms1g -Xmx1g"))
    with container:
        host = container.get_container_host_ip()
        yield f"http://{host}:{container.get_exposed_port(container.port)}"


@pytest.fixture
def real_es(real_es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(real_es_url, request_timeout=60)
    yield client
    client.options(ignore_status=404).indices.delete(index="chunks*,eval-*",
                                                     expand_wildcards="all")
    client.close()
