"""BM25 over title and text: query terms spread over both fields add up (multi_match tie_breaker),
in `es-rag search` and in the stored search templates alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag import assets
from es_rag.config import PROJECT_ROOT
from es_rag.connect import detect_capabilities
from es_rag.retrieve import SearchParams, search, search_template
from retrieve.corpus import chunk_index_body

INDEX = "bm25-fields"
QUERY = "vitamin deficiency bone fractures"
# many chunks mention fractures in their text, none vitamins in their title: a title match on
# "vitamin deficiency" outscores a text match on "bone fractures", so without a tie breaker
# the chunk matching both fields would tie with the one matching its title only
FILLER = [{"chunk_id": f"filler-{n}#0", "doc_id": f"filler-{n}", "title": f"Orthopaedics {n}",
           "text": f"Bone fractures heal in weeks; case {n} of a hospital ward."}
          for n in range(12)]
BOTH = {"chunk_id": "both#0", "doc_id": "both", "title": "Vitamin D deficiency",
        "text": "Older adults with low levels suffer more bone fractures."}
TITLE_ONLY = {"chunk_id": "title#0", "doc_id": "title", "title": "Vitamin D deficiency",
              "text": "Sunlight exposure varies with the seasons and with latitude."}


@pytest.fixture(scope="module")
def client(engine: Any) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine.url, request_timeout=30)
    es.indices.create(index=INDEX, **chunk_index_body())
    for doc in [*FILLER, BOTH, TITLE_ONLY]:
        es.index(index=INDEX, id=doc["chunk_id"], document=doc)
    es.indices.refresh(index=INDEX)
    yield es
    es.options(ignore_status=404).indices.delete(index=INDEX)
    es.close()


def test_a_chunk_matching_in_title_and_text_outranks_one_matching_its_title_only(
        client: Elasticsearch) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    hits = search(client, caps, INDEX, QUERY, SearchParams(mode="bm25", size=3)).hits
    assert [h.doc_id for h in hits[:2]] == ["both", "title"]
    assert hits[0].score > hits[1].score


def test_the_stored_bm25_template_scores_as_the_search_does(client: Elasticsearch) -> None:
    loaded = assets.load_assets(PROJECT_ROOT)
    template = next(a for a in loaded.templates if a.name == "bm25")
    client.put_script(id="test-bm25-fields", script=template.body["script"])
    try:
        hits = search_template(client, INDEX, "test-bm25-fields",
                               {"query": QUERY, "size": 3, "filters": []}).hits
    finally:
        client.delete_script(id="test-bm25-fields")
    assert [h.doc_id for h in hits[:2]] == ["both", "title"]
    assert hits[0].score > hits[1].score
