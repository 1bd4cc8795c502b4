"""Full-text clauses: match, match_phrase, multi_match, query_string, simple_query_string."""

from __future__ import annotations

import re
from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.analysis import ANALYZERS, analyze_first, tokens
from ..limits import current as current_limits
from .base import (
    INDEX_FIELD,
    QueryContext,
    QueryNode,
    as_float,
    boosted,
    check_keys,
    constant,
    expect_object,
    index_field_query,
    minimum_should_match,
    query_shard_error,
    single_field,
    term_value,
    too_many_clauses,
)
from .compound import max_of
from .explanation import Explanation, explain_compiled, sum_of
from .similarities import scored_phrase, scored_term

_MATCH_KEYS = {"query", "operator", "minimum_should_match", "fuzziness", "analyzer", "boost",
               "_name", "prefix_length", "max_expansions", "fuzzy_transpositions", "lenient",
               "zero_terms_query", "auto_generate_synonyms_phrase_query"}


def fuzzy_distance(fuzziness: Any, term: str) -> int:
    text = str(fuzziness).upper()
    if text.startswith("AUTO"):
        low, high = 3, 6
        if ":" in text:
            low, high = (int(x) for x in text.split(":", 1)[1].split(","))
        return 0 if len(term) < low else 1 if len(term) < high else 2
    try:
        return min(int(float(text)), 2)
    except ValueError as err:
        raise ParsingError(f"failed to parse fuzziness [{fuzziness}]") from err


def query_terms(analyzer_name: str, text: Any) -> list[str]:
    """The analyzed terms of a query text. More than `indices.query.bool.max_clause_count`
    terms is refused before they are all produced (each term is a clause in Lucene)."""
    limit = current_limits().max_clause_count
    terms = analyze_first(analyzer_name, str(text), limit + 1)
    if len(terms) > limit:
        raise too_many_clauses(limit)
    return terms


def analyzer_for(ctx: QueryContext, path: str, override: str | None) -> str:
    if override is not None:
        return override
    spec = ctx.spec(path)
    return spec.search_analyzer if spec is not None else "standard"


_NO_TEXT_SEARCH = ("dense_vector", "sparse_vector")


def refuse_without_text_search(ctx: QueryContext, path: str, query_name: str) -> None:
    """Refuse a full-text query on a field that holds no text to search (vectors), as
    Elasticsearch's MatchQueryParser does for fields without text search info."""
    spec = ctx.spec(path)
    if spec is not None and spec.type in _NO_TEXT_SEARCH:
        raise query_shard_error(f"Field [{path}] of type [{spec.type}] does not support "
                                f"{query_name} queries", ctx.index_name)


def match_field(ctx: QueryContext, path: str, text: Any, *, operator: str = "or",
                msm: Any = None, fuzziness: Any = None, analyzer: str | None = None,
                boost: float = 1.0, prefix_length: int = 0, lenient: bool = False,
                zero_terms: str = "none", query_name: str = "match") -> tantivy.Query:
    """The query `match` builds on one field."""
    if path == INDEX_FIELD:
        return index_field_query(ctx, lambda name: name == str(text), boost)
    kind = ctx.kind(path)
    if kind is None:
        if not lenient:
            refuse_without_text_search(ctx, path, query_name)
        return tantivy.Query.empty_query()
    if kind != "text":
        try:
            value = term_value(ctx, path, kind, text)
        except Exception:
            if lenient:
                return tantivy.Query.empty_query()
            raise
        if value is None:
            return tantivy.Query.empty_query()
        if kind == "keyword":
            return boosted(scored_term(ctx, path, value), boost)
        return constant(tantivy.Query.term_query(ctx.schema, path, value), boost)
    terms = query_terms(analyzer_for(ctx, path, analyzer), text)
    if not terms:
        return tantivy.Query.all_query() if zero_terms == "all" else tantivy.Query.empty_query()

    def one(term: str) -> tantivy.Query:
        if fuzziness is not None:
            distance = fuzzy_distance(fuzziness, term)
            if distance:
                return tantivy.Query.fuzzy_term_query(ctx.schema, path, term, distance=distance,
                                                      prefix=prefix_length > 0)
        return scored_term(ctx, path, term)

    if len(terms) == 1:
        return boosted(one(terms[0]), boost)
    ctx.add_clauses(len(terms))
    occur = tantivy.Occur.Must if operator == "and" else tantivy.Occur.Should
    subs = [(occur, one(t)) for t in terms]
    required = minimum_should_match(msm, len(terms)) if occur == tantivy.Occur.Should else 0
    query = tantivy.Query.boolean_query(subs, minimum_number_should_match=required or None)
    return boosted(query, boost)


