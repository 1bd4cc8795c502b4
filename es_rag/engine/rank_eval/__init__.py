"""The `_rank_eval` API: parse the request, run each rated search, score it as Elasticsearch does.

Metrics follow Elasticsearch's rank-eval module (`PrecisionAtK`, `RecallAtK`,
`MeanReciprocalRank`, `DiscountedCumulativeGain`, `ExpectedReciprocalRank`): every metric forces
the search size to its `k`, hits are joined with ratings on (`_index`, `_id`), and the overall
`metric_score` is the mean over the requests that did not fail.
"""

from .evaluation import RenderTemplate, RunSearch, evaluate_rank_eval, parse_rank_eval
from .metrics import METRICS, DiscountedCumulativeGain, Metric, RatedHit, parse_metric

__all__ = ["METRICS", "DiscountedCumulativeGain", "Metric", "RatedHit", "RenderTemplate",
           "RunSearch", "evaluate_rank_eval", "parse_metric", "parse_rank_eval"]
