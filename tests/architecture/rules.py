"""The structure rules and the import graph they read (module-level imports, parsed with ast)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

MAX_LINES = 500
ENGINE = "es_rag.engine"
APP = "es_rag.engine.app"
# where REST handlers live: the routes of http/ and the security REST handlers they route
HANDLER_GLOBS = ("es_rag/engine/http/routes_*.py", "es_rag/engine/security/rest_*.py")
SIZED_TREES = ("es_rag", "admin_ui")


@dataclass(frozen=True, order=True)
class Violation:
    """One broken rule: its name and what breaks it (a module, an import, a cycle)."""

    rule: str
    subject: str
    detail: str = ""

    @property
    def key(self) -> str:
        """How the allow-list names it."""
        return f"{self.rule} {self.subject}"


@dataclass(frozen=True)
class Import:
    """One import statement: the module importing, the module imported, where, and whether it
    runs when the importer is loaded (module level, `if TYPE_CHECKING:` blocks included)."""

    source: str
    target: str
    line: int
    module_level: bool


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path, tree: str) -> list[Path]:
    return sorted(p for p in (root / tree).rglob("*.py") if ".venv" not in p.parts)


def imports_of(root: Path, path: Path, known: set[str]) -> Iterator[Import]:
    """The first-party modules `path` imports (`from pkg import module` resolves to the
    module, `from module import name` to the module)."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = {id(node) for node in _module_level(tree.body)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield Import(name, target, node.lineno, id(node) in top)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import: the body, and inside top-level `if`/`try` blocks."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.Try):
            for block in (node.body, node.orelse, *(h.body for h in getattr(node, "handlers", ())),
                          getattr(node, "finalbody", [])):
                yield from _module_level(block)


def check(root: Path) -> list[Violation]:
    """Every violation of the rules in the tree at `root` (the repository)."""
    files = {module_name(root, p): p for tree in ("es_rag",) for p in python_files(root, tree)}
    known = set(files)
    imports = [imp for path in files.values() for imp in imports_of(root, path, known)]
    return sorted([*_cycles(imports), *_handlers(root, imports), *_engine_boundary(imports),
                   *_sizes(root)])


def _cycles(imports: list[Import]) -> Iterator[Violation]:
    """Each import cycle inside the engine (module-level imports), one violation per import
    that lies on a cycle, so that removing an import shrinks the list."""
    graph = nx.DiGraph()
    for imp in imports:
        if imp.module_level and _in_engine(imp.source) and _in_engine(imp.target):
            graph.add_edge(imp.source, imp.target, line=imp.line)
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        sub = graph.subgraph(component)
        members = len(component)
        for source, target in sorted(sub.edges):
            back = nx.shortest_path(sub, target, source)
            path = " -> ".join(_short(m) for m in [source, *back])
            yield Violation("cycle", f"{_short(source)} -> {_short(target)}",
                            f"line {sub.edges[source, target]['line']}; cycle {path}; "
                            f"{members} modules in this knot")


def _handlers(root: Path, imports: list[Import]) -> Iterator[Violation]:
    """A REST handler module importing the application (`EngineApp`) in any form."""
    handlers = {module_name(root, p) for pattern in HANDLER_GLOBS for p in root.glob(pattern)}
    for imp in imports:
        if imp.source in handlers and imp.target == APP:
            yield Violation("handler-imports-app", _short(imp.source), f"line {imp.line}")


def _engine_boundary(imports: list[Import]) -> Iterator[Violation]:
    """The engine importing anything of es_rag outside the engine (any import, even lazy)."""
    for imp in imports:
        if _in_engine(imp.source) and not _in_engine(imp.target) and \
                imp.target.split(".")[0] == "es_rag":
            yield Violation("engine-imports-library", f"{_short(imp.source)} -> {imp.target}",
                            f"line {imp.line}")


def _sizes(root: Path) -> Iterator[Violation]:
    for tree in SIZED_TREES:
        for path in python_files(root, tree):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                yield Violation("size", path.relative_to(root).as_posix(),
                                f"{lines} lines (at most {MAX_LINES})")


def _in_engine(module: str) -> bool:
    return module == ENGINE or module.startswith(ENGINE + ".")


def _short(module: str) -> str:
    """An engine module's name relative to the engine (`http.rest`), others unchanged."""
    return module[len(ENGINE) + 1:] if module.startswith(ENGINE + ".") else module
