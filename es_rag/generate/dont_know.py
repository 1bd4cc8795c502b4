"""Recognising "the sources do not contain the answer", however a model words it.

Models rarely answer with es-rag's exact `DONT_KNOW` line: small ones say "The provided sources
don't mention …", "I cannot find this in the sources", "There is no information about … in the
context". The patterns below match such a sentence by its shape (the sources, or "I", as the
subject of a negated verb of containing or finding), so that an answer which merely mentions
the sources ("According to the sources, RRF does not need tuning [1].") is not taken for one.
"""

from __future__ import annotations

import re

from es_rag.generate.sentences import split_sentences

_MARKERS = re.compile(r"\s?\[\d+(?:\s*,\s*\d+)*\]")
_SOURCES = (r"(?:the |these |those |this |my |any )?"
            r"(?:(?:(?:provided|given|available|retrieved|supplied|above|following|numbered) )?"
            r"(?:sources?|context|passages?|excerpts?)"
            r"|(?:provided|given|available|retrieved|supplied|above|following) "
            r"(?:documents?|texts?|information))"
            r"(?: (?:provided|given|above|available|you provided))?")
_ADVERB = (r"(?:(?:explicitly|directly|clearly|specifically|actually|really|even|seem to"
           r"|appear to|seems to|appears to) )?")
_NOT = r"(?:(?:do|does|did|could|will)(?: not|n't)|can not|cannot|can't|won't)"
_CONTAIN = (r"(?:contain|mention|include|provide|say|state|specify|answer|cover|discuss|address"
            r"|give|have|offer|describe|explain|tell|indicate|reference|list|show)")
_FIND = r"(?:find|answer|determine|locate|see|tell|say|provide|identify|give|have)"
_CANNOT = (r"(?: cannot| can't| can not| could not| couldn't| am unable to| was unable to"
           r"|'m unable to| am not able to| was not able to|'m not able to| do not| don't"
           r"| did not| didn't)")
_MISSING = (r"(?:mentioned|found|given|provided|included|contained|covered|addressed|stated"
            r"|specified|discussed|available|present|listed|described|explained|answered)")
_ABOUT = rf"(?: (?:about|on|regarding|concerning|of|to|for|as to)\b| (?:in|within) {_SOURCES})"
_LACK = r"(?:information|mention|answer|details?|data|reference|indication|evidence)"
_NO_ANSWER = [re.compile(p) for p in (
    r"^i (?:do not|don't) know\b",
    rf"^{_SOURCES} {_NOT} {_ADVERB}{_CONTAIN}\b",
    rf"^{_SOURCES} (?:contains?|has|have|provides?|gives?|offers?|includes?|mentions?|says?) "
    r"(?:no|nothing)\b",
    rf"^{_SOURCES} (?:is|are) silent\b",
    rf"^i{_CANNOT} {_ADVERB}{_FIND}\b",
    rf"^there(?: is|'s| are) (?:no|not any) (?:specific |relevant |such )?{_LACK}(?:{_ABOUT}|$)",
    rf"^no (?:specific |relevant |such )?{_LACK}{_ABOUT}",
    r"^(?:there is )?(?:not enough|insufficient) information\b",
    rf"^.{{0,160}}? (?:is|are|was|were) not {_ADVERB}(?:{_MISSING} )?(?:in|by|within|from) "
    rf"{_SOURCES}$",
    rf"^.{{0,160}}? (?:cannot|can't|could not|couldn't) be (?:answered|determined|found|inferred"
    rf"|known) (?:from|with|using|based on|in|by) {_SOURCES}",
)]
_OPENERS = re.compile(
    r"^(?:(?:unfortunately|sorry|i'm sorry|i am sorry|apologies|answer|however|regrettably"
    rf"|based (?:solely |only )?on {_SOURCES}|according to {_SOURCES}|from {_SOURCES}"
    rf"|after reviewing {_SOURCES})\s*[,:]?\s*(?:but\s+)?)+")


def says_no_answer(sentence: str) -> bool:
    """True when `sentence` says that the sources hold no answer (or that it does not know)."""
    text = _MARKERS.sub("", sentence).lower().replace("\u2019", "'")
    text = re.sub(r"\s+", " ", text).strip(" \t\n*_>\"").rstrip(".!:;")
    text = _OPENERS.sub("", text).strip()
    return any(p.search(text) for p in _NO_ANSWER)


def is_dont_know(text: str) -> bool:
    """True when the answer opens by saying the sources do not contain the answer.

    >>> is_dont_know("The provided sources don't mention the boiling point of mercury.")
    True
    >>> is_dont_know("According to the sources, RRF does not need tuning [1].")
    False
    """
    sentences = split_sentences(text)
    return bool(sentences) and says_no_answer(sentences[0])
