"""Conformance: Elasticsearch's YAML REST tests against the embedded engine; the runner itself."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conformance import Outcome, pass_rate, run_directory, summarize
from conformance.__main__ import main
from conformance.api_call import ParamError, build_request
from conformance.cluster_users import provision_file_users
from conformance.connection import make_client
from conformance.report import summary_line
from conformance.stash import Stash
from elasticsearch import Elasticsearch

if TYPE_CHECKING:
    from conformance import TestResult

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SET = Path(os.environ.get("ES_RAG_CONFORMANCE_DIR",
                             REPO_ROOT.parent / "shared" / "conformance"))
FLOOR_FILE = Path(__file__).with_name("conformance_floor.json")


class _FakeCluster(BaseHTTPRequestHandler):
    """Just enough of Elasticsearch for runner tests: version, indices, documents, warnings."""

    indices: dict[str, dict[str, Any]] = {}

    def log_message(self, *args: Any) -> None:
        """Keep test output quiet."""

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _error(self, status: int, kind: str, reason: str) -> None:
        error = {"type": kind, "reason": reason}
        self._answer(status, {"error": {**error, "root_cause": [error]}, "status": status})

    def _route(self) -> None:
        path = self.path.split("?")[0].strip("/")
        parts = path.split("/") if path else []
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        method = self.command
        if not parts:
            self._answer(200, {"name": "fake", "version": {"number": "9.1.0"}})
        elif parts == ["_cluster", "health"]:
            time.sleep(3)  # a hanging call
            self._answer(200, {"status": "green"})
        elif parts == ["*"] and method == "GET":
            self._answer(200, {name: {} for name in self.indices})
        elif len(parts) == 1 and not parts[0].startswith("_"):
            self._index_level(method, parts[0])
        elif len(parts) == 3 and parts[1] == "_doc":
            self._document(method, parts[0], parts[2], body)
        else:
            self._error(400, "illegal_argument_exception", f"no handler for [{method} /{path}]")

    def _index_level(self, method: str, name: str) -> None:
        if method == "HEAD":
            self._answer(200 if name in self.indices else 404)
        elif method == "PUT" and name in self.indices:
            self._error(400, "resource_already_exists_exception", f"index [{name}] exists")
        elif method == "PUT":
            self.indices[name] = {}
            self._answer(200, {"acknowledged": True, "index": name})
        elif method == "DELETE":
            for index in name.split(","):
                self.indices.pop(index, None)
            self._answer(200, {"acknowledged": True})
        else:
            self._error(405, "illegal_argument_exception", f"{method} not allowed")

    def _document(self, method: str, index: str, doc_id: str, body: Any) -> None:
        docs = self.indices.get(index, {})
        if method in ("PUT", "POST"):
            self.indices.setdefault(index, {})[doc_id] = body
            warning = ({"Warning": '299 Elasticsearch-9.1.0 "[old] is deprecated"'}
                       if "old" in body else None)
            self._answer(201, {"_index": index, "_id": doc_id, "result": "created",
                               "_version": 1}, warning)
        elif doc_id in docs:
            self._answer(200, {"_index": index, "_id": doc_id, "found": True,
                               "_source": docs[doc_id]})
        else:
            self._answer(404, {"_index": index, "_id": doc_id, "found": False})

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _route


@pytest.fixture
def fake_cluster() -> Iterator[Elasticsearch]:
    """A client for a throwaway in-process fake cluster."""
    _FakeCluster.indices = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeCluster)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    client = Elasticsearch(f"http://127.0.0.1:{server.server_port}", max_retries=0)
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def _run(tmp_path: Path, client: Elasticsearch, yaml_text: str) -> dict[str, TestResult]:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "10_basic.yml").write_text(yaml_text)
    return {r.test.name: r for r in run_directory(tmp_path, client, test_timeout=10)}


def test_stashed_values_flow_into_params_paths_bodies_and_expectations(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, """
setup:
  - do:
      indices.create: {index: books}