def phrase_field(ctx: QueryContext, path: str, text: Any, *, slop: int = 0,
                 analyzer: str | None = None, boost: float = 1.0) -> tantivy.Query:
    """The query `match_phrase` builds on one field."""
    kind = ctx.kind(path)
    if kind is None:
        refuse_without_text_search(ctx, path, "match_phrase")
        return tantivy.Query.empty_query()
    if kind != "text":
        return match_field(ctx, path, text, boost=boost, query_name="match_phrase")
    query_terms(analyzer_for(ctx, path, analyzer), text)  # bounds the tokens below
    toks = tokens(analyzer_for(ctx, path, analyzer), str(text))
    if not toks:
        return tantivy.Query.empty_query()
    if len(toks) == 1:
        return boosted(scored_term(ctx, path, toks[0][0]), boost)
    first = toks[0][1]
    words = [(pos - first, term) for term, pos in toks]
    return boosted(scored_phrase(ctx, path, words, slop), boost)


def phrase_terms(ctx: QueryContext, path: str, text: Any, analyzer: str | None
                 ) -> tuple[str, list[str]]:
    """The field and analyzed terms of a phrase (for its explanation)."""
    return path, [t for t, _ in tokens(analyzer_for(ctx, path, analyzer), str(text))]


class MatchQuery(QueryNode):
    """`match`: analyzed text, OR/AND of terms, minimum_should_match, fuzziness."""

    name = "match"

    def __init__(self, body: Any) -> None:
        path, spec, _ = single_field("match", expect_object("match", body))
        if not isinstance(spec, dict):
            spec = {"query": spec}
        check_keys("match", spec, _MATCH_KEYS)
        if "query" not in spec:
            raise ParsingError("[match] requires query value")
        operator = str(spec.get("operator", "or")).lower()
        if operator not in ("or", "and"):
            raise ParsingError(f"[match] query does not support [operator] value [{operator}]")
        if spec.get("analyzer") is not None and spec["analyzer"] not in ANALYZERS:
            raise ParsingError(f"[match] analyzer [{spec['analyzer']}] not found")
        self.path, self.spec, self.operator = path, spec, operator
        self.boost = as_float("match", spec.get("boost", 1.0))
        self.query_name = spec.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        s = self.spec
        spec = ctx.spec(self.path)
        if spec is not None and spec.type == "semantic_text":  # 8.18+: a semantic query
            from .semantic import semantic_text_query

            return semantic_text_query(ctx, self.path, spec, str(s["query"]), self.boost)
        return match_field(ctx, self.path, s["query"], operator=self.operator,
                           msm=s.get("minimum_should_match"), fuzziness=s.get("fuzziness"),
                           analyzer=s.get("analyzer"), boost=self.boost,
                           prefix_length=int(s.get("prefix_length", 0)),
                           lenient=bool(s.get("lenient", False)),
                           zero_terms=str(s.get("zero_terms_query", "none")))

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        if path != self.path:
            return set()
        return set(query_terms(analyzer_for(ctx, path, self.spec.get("analyzer")),
                               self.spec["query"]))

    def describe(self, ctx: QueryContext) -> str:
        return f"{self.path}:{self.spec['query']}"

    def min_matches(self, ctx: QueryContext) -> int:
        s = self.spec
        if self.operator != "or" or s.get("fuzziness") is not None or \
                s.get("minimum_should_match") not in (None, 1, "1"):
            return 0
        return _max_doc_freq(ctx, [self.path], s["query"], s.get("analyzer"))


