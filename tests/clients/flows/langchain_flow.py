"""langchain-elasticsearch against an Elasticsearch endpoint: every retrieval strategy."""

import json
import os
import sys

from elasticsearch import Elasticsearch
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_elasticsearch import (
    BM25Strategy,
    DenseVectorScriptScoreStrategy,
    DenseVectorStrategy,
    ElasticsearchRetriever,
    ElasticsearchStore,
)

es = Elasticsearch(os.environ["ES_URL"],
                   basic_auth=(os.environ["ES_USER"], os.environ["ES_PASSWORD"]))
texts = ["Reciprocal rank fusion merges ranked lists", "BM25 scores terms by frequency",
         "Vectors capture meaning of passages", "Kibana shows dashboards"]
docs = [Document(page_content=t, metadata={"n": i, "topic": "search" if i < 3 else "ui"})
        for i, t in enumerate(texts)]
embedding = DeterministicFakeEmbedding(size=16)
out = {}
strategies = {
    "dense": DenseVectorStrategy(),
    "dense_hybrid": DenseVectorStrategy(hybrid=True),
    "dense_script_score": DenseVectorScriptScoreStrategy(),
    "bm25": BM25Strategy(),
}
for name, strategy in strategies.items():
    index = f"lc-{name.replace('_', '-')}"
    try:
        store = ElasticsearchStore(index_name=index, client=es, strategy=strategy,
                                   embedding=None if name == "bm25" else embedding)
        ids = store.add_documents(docs)
        es.indices.refresh(index=index)
        query = "rank fusion" if name in ("bm25", "dense_hybrid") else texts[0]
        found = store.similarity_search(query, k=2)
        wanted = "Kibana dashboards" if name == "bm25" else query  # BM25 needs a matching term
        filtered = store.similarity_search(wanted, k=2,
                                           filter=[{"term": {"metadata.topic": "ui"}}])
        scored = [(None, None)] if name == "dense_hybrid" else \
            store.similarity_search_with_score(query, k=1)  # hybrid returns no scores
        store.delete(ids=[ids[-1]])
        es.indices.refresh(index=index)
        left = es.count(index=index)["count"]
        out[name] = {"top": found[0].page_content, "n": len(found),
                     "filtered": [d.metadata["topic"] for d in filtered],
                     "score": scored[0][1], "left": left}
    except Exception as exc:  # noqa: BLE001 - reported per strategy
        out[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    finally:
        es.options(ignore_status=404).indices.delete(index=index)

try:
    index = "lc-retriever"
    es.index(index=index, id="1", document={"text": texts[0]}, refresh=True)
    retriever = ElasticsearchRetriever(
        client=es, index_name=index, content_field="text",
        body_func=lambda q: {"query": {"match": {"text": q}}})
    got = retriever.invoke("fusion")
    out["retriever"] = {"top": got[0].page_content, "n": len(got)}
except Exception as exc:  # noqa: BLE001 - reported
    out["retriever"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
finally:
    es.options(ignore_status=404).indices.delete(index="lc-retriever")
print(json.dumps(out))
sys.exit(0 if all("error" not in v for v in out.values()) else 1)