---
"Stash round trip":
  - do:
      index: {index: books, id: "dune", body: {title: Dune, field_name: title}}
  - set: {_id: book_id}
  - do:
      get: {index: books, id: $book_id}
  - set: {_source.field_name: field}
  - match: {_source.$field: Dune}
  - match: {_id: "${book_id}"}
  - do:
      index:
        index: books
        id: copy
        body: '{"original": "$book_id", "note": "copy of ${book_id}"}'
  - do:
      get: {index: books, id: copy}
  - match: {_source: {original: dune, note: copy of dune}}
  - transform_and_set: {login: "#base64EncodeCredentials(_index,_id)"}
  - do:
      headers: {Authorization: "ApiKey ${login}"}
      index: {index: books, id: creds, body: {"${login}": "$login"}}
  - do:
      get: {index: books, id: creds}
  - match: {_source: {Ym9va3M6Y29weQ==: Ym9va3M6Y29weQ==}}
""")
    assert results["Stash round trip"].outcome is Outcome.PASS, results["Stash round trip"].detail


def test_regex_expectations_use_verbose_mode_and_search_semantics(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, r"""
"Regex match":
  - do:
      index: {index: books, id: "doc-42", body: {title: Dune}}
  - match:
      _id: |
        /doc-  # a comment, and the whitespace is ignored
         \d+$/
  - match: {result: /reat/}
""")
    assert results["Regex match"].outcome is Outcome.PASS, results["Regex match"].detail


def test_catch_maps_names_to_statuses_and_reports_a_wrong_status(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, """
"Expected errors":
  - do:
      catch: missing
      get: {index: books, id: nope}
  - match: {found: false}
  - do:
      indices.create: {index: books}
  - do:
      catch: /resource_already_exists_exception/
      indices.create: {index: books}
  - do:
      catch: bad_request
      indices.create: {index: books}
  - match: {error.type: resource_already_exists_exception}
  - do:
      catch: param
      get: {index: books}
---
"Wrong status":
  - do:
      catch: conflict
      get: {index: books, id: nope}
""")
    assert results["Expected errors"].outcome is Outcome.PASS, results["Expected errors"].detail
    wrong = results["Wrong status"]
    assert wrong.outcome is Outcome.FAIL
    assert "expected [409] status code but api [get] returned [404]" in wrong.detail
    assert '"found": false' in wrong.response


def test_skip_and_requires_follow_the_reported_version(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, """
"Skipped by version range":
  - skip: {version: "9.0.0 - 9.9.99", reason: "broken in 9.x"}
  - do: {info: {}}
---
"Skipped on every version":
  - skip: {version: all, reason: awaits a fix}
  - do: {info: {}}
---
"Runs on newer versions":
  - skip: {version: " - 8.99.99", reason: "fixed in 9.0"}
  - requires: {cluster_features: ["gte_v9.1.0"], reason: "needs 9.1"}
  - do: {info: {}}
  - match: {version.number: "9.1.0"}
---
"Needs a future version":
  - requires: {cluster_features: "gte_v99.0.0", reason: "not yet released"}
  - do: {info: {}}
---
"Needs a runner feature this runner lacks":
  - skip: {features: node_selector}
  - do: {info: {}}
""")
    assert results["Skipped by version range"].outcome is Outcome.SKIP
    assert "broken in 9.x" in results["Skipped by version range"].detail
    assert results["Skipped on every version"].outcome is Outcome.SKIP
    assert results["Runs on newer versions"].outcome is Outcome.PASS
    assert results["Needs a future version"].outcome is Outcome.SKIP
    assert "gte_v99.0.0" in results["Needs a future version"].detail
    assert "node_selector" in results["Needs a runner feature this runner lacks"].detail


def test_a_failing_assertion_is_reported_with_its_step_and_the_response(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, """
"Wrong title":
  - do:
      index: {index: books, id: "1", body: {title: Dune}}
  - do:
      get: {index: books, id: "1"}
  - match: {_source.title: Emma}