def _max_doc_freq(ctx: QueryContext, paths: list[str], text: Any, analyzer: str | None) -> int:
    """The largest document frequency of the query's terms over text fields."""
    best = 0
    searcher = ctx.shard.fulltext.searcher
    for path in paths:
        if ctx.kind(path) != "text":
            continue
        for term in set(query_terms(analyzer_for(ctx, path, analyzer), text)):
            best = max(best, searcher.doc_freq(path, term))
    return best


class MatchPhraseQuery(QueryNode):
    """`match_phrase` with slop."""

    name = "match_phrase"

    def __init__(self, body: Any) -> None:
        path, spec, _ = single_field("match_phrase", expect_object("match_phrase", body))
        if not isinstance(spec, dict):
            spec = {"query": spec}
        check_keys("match_phrase", spec, {"query", "slop", "analyzer", "boost", "_name",
                                          "zero_terms_query"})
        if "query" not in spec:
            raise ParsingError("[match_phrase] requires query value")
        self.path, self.spec = path, spec
        self.boost = as_float("match_phrase", spec.get("boost", 1.0))
        self.query_name = spec.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return phrase_field(ctx, self.path, self.spec["query"],
                            slop=int(self.spec.get("slop", 0)),
                            analyzer=self.spec.get("analyzer"), boost=self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return f'{self.path}:"{self.spec["query"]}"'

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        return explain_compiled(ctx, ctx.compiled(self), address, boost, self.describe(ctx),
                                phrase_terms(ctx, self.path, self.spec["query"],
                                             self.spec.get("analyzer")))

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        if path != self.path:
            return set()
        return set(query_terms(analyzer_for(ctx, path, self.spec.get("analyzer")),
                               self.spec["query"]))


def parse_field_boosts(fields: list[str]) -> list[tuple[str, float]]:
    """`["title^3", "body"]` → `[("title", 3.0), ("body", 1.0)]`."""
    out = []
    for item in fields:
        name, _, boost = str(item).partition("^")
        try:
            out.append((name, float(boost) if boost else 1.0))
        except ValueError as err:
            raise ParsingError(f"failed to parse field boost [{item}]") from err
    return out


_UNSUPPORTED_TYPES = ("cross_fields", "phrase_prefix", "bool_prefix")


class MultiMatchQuery(QueryNode):
    """`multi_match`: best_fields (dis_max + tie_breaker), most_fields (sum), phrase."""

    name = "multi_match"
    TYPES = ("best_fields", "most_fields", "phrase")

    def __init__(self, body: Any) -> None:
        body = self.open(body, _MATCH_KEYS | {"fields", "type", "tie_breaker", "slop"})
        if "query" not in body:
            raise ParsingError("No text specified for multi_match query")
        mm_type = body.get("type", "best_fields")
        if mm_type not in self.TYPES and mm_type not in _UNSUPPORTED_TYPES:
            raise ParsingError(f"failed to parse [multi_match] query type [{mm_type}]. unknown "
                               f"type.")
        fields = body.get("fields", ["*"])
        self.fields = parse_field_boosts([fields] if isinstance(fields, str) else fields)
        self.body, self.type = body, mm_type

    def _expanded(self, ctx: QueryContext) -> list[tuple[str, float]]:
        out = []
        for name, boost in self.fields:
            for path in ctx.expand_fields(name):
                if "*" in name and ctx.kind(path) != "text":
                    continue
                out.append((path, boost))
        return out

    def _per_field(self, ctx: QueryContext) -> list[tuple[str, tantivy.Query]]:
        """(field, query) for each field the query runs on."""
        b = self.body
        per_field = []
        for path, boost in self._expanded(ctx):
            spec = ctx.spec(path)
            if spec is not None and spec.type == "semantic_text":  # 9.2: a semantic match
                from .semantic import semantic_text_query

                if self.type not in ("best_fields", "most_fields"):
                    raise BadRequest(f"multi_match query with type [{self.type}] is not "
                                     f"supported for semantic_text fields")
                per_field.append((path, semantic_text_query(ctx, path, spec, str(b["query"]),
                                                            boost)))
                continue
            if self.type in _UNSUPPORTED_TYPES:
                raise ParsingError(f"[multi_match] type [{self.type}] is not supported by the "
                                   f"embedded engine")
            if self.type == "phrase":
                q = phrase_field(ctx, path, b["query"], slop=int(b.get("slop", 0)),
                                 analyzer=b.get("analyzer"), boost=boost)
            else:
                q = match_field(ctx, path, b["query"], operator=str(b.get("operator", "or"))
                                .lower(), msm=b.get("minimum_should_match"),
                                fuzziness=b.get("fuzziness"), analyzer=b.get("analyzer"),
                                boost=boost, lenient=bool(b.get("lenient", False)))
            per_field.append((path, q))
        return per_field

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        b = self.body
        parts = []
        for path, query in self._per_field(ctx):
            phrase = phrase_terms(ctx, path, b["query"], b.get("analyzer")) \
                if self.type == "phrase" else None
            part = explain_compiled(ctx, query, address, boost * self.boost,
                                    f"{path}:{b['query']}", phrase)
            if part is not None:
                parts.append(part)
        if not parts:
            return None
        if self.type == "most_fields":
            return sum_of(parts)
        return max_of(parts, float(b.get("tie_breaker", 0.0)))

    def describe(self, ctx: QueryContext) -> str:
        text = self.body["query"]
        return "(" + " | ".join(f"{path}:{text}" for path, _ in self._expanded(ctx)) + ")"

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        b = self.body
        per_field = [q for _, q in self._per_field(ctx)]
        if not per_field:
            return tantivy.Query.empty_query()
        if len(per_field) == 1:
            return boosted(per_field[0], self.boost)
        if self.type == "most_fields":
            query = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in per_field])
        else:
            tie = float(b.get("tie_breaker", 0.0))
            query = tantivy.Query.disjunction_max_query(per_field, tie_breaker=tie)
        return boosted(query, self.boost)

    def min_matches(self, ctx: QueryContext) -> int:
        b = self.body
        if self.type == "phrase" or str(b.get("operator", "or")).lower() != "or" or \
                b.get("fuzziness") is not None or \
                b.get("minimum_should_match") not in (None, 1, "1"):
            return 0
        return _max_doc_freq(ctx, [p for p, _ in self._expanded(ctx)], b["query"],
                             b.get("analyzer"))

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        if all(path != p for p, _ in self._expanded(ctx)):
            return set()
        return set(query_terms(analyzer_for(ctx, path, self.body.get("analyzer")),
                               self.body["query"]))


