"""Processors that steer the pipeline: drop, terminate, fail, pipeline, foreach; and script,
refused."""

from __future__ import annotations

from typing import Any

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.failures import FailProcessorError
from es_rag.engine.ingest.processors.base import Processor, Run


class Drop(Processor):
    type = "drop"

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        return None


class Terminate(Processor):
    """Ends the current pipeline: no later processor of it runs (a pipeline that called it
    goes on), as Elasticsearch's `TerminateProcessor`."""

    type = "terminate"

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        doc.terminated = True
        return doc


class Fail(Processor):
    type = "fail"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.message = config.read_template("message")

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        raise FailProcessorError(doc.render(self.message))


class PipelineCall(Processor):
    type = "pipeline"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.name = config.read_template("name")
        self.ignore_missing_pipeline = config.read_bool("ignore_missing_pipeline", False)

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        return run.call_pipeline(doc.render(self.name), doc, self.ignore_missing_pipeline)


class ForEach(Processor):
    """Run one processor on every element of a list (`_ingest._value`) or every entry of an
    object (`_ingest._key`, `_ingest._value`)."""

    type = "foreach"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        # imported here: a pipeline is made of processors, and foreach holds a pipeline step
        from es_rag.engine.ingest.pipeline import read_step

        self.field = config.read_template("field")
        self.ignore_missing = config.read_bool("ignore_missing", False)
        inner = config.read("processor")
        if not isinstance(inner, dict):
            raise config.error("processor", f"property isn't a map, but of type "
                                            f"[{java_type(inner)}]")
        if len(inner) != 1:
            raise config.error("processor", "Must specify exactly one processor type")
        [(processor_type, processor_config)] = inner.items()
        self.step = read_step(processor_type, processor_config)

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        field = doc.render(self.field)
        value = doc.get(field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{field}] is null, cannot loop over its elements.")
        previous = {name: doc.ingest.get(name) for name in ("_key", "_value")}
        try:
            if isinstance(value, list):
                result: Any = []
                for item in value:
                    doc.ingest["_value"] = item
                    if run.run_step(self.step, doc) is None:
                        return None
                    result.append(doc.ingest["_value"])
            elif isinstance(value, dict):
                result = {}
                for key, item in value.items():
                    doc.ingest["_key"], doc.ingest["_value"] = key, item
                    if run.run_step(self.step, doc) is None:
                        return None
                    result[doc.ingest["_key"]] = doc.ingest["_value"]
            else:
                raise BadRequest(f"field [{field}] of type [{java_type(value)}] cannot be cast "
                                 "to a list or map")
        finally:
            for name, old in previous.items():
                if old is None:
                    doc.ingest.pop(name, None)
                else:
                    doc.ingest[name] = old
        doc.set(field, result)
        return doc


class Script(Processor):
    type = "script"

    def __init__(self, config: ProcessorConfig) -> None:
        raise config.error(None, "script processor is not supported by the embedded engine")


PROCESSORS: list[type[Processor]] = [Drop, Terminate, Fail, PipelineCall, ForEach, Script]
