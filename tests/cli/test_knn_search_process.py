"""`es-rag search --mode knn` in a fresh process: with the ONNX backend, the query is embedded by
ONNX Runtime from the cached export, and neither torch nor transformers is ever imported."""

from __future__ import annotations

import json
import subprocess
import sys

from es_rag_processes import DocsEngine, process_env

HEAVY = ("torch", "transformers", "sentence_transformers")
# Runs the es-rag command line in this interpreter, then reports which modules it imported.
WRAPPER = f"""
import json, sys
try:
    from es_rag.cli import main
    sys.argv = ["es-rag", *sys.argv[1:]]
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({{m: m in sys.modules for m in {HEAVY + ("onnxruntime",)!r}}}), file=sys.stderr)
sys.exit(code)
"""


def _search(env: dict[str, str], backend: str) -> tuple[dict, dict]:
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "search", "--mode", "knn", "--json",
         "how are passages embedded for kNN search"],
        capture_output=True, text=True, timeout=300,
        env=process_env({**env, "ES_RAG_EMBEDDING_BACKEND": backend}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), json.loads(done.stderr.strip().splitlines()[-1])


def test_knn_search_with_the_onnx_backend_never_imports_torch(docs_engine: DocsEngine) -> None:
    result, imported = _search(docs_engine.env, "onnx-int8")
    assert result["path_used"] == "knn"
    assert result["hits"] and all(hit["knn_rank"] for hit in result["hits"])
    assert imported["onnxruntime"]
    assert not any(imported[name] for name in HEAVY), imported

    control, imported = _search(docs_engine.env, "torch")  # the check sees torch when it loads
    assert imported["torch"] and not imported["onnxruntime"]
    # int8 vectors are close to torch's, not equal: the best passage is among torch's top 3
    assert result["hits"][0]["chunk_id"] in [h["chunk_id"] for h in control["hits"][:3]]
