"""Compact Elasticsearch's rest-api-spec API JSON files into the tables the runner and engine use.

Usage: ``python tools/generate_rest_api_spec.py SPEC_DIR [--source TEXT]`` where SPEC_DIR holds
``<api>.json`` files (``rest-api-spec/src/main/resources/rest-api-spec/api`` of
elastic/elasticsearch, or ``specification/_json_spec`` of elastic/elasticsearch-specification)
and ``_common.json``.
Writes ``tests/conformance/rest_api_spec.json`` (every API: paths, methods, parts, params, body)
and ``es_rag/engine/http/rest_api_spec.json`` (paths, methods and typed params, for validation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNNER_TABLE = REPO / "tests" / "conformance" / "rest_api_spec.json"
ENGINE_TABLE = REPO / "es_rag" / "engine" / "http" / "rest_api_spec.json"


def _param(spec: dict[str, Any]) -> dict[str, Any]:
    """A parameter reduced to its type, enum options and deprecation."""
    out: dict[str, Any] = {"type": spec["type"]}
    if spec.get("options"):
        out["options"] = [str(o) for o in spec["options"]]
    if spec.get("deprecated"):
        out["deprecated"] = True
    return out


def _api(spec: dict[str, Any]) -> dict[str, Any]:
    paths = [{"path": p["path"], "methods": p["methods"],
              "parts": {name: part["type"] for name, part in (p.get("parts") or {}).items()}}
             for p in spec["url"]["paths"]]
    body = spec.get("body")
    content_types = (spec.get("headers") or {}).get("content_type") or []
    return {
        "paths": paths,
        "params": {name: _param(p) for name, p in sorted((spec.get("params") or {}).items())},
        "body": None if body is None else ("required" if body.get("required") else "optional"),
        "ndjson": "application/x-ndjson" in content_types,
    }


def compact(spec_dir: Path, source: str) -> dict[str, Any]:
    """Every API of the folder, keyed by name, plus the parameters every API accepts."""
    common = json.loads((spec_dir / "_common.json").read_text(encoding="utf-8"))
    apis: dict[str, Any] = {}
    for path in sorted(spec_dir.glob("*.json")):
        if path.name.startswith("_common"):
            continue
        for name, spec in json.loads(path.read_text(encoding="utf-8")).items():
            apis[name] = _api(spec)
    return {"source": source,
            "common_params": {n: _param(p) for n, p in sorted(common["params"].items())},
            "apis": apis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_dir", type=Path, help="folder of rest-api-spec <api>.json files")
    parser.add_argument("--source", default="", help="where the folder came from (repo@commit)")
    args = parser.parse_args()
    table = compact(args.spec_dir, args.source or str(args.spec_dir))
    RUNNER_TABLE.write_text(json.dumps(table, indent=None, separators=(",", ":"),
                                       sort_keys=True) + "\n", encoding="utf-8")
    engine = {"source": table["source"], "common_params": table["common_params"],
              "apis": {name: {"paths": [{"path": p["path"], "methods": p["methods"]}
                                        for p in api["paths"]], "params": api["params"]}
                       for name, api in table["apis"].items()}}
    ENGINE_TABLE.write_text(json.dumps(engine, separators=(",", ":"), sort_keys=True) + "\n",
                            encoding="utf-8")
    print(f"{len(table['apis'])} APIs -> {RUNNER_TABLE.relative_to(REPO)}, "
          f"{ENGINE_TABLE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