""")
    failed = results["Wrong title"]
    assert failed.outcome is Outcome.FAIL
    assert failed.detail.startswith('test step 3 (match {"_source.title": "Emma"})')
    assert "'Dune'" in failed.detail
    assert '"title": "Dune"' in failed.response


def test_unsupported_apis_and_warnings_are_honoured(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, """
"Needs the tasks API":
  - do: {tasks.get: {task_id: "node:1"}}
---
"Deprecated field, warning allowed":
  - do:
      allowed_warnings: ["[old] is deprecated"]
      index: {index: books, id: "1", body: {old: 1}}
---
"Deprecated field, warning expected":
  - do:
      warnings: ["[old] is deprecated"]
      index: {index: books, id: "1", body: {old: 1}}
---
"Deprecated field, warning unexpected":
  - do:
      index: {index: books, id: "1", body: {old: 1}}
---
"Scripted search":
  - do:
      search:
        index: books
        body: {query: {script_score: {query: {match_all: {}}, script: {source: "1"}}}}
---
"Exists is false for a missing index":
  - do: {indices.exists: {index: nowhere}}
  - is_false: ''
""")
    assert results["Needs the tasks API"].outcome is Outcome.SKIP
    assert "tasks.get" in results["Needs the tasks API"].detail
    assert "[script]" in results["Scripted search"].detail
    assert results["Deprecated field, warning allowed"].outcome is Outcome.PASS
    assert results["Deprecated field, warning expected"].outcome is Outcome.PASS
    unexpected = results["Deprecated field, warning unexpected"]
    assert unexpected.outcome is Outcome.FAIL
    assert "unexpected warning" in unexpected.detail
    assert results["Exists is false for a missing index"].outcome is Outcome.PASS


def test_the_cluster_is_wiped_between_tests(tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    results = _run(tmp_path, fake_cluster, """
"First creates an index":
  - do: {indices.create: {index: leftovers}}
---
"Second does not see it":
  - do: {indices.exists: {index: leftovers}}
  - is_false: ''
