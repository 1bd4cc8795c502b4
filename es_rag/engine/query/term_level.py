"""Term-level clauses: term, terms, range, exists, ids, prefix, wildcard."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import tantivy

from ..dates import resolve_date_math, resolve_date_nanos
from ..errors import ParsingError
from ..index.fulltext import FIELD_NAMES, ID
from ..index.mapping.ip import cidr_bounds, parse_ip
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
    query_shard_error,
    single_field,
    term_value,
)
from .full_text import fuzzy_distance
from .semantic import sparse_field_query
from .similarities import scored_term
from .terms_lookup import TermsLookup

_SCORED = ("text", "keyword")


class TermQuery(QueryNode):
    """`term`: an exact (not analyzed) value; BM25 on text/keyword, constant on others."""

    name = "term"

    def __init__(self, body: Any) -> None:
        path, spec, opts = single_field("term", expect_object("term", body))
        if isinstance(spec, dict):
            check_keys("term", spec, {"value", "term", "boost", "_name", "case_insensitive"})
            if "value" not in spec and "term" not in spec:
                raise ParsingError("[term] query requires a value")
            self.value = spec.get("value", spec.get("term"))
            self.boost = as_float("term", spec.get("boost", 1.0))
            self.case_insensitive = bool(spec.get("case_insensitive", False))
            self.query_name = spec.get("_name")
        else:
            self.value, self.case_insensitive = spec, False
            self.boost = as_float("term", opts.get("boost", 1.0))
        self.path = path

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        if self.path == "_id":
            return constant(tantivy.Query.term_query(ctx.schema, ID, str(self.value)), self.boost)
        if self.path == INDEX_FIELD:
            return index_field_query(ctx, lambda name: name == str(self.value), self.boost)
        spec = ctx.spec(self.path)
        if spec is not None and spec.type == "sparse_vector":
            return sparse_field_query(ctx, self.path, {str(self.value): 1.0}, self.boost)
        kind = ctx.kind(self.path)
        if kind is None:
            return tantivy.Query.empty_query()
        if kind == "ip":
            return constant(ip_query(ctx, self.path, [self.value]), self.boost)
        value = term_value(ctx, self.path, kind, self.value)
        if value is None:
            return tantivy.Query.empty_query()
        if self.case_insensitive and isinstance(value, str):
            query = ctx.regex_query("term", self.path, value, "(?i)" + re.escape(value))
            return constant(query, self.boost)
        if kind in _SCORED:
            return boosted(scored_term(ctx, self.path, value), self.boost)
        return constant(tantivy.Query.term_query(ctx.schema, self.path, value), self.boost)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        return {str(self.value)} if path == self.path else set()

    def describe(self, ctx: QueryContext) -> str:
        return f"{self.path}:{self.value}"


class TermsQuery(QueryNode):
    """`terms`: any of several exact values, constant score."""

    name = "terms"

    def __init__(self, body: Any) -> None:
        body = expect_object("terms", body)
        self.boost = as_float("terms", body.get("boost", 1.0))
        self.query_name = body.get("_name")
        fields = [k for k in body if k not in ("boost", "_name")]
        if len(fields) != 1:
            raise ParsingError("[terms] query does not support multiple fields" if fields else
                               "[terms] query requires a field")
        self.path = fields[0]
        values = body[self.path]
        self.lookup = TermsLookup(values) if isinstance(values, dict) else None
        if self.lookup is None and not isinstance(values, list):
            raise ParsingError(f"[terms] query does not support [{self.path}]")
        self._values = values if self.lookup is None else []

    @property
    def values(self) -> list[Any]:
        """The query's values, or the looked-up document's (terms lookup)."""
        return self.lookup.values() if self.lookup is not None else self._values

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        if self.path == "_id":
            return constant(tantivy.Query.term_set_query(
                ctx.schema, ID, [str(v) for v in self.values]), self.boost)
        if self.path == INDEX_FIELD:
            names = {str(v) for v in self.values}
            return index_field_query(ctx, lambda name: name in names, self.boost)
        limit = int(ctx.settings.get("index.max_terms_count", 65536))
        if len(self.values) > limit:
            raise query_shard_error(
                f"The number of terms [{len(self.values)}] used in the Terms Query request has "
                f"exceeded the allowed maximum of [{limit}]. This maximum can be set by changing "
                f"the [index.max_terms_count] index level setting.", ctx.index_name)
        kind = ctx.kind(self.path)
        if kind is None or not self.values:
            return tantivy.Query.empty_query()
        if kind == "ip":
            return constant(ip_query(ctx, self.path, self.values), self.boost)
        values = [v for v in (term_value(ctx, self.path, kind, v) for v in self.values)
                  if v is not None]
        if not values:
            return tantivy.Query.empty_query()
        return constant(tantivy.Query.term_set_query(ctx.schema, self.path, values), self.boost)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        return {str(v) for v in self.values} if path == self.path else set()

    def describe(self, ctx: QueryContext) -> str:
        return f"{self.path}:({' '.join(str(v) for v in self.values)})"


class RangeQuery(QueryNode):
    """`range` over numbers, dates (with date math) and keywords; constant score."""

    name = "range"

    def __init__(self, body: Any) -> None:
        path, spec, _ = single_field("range", expect_object("range", body))
        if not isinstance(spec, dict):
            raise ParsingError(f"[range] query malformed, no start_object after field [{path}]")
        check_keys("range", spec, {"gt", "gte", "lt", "lte", "from", "to", "include_lower",
                                   "include_upper", "boost", "format", "time_zone", "relation",
                                   "_name"})
        tz = spec.get("time_zone")
        if tz not in (None, "Z", "UTC", "+00:00", "Etc/UTC", "GMT"):
            raise ParsingError("[range] time_zone other than UTC is not supported by the "
                               "embedded engine")
        if spec.get("relation", "intersects").lower() not in ("intersects", "within"):
            raise ParsingError("[range] relation [contains] is not supported for this field")
        self.path = path
        self.spec = spec
        self.boost = as_float("range", spec.get("boost", 1.0))
        self.query_name = spec.get("_name")

    def _bounds(self) -> tuple[Any, bool, Any, bool]:
        s = self.spec
        lower, incl_lower = s.get("from"), bool(s.get("include_lower", True))
        upper, incl_upper = s.get("to"), bool(s.get("include_upper", True))
        if "gt" in s:
            lower, incl_lower = s["gt"], False
        if "gte" in s:
            lower, incl_lower = s["gte"], True
        if "lt" in s:
            upper, incl_upper = s["lt"], False
        if "lte" in s:
            upper, incl_upper = s["lte"], True
        return lower, incl_lower, upper, incl_upper

    def describe(self, ctx: QueryContext) -> str:
        lower, incl_lower, upper, incl_upper = self._bounds()
        return (f"{self.path}:{'[' if incl_lower else '{'}{'*' if lower is None else lower} TO "
                f"{'*' if upper is None else upper}{']' if incl_upper else '}'}")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        kind = ctx.kind(self.path)
        if kind is None:
            return tantivy.Query.empty_query()
        lower, incl_lower, upper, incl_upper = self._bounds()
        if lower is None and upper is None:
            return constant(tantivy.Query.exists_query(self.path), self.boost)
        spec = ctx.spec(self.path)
        assert spec is not None
        if spec.type in ("date", "date_nanos"):
            fmt = self.spec.get("format", spec.date_format)
            resolve = resolve_date_nanos if spec.type == "date_nanos" else resolve_date_math
            lower = None if lower is None else resolve(lower, fmt, not incl_lower)
            upper = None if upper is None else resolve(upper, fmt, incl_upper)
            field_type = tantivy.FieldType.Integer
        elif kind == "int":
            lower, incl_lower = _int_bound(ctx, lower, incl_lower, True)
            upper, incl_upper = _int_bound(ctx, upper, incl_upper, False)
            field_type = tantivy.FieldType.Integer
        elif kind == "float":
            lower = None if lower is None else _number(ctx, lower)
            upper = None if upper is None else _number(ctx, upper)
            field_type = tantivy.FieldType.Float
        elif kind == "keyword":
            lower = None if lower is None else str(lower)
            upper = None if upper is None else str(upper)
            field_type = tantivy.FieldType.Str
        elif kind == "ip":
            lower, incl_lower = _ip_bound(ctx, lower, incl_lower, True)
            upper, incl_upper = _ip_bound(ctx, upper, incl_upper, False)
            field_type = tantivy.FieldType.IpAddr
        else:
            raise query_shard_error(f"range queries on [{spec.type}] fields are not supported",
                                    ctx.index_name)
        query = tantivy.Query.range_query(
            ctx.schema, self.path, field_type, lower, upper,
            include_lower=incl_lower if lower is not None else True,
            include_upper=incl_upper if upper is not None else True)
        return constant(query, self.boost)


def ip_query(ctx: QueryContext, path: str, values: list[Any]) -> tantivy.Query:
    """Addresses and CIDR blocks (`10.0.0.0/8`) on an `ip` field."""
    addresses, blocks = [], []
    try:
        for value in values:
            bounds = cidr_bounds(value)
            if bounds is None:
                addresses.append(parse_ip(value))
            else:
                blocks.append(tantivy.Query.range_query(ctx.schema, path, tantivy.FieldType.IpAddr,
                                                        *bounds))
    except ValueError as err:
        raise query_shard_error(str(err), ctx.index_name) from err
    if addresses:
        blocks.append(tantivy.Query.term_set_query(ctx.schema, path, addresses))
    if len(blocks) == 1:
        return blocks[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in blocks])


def _ip_bound(ctx: QueryContext, value: Any, inclusive: bool, lower: bool
              ) -> tuple[str | None, bool]:
    """A range bound on an `ip` field (an exclusive bound becomes the next address)."""
    if value is None:
        return None, True
    try:
        address = ipaddress.ip_address(parse_ip(value))
    except ValueError as err:
        raise query_shard_error(str(err), ctx.index_name) from err
    if not inclusive:
        try:
            address = address + 1 if lower else address - 1
        except ipaddress.AddressValueError:
            return None, True
    return str(address), True


def _number(ctx: QueryContext, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise query_shard_error(f'For input string: "{value}"', ctx.index_name) from err


def _int_bound(ctx: QueryContext, value: Any, inclusive: bool, lower: bool
               ) -> tuple[int | None, bool]:
    if value is None:
        return None, True
    number = _number(ctx, value)
    if number.is_integer():
        return int(number), inclusive
    import math

    return (math.ceil(number) if lower else math.floor(number)), True


class ExistsQuery(QueryNode):
    """`exists`: documents with a value for the field."""

    name = "exists"

    def __init__(self, body: Any) -> None:
        body = self.open(body, {"field"})
        if "field" not in body:
            raise ParsingError("[exists] must be provided with a [field]")
        self.path = str(body["field"])

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        paths = [p for p in ctx.mapping.fields if p == self.path or
                 p.startswith(self.path + ".")] or [self.path]
        if "*" in self.path:
            regex = re.compile(re.escape(self.path).replace(r"\*", ".*"))
            paths = [p for p in ctx.mapping.fields if regex.fullmatch(p)]
        if ctx.fields is not None:  # field-level security: a hidden field has no values
            paths = [p for p in paths if ctx.fields.allows(p)]
        if not paths:
            return tantivy.Query.empty_query()
        return constant(tantivy.Query.term_set_query(ctx.schema, FIELD_NAMES, paths), self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return f"FieldExistsQuery [field={self.path}]"


class IdsQuery(QueryNode):
    """`ids`: documents by `_id`."""

    name = "ids"

    def __init__(self, body: Any) -> None:
        body = self.open(body, {"values"})
        values = body.get("values", [])
        if not isinstance(values, list):
            raise ParsingError("[ids] failed to parse field [values]")
        self.values = [str(v) for v in values]

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        if not self.values:
            return tantivy.Query.empty_query()
        return constant(tantivy.Query.term_set_query(ctx.schema, ID, self.values), self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return f"_id:({' '.join(self.values)})"


class _PatternQuery(QueryNode):
    extra_keys: set[str] = set()

    def __init__(self, body: Any) -> None:
        path, spec, opts = single_field(self.name, expect_object(self.name, body))
        if isinstance(spec, dict):
            check_keys(self.name, spec, {"value", "wildcard", "boost", "_name", "rewrite",
                                         "case_insensitive", *self.extra_keys})
            self.value = str(spec.get("value", spec.get("wildcard", "")))
            self.boost = as_float(self.name, spec.get("boost", 1.0))
            self.case_insensitive = bool(spec.get("case_insensitive", False))
            self.query_name = spec.get("_name")
        else:
            self.value, self.case_insensitive = str(spec), False
            self.boost = as_float(self.name, opts.get("boost", 1.0))
        self.path = path

    def regex(self) -> str:
        raise NotImplementedError

    def describe(self, ctx: QueryContext) -> str:
        return f"{self.path}:{self.value}" + ("*" if self.name == "prefix" else "")

    def highlight_patterns(self, ctx: QueryContext, path: str) -> list[re.Pattern[str]]:
        if path != self.path:
            return []
        return [re.compile(self.regex(), re.DOTALL | (re.IGNORECASE if self.case_insensitive
                                                      else 0))]

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        pattern = ("(?i)" if self.case_insensitive else "") + self.regex()
        if self.path == INDEX_FIELD:
            compiled = re.compile(pattern, re.DOTALL)
            return index_field_query(ctx, lambda name: compiled.fullmatch(name) is not None,
                                     self.boost)
        kind = ctx.kind(self.path)
        if kind not in ("text", "keyword"):
            return tantivy.Query.empty_query()
        return constant(ctx.regex_query(self.name, self.path, self.value, pattern), self.boost)


class PrefixQuery(_PatternQuery):
    """`prefix` on keyword or text terms."""

    name = "prefix"

    def regex(self) -> str:
        return re.escape(self.value) + ".*"


class WildcardQuery(_PatternQuery):
    """`wildcard` (`*` and `?`) on keyword or text terms."""

    name = "wildcard"

    def regex(self) -> str:
        return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                       for c in self.value)


class RegexpQuery(_PatternQuery):
    """`regexp` on keyword or text terms: the whole term must match (Lucene's RegExp syntax
    shares its common operators with the regex engine: `. ? + * | {n,m} [...] (...)`)."""

    name = "regexp"
    extra_keys = {"flags", "flags_value", "max_determinized_states"}

    def regex(self) -> str:
        return self.value


class FuzzyQuery(QueryNode):
    """`fuzzy`: terms within an edit distance of the value (`fuzziness`, `prefix_length`,
    `transpositions`), on keyword or text terms."""

    name = "fuzzy"

    def __init__(self, body: Any) -> None:
        path, spec, opts = single_field(self.name, expect_object(self.name, body))
        if not isinstance(spec, dict):
            spec = {"value": spec, **opts}
        check_keys(self.name, spec, {"value", "fuzziness", "prefix_length", "max_expansions",
                                     "transpositions", "rewrite", "boost", "_name"})
        if spec.get("value") is None:
            raise ParsingError(f"[{self.name}] query requires a value for field [{path}]")
        self.path, self.value = path, str(spec["value"])
        self.fuzziness = spec.get("fuzziness", "AUTO")
        self.prefix_length = int(spec.get("prefix_length", 0))
        self.transpositions = spec.get("transpositions", True) not in (False, "false")
        self.boost = as_float(self.name, spec.get("boost", 1.0))
        self.query_name = spec.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        if ctx.kind(self.path) not in ("text", "keyword"):
            return tantivy.Query.empty_query()
        distance = fuzzy_distance(self.fuzziness, self.value)
        query = tantivy.Query.fuzzy_term_query(
            ctx.schema, self.path, self.value, distance=distance,
            transposition_cost_one=self.transpositions)
        if self.prefix_length > 0:
            head = self.value[:self.prefix_length]
            query = tantivy.Query.boolean_query([
                (tantivy.Occur.Must, query),
                (tantivy.Occur.Must, ctx.regex_query(self.name, self.path, head,
                                                     re.escape(head) + ".*"))])
        return constant(query, self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return f"{self.path}:{self.value}~{fuzzy_distance(self.fuzziness, self.value)}"
