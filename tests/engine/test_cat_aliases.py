"""`_cat/aliases`: one row per alias and index, hidden aliases and indices by expand_wildcards."""

from __future__ import annotations

from elasticsearch import Elasticsearch


def test_cat_aliases_lists_aliases_with_their_routing_filter_and_write_flag(
        es: Elasticsearch) -> None:
    es.indices.create(index="books", aliases={
        "library": {"is_write_index": True},
        "recent": {"filter": {"range": {"year": {"gte": 2000}}}, "routing": "1"}})
    rows = es.cat.aliases(format="json")
    assert rows == [
        {"alias": "library", "index": "books", "filter": "-", "routing.index": "-",
         "routing.search": "-", "is_write_index": "true"},
        {"alias": "recent", "index": "books", "filter": "*", "routing.index": "1",
         "routing.search": "1", "is_write_index": "-"}]
    text = es.cat.aliases(name="rec*", v=True, h="alias,index,filter")
    assert text.splitlines() == ["alias  index filter", "recent books *"]


def test_hidden_aliases_and_indices_follow_expand_wildcards(es: Elasticsearch) -> None:
    es.indices.create(index="secret", settings={"index.hidden": True},
                      aliases={"secret_alias": {"is_hidden": True}})
    es.indices.create(index="open", aliases={"quiet": {"is_hidden": True}})
    every = [(r["alias"], r["index"]) for r in es.cat.aliases(format="json")]
    assert every == [("quiet", "open"), ("secret_alias", "secret")]  # default: all
    assert es.cat.aliases(expand_wildcards="open,closed") == ""
    # a hidden alias named explicitly is listed
    named = es.cat.aliases(name="quiet", expand_wildcards="open", format="json")
    assert [r["alias"] for r in named] == ["quiet"]
