"""Find the files to ingest: walk folders with include/exclude globs; give each an id and MIME type.

Every folder given is an ingest root with a source name (by default the folder's own name, so the
same folder on another machine keeps its ids). A document id is the SHA-1 hex digest of the
source name and the file's path relative to its root (POSIX separators): the same file gets the
same id on every machine and every run, and two roots never share an id. Only regular files are
read; anything else met on the way (FIFOs, devices, sockets, links that dangle, loop, point to a
folder or to something not a file) is skipped and reported with the reason.
"""

from __future__ import annotations

import errno
import hashlib
import io
import mimetypes
import os
import re
import socket
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from es_rag.errors import EsRagError

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".venv", ".hg", ".svn", "__pycache__", "node_modules"})
SOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""What a source name may be: letters, digits, `.`, `_` and `-`, at most 100 characters."""

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

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


_UNLISTED = "cannot list the folder (so --prune leaves this source alone)"


class DiscoveryError(EsRagError, ValueError):
    """The paths given to ingest cannot be used together (two roots claim one source name)."""


@dataclass(frozen=True)
class SourceFile:
    """One file found on disk, with what ingest needs to know before parsing it."""

    path: Path
    """Absolute path on disk (a link's own path, not its target)."""
    source: str
    """Path relative to the root, POSIX separators: stored in each chunk's `source` field."""
    doc_id: str
    size: int
    mtime: float
    mime_type: str
    """Guessed from the name, else sniffed from the first bytes; Tika's detection wins at parse."""
    source_name: str = ""
    """The named source (ingest root) the file belongs to: each chunk's `source_name` field."""
    source_root: str = ""
    """Where that source's folder is (`host:/path`): each chunk's `source_root` field."""


@dataclass(frozen=True)
class SkippedPath:
    """A path that was not ingested, and why (a bad path given, or a non-regular file met)."""

    path: str
    reason: str


@dataclass
class Discovery:
    """What `discover` found: the files to ingest, what it skipped and the sources they form."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: list[SkippedPath] = field(default_factory=list)
    """Non-regular files and links met while walking folders, each with the reason."""
    unusable: list[SkippedPath] = field(default_factory=list)
    """Paths given that cannot be ingested (missing, not a regular file, outside the roots)."""
    roots: dict[str, Path] = field(default_factory=dict)
    """Source name -> root folder, for every source a usable path belongs to."""
    synced: set[str] = field(default_factory=set)
    """Sources whose whole root folder was walked: the ones `--prune` may clean (not one with
    a folder that could not be listed, whose files would look deleted)."""


def document_id(source_name: str, source: str) -> str:
    """A document's id: SHA-1 hex digest of its source name and its path relative to the root."""
    return hashlib.sha1(f"{source_name}\n{source}".encode()).hexdigest()


def root_label(folder: Path) -> str:
    """Where a source's folder is: `host:/absolute/path`, stored on its chunks (`source_root`)."""
    return f"{socket.gethostname()}:{folder}"


def legacy_document_id(source: str) -> str:
    """The id documents had before sources existed: SHA-1 of the relative path alone."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()


def source_name_problem(name: str) -> str | None:
    """Why `name` cannot be a source name, or None."""
    if SOURCE_NAME_RE.match(name):
        return None
    return (f"{name!r} is not a valid source name (letters, digits, '.', '_' and '-', starting "
            "with a letter or digit, at most 100 characters)")


def derived_source_name(folder: Path) -> str:
    """The default source name of a root folder: its own name, made a valid source name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-._")[:100]
    if not name:
        raise DiscoveryError(f"{folder}: no source name can be derived from this folder's "
                             "name; give one (--source NAME)")
    return name


def detect_mime(path: Path, head: bytes | None = None) -> str:
    """MIME type from the file name, else from its first bytes (`head`, read when not given)."""
    guessed, _ = _MIME_TABLE.guess_type(path.name, strict=False)
    if guessed:
        return guessed
    if head is None:
        try:
            with open_regular(path) as fh:
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


def open_regular(path: Path) -> io.FileIO:
    """Open a file for reading, refusing (OSError) anything but a regular file.

    Opened without blocking, so a FIFO swapped in after discovery cannot hang the reader.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    kind = not_regular(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file but {kind}")
    os.set_blocking(fd, True)
    return io.FileIO(fd, "rb")


def not_regular(mode: int) -> str | None:
    """What a file of this `st_mode` is when it is not a regular file; None when it is one."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


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
    source_name: str | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    include_hidden: bool = False,
    confine_to: Sequence[str | os.PathLike[str]] | None = None,
) -> Discovery:
    """The files under `paths`, sorted by source name and path, each once; see `Discovery`.

    `root` is what source paths are relative to; by default each folder given is its own root
    (or the folder given that holds it), and a file given alone is relative to its folder.
    `source_name` names the source of every root (default: each root folder's own name).
    `include` keeps only files that match one of its globs (all files when empty), `exclude`
    drops matches (see `matches_any`). Hidden files and folders are skipped unless
    `include_hidden`; `.git`, `.venv`, `__pycache__` and `node_modules` always are. Links to
    files are followed; links to folders are not. With `confine_to`, a path given or a link
    that resolves outside those folders is refused. A path that does not exist is listed in
    `unusable` and the others are still walked. Raises `DiscoveryError` when two root folders
    would have the same source name (their documents could take each other's ids).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if source_name is not None and (problem := source_name_problem(source_name)):
        raise DiscoveryError(problem)
    base = Path(root).resolve() if root is not None else None
    if base is not None and not base.is_dir():
        raise DiscoveryError(f"root {root!s} is not a folder")
    allowed = [Path(p).resolve() for p in confine_to] if confine_to is not None else None
    found = Discovery()
    given = _usable_paths(paths, base, allowed, found)
    folders = [path for path in given if path.is_dir()]
    anchors = {path: _anchor(path, base, folders) for path in given}
    for path, anchor in anchors.items():
        name = source_name or derived_source_name(anchor)
        other = found.roots.setdefault(name, anchor)
        if other != anchor:
            raise DiscoveryError(
                f"{other} and {anchor} would both be source {name!r}, so files with the same "
                "path in both would take each other's ids: ingest them in separate runs with "
                "different names (--source NAME)")
        if path == anchor:
            found.synced.add(name)
    seen: dict[str, SourceFile] = {}
    for path, anchor in anchors.items():
        name = source_name or derived_source_name(anchor)
        unlisted = len(found.skipped)
        candidates = _walk(path, include_hidden, found) if path.is_dir() else [path]
        if any(s.reason.startswith(_UNLISTED) for s in found.skipped[unlisted:]):
            found.synced.discard(name)
        for file in candidates:
            relative = file.relative_to(anchor).as_posix()
            if include and not matches_any(relative, include):
                continue
            if exclude and matches_any(relative, exclude):
                continue
            doc_id = document_id(name, relative)
            if doc_id in seen:
                continue
            problem = _not_ingestible(file, allowed)
            if problem is not None:
                found.skipped.append(SkippedPath(str(file), problem))
                continue
            try:
                info = file.stat()
            except OSError:
                continue  # vanished since the folder was listed
            seen[doc_id] = SourceFile(path=file, source=relative, doc_id=doc_id,
                                      size=info.st_size, mtime=info.st_mtime,
                                      mime_type=detect_mime(file), source_name=name,
                                      source_root=root_label(anchor))
    found.files = sorted(seen.values(), key=lambda f: (f.source_name, f.source))
    return found


def _usable_paths(paths: Sequence[str | os.PathLike[str]], base: Path | None,
                  allowed: list[Path] | None, found: Discovery) -> list[Path]:
    """The given paths made absolute (links in them kept), the unusable ones listed in `found`."""
    usable: list[Path] = []
    for given in paths:
        path = Path(os.path.abspath(given))
        problem = _given_path_problem(path, base, allowed)
        if problem is None:
            path = path.resolve() if path.is_dir() else path.parent.resolve() / path.name
            if path not in usable:
                usable.append(path)
        else:
            found.unusable.append(SkippedPath(str(given), problem))
    return usable


def outside_roots(path: str | os.PathLike[str],
                  roots: Sequence[str | os.PathLike[str]]) -> str | None:
    """Why `path` is not inside one of the folders `roots`, or None when it is.

    The path is resolved first (`..` and every symbolic link along it), so neither can lead
    out of the roots; a relative path is taken relative to the first root.
    """
    allowed = [Path(r).resolve() for r in roots]
    if not allowed:
        return "no folder is open to ingest here (setting ingest_roots is empty)"
    real = (allowed[0] / path).resolve()
    if any(real.is_relative_to(a) for a in allowed):
        return None
    return (f"{path} is outside the folders open to ingest ({', '.join(map(str, allowed))})"
            + (f": it leads to {real}" if str(real) != os.path.abspath(path) else ""))


def _given_path_problem(path: Path, base: Path | None, allowed: list[Path] | None) -> str | None:
    if not os.path.lexists(path):
        return "no such file or folder"
    real = path.resolve()
    if allowed is not None and (problem := outside_roots(path, allowed)):
        return problem
    if base is not None and not real.is_relative_to(base):
        return f"not inside the root {base}"
    if real.is_dir():
        return None
    return _not_ingestible(path, allowed)


def _anchor(path: Path, base: Path | None, folders: list[Path]) -> Path:
    """The root folder of a given path: `base`, else the outermost given folder holding it."""
    if base is not None:
        return base
    holders = [f for f in folders if path.is_relative_to(f)]
    if holders:
        return min(holders, key=lambda f: len(f.parts))
    return path.parent


def _not_ingestible(path: Path, allowed: list[Path] | None) -> str | None:
    """Why a file met on disk is not read (a link that dangles, loops, ...), or None."""
    try:
        own = os.lstat(path)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if not stat.S_ISLNK(own.st_mode):
        kind = not_regular(own.st_mode)
        return None if kind is None else f"not a regular file: it is {kind}"
    target = os.readlink(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"a symbolic link loop (-> {target})"
        if exc.errno == errno.ENOENT:
            return f"a dangling symbolic link (-> {target}, which does not exist)"
        return f"a symbolic link that cannot be followed (-> {target}): {exc.strerror}"
    real = path.resolve()
    if allowed is not None and not any(real.is_relative_to(a) for a in allowed):
        return f"a symbolic link to {real}, outside the folders ingest may read"
    kind = not_regular(mode)
    if kind == "a folder":
        return f"a symbolic link to a folder (-> {target}); links to folders are not followed"
    return None if kind is None else f"a symbolic link to {kind} (-> {target})"


def _walk(folder: Path, include_hidden: bool, found: Discovery) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=lambda exc: found.skipped.append(
            SkippedPath(str(exc.filename), f"{_UNLISTED}: {exc.strerror}"))):
        kept = []
        for name in sorted(dirnames):
            if name in ALWAYS_SKIPPED_DIRS or (not include_hidden and name.startswith(".")):
                continue
            if os.path.islink(os.path.join(dirpath, name)):
                files.append(Path(dirpath, name))  # reported as a link to a folder
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if include_hidden or not name.startswith("."):
                files.append(Path(dirpath, name))
    return files