""")
    assert {r.outcome for r in results.values()} == {Outcome.PASS}


def test_a_hanging_call_fails_its_test_at_the_time_limit(
        tmp_path: Path, fake_cluster: Elasticsearch) -> None:
    (tmp_path / "health.yml").write_text('"Hangs":\n  - do: {cluster.health: {}}\n')
    started = time.monotonic()
    [result] = run_directory(tmp_path, fake_cluster, test_timeout=0.5)
    assert result.outcome is Outcome.FAIL
    assert "got no usable answer" in result.detail
    assert time.monotonic() - started < 2.5


def test_do_steps_become_requests_as_the_api_table_says() -> None:
    stash = Stash({"doc_id": "d/1"})
    bulk = build_request("bulk", {"index": "books", "refresh": True,
                                  "body": [{"index": {"_id": "$doc_id"}}, '{"title": "Dune"}']},
                         {}, stash)
    assert (bulk.method, bulk.path, bulk.params) == ("POST", "/books/_bulk", {"refresh": "true"})
    assert bulk.headers["Content-Type"] == "application/x-ndjson"
    assert bulk.body == b'{"index": {"_id": "d/1"}}\n{"title": "Dune"}\n'

    get = build_request("get", {"index": "books", "id": "$doc_id", "_source_includes": ["a", "b"],
                                "ignore": 404}, {}, stash)
    assert (get.method, get.path) == ("GET", "/books/_doc/d%2F1")
    assert get.params == {"_source_includes": "a,b"} and get.ignore == {404}

    everywhere = build_request("search", {"index": [], "body": '{"size": 1}'}, {}, stash)
    assert (everywhere.method, everywhere.path, everywhere.body) == (
        "POST", "/_search", b'{"size": 1}')
    assert build_request("indices.exists", {"index": "books"}, {}, stash).method == "HEAD"
    with pytest.raises(ParamError, match="needs path parts"):
        build_request("get", {"index": "books"}, {}, stash)


def test_a_malformed_unsupported_file_is_refused_with_its_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "unsupported.yml"
    broken.write_text("apis:\n  tasks.get: ''\n")
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--url", "http://127.0.0.1:9", "--unsupported", str(broken)])
    assert "every api needs a reason" in capsys.readouterr().err


def test_command_line_prints_lines_table_and_json_totals(
        tmp_path: Path, fake_cluster: Elasticsearch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "10_basic.yml").write_text(
        '"Passes":\n  - do: {info: {}}\n---\n"Fails":\n  - do: {info: {}}\n'
        '  - match: {version.number: "1.0.0"}\n')
    url = fake_cluster.transport.node_pool.get().base_url

    assert main([str(tmp_path), "--url", url, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("PASS docs/10_basic.yml :: Passes")
    assert lines[1].startswith("FAIL docs/10_basic.yml :: Fails: test step 2 (match")
    assert lines[-2] == "1 passed, 1 failed, 0 skipped"
    assert json.loads(lines[-1]) == {"passed": 1, "failed": 1, "skipped": 0,
                                     "by_area": {"docs": {"passed": 1, "failed": 1, "skipped": 0}},
                                     "mean_file_pass_rate": 0.5}
    assert lines[-3] == "50.0% of run tests passed, mean per-file pass rate 50.0%, 0.0% skipped"
    assert main([str(tmp_path), "--url", url, "--fail-under", "0.9"]) == 1
    capsys.readouterr()
    assert main([str(tmp_path), "--url", url, "-k", "passes", "--fail-under", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "1 passed, 0 failed, 0 skipped"


@pytest.mark.timeout(1200)  # ~2 min alone on 2 cores; much longer on a shared machine
def test_dev_set_pass_rate_stays_above_the_recorded_floor(tmp_path: Path) -> None:
    """The dev set against its own engine with security on, run as the `elastic` superuser."""
    from es_rag.engine.server import EngineServer

    assert DEV_SET.is_dir(), (
        f"the conformance dev set is missing: expected Elasticsearch's YAML tests in {DEV_SET}")
    provision_file_users(tmp_path / "engine")  # the test cluster's own users, as the runner's
    server = EngineServer(tmp_path / "engine", port=0, elastic_password="conformance").start()
    client = make_client(server.url, user="elastic", password="conformance", timeout=30)
    try:
        results = run_directory(DEV_SET, client, test_timeout=30)
        summary = summarize(results)
    finally:
        client.close()
        server.stop()
    floor = json.loads(FLOOR_FILE.read_text())
    rate = pass_rate(summary) or 0.0
    areas = ", ".join(f"{area} {c['passed']}/{c['passed'] + c['failed']} (+{c['skipped']} skipped)"
                      for area, c in summary["by_area"].items())
    figures = (f"{summary['passed']} passed, {summary['failed']} failed, "
               f"{summary['skipped']} skipped; per area: {areas}")
    assert rate >= floor["pass_rate"], (
        f"conformance pass rate {rate:.1%} fell below the floor {floor['pass_rate']:.1%} "
        f"({figures})")
    mean = summary["mean_file_pass_rate"] or 0.0
    assert mean >= floor["mean_file_pass_rate"], (
        f"mean per-file pass rate {mean:.1%} fell below the floor "
        f"{floor['mean_file_pass_rate']:.1%} ({figures})")
    original = floor["original_set"]
    kept = summarize(r for r in results if r.test.test_id.split(" :: ")[0] in original["files"])
    kept_rate = pass_rate(kept) or 0.0
    assert kept_rate >= original["pass_rate"], (
        f"on the {len(original['files'])} files of the original dev set the pass rate "
        f"{kept_rate:.1%} fell below its floor {original['pass_rate']:.1%} "
        f"({summary_line(kept)})")
