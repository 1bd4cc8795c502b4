"""The REST API spec tables: generated from rest-api-spec JSON, read by the runner and engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conformance.api_call import build_request
from conformance.api_specs import API_SPECS, NDJSON_APIS
from conformance.stash import Stash

REPO = Path(__file__).resolve().parents[1]
ENGINE_TABLE = REPO / "es_rag" / "engine" / "http" / "rest_api_spec.json"


def test_the_runner_knows_every_api_of_the_specification() -> None:
    for api in ("reindex", "update_by_query", "get_source", "open_point_in_time", "scroll",
                "cluster.put_settings", "inference.put", "security.query_api_keys"):
        assert api in API_SPECS, api
    assert len(API_SPECS) > 500
    assert {"bulk", "msearch", "msearch_template"} <= NDJSON_APIS
    reindex = build_request("reindex", {"refresh": True, "body": {"source": {"index": "a"}}},
                            {}, Stash())
    assert (reindex.method, reindex.path, reindex.params) == ("POST", "/_reindex",
                                                              {"refresh": "true"})
    ubq = build_request("update_by_query", {"index": "books", "conflicts": "proceed"}, {},
                        Stash())
    assert (ubq.method, ubq.path) == ("POST", "/books/_update_by_query")
    source = build_request("get_source", {"index": "books", "id": "1"}, {}, Stash())
    assert (source.method, source.path) == ("GET", "/books/_source/1")


def test_the_generator_compacts_a_spec_folder(tmp_path: Path) -> None:
    spec = tmp_path / "api"
    spec.mkdir()
    (spec / "_common.json").write_text(json.dumps({"params": {
        "pretty": {"type": "boolean", "description": "Pretty format"}}}))
    (spec / "delete_by_query.json").write_text(json.dumps({"delete_by_query": {
        "headers": {"content_type": ["application/json"]},
        "url": {"paths": [{"path": "/{index}/_delete_by_query", "methods": ["POST"],
                           "parts": {"index": {"type": "list", "description": "indices"}}}]},
        "params": {"conflicts": {"type": "enum", "options": ["abort", "proceed"],
                                 "description": "What to do on conflicts"},
                   "slices": {"type": "number|string", "description": "slices"}},
        "body": {"description": "query", "required": True}}}))
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; sys.path.insert(0, 'tools'); "
         "from generate_rest_api_spec import compact; "
         f"print(json.dumps(compact(__import__('pathlib').Path({str(spec)!r}), 'test')))"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert table == {
        "source": "test",
        "common_params": {"pretty": {"type": "boolean"}},
        "apis": {"delete_by_query": {
            "paths": [{"path": "/{index}/_delete_by_query", "methods": ["POST"],
                       "parts": {"index": "list"}}],
            "params": {"conflicts": {"type": "enum", "options": ["abort", "proceed"]},
                       "slices": {"type": "number|string"}},
            "body": "required", "ndjson": False}}}


def test_the_engine_table_matches_the_runner_table() -> None:
    runner = json.loads((REPO / "tests" / "conformance" / "rest_api_spec.json").read_text())
    engine = json.loads(ENGINE_TABLE.read_text())
    assert engine["source"] == runner["source"]
    assert set(engine["apis"]) == set(runner["apis"])
    for name, api in runner["apis"].items():
        assert engine["apis"][name]["params"] == api["params"], name
