"""The Haystack Elasticsearch document store and its retrievers against an endpoint."""

import hashlib
import json
import os
import sys

from haystack import Document, Pipeline, component
from haystack_integrations.components.retrievers.elasticsearch import (
    ElasticsearchBM25Retriever,
    ElasticsearchEmbeddingRetriever,
    ElasticsearchHybridRetriever,
)
from haystack_integrations.document_stores.elasticsearch import ElasticsearchDocumentStore

DIMS = 8


def vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 - 0.5 for b in digest[:DIMS]]


@component
class HashEmbedder:
    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict:
        return {"embedding": vector(text)}


auth = (os.environ["ES_USER"], os.environ["ES_PASSWORD"])
store = ElasticsearchDocumentStore(hosts=os.environ["ES_URL"], index="haystack-docs",
                                   basic_auth=auth, api_key=None, api_key_id=None)
texts = ["Reciprocal rank fusion merges ranked lists", "BM25 scores terms by frequency",
         "Vectors capture meaning of passages", "Kibana shows dashboards"]
docs = [Document(id=str(i), content=t, meta={"topic": "search" if i < 3 else "ui", "n": i},
                 embedding=vector(t)) for i, t in enumerate(texts)]
out = {}
try:
    out["written"] = store.write_documents(docs)
    out["count"] = store.count_documents()
    bm25 = ElasticsearchBM25Retriever(document_store=store, top_k=2)
    out["bm25"] = [d.id for d in bm25.run(query="rank fusion")["documents"]]
    filtered = bm25.run(query="dashboards", filters={"field": "meta.topic", "operator": "==",
                                                    "value": "ui"})["documents"]
    out["bm25_filtered"] = [d.meta["topic"] for d in filtered]
    dense = ElasticsearchEmbeddingRetriever(document_store=store, top_k=2)
    out["embedding"] = [d.id for d in dense.run(query_embedding=vector(texts[2]))["documents"]]
    hybrid = ElasticsearchHybridRetriever(document_store=store, embedder=HashEmbedder(),
                                          top_k_bm25=3, top_k_embedding=3)
    pipe = Pipeline()
    pipe.add_component("hybrid", hybrid)
    result = pipe.run({"hybrid": {"query": "Vectors capture meaning of passages"}})
    out["hybrid"] = [d.id for d in result["hybrid"]["documents"]][:2]
    out["filter_documents"] = sorted(d.id for d in store.filter_documents(
        filters={"operator": "AND", "conditions": [
            {"field": "meta.n", "operator": ">=", "value": 1},
            {"field": "meta.topic", "operator": "==", "value": "search"}]}))
    store.delete_documents(["3"])
    out["count_after_delete"] = store.count_documents()
except Exception as exc:  # noqa: BLE001 - reported
    out["error"] = f"{type(exc).__name__}: {exc}"[:800]
finally:
    store.client.options(ignore_status=404).indices.delete(index="haystack-docs")
print(json.dumps(out))
sys.exit(1 if "error" in out else 0)
