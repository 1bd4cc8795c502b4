"""A small chunk corpus, indexed with real embeddings into an index made from the chunk mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities, detect_capabilities
from es_rag.embedding.local import Embedder


def _chunk(chunk_id: str, title: str, text: str, *, lang: str = "en", page: int = 1,
           mime: str = "text/markdown", source: str = "manuals/guide.md",
           updated: str = "2024-01-15", acl: tuple[str, ...] = ("staff",),
           **metadata: Any) -> dict[str, Any]:
    doc_id, _, ordinal = chunk_id.partition("#")
    return {"chunk_id": chunk_id, "doc_id": doc_id, "ordinal": int(ordinal or 0),
            "title": title, "text": text,
            "headings": [title], "page": page, "offsets": {"start": 0, "end": len(text)},
            "content_hash": f"hash-{chunk_id}", "mime_type": mime, "language": lang,
            "source": source, "acl": list(acl), "updated_at": updated,
            "indexed_at": "2025-01-01T00:00:00Z", "metadata": {"lang": lang, **metadata}}


CORPUS: list[dict[str, Any]] = [
    _chunk("storage#0", "Storage quotas", "Quota error ERR_4711 appears when the disk quota of "
           "a project is exhausted. Delete old snapshots to free space.",
           page=1, updated="2024-03-01", product="storage", reviewed="yes"),
    _chunk("power#0", "Power saving", "Dim the screen and close background applications so a "
           "notebook keeps going for more hours between charges.",
           page=2, mime="text/html", source="faq/power.html", updated="2024-07-10",
           product="hardware"),
    _chunk("rrf#0", "Hybrid search", "Reciprocal rank fusion merges the BM25 ranking and the "
           "vector ranking into one list without tuning weights.",
           page=3, mime="application/pdf", source="manuals/search.pdf", updated="2025-02-01",
           product="search", reviewed="yes", acl=("alice", "staff")),
    _chunk("eiffel#0", "Paris landmarks", "The Eiffel Tower in Paris was completed in 1889 for "
           "the World's Fair.", page=4, mime="text/html", source="blog/paris.html",
           updated="2023-05-20", product="travel", acl=("alice",)),
    _chunk("bread#0", "Baking", "Sourdough bread rises with wild yeast; feed the starter flour "
           "and water daily.", page=5, source="blog/bread.md", updated="2023-11-11",
           product="food", acl=("bob",)),
    _chunk("backup#0", "Backups", "Nightly backups copy every project volume to object storage "
           "and keep them for thirty days.", page=6, mime="application/pdf",
           source="manuals/backup.pdf", updated="2024-09-30", product="storage",
           reviewed="no"),
    _chunk("vpn#0", "Remote access", "Connect to the office network through the VPN client "
           "before opening internal dashboards.", page=1, mime="text/html",
           source="faq/vpn.html", updated="2024-01-02", product="network"),
    _chunk("tokens#0", "API tokens", "Rotate API tokens every ninety days and never commit them "
           "to a repository.", page=2, source="manuals/security.md", updated="2025-03-03",
           product="security", reviewed="yes", acl=("bob", "staff")),
    _chunk("kontingent#0", "Speicherkontingent", "Der Fehler erscheint, wenn das Kontingent des "
           "Projekts erschöpft ist.", lang="de", page=1, source="handbuch/speicher.md",
           updated="2024-04-04", product="storage"),
    _chunk("strom#0", "Energiesparen", "Bildschirm dunkler stellen und Hintergrundprogramme "
           "schließen verlängert die Laufzeit.", lang="de", page=2, mime="text/html",
           source="handbuch/strom.html", updated="2024-08-08", product="hardware"),
    _chunk("suche#0", "Hybride Suche", "Die Fusion zweier Rankings braucht keine Gewichte.",
           lang="de", page=3, mime="application/pdf", source="handbuch/suche.pdf",
           updated="2025-01-20", product="search"),
    _chunk("coffee#0", "Office life", "The coffee machine on the third floor is descaled every "
           "Friday morning.", page=7, source="blog/office.md", updated="2022-12-24",
           product="facilities"),
]


@cache
def vectors() -> tuple[tuple[float, ...], ...]:
    """Embeddings of the corpus texts (computed once per test session)."""
    return tuple(tuple(v) for v in shared_embedder().embed_documents(
        [c["text"] for c in CORPUS]))


@cache
def shared_embedder() -> Embedder:
    return Embedder()


def chunk_index_body() -> dict[str, Any]:
    """mappings/chunks.json without the default ingest pipeline (tests index ready chunks)."""
    body = json.loads((PROJECT_ROOT / "mappings" / "chunks.json").read_text())
    body["settings"].pop("index.default_pipeline", None)
    return body


def index_corpus(client: Elasticsearch, index: str,
                 corpus: list[dict[str, Any]] = CORPUS) -> None:
    """Create `index` from the chunk mapping and index the corpus with embeddings."""
    client.options(ignore_status=404).indices.delete(index=index)
    client.indices.create(index=index, **chunk_index_body())
    by_id = {c["chunk_id"]: v for c, v in zip(CORPUS, vectors(), strict=True)}
    operations: list[dict[str, Any]] = []
    for chunk in corpus:
        vector = by_id.get(chunk["chunk_id"]) or shared_embedder().embed_documents(
            [chunk["text"]])[0]
        operations += [{"index": {"_index": index, "_id": chunk["chunk_id"]}},
                       {**chunk, "embedding": list(vector)}]
    response = client.bulk(operations=operations, refresh=True)
    assert not response["errors"], response


def set_license(es: Elasticsearch, kind: str) -> Capabilities:
    """Switch the engine to a `trial` or `basic` license; the capabilities es-rag then sees."""
    if es.license.get()["license"]["type"] != kind:
        start = es.license.post_start_trial if kind == "trial" else es.license.post_start_basic
        start(acknowledge=True)
    return detect_capabilities(es, "engine", es.info().body, embedded=True)


def corpus_client(url: str, index: str) -> Iterator[Elasticsearch]:
    """A client with the corpus indexed into `index`; afterwards the license is put back and
    the index deleted (for a module-scoped fixture: `yield from corpus_client(...)`)."""
    es = Elasticsearch(url, request_timeout=30)
    before = es.license.get()["license"]["type"]
    index_corpus(es, index)
    yield es
    set_license(es, before)
    es.options(ignore_status=404).indices.delete(index=index)
    es.close()
