"""LlamaIndex's Elasticsearch vector store against an endpoint: dense, hybrid and BM25."""

import asyncio
import json
import os
import sys

from llama_index.core import Settings, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from llama_index.vector_stores.elasticsearch import (
    AsyncBM25Strategy,
    AsyncDenseVectorStrategy,
    ElasticsearchStore,
)


async def cleanup(store: ElasticsearchStore, index: str) -> None:
    await store.client.options(ignore_status=404).indices.delete(index=index)
    await store.client.close()


Settings.embed_model = MockEmbedding(embed_dim=8)
Settings.llm = None
texts = ["Reciprocal rank fusion merges ranked lists", "BM25 scores terms by frequency",
         "Vectors capture meaning of passages", "Kibana shows dashboards"]
nodes = [TextNode(text=t, id_=f"n{i}", metadata={"topic": "search" if i < 3 else "ui"},
                  embedding=[float(i == j) + 0.1 for j in range(8)]) for i, t in enumerate(texts)]
auth = {"es_url": os.environ["ES_URL"], "es_user": os.environ["ES_USER"],
        "es_password": os.environ["ES_PASSWORD"]}
out = {}
for name, strategy in {"dense": AsyncDenseVectorStrategy(),
                       "hybrid": AsyncDenseVectorStrategy(hybrid=True),
                       "bm25": AsyncBM25Strategy()}.items():
    store = ElasticsearchStore(index_name=f"llama-{name}", retrieval_strategy=strategy, **auth)
    try:
        index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(
            vector_store=store))
        query = VectorStoreQuery(query_embedding=[0.1, 0.1, 1.1, 0.1, 0.1, 0.1, 0.1, 0.1],
                                 query_str="meaning of passages", similarity_top_k=2,
                                 mode=VectorStoreQueryMode.HYBRID if name == "hybrid"
                                 else VectorStoreQueryMode.DEFAULT)
        found = store.query(query)
        filtered = store.query(VectorStoreQuery(
            query_embedding=query.query_embedding, query_str="dashboards", similarity_top_k=2,
            filters=MetadataFilters(filters=[ExactMatchFilter(key="topic", value="ui")])))
        store.delete("n0")
        out[name] = {"top": found.nodes[0].node_id, "n": len(found.nodes),
                     "filtered": [n.metadata["topic"] for n in filtered.nodes]}
        retrieved = index.as_retriever(similarity_top_k=1).retrieve("meaning of passages")
        out[name]["retriever"] = len(retrieved)
    except Exception as exc:  # noqa: BLE001 - reported per strategy
        out[name] = {"error": f"{type(exc).__name__}: {exc}"[:800]}
    finally:
        asyncio.run(cleanup(store, f"llama-{name}"))
print(json.dumps(out))
sys.exit(0 if all("error" not in v for v in out.values()) else 1)
