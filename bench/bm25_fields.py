"""BM25 over SciFact's title and text: how multi_match combines the fields, measured on whole
documents (no chunking, no embeddings) on the train and the test queries.

    python bench/bm25_fields.py    # best_fields at several tie_breakers; one concatenated field

es-rag's BM25 leg is `best_fields` over title, text and headings with `TIE_BREAKER`; the plain
recipe it is compared with indexes title and text as one field. The tie breaker was chosen on the
train queries; the test queries only report. Figures are printed, nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from es_rag.config import PROJECT_ROOT
from es_rag.engine.server import EngineServer
from es_rag.evaluate.judgments import iter_beir_corpus, load_beir
from es_rag.evaluate.metrics import score_ranking

DATASET = PROJECT_ROOT.parent / "shared" / "datasets" / "scifact"
TIE_BREAKERS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
ENGLISH = {"type": "text", "analyzer": "english"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bm25-fields-"))
    server = EngineServer(folder, port=0, security=False).start()
    try:
        client = Elasticsearch(server.url, request_timeout=600)
        client.indices.create(index="docs", settings={"number_of_shards": 1}, mappings={
            "properties": {"title": ENGLISH, "text": ENGLISH, "headings": ENGLISH,
                           "title_text": ENGLISH}})
        helpers.bulk(client, ({"_index": "docs", "_id": d.id, "_source": {
            "title": d.title, "text": d.text, "title_text": f"{d.title}\n{d.text}"}}
            for d in iter_beir_corpus(args.dataset / "corpus.jsonl")))
        client.indices.refresh(index="docs")
        shapes = {"one field title+text": lambda q: {"match": {"title_text": q}}}
        for tie in TIE_BREAKERS:
            shapes[f"best_fields tie_breaker={tie}"] = lambda q, t=tie: {"multi_match": {
                "query": q, "type": "best_fields", "tie_breaker": t,
                "fields": ["title", "text", "headings"]}}
        figures: dict[str, dict[str, float]] = {}
        for split in ("train", "test"):
            judged = load_beir(args.dataset, split).judgments
            for name, shape in shapes.items():
                rankings = {qid: [h["_id"] for h in client.search(
                    index="docs", query=shape(text), size=100, source=False
                )["hits"]["hits"]] for qid, text in judged.queries.items()}
                means = score_ranking(judged.qrels, rankings, ("ndcg@10", "recall@100")).means
                figures.setdefault(name, {}).update(
                    {f"{split} {m}": round(v, 4) for m, v in means.items()})
                print(f"{split:5s} {name:30s} nDCG@10 {means['ndcg@10']:.4f}  "
                      f"R@100 {means['recall@100']:.4f}", flush=True)
        print(json.dumps(figures, separators=(",", ":")))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
