"""The rules of the `intervals` query (match, prefix, wildcard, regexp, fuzzy, range, all_of,
any_of and their filters), each turning a document's term positions into intervals."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import OSA, Levenshtein

from ..errors import BadRequest, ParsingError, XContentParseError
from .full_text import fuzzy_distance

# An interval: first position, last position, and its gaps (positions inside it that no
# sub-rule covers), as Lucene's IntervalIterator reports start(), end() and gaps().
Interval = tuple[int, int, int]
# A document's terms per field: term -> sorted positions
Positions = dict[str, list[int]]
FieldPositions = Callable[[str], Positions]

_MAX_COMBINATIONS = 100_000  # bound of the combinations one document may try


@dataclass
class RuleContext:
    """What a rule needs to read terms: the queried field, its search analyzer, and a way to
    analyze a text with an analyzer into (term, position) pairs."""

    field: str
    analyzer: Callable[[str | None, str], str]  # field -> its search analyzer (or override)
    tokens: Callable[[str, str], list[tuple[str, int]]]


class Rule:
    """One rule of an `intervals` query."""

    def intervals(self, positions: FieldPositions) -> list[Interval]:
        """The rule's minimal intervals in a document, sorted by (start, end)."""
        raise NotImplementedError

    def leaves(self) -> list[Leaf]:
        """The term-matching rules under this one (they select candidate documents)."""
        return []

    def required(self) -> bool:
        """Whether every leaf must match for the rule to match (all_of/match vs any_of)."""
        return True


class Leaf(Rule):
    """A rule matching single terms of a field (`use_field` reads another field's terms)."""

    def __init__(self, use_field: str | None) -> None:
        self.use_field = use_field
        self.field = ""

    def accepts(self, term: str) -> bool:
        raise NotImplementedError

    def intervals(self, positions: FieldPositions) -> list[Interval]:
        terms = positions(self.use_field or self.field)
        found = sorted({p for term, where in terms.items() if self.accepts(term) for p in where})
        return [(p, p, 0) for p in found]

    def leaves(self) -> list[Leaf]:
        return [self]


class TermLeaf(Leaf):
    """One or more terms at the same position of a query text (synonyms)."""

    def __init__(self, terms: set[str], use_field: str | None) -> None:
        super().__init__(use_field)
        self.terms = terms

    def accepts(self, term: str) -> bool:
        return term in self.terms


class PatternLeaf(Leaf):
    """Terms a predicate accepts: prefix, wildcard, regexp, fuzzy and range rules."""

    def __init__(self, kind: str, accepts: Callable[[str], bool], use_field: str | None,
                 regex: str | None = None) -> None:
        super().__init__(use_field)
        self.kind = kind
        self.regex = regex  # a regular expression selecting the terms, when there is one
        self._accepts = accepts

    def accepts(self, term: str) -> bool:
        return self._accepts(term)


class Combine(Rule):
    """Sub-rules all matching in one interval (`all_of`, a multi-term `match`), in order or
    not, with at most `max_gaps` positions between them (-1: no limit)."""

    def __init__(self, rules: list[Rule], ordered: bool, max_gaps: int) -> None:
        self.rules = rules
        self.ordered = ordered
        self.max_gaps = max_gaps

    def leaves(self) -> list[Leaf]:
        return [leaf for rule in self.rules for leaf in rule.leaves()]

    def intervals(self, positions: FieldPositions) -> list[Interval]:
        subs = [rule.intervals(positions) for rule in self.rules]
        if any(not sub for sub in subs):
            return []
        if len(subs) == 1:
            found = subs[0]
        else:
            found = _ordered(subs, self.max_gaps) if self.ordered else \
                _unordered(subs, self.max_gaps)
        if self.max_gaps >= 0:
            found = [i for i in found if i[2] <= self.max_gaps]
        return minimal(found)


