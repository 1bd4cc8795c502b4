"""Analyzers (standard, english, simple, whitespace, keyword) built on tantivy's Rust text analysis.

The same analyzers tokenize documents at index time (registered with tantivy) and query text at
search time, so query terms always match indexed terms. tantivy's `simple` tokenizer (runs of
alphanumerics) is fast but splits `don't`, `3.14` and `U.S.A` where Lucene's standard tokenizer
(UAX#29) keeps one token, so `prepare` first turns those joiners into letter-like characters:
token counts, and so BM25 length norms, then follow the standard tokenizer.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import tantivy

from ..errors import MapperParsingError

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET
ENGLISH_STOP_WORDS = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
]
ANALYZERS = ("standard", "english", "simple", "whitespace", "keyword")
# joiners inside a word (UAX#29 MidLetter/MidNum) → modifier letters (alphanumeric for tantivy)
_JOINER = re.compile(r"['’.:,](?=\w)")
_JOINER_MAP = {"'": "\u02bc", "’": "\u02bd", ".": "\u02d1", ":": "\u02d0", ",": "\u02cc"}
# `_` (UAX#29 ExtendNumLet) joins the letters and digits around it: `user_name` is one token
_UNDERSCORES = re.compile(r"_+")
_UNDERSCORE_LETTER = "\u02cd"
_POSSESSIVE = re.compile(r"['’][sS]\b")
_WORD = re.compile(r"\w+(?:['’.:,]\w+)*")
_SPACE = re.compile(r"\s")
_PIECE = 65536  # characters analyzed at a time by `analyze_first`


def _build(name: str) -> tantivy.TextAnalyzer:
    simple = tantivy.Tokenizer.simple()
    if name == "standard":
        return tantivy.TextAnalyzerBuilder(simple).filter(tantivy.Filter.remove_long(256)) \
            .filter(tantivy.Filter.lowercase()).build()
    if name == "english":
        return (tantivy.TextAnalyzerBuilder(simple)
                .filter(tantivy.Filter.remove_long(256))
                .filter(tantivy.Filter.lowercase())
                .filter(tantivy.Filter.custom_stopword(ENGLISH_STOP_WORDS))
                .filter(tantivy.Filter.stemmer("english")).build())
    if name == "simple":
        return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\p{L}+")).filter(
            tantivy.Filter.lowercase()).build()
    if name == "whitespace":
        return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    if name == "keyword":
        return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).build()
    raise MapperParsingError(f"analyzer [{name}] has not been configured in mappings")


@cache
def analyzer(name: str) -> tantivy.TextAnalyzer:
    """The tantivy analyzer for an Elasticsearch analyzer name; unknown names are refused."""
    return _build(name)


def tokenizer_name(analyzer_name: str) -> str:
    """The name under which an analyzer is registered with a tantivy index."""
    return "es_" + analyzer_name


def register_all(index: tantivy.Index) -> None:
    """Register every analyzer with a tantivy index (needed again after each `Index.open`)."""
    for name in ANALYZERS:
        index.register_tokenizer(tokenizer_name(name), analyzer(name))


def preparation(analyzer_name: str, text: str) -> str:
    """The step `prepare` applies to this text with this analyzer: "" (none), "words" (word
    joiners) or "english" (possessives, then word joiners). Analyzers with the same step get
    the same prepared text, so an indexer prepares it once."""
    if analyzer_name == "english" and ("'" in text or "’" in text):
        return "english"
    return "words" if analyzer_name in ("standard", "english") else ""


def prepare(analyzer_name: str, text: str) -> str:
    """The text handed to the analyzer: word joiners kept inside their word, and for `english`
    the possessive `'s` removed (Lucene's EnglishPossessiveFilter)."""
    return prepared(preparation(analyzer_name, text), text)


def prepared(step: str, text: str) -> str:
    """A text after a `preparation` step."""
    if not step:
        return text
    if step == "english":
        def inside_word(match: re.Match[str]) -> bool:
            start = match.start()
            return start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")

        text = _POSSESSIVE.sub(lambda m: "" if inside_word(m) else m.group(), text)
    return join_word_chars(text)


def join_word_chars(text: str) -> str:
    """Word joiners (`'`, `.`, `:`, `,` inside a word, `_` next to one) as letter-like characters,
    so tantivy's tokenizer keeps one token where Lucene's standard tokenizer does; also applied
    to the value of a `term` query on a text field, so it finds the token it names."""
    def inside_word(match: re.Match[str]) -> bool:
        start = match.start()
        return start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")

    def next_to_word(match: re.Match[str]) -> bool:
        start, end = match.span()
        return (start > 0 and text[start - 1].isalnum()) or (
            end < len(text) and text[end].isalnum())

    if any(joiner in text for joiner in _JOINER_MAP):
        text = _JOINER.sub(lambda m: _JOINER_MAP[m.group()] if inside_word(m) else m.group(),
                           text)
    if "_" in text:
        text = _UNDERSCORES.sub(lambda m: _UNDERSCORE_LETTER * len(m.group())
                                if next_to_word(m) else m.group(), text)
    return text


def analyze(analyzer_name: str, text: str) -> list[str]:
    """The terms an analyzer produces for a text, in order."""
    return analyzer(analyzer_name).analyze(prepare(analyzer_name, text))


def analyze_first(analyzer_name: str, text: str, count: int) -> list[str]:
    """The first `count` terms (or fewer) an analyzer produces for a text. A long text is
    analyzed piece by piece, cut at whitespace (where no analyzer joins words), and no further
    than needed: a huge query text costs what its first terms cost."""
    if analyzer_name == "keyword" or len(text) <= _PIECE:
        return analyze(analyzer_name, text)[:count]
    out: list[str] = []
    start = 0
    while start < len(text) and len(out) < count:
        space = _SPACE.search(text, start + _PIECE)
        end = space.start() if space else len(text)
        out += analyze(analyzer_name, text[start:end])
        start = end
    return out[:count]


def tokens(analyzer_name: str, text: str) -> list[tuple[str, int]]:
    """(term, position) for each token; positions keep the gaps left by stop words."""
    return [(t.text, t.position)
            for t in analyzer(analyzer_name).pre_tokenize(prepare(analyzer_name, text)).tokens]


@lru_cache(maxsize=65536)
def _term_of(analyzer_name: str, word: str) -> str | None:
    terms = analyze(analyzer_name, word)
    return terms[0] if len(terms) == 1 else None


def words_with_offsets(analyzer_name: str, text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) of each word of the original text, for highlighting."""
    if analyzer_name == "keyword":
        return [(text, 0, len(text))]
    pattern = re.compile(r"\S+") if analyzer_name == "whitespace" else _WORD
    out = []
    for match in pattern.finditer(text):
        term = _term_of(analyzer_name, match.group())
        if term is not None:
            out.append((term, match.start(), match.end()))
    return out
