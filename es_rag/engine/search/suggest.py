"""The `suggest` section of a search: its suggestions parsed and checked as Elasticsearch's
SuggestBuilder parses them, each run by its suggester (term, phrase, completion) over every
index of the search, merged, and named `type#name` under `typed_keys`."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest, ParsingError, XContentParseError
from ..query.base import QueryContext
from .completion_suggester import COMPLETION_KEYS, completion_entries, merge_completion
from .term_suggester import PHRASE_KEYS, TERM_KEYS, merge_terms, phrase_entries, term_entries

_KEYS = {"term": TERM_KEYS, "phrase": PHRASE_KEYS, "completion": COMPLETION_KEYS}
_TEXTS = ("text", "prefix", "regex")


def parse_suggest(body: Any) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each suggestion's (type, text, options), the global `text` applied where it has none."""
    if not isinstance(body, dict):
        raise ParsingError("suggest must be an object")
    global_text = body.get("text")
    out = {}
    for name, suggestion in body.items():
        if name == "text":
            continue
        if not isinstance(suggestion, dict):
            raise ParsingError(f"[suggest] expected an object for suggestion [{name}]")
        kinds = [k for k in suggestion if k not in _TEXTS]
        if not kinds:
            raise BadRequest("missing suggestion object")
        kind = kinds[0]
        if len(kinds) > 1 or kind not in _KEYS:
            raise XContentParseError(f"[suggest] unknown field [{kinds[-1]}]")
        options = suggestion[kind]
        if not isinstance(options, dict):
            raise ParsingError(f"[{kind}] suggester expects an object")
        unknown = sorted(set(options) - _KEYS[kind])
        if unknown:
            raise ParsingError(f"suggester[{kind}] doesn't support field [{unknown[0]}]")
        if not options.get("field"):
            raise BadRequest("the required field option [field] is missing")
        if "regex" in suggestion:
            raise BadRequest("[regex] completion suggestions are not supported by the "
                             "embedded engine")
        text = suggestion.get("prefix" if kind == "completion" else "text",
                              suggestion.get("text", global_text))
        if text is None:
            raise BadRequest("The required text option is missing")
        _check_options(kind, options)
        out[name] = (kind, str(text), options)
    return out


def _check_options(kind: str, options: dict[str, Any]) -> None:
    mode = options.get("suggest_mode", "missing")
    if mode not in ("missing", "popular", "always"):
        raise BadRequest(f"Illegal suggest mode {mode}")
    if options.get("sort", "score") not in ("score", "frequency"):
        raise BadRequest(f"Illegal suggest sort {options['sort']}")
    edits = options.get("max_edits", 2)
    if not isinstance(edits, int) or not 1 <= edits <= 2:
        raise BadRequest(f"Illegal max_edits value {edits}")
    size = options.get("size", 5)
    if not isinstance(size, int) or size <= 0:
        raise BadRequest("size must be positive")
    if kind == "completion" and "fuzzy" in options:
        raise BadRequest("[fuzzy] completion suggestions are not supported by the embedded "
                         "engine")
    if kind == "completion" and options.get("contexts"):
        raise BadRequest(f"Supplied contexts {sorted(options['contexts'])} but field "
                         f"[{options['field']}] is not context-enabled")


def run_suggest(contexts: list[QueryContext], suggestions: dict[str, Any]
                ) -> dict[str, list[dict[str, Any]]]:
    """The `suggest` section of the response: each suggestion's entries over every index."""
    out = {}
    for name, (kind, text, options) in suggestions.items():
        field = str(options["field"])
        mapped = [ctx for ctx in contexts if ctx.spec(field) is not None]
        if not mapped and contexts:
            raise BadRequest(f"no mapping found for field [{field}]")
        if kind == "completion":
            for ctx in mapped:
                spec = ctx.spec(field)
                if spec is not None and spec.type != "completion":
                    raise BadRequest(f"Field [{field}] is not a completion suggest field")
            out[name] = merge_completion(
                [completion_entries(ctx, text, options) for ctx in mapped], options)
        elif kind == "term":
            out[name] = merge_terms([term_entries(ctx, text, options) for ctx in mapped],
                                    options)
        else:
            out[name] = phrase_entries(mapped, text, options)
    return out


def typed_suggest(requested: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The suggestions named `term#name`, `phrase#name` or `completion#name`."""
    return {f"{requested[name][0]}#{name}" if name in requested else name: value
            for name, value in result.items()}
