"""The `_analyze` API: the tokens an analyzer (named, or a field's) makes of a text, with
offsets, types and positions as Elasticsearch reports them."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest, EngineError
from .analysis import ANALYZERS, analyzer, prepare

_BODY_KEYS = {"analyzer", "text", "field", "tokenizer", "filter", "char_filter", "normalizer",
              "explain", "attributes"}
_POSITION_GAP = 100  # between the values of a `text` array, as a text field's default
MAX_TOKEN_COUNT = 10000  # index.analyze.max_token_count's default
# the letter-like characters `analysis.prepare` puts inside words, back to the original ones
_UNPREPARED = str.maketrans({"\u02bc": "'", "\u02bd": "’", "\u02d1": ".", "\u02d0": ":",
                             "\u02cc": ",", "\u02cd": "_"})
_STANDARD_TOKENIZER = ("standard", "english")


def _token_type(analyzer_name: str, term: str) -> str:
    """The type Lucene's tokenizer gives: the standard tokenizer's `<ALPHANUM>`/`<NUM>`, or
    `word` for the whitespace, letter and keyword tokenizers."""
    if analyzer_name not in _STANDARD_TOKENIZER:
        return "word"
    return "<NUM>" if term.replace(".", "").replace(",", "").isdigit() else "<ALPHANUM>"


def _tokens(analyzer_name: str, texts: list[str], limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    position_base, offset_base = 0, 0
    for text in texts:
        last = -1
        for token in analyzer(analyzer_name).pre_tokenize(prepare(analyzer_name, text)).tokens:
            if len(out) >= limit:
                raise EngineError(
                    f"The number of tokens produced by calling _analyze has exceeded the "
                    f"allowed maximum of [{limit}]. This limit can be set by changing the "
                    f"[index.analyze.max_token_count] index level setting.",
                    status=500, error_type="illegal_state_exception")
            term = token.text.translate(_UNPREPARED)
            out.append({"token": term, "start_offset": offset_base + token.char_offset_from,
                        "end_offset": offset_base + token.char_offset_to,
                        "type": _token_type(analyzer_name, term),
                        "position": position_base + token.position})
            last = token.position
        position_base += last + 1 + _POSITION_GAP
        offset_base += len(text) + 1
    return out


def _explained(analyzer_name: str, tokens: list[dict[str, Any]]) -> dict[str, Any]:
    detailed = [{**t, "bytes": "[" + " ".join(f"{b:02x}" for b in t["token"].encode()) + "]",
                 "positionLength": 1, "termFrequency": 1} for t in tokens]
    return {"detail": {"custom_analyzer": False,
                       "analyzer": {"name": analyzer_name, "tokens": detailed}}}


def analyze(body: Any, index: Any | None) -> dict[str, Any]:
    """Answer `_analyze`; `index` is the IndexService of `/{index}/_analyze` (or None)."""
    if not isinstance(body, dict):
        raise BadRequest("request body is required")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise BadRequest(f"Unknown parameter [{unknown[0]}] in request body or parameter is of "
                         f"the wrong type[{type(body[unknown[0]]).__name__}] ")
    custom = [k for k in ("tokenizer", "filter", "char_filter", "normalizer") if body.get(k)]
    if custom:
        raise BadRequest(f"[{custom[0]}] in _analyze is not supported by the embedded engine "
                         f"(it has no custom analysis chains); name one of the analyzers "
                         f"{', '.join(ANALYZERS)}")
    text = body.get("text")
    texts = text if isinstance(text, list) else [text] if text is not None else []
    if not texts:
        raise BadRequest("Validation Failed: 1: text is missing;",
                         error_type="action_request_validation_exception")
    name = body.get("analyzer")
    if name is None and body.get("field") is not None and index is not None:
        spec = index.mapping.fields.get(str(body["field"]))
        name = spec.analyzer if spec is not None and spec.type == "text" else \
            "keyword" if spec is not None and spec.type == "keyword" else "standard"
    name = str(name or "standard")
    if name not in ANALYZERS:
        raise BadRequest(f"failed to find analyzer [{name}]" if index is not None else
                         f"failed to find global analyzer [{name}]")
    limit = int(index.setting("analyze.max_token_count", MAX_TOKEN_COUNT)) if index is not None \
        else MAX_TOKEN_COUNT
    tokens = _tokens(name, [str(t) for t in texts], limit)
    if body.get("explain") in (True, "true"):
        return _explained(name, tokens)
    return {"tokens": tokens}
