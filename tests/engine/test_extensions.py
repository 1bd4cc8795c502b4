"""Ingest pipelines and stored search templates reached over HTTP."""

from __future__ import annotations

from elasticsearch import Elasticsearch


def test_pipeline_parameter_and_default_pipeline(es: Elasticsearch) -> None:
    es.ingest.put_pipeline(id="shout", processors=[{"uppercase": {"field": "title"}}])
    es.ingest.put_pipeline(id="tag", processors=[{"set": {"field": "tagged", "value": True}}])
    try:
        es.indices.create(index="piped", settings={"index.default_pipeline": "tag"})
        es.index(index="piped", id="1", document={"title": "hi"})
        es.index(index="piped", id="2", document={"title": "hi"}, pipeline="shout")
        es.bulk(operations=[{"index": {"_index": "piped", "_id": "3", "pipeline": "_none"}},
                            {"title": "raw"}])
        assert es.get(index="piped", id="1")["_source"] == {"title": "hi", "tagged": True}
        assert es.get(index="piped", id="2")["_source"] == {"title": "HI"}
        assert es.get(index="piped", id="3")["_source"] == {"title": "raw"}
        simulated = es.ingest.simulate(id="shout", docs=[{"_source": {"title": "x"}}])
        assert simulated["docs"][0]["doc"]["_source"] == {"title": "X"}
    finally:
        es.ingest.delete_pipeline(id="shout")
        es.ingest.delete_pipeline(id="tag")


def test_stored_search_template(es: Elasticsearch) -> None:
    es.index(index="notes", id="1", document={"text": "hello world"}, refresh=True)
    es.put_script(id="by_text", script={"lang": "mustache", "source": {
        "query": {"match": {"text": "{{q}}"}}, "size": "{{size}}"}})
    try:
        rendered = es.render_search_template(id="by_text", params={"q": "hello", "size": 3})
        assert rendered["template_output"]["query"] == {"match": {"text": "hello"}}
        hits = es.search_template(index="notes", id="by_text", params={"q": "hello", "size": 3})
        assert [h["_id"] for h in hits["hits"]["hits"]] == ["1"]
    finally:
        es.delete_script(id="by_text")
