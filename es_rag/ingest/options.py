"""IngestOptions: how files or records become chunks of an index, shared by every ingest path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from es_rag.ingest.chunk import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP
from es_rag.ingest.discover import SourceFile
from es_rag.ingest.parse import DEFAULT_MAX_BYTES, DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from es_rag.ingest.bulk import ChunkEmbedder
    from es_rag.ingest.parse import TikaParser

AclSource = Sequence[str] | Callable[[SourceFile], Sequence[str] | None] | None
"""The users/groups of every chunk, or a function giving them per file (e.g. `AclRules`)."""


@dataclass(frozen=True)
class IngestOptions:
    """Where chunks go and how they are made, for `ingest_paths` and `ingest_records`.

    - `index`, `embedder` (None: no vector sent; a `ClusterEmbedder`: the cluster embeds),
      `pipeline` (default: the embedder's or the index's), `chunk_size`/`overlap` in the
      embedder's tokens, `batch_size` chunks embedded and sent together, `refresh` at the end.
    - `acl`: users/groups of every chunk, or a function of the file giving them; `metadata`
      merged into each chunk's metadata; `source_name` (default: each folder's own name).
    - `prune` deletes the documents of these sources no longer found; `force` re-ingests
      unchanged documents.
    - Files only: discovery (`include`/`exclude` globs, `root`, `include_hidden`, `confine_to`)
      and parsing limits (`timeout` s, `max_bytes`, `max_chars`), or a long-lived `parser`.

    >>> IngestOptions(index="chunks", chunk_size=128).overlap
    32
    """

    index: str
    embedder: ChunkEmbedder | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    overlap: int = DEFAULT_OVERLAP
    acl: AclSource = None
    metadata: Mapping[str, Any] | None = None
    source_name: str | None = None
    pipeline: str | None = None
    prune: bool = False
    force: bool = False
    batch_size: int = 256
    refresh: bool = True
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    root: str | Path | None = None
    include_hidden: bool = False
    confine_to: Sequence[str | Path] | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_chars: int = DEFAULT_MAX_CHARS
    parser: TikaParser | None = None
