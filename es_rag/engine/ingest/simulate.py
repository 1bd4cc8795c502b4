"""`_ingest/pipeline/_simulate`: run sample documents through a pipeline and report each one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from es_rag.engine.errors import BadRequest, EngineError
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.failures import config_error
from es_rag.engine.ingest.pipeline import Execution, Pipeline, build_pipeline

if TYPE_CHECKING:
    from es_rag.engine.ml import MlService

SIMULATED_PIPELINE_ID = "_simulate_pipeline"
_MATCH_ANY_VERSION = -3


def simulate_pipeline(body: Any, pipeline: Pipeline | None, verbose: bool,
                      resolve: Callable[[str], Pipeline | None],
                      ml: MlService | None = None) -> dict[str, Any]:
    """The `_simulate` response for `body`; `pipeline` is the stored one (by id) or None to
    read `body["pipeline"]`; `ml` runs the `inference` processor's models."""
    if not isinstance(body, dict):
        raise config_error("the simulate request body must be an object")
    if pipeline is None:
        definition = body.get("pipeline")
        if definition is None:
            raise config_error("[pipeline] required property is missing", property_name=None)
        pipeline = build_pipeline(SIMULATED_PIPELINE_ID, definition)
    results = [_simulate_one(pipeline, doc, verbose, resolve, ml) for doc in _read_docs(body)]
    return {"docs": results}


def _required(container: dict[str, Any], key: str, kind: type) -> Any:
    """`container[key]`, which must be there and be a `kind` (list or map)."""
    value = container.get(key)
    if value is None:
        raise config_error(f"[{key}] required property is missing")
    if not isinstance(value, kind):
        name = "list" if kind is list else "map"
        raise config_error(f"property isn't a {name}, but of type [{java_type(value)}]",
                           property_name=key)
    return value


def _read_docs(body: dict[str, Any]) -> list[IngestDocument]:
    docs = _required(body, "docs", list)
    if not docs:
        raise BadRequest("must specify at least one document in [docs]")
    return [_read_doc(doc) for doc in docs]


def _read_doc(doc: Any) -> IngestDocument:
    if not isinstance(doc, dict):
        raise BadRequest("malformed [docs] section, should include an inner object")
    source = _required(doc, "_source", dict)
    version = doc.get("_version", _MATCH_ANY_VERSION)
    routing = doc.get("_routing")
    return IngestDocument(str(doc.get("_index", "_index")), str(doc.get("_id", "_id")), source,
                          routing=None if routing is None else str(routing), version=version)


def _simulate_one(pipeline: Pipeline, doc: IngestDocument, verbose: bool,
                  resolve: Callable[[str], Pipeline | None],
                  ml: MlService | None) -> dict[str, Any] | None:
    results: list[dict[str, Any]] | None = [] if verbose else None
    execution = Execution(resolve, results, ml=ml)
    try:
        outcome = execution.run_pipeline(pipeline, doc)
    except EngineError as exc:
        return {"processor_results": results} if verbose else {"error": exc.body()["error"]}
    if verbose:
        return {"processor_results": results}
    return None if outcome is None else {"doc": outcome.snapshot()}