_QS_TOKEN = re.compile(r'\s*(?:(?P<op>AND|OR|NOT|&&|\|\|)\s|(?P<mod>[+-])?(?:(?P<field>[\w.*]+):)?'
                       r'(?:"(?P<phrase>[^"]*)"|(?P<regex>/(?:[^/\\]|\\.)*/)|(?P<word>[^\s"()]+)))')
_UNSUPPORTED = re.compile(r'[()\[\]{}~/\\]|\bTO\b|\^|(?<![\w])!')
# `/regex/` (query_string only): at the start of a term, `\/` escaping a slash within
_QS_REGEX = re.compile(r'(?<![^\s:+\-])/(?:[^/\\]|\\.)*/')


class QueryStringQuery(QueryNode):
    """`query_string` / `simple_query_string`, simple cases: words, phrases, field:value, +/-,
    AND/OR/NOT, and `/regex/` terms in query_string (bounded by `index.max_regex_length`).
    Anything else (ranges, grouping, fuzzy, boosts) is refused."""

    name = "query_string"

    def __init__(self, body: Any, simple: bool = False) -> None:
        self.name = "simple_query_string" if simple else "query_string"
        body = self.open(body, {"query", "fields", "default_field", "default_operator",
                                "analyzer", "lenient", "flags", "minimum_should_match",
                                "analyze_wildcard"})
        if "query" not in body:
            raise ParsingError(f"[{self.name}] must be provided with a [query]")
        text = str(body["query"])
        if _UNSUPPORTED.search(text if simple else _QS_REGEX.sub(" ", text)):
            raise ParsingError(f"[{self.name}] syntax beyond words, phrases, field:value, +/- "
                               f"and AND/OR/NOT is not supported by the embedded engine: "
                               f"[{text}]")
        fields = body.get("fields") or [body.get("default_field", "*")]
        self.fields = parse_field_boosts(fields)
        self.operator = str(body.get("default_operator", "or")).lower()
        self.clauses = self._parse(text, simple)
        self.body = body

    def _parse(self, text: str, simple: bool) -> list[tuple[str, str | None, str, str]]:
        """(occur, field, text, kind: word, phrase or regex) per clause."""
        clauses: list[tuple[str, str | None, str, str]] = []
        pending_op = None
        pos = 0
        limit = current_limits().max_clause_count
        end = len(text.rstrip())
        while pos < end:
            if len(clauses) > limit:
                raise too_many_clauses(limit)
            m = _QS_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ParsingError(f"[{self.name}] could not parse [{text}]")
            pos = m.end()
            if m.group("op"):
                pending_op = {"&&": "AND", "||": "OR"}.get(m.group("op"), m.group("op"))
                if pending_op == "AND" and clauses and clauses[-1][0] == "should":
                    clauses[-1] = ("must", *clauses[-1][1:])
                continue
            mod = m.group("mod")
            occur = "must" if mod == "+" else "must_not" if mod == "-" else \
                ("must_not" if pending_op == "NOT" else "must" if pending_op == "AND"
                 or self.operator == "and" else "should")
            if m.group("phrase") is not None:
                clauses.append((occur, m.group("field"), m.group("phrase"), "phrase"))
            elif m.group("regex") is not None and not simple:
                clauses.append((occur, m.group("field"), m.group("regex")[1:-1], "regex"))
            else:
                clauses.append((occur, m.group("field"), m.group("word") or m.group("regex"),
                                "word"))
            pending_op = None
        return clauses

    def _field_query(self, ctx: QueryContext, field: str | None, text: str, kind: str
                     ) -> tantivy.Query:
        targets = [(field, 1.0)] if field else self.fields
        subs = []
        for name, boost in targets:
            for path in ctx.expand_fields(name or "*"):
                if "*" in (name or "*") and ctx.kind(path) != "text":
                    continue
                if kind == "regex":
                    if ctx.kind(path) in ("text", "keyword"):
                        value = text.lower() if ctx.kind(path) == "text" else text
                        subs.append(constant(ctx.regex_query(self.name, path, value,
                                                             value.replace("\\/", "/")),
                                             boost))
                elif kind == "phrase":
                    subs.append(phrase_field(ctx, path, text, boost=boost,
                                             analyzer=self.body.get("analyzer")))
                elif text.endswith("*") and ctx.kind(path) in ("text", "keyword"):
                    value = text[:-1].lower() if ctx.kind(path) == "text" else text[:-1]
                    subs.append(constant(ctx.regex_query(self.name, path, value,
                                                         re.escape(value) + ".*"), boost))
                else:
                    subs.append(match_field(ctx, path, text, boost=boost, lenient=True,
                                            analyzer=self.body.get("analyzer")))
        if not subs:
            return tantivy.Query.empty_query()
        return subs[0] if len(subs) == 1 else tantivy.Query.disjunction_max_query(subs, 0.0)

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        occurs = {"must": tantivy.Occur.Must, "should": tantivy.Occur.Should,
                  "must_not": tantivy.Occur.MustNot}
        subs = [(occurs[o], self._field_query(ctx, f, t, p)) for o, f, t, p in self.clauses]
        if not subs:
            return tantivy.Query.empty_query()
        if all(o == "must_not" for o, *_ in self.clauses):
            subs.append((tantivy.Occur.Must, constant(tantivy.Query.all_query(), 1.0)))
        if len(subs) == 1 and self.clauses[0][0] != "must_not":
            return boosted(subs[0][1], self.boost)
        optional = sum(1 for o, *_ in self.clauses if o == "should")
        msm = minimum_should_match(self.body.get("minimum_should_match"), optional)
        return boosted(tantivy.Query.boolean_query(subs, minimum_number_should_match=msm or None),
                       self.boost)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        out: set[str] = set()
        for occur, field, text, kind in self.clauses:
            if occur != "must_not" and kind != "regex" and (field is None or field == path):
                out.update(query_terms(analyzer_for(ctx, path, None), text.rstrip("*")))
        return out
