"""Chunking settings of inference endpoints and semantic_text fields (word, sentence, recursive,
none), validated with Elasticsearch's messages, and the chunkers that cut a text into
(start, end) character offsets."""

from __future__ import annotations

import re
from typing import Any

from .errors import ActionRequestValidation, BadRequest

STRATEGIES = ("word", "sentence", "recursive", "none")
DEFAULT_SETTINGS = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
_KEYS = {"word": {"strategy", "max_chunk_size", "overlap"},
         "sentence": {"strategy", "max_chunk_size", "sentence_overlap"},
         "recursive": {"strategy", "max_chunk_size", "separators", "separator_group"},
         "none": {"strategy"}}
_MIN_SIZE = {"word": 10, "sentence": 20, "recursive": 10}
_MAX_SIZE = 300
_SEPARATOR_GROUPS = {"plaintext": ["(?<!\n)\n\n(?!\n)", "(?<!\n)\n(?!\n)"],
                     "markdown": ["\n#{1,6} ", "^(?!\\s*$).*\\n-{1,}\\n", "\n\n", "\n"]}
_WORD = re.compile(r"\w[\w'’-]*|[^\w\s]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def _invalid(message: str) -> ActionRequestValidation:
    return ActionRequestValidation(f"Validation Failed: 1: {message};",
                                   error_type="validation_exception")


def parse_chunking(body: Any) -> dict[str, Any] | None:
    """Validated chunking settings as Elasticsearch stores them (None for `{}`/null)."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise BadRequest("[chunking_settings] must be an object")
    if not body:
        return None
    strategy = body.get("strategy")
    if strategy is None:
        raise BadRequest("Can't generate Chunker without ChunkingStrategy provided")
    if strategy not in STRATEGIES:
        raise BadRequest(f"Invalid chunkingStrategy {strategy}")
    unknown = sorted(set(body) - _KEYS[strategy])
    if unknown:
        raise _invalid(f"Sentence based chunking settings can not have the following "
                       f"settings: {unknown}" if strategy == "sentence" else
                       f"{strategy.capitalize()} based chunking settings can not have the "
                       f"following settings: {unknown}")
    if strategy == "none":
        return {"strategy": "none"}
    size = _int_setting(body, "max_chunk_size", required=True)
    low = _MIN_SIZE[strategy]
    if not low <= size <= _MAX_SIZE:
        raise _invalid(f"[chunking_settings] Invalid value [{size}]. [max_chunk_size] must be "
                       f"a greater than or equal to [{low}] and less than or equal to "
                       f"[{_MAX_SIZE}]")
    out: dict[str, Any] = {"strategy": strategy, "max_chunk_size": size}
    if strategy == "word":
        overlap = _int_setting(body, "overlap", required=True)
        if overlap < 0 or overlap > size // 2:
            raise _invalid(f"[chunking_settings] Invalid value [{overlap}]. [overlap] must be "
                           f"a greater than or equal to [0] and less than or equal to "
                           f"[{size // 2}]")
        out["overlap"] = overlap
    elif strategy == "sentence":
        overlap = _int_setting(body, "sentence_overlap", required=False)
        overlap = 1 if overlap is None else overlap
        if overlap not in (0, 1):
            raise _invalid(f"[chunking_settings] Invalid value [{overlap}]. [sentence_overlap] "
                           f"must be a greater than or equal to [0] and less than or equal "
                           f"to [1]")
        out["sentence_overlap"] = overlap
    else:
        out.update(_recursive(body))
    return out


def _recursive(body: dict[str, Any]) -> dict[str, Any]:
    separators, group = body.get("separators"), body.get("separator_group")
    if separators is not None and group is not None:
        raise _invalid("[chunking_settings] only one of [separators] or [separator_group] "
                       "may be set")
    if separators is not None:
        if not isinstance(separators, list) or not all(isinstance(s, str) for s in separators) \
                or not separators:
            raise _invalid("[chunking_settings] [separators] must be a list of strings")
        return {"separators": separators}
    group = (group or "plaintext").lower()
    if group not in _SEPARATOR_GROUPS:
        raise _invalid(f"[chunking_settings] Invalid value [{group}] received. "
                       f"[separator_group] must be one of [plaintext, markdown]")
    return {"separators": list(_SEPARATOR_GROUPS[group])}


def _int_setting(body: dict[str, Any], key: str, *, required: bool) -> Any:
    value = body.get(key)
    if value is None:
        if required:
            raise _invalid(f"[chunking_settings] does not contain the required setting "
                           f"[{key}]")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"field [{key}] is not of the expected type. The value [{value}] "
                       f"cannot be converted to a [Integer]")
    return value


def chunk(text: str, settings: dict[str, Any] | None) -> list[tuple[int, int]]:
    """Character offsets of the chunks of `text` (one chunk without settings)."""
    if not settings or settings["strategy"] == "none" or not text.strip():
        return [(0, len(text))]
    strategy = settings["strategy"]
    if strategy == "word":
        return word_chunks(text, settings["max_chunk_size"], settings["overlap"])
    if strategy == "sentence":
        return sentence_chunks(text, settings["max_chunk_size"], settings["sentence_overlap"])
    return recursive_chunks(text, 0, len(text), settings["max_chunk_size"],
                            settings["separators"])


def word_chunks(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Windows of `size` words, each starting `size - overlap` words after the previous."""
    words = [m.span() for m in _WORD.finditer(text) if m.group()[0].isalnum()
             or m.group()[0] == "_"]
    if not words:
        return [(0, len(text))]
    chunks = []
    step = max(size - overlap, 1)
    for start in range(0, len(words), step):
        window = words[start:start + size]
        chunks.append((0 if start == 0 else window[0][0], window[-1][1]))
        if start + size >= len(words):
            break
    chunks[-1] = (chunks[-1][0], len(text))
    return chunks


def _word_count(text: str) -> int:
    return sum(1 for m in _WORD.finditer(text) if m.group()[0].isalnum())


def sentence_chunks(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Whole sentences packed up to `size` words; with overlap 1 a chunk repeats the last
    sentence of the previous one. A sentence longer than `size` is cut into word windows."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    sentences = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    chunks: list[tuple[int, int]] = []
    current: list[tuple[int, int]] = []
    words = 0
    for start, end in sentences:
        count = _word_count(text[start:end])
        if count > size:
            if current:
                chunks.append((current[0][0], current[-1][1]))
                current, words = [], 0
            chunks += [(start + a, start + b) for a, b in
                       word_chunks(text[start:end], size, 0)]
            continue
        if current and words + count > size:
            chunks.append((current[0][0], current[-1][1]))
            current = current[-1:] if overlap and _word_count(
                text[current[-1][0]:current[-1][1]]) + count <= size else []
            words = sum(_word_count(text[a:b]) for a, b in current)
        current.append((start, end))
        words += count
    if current:
        chunks.append((current[0][0], current[-1][1]))
    return chunks or [(0, len(text))]


def recursive_chunks(text: str, start: int, end: int, size: int, separators: list[str]
                     ) -> list[tuple[int, int]]:
    """Split on the first separator (a regex) that applies, merging neighbours up to `size`
    words; pieces still too long are split on the next separator, words last."""
    if _word_count(text[start:end]) <= size:
        return [(start, end)]
    if not separators:
        return [(start + a, start + b) for a, b in word_chunks(text[start:end], size, 0)]
    pattern = re.compile(separators[0], re.MULTILINE)
    cuts = [m.start() + start for m in pattern.finditer(text, start, end) if m.start() > start]
    pieces = [(a, b) for a, b in zip([start, *cuts], [*cuts, end], strict=True) if b > a]
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if _word_count(text[a:b]) > size:
            out += recursive_chunks(text, a, b, size, separators[1:])
        elif out and _word_count(text[out[-1][0]:b]) <= size:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
