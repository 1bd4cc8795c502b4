"""Three "existing" indices a search team already has, built through the official client (not
by es-rag): flat documents, documents with their own dense_vector field under their own names,
and documents whose passages are `nested` objects carrying vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import ApiError, Elasticsearch

FLAT, VECTORS, NESTED = "team-wiki", "team-kb", "team-manuals"

# id, title, body, groups
DOCS = [
    ("leave", "Parental leave policy",
     "Employees may take sixteen weeks of paid parental leave after the birth or adoption of "
     "a child. Request parental leave in the HR portal two months ahead.", ["hr"]),
    ("expenses", "Expense reports",
     "Submit expense reports with receipts within thirty days. Travel costs are reimbursed "
     "monthly.", ["public"]),
    ("deploy", "Deploying the payments service",
     "The payments service deploys with a blue-green rollout on Kubernetes. Roll back by "
     "switching the router to the previous colour.", ["eng"]),
    ("incident", "Incident response runbook",
     "Page the on-call engineer, open an incident channel and write a timeline. A postmortem "
     "follows every severity one incident.", ["eng"]),
    ("office", "Office opening hours",
     "The office opens at eight in the morning and closes at seven in the evening on "
     "weekdays.", ["public"]),
    ("salary", "Salary review process",
     "Salaries are reviewed once a year in March. Managers propose raises to the HR "
     "committee.", ["hr"]),
]


def url(doc_id: str) -> str:
    return f"https://wiki.example.com/{doc_id}"


def build_flat(client: Elasticsearch) -> None:
    """(1) title, body, url, groups: no vectors."""
    client.indices.create(index=FLAT, mappings={"properties": {
        "title": {"type": "text"}, "body": {"type": "text"}, "url": {"type": "keyword"},
        "groups": {"type": "keyword"}, "updated_at": {"type": "date"}}})
    for doc_id, title, body, groups in DOCS:
        client.index(index=FLAT, id=doc_id, document={
            "title": title, "body": body, "url": url(doc_id), "groups": groups,
            "updated_at": "2026-01-15"})
    client.indices.refresh(index=FLAT)


def build_vectors(client: Elasticsearch, embed: Any) -> None:
    """(2) heading, content, link, acl_groups and content_vec (the packaged model, 384 dims)."""
    client.indices.create(index=VECTORS, mappings={"properties": {
        "heading": {"type": "text"}, "content": {"type": "text"}, "link": {"type": "keyword"},
        "acl_groups": {"type": "keyword"},
        "content_vec": {"type": "dense_vector", "dims": 384, "index": True,
                        "similarity": "cosine"}}})
    vectors = embed([body for _, _, body, _ in DOCS])
    for (doc_id, title, body, groups), vector in zip(DOCS, vectors, strict=True):
        client.index(index=VECTORS, id=doc_id, document={
            "heading": title, "content": body, "link": f"/kb/{doc_id}.html",
            "acl_groups": groups, "content_vec": vector})
    client.indices.refresh(index=VECTORS)


def nested_mapping() -> dict[str, Any]:
    return {"properties": {
        "name": {"type": "text"}, "path": {"type": "keyword"}, "groups": {"type": "keyword"},
        "passages": {"type": "nested", "properties": {
            "text": {"type": "text"},
            "vector": {"type": "dense_vector", "dims": 384, "index": True,
                       "similarity": "cosine"}}}}}


def build_nested(client: Elasticsearch, embed: Any) -> None:
    """(3) name, path, groups and passages: nested objects with text and vector."""
    client.indices.create(index=NESTED, mappings=nested_mapping())
    for doc_id, title, body, groups in DOCS:
        sentences = [s if s.endswith(".") else s + "." for s in body.split(". ")]
        vectors = embed(sentences)
        client.index(index=NESTED, id=doc_id, document={
            "name": title, "path": f"manuals/{doc_id}.pdf", "groups": groups,
            "passages": [{"text": s, "vector": v} for s, v in zip(sentences, vectors,
                                                                  strict=True)]})
    client.indices.refresh(index=NESTED)


def nested_support(client: Elasticsearch) -> str | None:
    """None when the cluster takes nested fields, the nested query and nested kNN with inner
    hits; else why not (the embedded engine gains them on its own branch)."""
    probe = "es-rag-nested-probe"
    try:
        client.indices.create(index=probe, mappings=nested_mapping())
        client.index(index=probe, id="1", refresh=True, document={
            "name": "n", "passages": [{"text": "probe", "vector": [1.0] + [0.0] * 383}]})
        client.search(index=probe, query={"nested": {
            "path": "passages", "query": {"match": {"passages.text": "probe"}},
            "inner_hits": {}}})
        found = client.search(index=probe, knn={
            "field": "passages.vector", "query_vector": [1.0] + [0.0] * 383, "k": 1,
            "num_candidates": 10, "inner_hits": {}}).body
        if not found["hits"]["hits"][0].get("inner_hits"):
            return "the cluster's nested kNN search returns no inner_hits"
    except ApiError as exc:
        return f"the cluster does not support nested passages yet ({exc.meta.status}: {exc})"
    finally:
        client.options(ignore_status=404).indices.delete(index=probe)
    return None


def delete(client: Elasticsearch, names: Sequence[str]) -> None:
    client.options(ignore_status=404).indices.delete(index=",".join(names))


def engine_nested_support() -> str | None:
    """`nested_support` of the embedded engine, probed on a throwaway engine (for skipif)."""
    import tempfile
    from pathlib import Path

    from es_rag.engine.server import EngineServer

    with tempfile.TemporaryDirectory() as data:
        server = EngineServer(Path(data), port=0, security=False).start()
        client = Elasticsearch(server.url, request_timeout=30)
        try:
            return nested_support(client)
        finally:
            client.close()
            server.stop()
