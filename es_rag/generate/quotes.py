"""Readable quotes: a source sentence without footnote markers or Markdown syntax.

Documents carry their own bracketed numbers (Wikipedia's `[22]`, `[a]`, `[citation needed]`)
and Markdown (`[text](url)`, `**bold**`, `# heading`, `- item`). Quoted as is, the first look
like es-rag citations and the second is noise; `clean_quote` removes both and keeps the words.
"""

from __future__ import annotations

import re

_LINKED_FOOTNOTE = re.compile(r"\s?\[\[\s*(?:\d+|[a-z])\s*\]\]\([^)\s]*\)")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_FOOTNOTE = re.compile(r"\s?\[(?:\s*\d+\s*|[a-z]|[ivx]+|note \d+|nb \d+|citation needed|\^?\d+)\]"
                       r"|\[\^[^\]\n]+\]", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s+)")
_SPACE = re.compile(r"\s+")
_CODE = re.compile(r"(`[^`\n]+`)")


def clean_quote(text: str) -> str:
    """`text` with footnote markers, link and emphasis syntax removed, on one line; inline code
    (`` `x[1]` ``) is kept as it is.

    >>> clean_quote("The duck is a bird.[22] See [Anatidae](https://en.wikipedia.org/wiki/A).")
    'The duck is a bird. See Anatidae.'
    """
    pieces = _CODE.split(text)
    text = "".join(piece if i % 2 else _clean_prose(piece) for i, piece in enumerate(pieces))
    text = "\n".join(_LINE_MARK.sub("", line) for line in text.splitlines())
    return _SPACE.sub(" ", text).strip()


def _clean_prose(text: str) -> str:
    text = _LINKED_FOOTNOTE.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _FOOTNOTE.sub("", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)
