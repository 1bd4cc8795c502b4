"""What every processor is: a type name, a factory from its configuration, and `execute`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.mustache import to_java_string

if TYPE_CHECKING:
    from es_rag.engine.ml.service import MlService


class Run(Protocol):
    """What a processor may ask of the pipeline run executing it (`ingest.pipeline.Execution`),
    so that processors know nothing of the pipeline they are part of."""

    ml: MlService | None

    def call_pipeline(self, name: str, doc: IngestDocument,
                      ignore_missing: bool) -> IngestDocument | None:
        """Run pipeline `name` on `doc` (the `pipeline` processor)."""

    def run_step(self, step: Any, doc: IngestDocument) -> IngestDocument | None:
        """Run one pipeline step (an `ingest.pipeline.Step`) on `doc` (the `foreach` processor)."""


class Processor:
    """A processor built from its configuration; `execute` returns the document, or None when
    the document is dropped, and raises an `EngineError` when it fails."""

    type: ClassVar[str]

    def __init__(self, config: ProcessorConfig) -> None:
        """Read (and so consume) the processor's own properties from `config`."""

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        raise NotImplementedError


class FieldProcessor(Processor):
    """A processor that rewrites one field (`field`, `target_field`, `ignore_missing`) and
    applies itself to each element when the value is a list."""

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.target_field = config.read_template("target_field", None)
        self.ignore_missing = config.read_bool("ignore_missing", False)

    def execute(self, doc: IngestDocument, run: Run) -> IngestDocument | None:
        field = doc.render(self.field)
        value = doc.get(field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(self.null_message(field))
        target = field if self.target_field is None else doc.render(self.target_field)
        if isinstance(value, list):
            result: Any = [self.process_item(item, field) for item in value]
        else:
            result = self.process(value, field)
        doc.set(target, result)
        return doc

    def null_message(self, field: str) -> str:
        return f"field [{field}] is null, cannot process it."

    def process_item(self, item: Any, field: str) -> Any:
        return self.process(item, field)

    def process(self, value: Any, field: str) -> Any:
        raise NotImplementedError


class StringFieldProcessor(FieldProcessor):
    """A `FieldProcessor` over strings (Elasticsearch's `AbstractStringProcessor`)."""

    def process_item(self, item: Any, field: str) -> Any:
        if not isinstance(item, str):
            raise BadRequest(f"value [{to_java_string(item)}] of type [{java_type(item)}] in "
                             f"list field [{field}] cannot be cast to [java.lang.String]")
        return self.transform(item)

    def process(self, value: Any, field: str) -> Any:
        if not isinstance(value, str):
            raise BadRequest(f"field [{field}] of type [{java_type(value)}] cannot be cast to "
                             "[java.lang.String]")
        return self.transform(value)

    def transform(self, value: str) -> Any:
        raise NotImplementedError
