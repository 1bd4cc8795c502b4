"""retrieval.json: read, validated with messages naming the file and the key, and overridden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from es_rag.assets import AssetError, load_assets
from es_rag.config import PROJECT_ROOT
from es_rag.retrieve.defaults import RetrievalFileError, parse_defaults, read_file


def test_the_shipped_file_is_canonical_and_means_the_library_defaults() -> None:
    shipped = read_file(PROJECT_ROOT)
    assert shipped.origin == "file"
    assert shipped.to_json() == (PROJECT_ROOT / "retrieval.json").read_text()
    assert shipped.values()["rank_constant"] == 60 and shipped.values()["k"] == 10


def test_a_folder_without_the_file_uses_the_built_in_defaults(tmp_path: Path) -> None:
    assert read_file(tmp_path).origin == "built-in"


@pytest.mark.parametrize(("data", "message"), [
    ({"fusion": {"kind": "sum"}}, "fusion.kind 'sum' is not supported (supported: rrf, linear)"),
    ({"fusion": {"kind": "rrf", "normalizer": "minmax"}},
     "fusion.normalizer applies to kind linear only"),
    ({"fusion": {"kind": "linear", "weights": {"bm25": -1}}},
     "weight of 'bm25' must be non-negative"),
    ({"knn": {"k": 10, "candidates": 5}}, "unknown key(s) knn.candidates (known: k, "),
    ({"rankconstant": 20}, "unknown key(s) rankconstant (known: mode, boosts"),
    ({"mode": "semantic"}, "unknown search mode 'semantic'"),
    ({"knn": {"k": 50, "num_candidates": 10}}, "num_candidates (10) must be at least k (50)"),
    ({"boosts": {"body": 2}}, "cannot boost field 'body'"),
    ({"fusion": []}, "fusion must be an object"),
])
def test_a_bad_value_is_refused_naming_the_key(data, message) -> None:
    with pytest.raises(RetrievalFileError) as refused:
        parse_defaults(data, "retrieval.json", "file")
    assert str(refused.value).startswith("retrieval.json: ")
    assert message in str(refused.value)


def test_invalid_json_names_the_line_and_apply_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "retrieval.json").write_text('{\n  "mode": "hybrid",\n}\n')
    with pytest.raises(AssetError, match=r"retrieval.json:3:1: invalid JSON"):
        load_assets(tmp_path)


def test_request_options_override_the_file_and_are_named() -> None:
    defaults = parse_defaults(json.loads((PROJECT_ROOT / "retrieval.json").read_text()),
                              "retrieval.json", "cluster")
    params = defaults.search_params(mode="knn", k="40", rerank_top_n=5, size=None)
    assert (params.k, params.num_candidates, params.rerank.top_n) == (40, 100, 5)
    assert params.provenance == {"source": "cluster",
                                 "overrides": ["k", "mode", "rerank.top_n"]}
    assert defaults.search_params().provenance["overrides"] == []
