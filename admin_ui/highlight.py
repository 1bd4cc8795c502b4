"""Show the engine's highlight fragments safely: escape everything but its own `<em>` tags."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_TAG_RE = re.compile(r"(</?em>)")


def highlight_html(fragment: str) -> Markup:
    """HTML for a highlight fragment: the text escaped, well-nested `<em>` pairs kept.

    A document that itself contains `<em>` or `</em>` text cannot open an element that is
    never closed: an opening tag inside an open one, or a closing one outside, is escaped.
    """
    out: list[str] = []
    open_ = False
    for part in _TAG_RE.split(fragment):
        if part == "<em>" and not open_:
            out.append("<mark>")
            open_ = True
        elif part == "</em>" and open_:
            out.append("</mark>")
            open_ = False
        else:
            out.append(str(escape(part)))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))
