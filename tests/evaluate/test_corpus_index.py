"""Building the evaluation index: chunks per corpus document, reuse by fingerprint, safety."""

from __future__ import annotations

import json

import pytest

from es_rag.evaluate import CorpusIndexError


def test_each_document_becomes_chunks_carrying_its_corpus_id(es, build_tiny, new_embedder):
    embedder = new_embedder()
    progress: list[tuple[str, int, int]] = []
    built = build_tiny(embedder, progress=lambda *step: progress.append(step))
    assert not built.reused and built.documents == 3
    assert built.chunks > 3  # d2 is longer than one 64-token chunk
    hits = es.search(index="eval-tiny", query={"term": {"doc_id": "d2"}}, size=50)["hits"]
    assert hits["total"]["value"] == built.chunks - 2
    first = es.search(index="eval-tiny", query={"term": {"doc_id": "d1"}})["hits"]["hits"][0]
    assert first["_source"]["title"] == "Vitamin D"
    assert first["_source"]["chunk_id"] == first["_id"]
    assert progress[-1] == ("embed", built.chunks, built.chunks)


def test_a_second_build_with_the_same_inputs_embeds_nothing(build_tiny, new_embedder):
    build_tiny(new_embedder())
    again = new_embedder()
    reused = build_tiny(again)
    assert reused.reused and again.embedded == 0
    changed = new_embedder()
    rebuilt = build_tiny(changed, chunk_size=128)  # other chunking: other fingerprint
    assert not rebuilt.reused and changed.embedded == rebuilt.chunks


def test_a_model_trained_again_into_the_same_folder_gets_its_own_vectors(
        build_tiny, new_embedder, tmp_path):
    folder = tmp_path / "embeddings"
    folder.mkdir()
    (folder / "es-rag-model.json").write_text(json.dumps({"checksum": "first"}))

    def of_folder():  # a stand-in embedder of the model in `folder`
        embedder = new_embedder()
        embedder.model_name = str(folder)
        return embedder

    build_tiny(of_folder())
    same = of_folder()
    assert build_tiny(same).reused and same.embedded == 0
    (folder / "es-rag-model.json").write_text(json.dumps({"checksum": "retrained"}))
    retrained = of_folder()
    rebuilt = build_tiny(retrained)
    assert not rebuilt.reused and retrained.embedded == rebuilt.chunks


def test_a_half_built_index_is_rebuilt(es, build_tiny, new_embedder):
    built = build_tiny(new_embedder())
    es.delete_by_query(index="eval-tiny", query={"term": {"doc_id": "d1"}}, refresh=True)
    embedder = new_embedder()
    rebuilt = build_tiny(embedder)
    assert not rebuilt.reused and embedder.embedded == built.chunks


def test_an_index_not_built_for_evaluation_is_never_replaced(es, build_tiny, new_embedder):
    es.indices.create(index="eval-tiny", mappings={"properties": {"text": {"type": "text"}}})
    es.index(index="eval-tiny", id="1", document={"text": "production data"}, refresh=True)
    with pytest.raises(CorpusIndexError, match="was not built for evaluation"):
        build_tiny(new_embedder())
    assert es.count(index="eval-tiny")["count"] == 1
