"""Fixtures for the ingest tests: real documents, the embedding model, a Tika parser, an index."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from es_rag.embedding.local import Embedder
from es_rag.ingest.parse import TikaParser

from .documents import write_docx, write_pdf

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).resolve().parents[2]

REPORT_PAGES = [
    ["Quarterly search report", "Hybrid retrieval answered most questions in the first quarter."],
    ["Second quarter", "The rank constant was lowered after the relevance review."],
    ["Third quarter", "Ingestion of the handbook folder finished without failures."],
]
MANUAL_BLOCKS = [
    (1, "Installation"),
    (0, "Install es-rag into a virtual environment with pip."),
    (2, "Offline machines"),
    (0, "The embedding model ships as a package, so nothing is downloaded."),
    (1, "Configuration"),
    (0, "Settings come from ES_RAG variables and the es-rag.toml file."),
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of documents in every supported kind: Markdown, HTML, PDF, DOCX, text and code."""
    folder = tmp_path / "docs"
    shutil.copytree(FIXTURES, folder)
    write_pdf(folder / "report.pdf", REPORT_PAGES, title="Quarterly search report",
              author="Search team")
    write_docx(folder / "manual.docx", MANUAL_BLOCKS, title="Operator manual",
               author="Search team")
    return folder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return Embedder()


@pytest.fixture(scope="session")
def parser() -> Iterator[TikaParser]:
    """One Tika worker for the session."""
    with TikaParser(timeout=60) as tika:
        yield tika


@pytest.fixture
def chunk_index(es: Elasticsearch) -> str:
    """The chunk index as the assets define it (mapping, default pipeline), behind an alias."""
    pipeline = json.loads((PROJECT / "pipelines" / "chunks.json").read_text())
    body = json.loads((PROJECT / "mappings" / "chunks.json").read_text())
    es.ingest.put_pipeline(id=body["settings"]["index.default_pipeline"], **pipeline)
    es.indices.create(index="chunks-v1", settings=body["settings"], mappings=body["mappings"],
                      aliases={"chunks": {}})
    return "chunks"
