"""The relevance loop as an admin walks it, every step a real process or a click in Chromium.

Ingest two folders holding same-named files; judge a result in the playground; `es-rag eval
--judgments` on the live index; `es-rag tune --write`; `es-rag apply`; `es-rag plan` shows no
change; `es-rag ask --json` and `POST /api/ask` report the tuned parameters; the overview shows
nothing pending; `es-rag ingest --prune` of one folder leaves the other's documents.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
from cli.fusion_dataset import WINDOW, write_fusion_dataset
from playwright.sync_api import Page, expect

from es_rag.config import PROJECT_ROOT
from es_rag.engine.security.store import PASSWORD_FILE

pytestmark = pytest.mark.browser

ES_RAG = [sys.executable, "-m", "es_rag"]
QUESTION = "Who approves annual leave requests?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Admin:
    """Runs es-rag commands on a private engine and assets folder, as an admin would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.assets = root / "repo"
        self.env = {**os.environ, "ES_RAG_DATA": str(root / "data"),
                    "ES_RAG_ENGINE_PORT": str(_free_port()), "ES_RAG_ASSETS": str(self.assets)}
        self.servers: list[subprocess.Popen[str]] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*ES_RAG, *args], capture_output=True, text=True, timeout=600,
                              env=self.env)
        assert done.returncode == 0, f"es-rag {' '.join(args)}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout.strip().splitlines()[-1])

    def serve(self, command: str) -> str:
        """Start `es-rag ui` or `es-rag serve` on a free port; its URL once it answers."""
        port = _free_port()
        server = subprocess.Popen([*ES_RAG, command, "--port", str(port)], env=self.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.servers.append(server)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return f"http://127.0.0.1:{port}"
            assert server.poll() is None, f"es-rag {command} exited with {server.returncode}"
            time.sleep(0.3)
        raise AssertionError(f"es-rag {command} did not listen on port {port}")

    @property
    def password(self) -> str:
        return (self.root / "data" / PASSWORD_FILE).read_text().strip()

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run([*ES_RAG, "engine", "stop"], env=self.env, capture_output=True,
                       timeout=60)


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    """The assets (mappings, pipelines, templates, roles, retrieval.json with RRF windows of 10)
    in a private folder."""
    admin = Admin(tmp_path)
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, admin.assets / folder)
    data = json.loads((PROJECT_ROOT / "retrieval.json").read_text())
    data["fusion"]["rank_window_size"] = WINDOW
    (admin.assets / "retrieval.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    yield admin
    admin.stop()


def _folders(root: Path) -> list[Path]:
    handbook, it = root / "handbook", root / "it"
    handbook.mkdir()
    it.mkdir()
    (handbook / "leave.md").write_text("# Leave policy\n\nEmployees request annual leave in the "
                                       "HR portal. Managers approve leave requests within "
                                       "three working days.\n")
    (handbook / "travel.md").write_text("# Travel\n\nBook flights through the travel desk; "
                                        "economy class is the default for short flights.\n")
    (it / "backup.md").write_text("# Backups\n\nNightly backups copy every volume to object "
                                  "storage and keep them for thirty days.\n")
    (it / "vpn.md").write_text("# Remote access\n\nConnect through the VPN client before "
                               "opening internal dashboards.\n")
    # the same file name in both folders: two documents, neither replaces the other
    (handbook / "faq.md").write_text("# FAQ\n\nParking permits are handed out at reception.\n")
    (it / "faq.md").write_text("# FAQ\n\nPasswords rotate every ninety days.\n")
    return [handbook, it]


def _sources_found(admin: Admin, query: str) -> set[tuple[str, str]]:
    """(source name, path) of the documents a bm25 search finds."""
    found = admin.json("search", query, "--mode", "bm25")
    return {(hit["source_name"], hit["source"]) for hit in found["hits"]}


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.timeout(900)  # about 100 processes and clicks; minutes on a loaded machine
def test_the_relevance_loop_holds_end_to_end(admin: Admin, browser: Any, screenshots: Path,
                                             tmp_path: Path) -> None:
    admin.run("apply", "--yes")
    folders = _folders(tmp_path)
    for folder in folders:
        report = admin.json("ingest", str(folder))
        assert report["files"]["parsed"] == 3, report
        assert report["chunks"]["deleted"] == 0, report
    assert {("handbook", "faq.md"), ("it", "faq.md")} <= _sources_found(admin, "FAQ")

    # judge the first hybrid result of a question relevant, in the playground
    ui = admin.serve("ui")
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{ui}/auth/login")
    page.fill("input[name=username]", "elastic")
    page.fill("input[name=password]", admin.password)
    page.click("button[type=submit]")
    page.goto(f"{ui}/playground?q={QUESTION}")
    expect(page.locator("#parameters-origin")).to_contain_text("as applied in the cluster")
    expect(page.locator("input[name=rank_window_size]")).to_have_value(str(WINDOW))
    first = page.locator(".column[data-mode='hybrid'] .hit").first
    expect(first).to_contain_text("Managers approve leave")
    relevant = first.get_attribute("data-doc")
    first.locator(".judge-btn.rel").click()
    expect(first.locator(".judge-btn.rel")).to_have_class("judge-btn rel on")
    _shot(page, screenshots, "loop-01-judged")
    qrels = admin.assets / "judgments" / "playground.qrels"
    assert qrels.read_text().endswith(f" 0 {relevant} 1\n")

    # evaluate the live index with those judgments, as `es-rag search` searches it
    measured = admin.json("eval", "--judgments", str(qrels))
    assert measured["queries"] == 1 and measured["configs"]["current"]["ndcg@10"] == 1.0
    assert measured["parameters"]["source"] == "cluster"
    assert measured["parameters"]["values"]["rank_constant"] == 60

    # tune on a dataset's train queries and write the winner into retrieval.json
    dataset = write_fusion_dataset(tmp_path / "fusion")
    tuned = admin.json("tune", "--dataset", str(dataset), "--grid", "rank_constant=1",
                       "--grid", f"rank_window_size={WINDOW}", "--grid", "num_candidates=100",
                       "--grid", "title_boost=1", "--grid", "headings_boost=1", "--write")
    assert tuned["best"]["rank_constant"] == 1
    assert json.loads((admin.assets / "retrieval.json").read_text())["fusion"][
        "rank_constant"] == 1

    # apply, and the cluster matches the files
    applied = admin.run("apply", "--yes").stdout
    assert "update retrieval es-rag-retrieval" in applied
    assert "update template hybrid" in applied
    assert admin.json("plan")["changes"] == []

    # every answer now follows the tuned parameters, and says so
    answer = admin.json("ask", QUESTION)
    assert answer["retrieval"]["parameters"]["source"] == "cluster"
    assert answer["retrieval"]["parameters"]["values"]["rank_constant"] == 1
    assert "three working days" in answer["answer"]
    api = admin.serve("serve")
    token = base64.b64encode(f"elastic:{admin.password}".encode()).decode()
    request = Request(f"{api}/api/ask", data=json.dumps({"question": QUESTION}).encode(),
                      headers={"Content-Type": "application/json",
                               "Authorization": f"Basic {token}"})
    with urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    assert body["retrieval"]["parameters"] == answer["retrieval"]["parameters"]

    # the admin UI shows the applied values and nothing pending
    page.goto(f"{ui}/tuning")
    expect(page.locator("tr[data-param=rank_constant] td.stored")).to_have_text("1")
    _shot(page, screenshots, "loop-02-tuning")
    page.goto(f"{ui}/overview")
    expect(page.locator("text=in sync")).to_be_visible()
    expect(page.locator("button", has_text="change(s)")).to_have_count(0)
    _shot(page, screenshots, "loop-03-overview")
    page.context.close()

    # a file removed from one folder is pruned from its source only
    handbook, it = folders
    (it / "faq.md").unlink()
    pruned = admin.json("ingest", str(it), "--prune")
    assert pruned["files"]["pruned"] == 1, pruned
    assert _sources_found(admin, "FAQ") == {("handbook", "faq.md")}
    assert ("handbook", "leave.md") in _sources_found(admin, "annual leave")
