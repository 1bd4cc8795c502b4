"""Reading a processor's JSON configuration with Elasticsearch's `ConfigurationUtils` errors."""

from __future__ import annotations

from typing import Any

from es_rag.engine.ingest.document import java_type
from es_rag.engine.ingest.failures import PipelineConfigError, config_error
from es_rag.engine.mustache import MustacheError, Template, compile_template

_MISSING: Any = object()


class ProcessorConfig:
    """One processor's configuration; each `read_*` removes the property it reads, and
    `ensure_consumed()` rejects whatever is left, as Elasticsearch does."""

    def __init__(self, processor_type: str, tag: str | None, config: dict[str, Any]) -> None:
        self.type = processor_type
        self.tag = tag
        self._config = dict(config)

    def error(self, property_name: str | None, reason: str) -> PipelineConfigError:
        """A `parse_exception` naming this processor and `property_name`."""
        return config_error(reason, self.type, self.tag, property_name)

    def has(self, name: str) -> bool:
        """Whether the property is given (and not null)."""
        return self._config.get(name) is not None

    def read(self, name: str, default: Any = _MISSING) -> Any:
        """Any value; a missing one without default is `[name] required property is missing`."""
        value = self._config.pop(name, None)
        if value is None:
            if default is _MISSING:
                raise self.error(name, "required property is missing")
            return default
        return value

    def read_string(self, name: str, default: Any = _MISSING) -> Any:
        """A string property (a default may be None for optional properties)."""
        value = self.read(name, default)
        if value is not None and value is not default and not isinstance(value, str):
            raise self.error(name, f"property isn't a string, but of type [{java_type(value)}]")
        return value

    def read_bool(self, name: str, default: bool) -> bool:
        """A boolean property."""
        value = self.read(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"property isn't a boolean, but of type [{java_type(value)}]")
        return value

    def read_list(self, name: str, default: Any = _MISSING) -> Any:
        """A list property."""
        value = self.read(name, default)
        if value is not None and value is not default and not isinstance(value, list):
            raise self.error(name, f"property isn't a list, but of type [{java_type(value)}]")
        return value

    def read_strings(self, name: str, default: Any = _MISSING) -> Any:
        """A string or a list of strings, returned as a list."""
        value = self.read(name, default)
        if value is default:
            return value
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise self.error(name, f"property isn't a list of strings, but of type "
                                   f"[{java_type(value)}]")
        return values

    def read_template(self, name: str, default: Any = _MISSING,
                      media_type: str = "application/json") -> Any:
        """A string property that may hold `{{…}}`: a compiled `Template` or the plain string."""
        value = self.read_string(name, default)
        return value if value is None else self.template(name, value, media_type)

    def template(self, name: str, text: str, media_type: str = "application/json",
                 ) -> Template | str:
        """Compile `text` when it holds mustache tags; errors name the property."""
        if "{{" not in text:
            return text
        try:
            return compile_template(text, media_type=media_type)
        except MustacheError as exc:
            raise self.error(name, exc.reason) from exc

    def ensure_consumed(self) -> None:
        """Reject properties the processor does not know."""
        if self._config:
            keys = ", ".join(self._config)
            raise config_error(f"processor [{self.type}] doesn't support one or more provided "
                               f"configuration parameters [{keys}]", self.type, self.tag)
