"""Load upstream YAML REST test files into test cases (setup, steps, teardown), ES YAML rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class SuiteFormatError(ValueError):
    """A test file does not follow the YAML REST test format."""


class _EsYamlLoader(yaml.SafeLoader):
    """SafeLoader with the scalar typing Elasticsearch's YAML parser uses.

    Only ``true``/``false`` are booleans, numbers are plain decimal ones and dates stay strings
    (PyYAML's YAML 1.1 defaults would turn ``on``, ``1:30`` or ``2020-01-01`` into other types).
    """


_REPLACED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "timestamp")}
_EsYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_EsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_EsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_EsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
               r"|^[-+]?[0-9]+[eE][-+]?[0-9]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)

RESERVED_SECTIONS = ("setup", "teardown")
PREREQUISITE_KINDS = ("skip", "requires")


@dataclass
class Section:
    """A list of steps preceded by its prerequisites (leading ``skip``/``requires`` steps)."""

    prerequisites: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TestCase:
    """One named test of a file, with the file's shared setup and teardown."""

    file: Path
    area: str
    name: str
    setup: Section
    body: Section
    teardown: Section

    @property
    def test_id(self) -> str:
        """``area/file.yml :: name``: how the test is named in reports and matched by ``-k``."""
        return f"{self.area}/{self.file.name} :: {self.name}"


def _section(name: str, steps: Any, path: Path) -> Section:
    if steps is None:
        steps = []
    if not isinstance(steps, list):
        raise SuiteFormatError(f"{path}: section [{name}] must be a list of steps")
    section = Section()
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or len(step) != 1:
            raise SuiteFormatError(
                f"{path}: step {index + 1} of [{name}] must be a map with exactly one key, "
                f"got {step!r}")
        kind = next(iter(step))
        if kind in PREREQUISITE_KINDS:
            if section.steps:
                raise SuiteFormatError(
                    f"{path}: [{kind}] in [{name}] must come before the other steps")
            section.prerequisites.append(step)
        else:
            section.steps.append(step)
    return section


def load_file(path: Path, area: str) -> list[TestCase]:
    """Parse one test file into its test cases; raises SuiteFormatError on a malformed file."""
    try:
        documents = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_EsYamlLoader))
    except yaml.YAMLError as exc:
        raise SuiteFormatError(f"{path}: not valid YAML: {exc}") from exc
    setup, teardown = Section(), Section()
    tests: list[tuple[str, Section]] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise SuiteFormatError(f"{path}: every document must be a map, got {document!r}")
        for name, steps in document.items():
            section = _section(str(name), steps, path)
            if name == "setup":
                setup = section
            elif name == "teardown":
                teardown = section
            else:
                tests.append((str(name), section))
    return [TestCase(path, area, name, setup, body, teardown) for name, body in tests]


def discover(root: Path) -> list[Path]:
    """Every ``*.yml``/``*.yaml`` file under root, recursively, in a stable order."""
    return sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def area_of(path: Path, root: Path) -> str:
    """The folder of a test file relative to the run's root (``.`` for files at the root)."""
    return path.parent.relative_to(root).as_posix()
