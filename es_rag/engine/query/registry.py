"""Query clause registry: name → parser. Unknown names get Elasticsearch's parsing_exception."""

from __future__ import annotations

import threading
from typing import Any

from ..errors import BadRequest, ParsingError
from ..limits import current as current_limits
from .base import QueryNode
from .combined_fields import CombinedFieldsQuery
from .compound import BoolQuery, ConstantScoreQuery, DisMaxQuery, MatchAllQuery, MatchNoneQuery
from .full_text import MatchPhraseQuery, MatchQuery, MultiMatchQuery, QueryStringQuery
from .function_score import FunctionScoreQuery
from .intervals import IntervalsQuery
from .knn import KnnQuery, VectorSimilarityQuery
from .nested import NestedQuery
from .script_score import ScriptScoreQuery
from .semantic import SemanticQuery, SparseVectorQuery
from .term_level import (
    ExistsQuery,
    FuzzyQuery,
    IdsQuery,
    PrefixQuery,
    RangeQuery,
    RegexpQuery,
    TermQuery,
    TermsQuery,
    WildcardQuery,
)

QUERIES: dict[str, Any] = {
    "bool": BoolQuery, "constant_score": ConstantScoreQuery, "dis_max": DisMaxQuery,
    "match_all": MatchAllQuery, "match_none": MatchNoneQuery, "match": MatchQuery,
    "match_phrase": MatchPhraseQuery, "multi_match": MultiMatchQuery,
    "query_string": QueryStringQuery,
    "simple_query_string": lambda body: QueryStringQuery(body, simple=True),
    "term": TermQuery, "terms": TermsQuery, "range": RangeQuery, "exists": ExistsQuery,
    "ids": IdsQuery, "prefix": PrefixQuery, "wildcard": WildcardQuery, "knn": KnnQuery,
    "function_score": FunctionScoreQuery, "combined_fields": CombinedFieldsQuery,
    "intervals": IntervalsQuery, "regexp": RegexpQuery, "fuzzy": FuzzyQuery,
    "script_score": ScriptScoreQuery, "nested": NestedQuery,
    "semantic": SemanticQuery, "sparse_vector": SparseVectorQuery,
    "vector_similarity": VectorSimilarityQuery,
}
# Real Elasticsearch queries this engine does not implement: refused, never approximated.
UNSUPPORTED = {
    "script", "has_child", "has_parent", "geo_shape",
    "geo_distance", "geo_bounding_box", "more_like_this", "boosting",
    "match_phrase_prefix", "match_bool_prefix", "span_term", "span_near",
    "percolate", "rank_feature", "distance_feature", "pinned",
    "text_expansion", "terms_set", "wrapper", "parent_id", "shape",
}


_depth = threading.local()


def parse_query(body: Any) -> QueryNode:
    """Parse one query clause `{"name": {...}}`; clauses nested deeper than
    `indices.query.bool.max_nested_depth` are refused as Elasticsearch refuses them."""
    depth = getattr(_depth, "value", 0)
    if depth >= current_limits().max_nested_depth:
        raise BadRequest("The nested depth of the query exceeds the maximum nested depth for "
                         "queries set in [indices.query.bool.max_nested_depth]")
    _depth.value = depth + 1
    try:
        return _parse(body)
    finally:
        _depth.value = depth


def _parse(body: Any) -> QueryNode:
    if not isinstance(body, dict) or not body:
        raise ParsingError("query malformed, empty clause found" if body == {} else
                           "[_na] query malformed, must start with start_object")
    if len(body) != 1:
        names = list(body)
        raise ParsingError(f"[{names[0]}] malformed query, expected [END_OBJECT] but found "
                           f"[FIELD_NAME]")
    name, inner = next(iter(body.items()))
    factory = QUERIES.get(name)
    if factory is None:
        if name in UNSUPPORTED:
            raise ParsingError(f"query [{name}] is not supported by the embedded engine")
        raise ParsingError(f"unknown query [{name}]", error_type="parsing_exception")
    return factory(inner)
