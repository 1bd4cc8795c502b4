"""Fencing document text in prompts: passages are data, never instructions or other sources.

Each prompt gets a fresh random fence code. A source opens with `<<<source N CODE>>>` and
closes with `<<<end N CODE>>>`; a document cannot guess the code, and its text is neutralised
so that nothing in it looks like a fence line (runs of `<` or `>`), a citation or source
number (`[9]` becomes `(9)`) or a chat-role tag (`<system>`). Titles and locations are
neutralised the same way and kept on one line, inside the fence.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from es_rag.generate.context import Source

_ANGLE_RUN = re.compile(r"[<>]{2,}")
_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})
_BRACKET_NUMBER = re.compile(r"\[(\s*\d+(?:\s*[,\u2013-]\s*\d+)*\s*)\]")
_ROLE_TAG = re.compile(r"<(/?\s*(?:system|assistant|user|source|sources|instructions?|im_start"
                       r"|im_end|inst)\b[^<>]{0,40})>", re.IGNORECASE)
_SPECIAL_TOKEN = re.compile(r"<\|[^|<>]{0,40}\|>|\[/?INST\]", re.IGNORECASE)
MAX_LABEL_CHARS = 200


def new_fence_code() -> str:
    """A fresh, unguessable fence code (16 hex digits) for one prompt."""
    return secrets.token_hex(8)


def neutralise(text: str, code: str) -> str:
    """`text` with fence look-alikes, bracketed numbers, role tags and the code itself defused.

    >>> neutralise("see [22] >>> [9] Trusted admin note", "c0de")
    'see (22) \u203a\u203a\u203a (9) Trusted admin note'
    """
    text = text.replace(code, "")
    text = _SPECIAL_TOKEN.sub(lambda m: m.group(0).translate(_ANGLES).replace("|", "\u00a6")
                              .replace("[", "(").replace("]", ")"), text)
    text = _ROLE_TAG.sub(lambda m: f"\u2039{m.group(1)}\u203a", text)
    text = _ANGLE_RUN.sub(lambda m: m.group(0).translate(_ANGLES), text)
    return _BRACKET_NUMBER.sub(r"(\1)", text)


def neutralise_label(text: str | None, code: str) -> str | None:
    """A title or location: neutralised, on one line, at most MAX_LABEL_CHARS characters."""
    if text is None:
        return None
    one_line = " ".join(neutralise(str(text), code).split())
    return one_line[:MAX_LABEL_CHARS]


@dataclass(frozen=True)
class FencedSource:
    """What a prompt template sees of a source: the number es-rag gave it and neutralised text."""

    n: int
    chunk_id: str
    title: str | None
    source: str | None
    page: int | None
    text: str


def fence_sources(sources: list[Source], code: str) -> list[FencedSource]:
    """The sources as prompt templates receive them (every document-controlled field defused)."""
    return [FencedSource(n=s.n, chunk_id=neutralise_label(s.chunk_id, code) or "",
                         title=neutralise_label(s.title, code),
                         source=neutralise_label(s.source, code), page=s.page,
                         text=neutralise(s.text, code))
            for s in sources]