class AnyOf(Rule):
    """Intervals of any sub-rule (`any_of`)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def leaves(self) -> list[Leaf]:
        return [leaf for rule in self.rules for leaf in rule.leaves()]

    def required(self) -> bool:
        return False

    def intervals(self, positions: FieldPositions) -> list[Interval]:
        # every sub-rule's intervals are kept (not only the minimal ones of the union), as
        # Lucene rewrites a disjunction inside a combination whose gaps matter
        best: dict[tuple[int, int], int] = {}
        for rule in self.rules:
            for start, end, gaps in rule.intervals(positions):
                best[start, end] = min(gaps, best.get((start, end), gaps))
        return sorted((s, e, g) for (s, e), g in best.items())


_FILTERS: dict[str, Callable[[Interval, Interval], bool]] = {
    "containing": lambda s, f: s[0] <= f[0] and f[1] <= s[1],
    "contained_by": lambda s, f: f[0] <= s[0] and s[1] <= f[1],
    "overlapping": lambda s, f: f[0] <= s[1] and s[0] <= f[1],
    "before": lambda s, f: s[1] < f[0],
    "after": lambda s, f: f[1] < s[0],
}
FILTER_NAMES = (*_FILTERS, "not_containing", "not_contained_by", "not_overlapping", "script")


class Filtered(Rule):
    """A rule's intervals kept or dropped by their relation to a filter rule's intervals."""

    def __init__(self, rule: Rule, kind: str, other: Rule) -> None:
        self.rule = rule
        self.negated = kind.startswith("not_")
        self.relation = _FILTERS[kind.removeprefix("not_")]
        self.other = other

    def leaves(self) -> list[Leaf]:
        return self.rule.leaves()

    def required(self) -> bool:
        return self.rule.required()

    def intervals(self, positions: FieldPositions) -> list[Interval]:
        found = self.rule.intervals(positions)
        if not found:
            return []
        others = self.other.intervals(positions)
        return [i for i in found
                if any(self.relation(i, f) for f in others) != self.negated]


def minimal(found: Iterable[Interval]) -> list[Interval]:
    """The intervals containing no other one (fewest gaps per span), sorted."""
    best: dict[tuple[int, int], int] = {}
    for start, end, gaps in found:
        best[start, end] = min(gaps, best.get((start, end), gaps))
    spans = sorted(best, key=lambda se: (se[1] - se[0], se))
    kept: list[tuple[int, int]] = []
    for start, end in spans:
        if not any(s >= start and e <= end for s, e in kept):
            kept.append((start, end))
    return sorted((s, e, best[s, e]) for s, e in kept)


def _width(interval: Interval) -> int:
    return interval[1] - interval[0] + 1


def _ordered(subs: list[list[Interval]], max_gaps: int) -> list[Interval]:
    """Spans where one interval of each sub-rule follows the previous one's end. Without a
    gap limit the earliest-ending next interval is the best choice; with one, every choice
    within the limit is tried (a longer sub-interval may close a gap)."""
    out: list[Interval] = []
    budget = [_MAX_COMBINATIONS]

    def extend(level: int, start: int, end: int, gaps: int) -> None:
        if level == len(subs):
            out.append((start, end, gaps))
            return
        following = [i for i in subs[level] if i[0] > end]
        if max_gaps < 0:
            following = following and [min(following, key=lambda i: (i[1], -i[0]))]
        for nxt in following:
            gap = nxt[0] - end - 1
            if max_gaps >= 0 and gaps + gap > max_gaps:
                break  # sorted by start: every later one leaves a larger gap
            budget[0] -= 1
            if budget[0] < 0:
                return
            extend(level + 1, start, nxt[1], gaps + gap)

    for first in subs[0]:
        extend(1, first[0], first[1], 0)
    return out


def _unordered(subs: list[list[Interval]], max_gaps: int) -> list[Interval]:
    """Spans holding one interval of each sub-rule in any order (they may overlap, as in
    Lucene's `Intervals.unordered`), anchored at the sub-interval that starts first."""
    out: list[Interval] = []
    budget = _MAX_COMBINATIONS
    for num, sub in enumerate(subs):
        others = [s for n, s in enumerate(subs) if n != num]
        for anchor in sub:
            picks = [[i for i in other if i[0] >= anchor[0]] for other in others]
            if any(not p for p in picks):
                continue
            if max_gaps < 0:
                chosen = [anchor, *(min(p, key=lambda i: i[1]) for p in picks)]
                out.append(_span(chosen))
                continue
            for combo in _products(picks, anchor, max_gaps):
                budget -= 1
                if budget < 0:
                    return out
                out.append(_span([anchor, *combo]))
    return out


def _products(picks: list[list[Interval]], anchor: Interval, max_gaps: int
              ) -> Iterable[list[Interval]]:
    """Choices of one interval per sub-rule that can end within the gap limit."""
    reach = anchor[1] + max_gaps + sum(_width(min(p, key=_width)) for p in picks)
    bounded = [[i for i in p if i[1] <= reach] for p in picks]
    if any(not b for b in bounded):
        return
    stack: list[tuple[int, list[Interval]]] = [(0, [])]
    while stack:
        level, chosen = stack.pop()
        if level == len(bounded):
            yield chosen
            continue
        for item in bounded[level]:
            stack.append((level + 1, [*chosen, item]))


def _span(chosen: list[Interval]) -> Interval:
    start = min(i[0] for i in chosen)
    end = max(i[1] for i in chosen)
    covered = {p for i in chosen for p in range(i[0], i[1] + 1)}
    return start, end, (end - start + 1) - len(covered)


# -- parsing -------------------------------------------------------------------------------

_RULE_KEYS = {
    "match": {"query", "max_gaps", "ordered", "analyzer", "filter", "use_field"},
    "prefix": {"prefix", "analyzer", "use_field"},
    "wildcard": {"pattern", "analyzer", "use_field"},
    "regexp": {"pattern", "analyzer", "use_field", "flags", "case_insensitive"},
    "fuzzy": {"term", "prefix_length", "transpositions", "fuzziness", "analyzer", "use_field"},
    "range": {"gte", "gt", "lte", "lt", "analyzer", "use_field"},
    "all_of": {"intervals", "max_gaps", "ordered", "filter"},
    "any_of": {"intervals", "filter"},
}
RULE_NAMES = tuple(_RULE_KEYS)


def parse_rule(body: Any, ctx: RuleContext) -> Rule:
    """One rule `{"match": {...}}` (or another name) as IntervalsSourceProvider parses it."""
    if not isinstance(body, dict) or len(body) != 1:
        raise ParsingError("Expected [START_OBJECT] holding one interval rule, got "
                           f"[{body!r}]" if not isinstance(body, dict) else
                           "Only one interval rule can be specified, found "
                           f"[{', '.join(body)}]")
    [(name, options)] = body.items()
    if name not in _RULE_KEYS:
        raise ParsingError(f"Unknown interval type [{name}]")
    if not isinstance(options, dict):
        raise ParsingError(f"[{name}] expects an object, got [{options!r}]")
    unknown = sorted(set(options) - _RULE_KEYS[name])
    if unknown:
        raise XContentParseError(f"[{name}] unknown field [{unknown[0]}]")
    rule = _RULES[name](options, ctx)
    if "filter" in options:
        rule = _filtered(rule, options["filter"], ctx)
    return rule


def _required(name: str, options: dict[str, Any], key: str) -> Any:
    if options.get(key) is None:
        raise XContentParseError(f"[{name}] failed to parse: [{key}] is required",
                                 caused_by={"type": "illegal_argument_exception",
                                            "reason": f"Required [{key}]"})
    return options[key]


def _int(name: str, options: dict[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise XContentParseError(f"[{name}] failed to parse field [{key}]")
    try:
        return int(value)
    except ValueError as err:
        raise XContentParseError(f"[{name}] failed to parse field [{key}]") from err


def _bool_default(options: dict[str, Any], key: str, default: bool) -> bool:
    return options.get(key, default) not in (False, "false")


def _bool(name: str, options: dict[str, Any], key: str) -> bool:
    value = options.get(key, False)
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise XContentParseError(f"[{name}] failed to parse field [{key}]")


def _match(options: dict[str, Any], ctx: RuleContext) -> Rule:
    text = str(_required("match", options, "query"))
    use_field = options.get("use_field")
    analyzer = ctx.analyzer(use_field or ctx.field, options.get("analyzer"))
    by_position: dict[int, set[str]] = {}
    for term, position in ctx.tokens(analyzer, text):
        by_position.setdefault(position, set()).add(term)
    leaves: list[Rule] = [_leaf(TermLeaf(terms, use_field), ctx)
                          for _, terms in sorted(by_position.items())]
    if not leaves:
        return AnyOf([])
    return Combine(leaves, _bool("match", options, "ordered"),
                   _int("match", options, "max_gaps", -1))


def _leaf(leaf: Leaf, ctx: RuleContext) -> Leaf:
    leaf.field = ctx.field
    return leaf


def normalize(analyzer: str, text: str) -> str:
    """A pattern's text as the analyzer's normalizer makes it (lowercased, but by the
    whitespace and keyword analyzers)."""
    return text if analyzer in ("whitespace", "keyword") else text.lower()


def _pattern_leaf(name: str, options: dict[str, Any], ctx: RuleContext, key: str,
                  make: Callable[[str], tuple[Callable[[str], bool], str | None]]) -> Rule:
    use_field = options.get("use_field")
    analyzer = ctx.analyzer(use_field or ctx.field, options.get("analyzer"))
    value = normalize(analyzer, str(_required(name, options, key)))
    accepts, regex = make(value)
    return _leaf(PatternLeaf(name, accepts, use_field, regex), ctx)


def _prefix(options: dict[str, Any], ctx: RuleContext) -> Rule:
    return _pattern_leaf("prefix", options, ctx, "prefix", lambda value: (
        lambda term: term.startswith(value), re.escape(value) + ".*"))


def _wildcard(options: dict[str, Any], ctx: RuleContext) -> Rule:
    def make(value: str) -> tuple[Callable[[str], bool], str]:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
        compiled = re.compile(regex, re.DOTALL)
        return (lambda term: compiled.fullmatch(term) is not None), regex
    return _pattern_leaf("wildcard", options, ctx, "pattern", make)


def _regexp(options: dict[str, Any], ctx: RuleContext) -> Rule:
    def make(value: str) -> tuple[Callable[[str], bool], str]:
        try:
            compiled = re.compile(value, re.DOTALL)
        except re.error as err:
            raise BadRequest(f"invalid regular expression [{value}]: {err}") from err
        return (lambda term: compiled.fullmatch(term) is not None), value
    return _pattern_leaf("regexp", options, ctx, "pattern", make)


def _fuzzy(options: dict[str, Any], ctx: RuleContext) -> Rule:
    prefix_length = _int("fuzzy", options, "prefix_length", 0)
    distance = OSA.distance if _bool_default(options, "transpositions", True) else \
        Levenshtein.distance

    def make(value: str) -> tuple[Callable[[str], bool], None]:
        edits = fuzzy_distance(options.get("fuzziness", "AUTO"), value)
        head = value[:prefix_length]

        def accepts(term: str) -> bool:
            return term.startswith(head) and \
                distance(term, value, score_cutoff=edits) <= edits
        return accepts, None
    return _pattern_leaf("fuzzy", options, ctx, "term", make)


def _range(options: dict[str, Any], ctx: RuleContext) -> Rule:
    use_field = options.get("use_field")
    analyzer = ctx.analyzer(use_field or ctx.field, options.get("analyzer"))
    if not any(options.get(k) is not None for k in ("gte", "gt", "lte", "lt")):
        raise XContentParseError("[range] requires at least one of [gte, gt, lte, lt]")
    bounds = {k: normalize(analyzer, str(v)) for k, v in options.items()
              if k in ("gte", "gt", "lte", "lt") and v is not None}

    def accepts(term: str) -> bool:
        return all((term >= v if k == "gte" else term > v if k == "gt" else
                    term <= v if k == "lte" else term < v) for k, v in bounds.items())
    return _leaf(PatternLeaf("range", accepts, use_field), ctx)


def _sub_rules(name: str, options: dict[str, Any], ctx: RuleContext) -> list[Rule]:
    rules = _required(name, options, "intervals")
    if not isinstance(rules, list) or not rules:
        raise XContentParseError(f"[{name}] failed to parse field [intervals]")
    return [parse_rule(rule, ctx) for rule in rules]


def _all_of(options: dict[str, Any], ctx: RuleContext) -> Rule:
    return Combine(_sub_rules("all_of", options, ctx), _bool("all_of", options, "ordered"),
                   _int("all_of", options, "max_gaps", -1))


def _any_of(options: dict[str, Any], ctx: RuleContext) -> Rule:
    return AnyOf(_sub_rules("any_of", options, ctx))


def _filtered(rule: Rule, body: Any, ctx: RuleContext) -> Rule:
    if not isinstance(body, dict) or len(body) != 1:
        raise ParsingError("[filter] expects one filter rule, e.g. {\"containing\": {...}}")
    [(kind, other)] = body.items()
    if kind == "script":
        raise ParsingError("script interval filters are not supported by the embedded "
                           "engine (it has no scripting)")
    if kind not in FILTER_NAMES:
        raise ParsingError(f"Unknown filter type [{kind}]")
    return Filtered(rule, kind, parse_rule(other, ctx))


_RULES: dict[str, Callable[[dict[str, Any], RuleContext], Rule]] = {
    "match": _match, "prefix": _prefix, "wildcard": _wildcard, "regexp": _regexp,
    "fuzzy": _fuzzy, "range": _range, "all_of": _all_of, "any_of": _any_of,
}
