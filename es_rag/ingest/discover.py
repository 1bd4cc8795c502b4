"""Find the files to ingest: walk folders with include/exclude globs; give each an id and MIME type.

A document id is, by default, the SHA-1 hex digest of the file's path relative to the root
(POSIX separators), so the same file gets the same id on every machine and every run.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

IdFunction = Callable[[Path, str], str]
"""Computes a document id from (absolute path, source path relative to the root)."""

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".venv", ".hg", ".svn", "__pycache__", "node_modules"})

# Types the standard table lacks or gets wrong for documents (".ts" is not an MPEG stream here).
_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".epub": "application/epub+zip",
    ".jsonl": "application/x-ndjson",
    ".nxml": "application/xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".rst": "text/x-rst",
    ".py": "text/x-python",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".go": "text/x-go",
    ".java": "text/x-java",
    ".rs": "text/x-rust",
    ".c": "text/x-c",
    ".h": "text/x-c",
    ".cpp": "text/x-c++",
    ".cs": "text/x-csharp",
    ".rb": "text/x-ruby",
    ".kt": "text/x-kotlin",
    ".swift": "text/x-swift",
    ".sh": "text/x-shellscript",
}

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-tika-msoffice"),
    (b"{\\rtf", "application/rtf"),
)

_MIME_TABLE = mimetypes.MimeTypes()
for _suffix, _type in _EXTRA_TYPES.items():
    _MIME_TABLE.add_type(_type, _suffix)


class DiscoveryError(ValueError):
    """A path given to ingest cannot be used (missing, or outside the root)."""


@dataclass(frozen=True)
class SourceFile:
    """One file found on disk, with what ingest needs to know before parsing it."""

    path: Path
    """Absolute path on disk."""
    source: str
    """Path relative to the root, POSIX separators: stored in each chunk's `source` field."""
    doc_id: str
    size: int
    mtime: float
    mime_type: str
    """Guessed from the name, else sniffed from the first bytes; Tika's detection wins at parse."""


def document_id(path: Path, source: str) -> str:
    """Default id function: SHA-1 hex digest of the source path relative to the root."""
    del path  # the id depends only on the relative path, so it is the same on every machine
    return hashlib.sha1(source.encode("utf-8")).hexdigest()


def detect_mime(path: Path, head: bytes | None = None) -> str:
    """MIME type from the file name, else from its first bytes (`head`, read when not given)."""
    guessed, _ = _MIME_TABLE.guess_type(path.name, strict=False)
    if guessed:
        return guessed
    if head is None:
        try:
            with path.open("rb") as fh:
                head = fh.read(4096)
        except OSError:
            return "application/octet-stream"
    for signature, mime in _SIGNATURES:
        if head.startswith(signature):
            return mime
    start = head.lstrip()[:64].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if start.startswith(b"<?xml"):
        return "application/xml"
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return "application/octet-stream"
    return "text/plain"


def matches_any(relative: str, patterns: Iterable[str]) -> bool:
    """Whether a relative POSIX path matches one of the glob patterns.

    A pattern without `/` is matched against every component of the path (so `*.md` matches
    `notes/a.md` and `build` matches everything under a `build` folder); a pattern with `/` is
    matched against the whole relative path, `**/` also matching zero folders.
    """
    parts = PurePosixPath(relative).parts
    for pattern in patterns:
        if "/" not in pattern:
            if any(fnmatchcase(part, pattern) for part in parts):
                return True
            continue
        pattern = pattern.lstrip("/")
        candidates = {pattern}
        while pattern.startswith("**/"):
            pattern = pattern[3:]
            candidates.add(pattern)
        if any(fnmatchcase(relative, candidate) for candidate in candidates):
            return True
    return False


def discover(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    include_hidden: bool = False,
    id_function: IdFunction = document_id,
) -> list[SourceFile]:
    """List the files under `paths`, sorted by source path, each once.

    `root` is what source paths (and so ids) are relative to; by default each folder given is its
    own root and a file given alone is relative to its folder. `include` keeps only files that
    match one of its globs (all files when empty), `exclude` drops matches (see `matches_any`).
    Hidden files and folders are skipped unless `include_hidden`; `.git`, `.venv`, `__pycache__`
    and `node_modules` always are. Raises `DiscoveryError` for a path that does not exist or lies
    outside `root`.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    base = Path(root).resolve() if root is not None else None
    if base is not None and not base.is_dir():
        raise DiscoveryError(f"root {root!s} is not a folder")
    found: dict[str, SourceFile] = {}
    for given in paths:
        path = Path(given).resolve()
        if not path.exists():
            raise DiscoveryError(f"{given!s}: no such file or folder")
        if base is not None and not path.is_relative_to(base):
            raise DiscoveryError(f"{given!s} is not inside the root {base}")
        if path.is_dir():
            files = _walk(path, include_hidden)
            anchor = base or path
        else:
            files = [path]
            anchor = base or path.parent
        for file in files:
            source = file.relative_to(anchor).as_posix()
            if include and not matches_any(source, include):
                continue
            if exclude and matches_any(source, exclude):
                continue
            doc_id = id_function(file, source)
            if doc_id in found:
                continue
            try:
                stat = file.stat()
            except OSError:
                continue  # vanished since the folder was listed
            found[doc_id] = SourceFile(
                path=file, source=source, doc_id=doc_id, size=stat.st_size,
                mtime=stat.st_mtime, mime_type=detect_mime(file))
    return sorted(found.values(), key=lambda f: f.source)


def _walk(folder: Path, include_hidden: bool) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in ALWAYS_SKIPPED_DIRS and (include_hidden or not d.startswith(".")))
        for name in sorted(filenames):
            if include_hidden or not name.startswith("."):
                files.append(Path(dirpath, name))
    return files
