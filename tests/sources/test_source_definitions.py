"""Source definitions are validated with messages naming the file and key, and each layout
builds the request Elasticsearch documents: whole documents, nested passages (the `nested`
query and nested kNN with `inner_hits`) and `semantic_text` (the `semantic` query)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from es_rag.retrieve import SearchParams
from es_rag.retrieve.queries import bm25_body, knn_body, retriever_body
from es_rag.sources import SourceError, SourceLayout, load_source, parse_definition
from es_rag.sources.layout import check_query_model

NESTED = {"index": "manuals", "fields": {"text": "passages.text", "title": "name",
                                         "url": "path", "acl": "groups"},
          "lexical": {"passages.text": 1.0, "name": 2.0},
          "vector": {"kind": "dense_vector", "field": "passages.vector",
                     "model": "all-MiniLM-L6-v2", "dims": 384},
          "passages": {"layout": "nested", "path": "passages"},
          "filters": ["status=published"]}


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"fields": {"title": "t"}}, "fields.text must name the field holding the passage text"),
    ({"fields": {"text": "b", "body": "b"}}, "unknown field role(s) body"),
    ({"vector": {"kind": "sparse"}}, "vector.kind 'sparse' is not one of"),
    ({"vector": {"kind": "dense_vector", "field": "v", "dims": 384}},
     "vector.model must name the model that made 'v'"),
    ({"passages": {"layout": "nested", "path": "passages"}},
     "fields.text 'body' must lie inside the nested field 'passages'"),
    ({"lexical": {"body": 0}}, "lexical boosts must be positive"),
    ({"filters": ["page>>"]}, "filter"),
])
def test_a_bad_definition_is_refused_naming_the_key(change: dict[str, Any], message: str) -> None:
    data = {"index": "wiki", "fields": {"text": "body"}, **change}
    with pytest.raises(SourceError, match="sources/wiki.json: .*") as refused:
        parse_definition("wiki", data, "sources/wiki.json")
    assert message in str(refused.value)


def test_an_unknown_source_names_the_defined_ones(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "wiki.json").write_text(json.dumps(
        {"index": "team-wiki", "fields": {"text": "body"}}))
    assert load_source(tmp_path, "wiki").lexical == {"body": 1.0}
    with pytest.raises(SourceError, match=r"no source named 'kb' .*defined: wiki"):
        load_source(tmp_path, "kb")


def test_a_source_made_with_another_model_is_refused() -> None:
    layout = SourceLayout(parse_definition("manuals", NESTED, "x"))
    check_query_model(layout, "all-MiniLM-L6-v2")
    with pytest.raises(SourceError, match="were made with 'all-MiniLM-L6-v2', but es-rag "
                                          "embeds queries with 'e5-small'"):
        check_query_model(layout, "e5-small")


def test_nested_passages_use_the_nested_query_and_nested_knn_with_inner_hits() -> None:
    layout = SourceLayout(parse_definition("manuals", NESTED, "x"))
    params = SearchParams(mode="hybrid", size=5, filters=["groups=hr"])
    lexical = bm25_body("parental leave", params, layout=layout)
    must, filters = lexical["query"]["bool"]["must"][0], lexical["query"]["bool"]["filter"]
    assert must == {"nested": {"path": "passages", "score_mode": "max",
                               "inner_hits": {"size": 3},
                               "query": {"multi_match": {"query": "parental leave",
                                                         "type": "best_fields",
                                                         "fields": ["passages.text^1"]}}}}
    assert filters == [{"term": {"status": "published"}}, {"term": {"groups": "hr"}}]
    assert lexical["_source"] == {"excludes": ["passages.vector", "passages"]}
    knn = knn_body("parental leave", [0.1] * 384, params, layout=layout)["knn"]
    assert knn["field"] == "passages.vector"
    assert knn["inner_hits"] == {"size": 3, "name": "passages_knn"}  # apart from the lexical leg
    assert knn["filter"] == {"bool": {"filter": filters}}


def test_inner_hits_become_passages_citing_their_document() -> None:
    layout = SourceLayout(parse_definition("manuals", NESTED, "x"))
    response = {"hits": {"hits": [{
        "_index": "manuals", "_id": "leave", "_score": 0.9,
        "_source": {"name": "Parental leave", "path": "manuals/leave.pdf", "groups": ["hr"]},
        "inner_hits": {"passages": {"hits": {"hits": [
            {"_id": "leave", "_nested": {"field": "passages", "offset": 1}, "_score": 0.9,
             "_source": {"text": "Sixteen weeks of paid leave."}},
            {"_id": "leave", "_nested": {"field": "passages", "offset": 0}, "_score": 0.4,
             "fields": {"passages": [{"text": ["Request it early."]}]}}]}}}}]}}
    first, second = layout.hits(response)
    assert (first.chunk_id, first.doc_id, first.text) == ("leave#1", "leave",
                                                          "Sixteen weeks of paid leave.")
    assert (first.title, first.source, first.acl) == ("Parental leave", "manuals/leave.pdf",
                                                      ["hr"])
    assert (second.chunk_id, second.text) == ("leave#0", "Request it early.")
    assert first.offsets is None and "field" not in first.metadata


def test_semantic_text_sources_search_with_the_semantic_query() -> None:
    definition = parse_definition("notes", {
        "index": "notes", "fields": {"text": "content"}, "lexical": {"content": 1.0},
        "vector": {"kind": "semantic_text", "field": "content"},
        "passages": {"layout": "semantic_text"}}, "x")
    layout = SourceLayout(definition)
    params = SearchParams(mode="hybrid", size=5)
    assert knn_body("leave", [], params, layout=layout)["query"] == {
        "semantic": {"field": "content", "query": "leave"}}
    legs = retriever_body("leave", [], params, layout)["retriever"]["rrf"]["retrievers"]
    assert legs[1] == {"standard": {"query": {"semantic": {"field": "content",
                                                           "query": "leave"}}}}
    assert not layout.needs_embedder


def test_semantic_text_chunks_are_the_semantic_highlighters_fragments() -> None:
    layout = SourceLayout(parse_definition("notes", {
        "index": "notes", "fields": {"text": "content", "url": "link"},
        "vector": {"kind": "semantic_text", "field": "content"},
        "passages": {"layout": "semantic_text"}}, "x"))
    body = knn_body("leave", [], SearchParams(mode="knn", size=3), layout=layout)
    assert body["highlight"] == {"fields": {"content": {
        "type": "semantic", "number_of_fragments": 3, "order": "score"}}}
    hits = layout.hits({"hits": {"hits": [{
        "_id": "n1", "_score": 2.0, "_source": {"link": "/notes/1"},
        "highlight": {"content": ["Leave is sixteen weeks.", "Ask HR."]}}]}})
    assert [(h.chunk_id, h.doc_id, h.text, h.source) for h in hits] == [
        ("n1#chunk0", "n1", "Leave is sixteen weeks.", "/notes/1"),
        ("n1#chunk1", "n1", "Ask HR.", "/notes/1")]


def test_without_dls_a_user_sees_a_source_filtered_on_its_own_acl_field(es: Any) -> None:
    """On a cluster without security, `client_side_acl_filter` filters on `fields.acl`; a
    source with no ACL field is refused rather than shown whole."""
    from es_rag.connect import detect_capabilities
    from es_rag.retrieve import SearchError, search

    from .existing_indices import DOCS, FLAT, build_flat

    build_flat(es)
    caps = detect_capabilities(es, "engine", es.info().body, embedded=True)
    wiki = {"index": FLAT, "fields": {"text": "body", "acl": "groups"},
            "lexical": {"body": 1.0, "title": 1.0}}
    layout = SourceLayout(parse_definition("wiki", wiki, "x"))
    params = SearchParams(mode="bm25", size=10)
    words = " ".join(body for _, _, body, _ in DOCS)
    seen = search(es, caps, FLAT, words, params, as_user="hana", client_side_acl_filter=True,
                  layout=layout)
    assert {h.doc_id for h in seen.hits} == {"expenses", "office"}  # the public ones
    assert seen.explain["as_user"]["enforced_by"] == "client"
    bare = SourceLayout(parse_definition("bare", {**wiki, "fields": {"text": "body"}}, "x"))
    with pytest.raises(SearchError, match="names no ACL field"):
        search(es, caps, FLAT, words, params, as_user="hana", client_side_acl_filter=True,
               layout=bare)
