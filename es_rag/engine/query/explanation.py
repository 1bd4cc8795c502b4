"""Score explanations in Lucene's shape (`{value, description, details}`), as Elasticsearch
returns them for `explain: true` and the `_explain` API.

Values come from tantivy's own explanation of the compiled query (the same arithmetic as the
search), rewritten into Lucene's texts: a BM25 term becomes `weight(field:term in doc)
[PerFieldSimilarity], result of:` with `boost` (query boost times k1+1, as Elasticsearch's
legacy BM25 reports it), `idf` and `tf` from their statistics; a boolean becomes `sum of:`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import tantivy

from ..index.fulltext import FIELD_NAMES, ID, KEY
from ..index.similarity import bm25_tf
from .similarities import term_stats, tree_values

if TYPE_CHECKING:
    from ..index.shard import Shard
    from ..index.similarity import Similarity


class IndexContext(Protocol):
    """What an explanation reads of the query context (`query.base.QueryContext` is one): the shard
    whose full-text index scored the document."""

    shard: Shard
    similarity_cache: dict[str, int]

    def similarity(self, path: str) -> Similarity:
        """The similarity a field scores with."""

Explanation = dict[str, Any]
_TERM_CONTEXT = re.compile(r'Term=Term\(field=(\d+), type=\w+, (.*)\)$')


def f32(value: float) -> float:
    """A value rounded to float32, as Lucene and tantivy compute scores, kept in its shortest
    decimal form (`2.2`, not `2.200000047683716`), as Elasticsearch prints it."""
    return float(str(np.float32(value)))


def java_float(value: float) -> str:
    """A float32 printed the way Java's `Float.toString` prints it in Lucene's texts."""
    return str(np.float32(value))


def expl(value: float, description: str, details: list[Explanation] | None = None
         ) -> Explanation:
    """One explanation node."""
    return {"value": value, "description": description, "details": details or []}


def sum_of(parts: list[Explanation]) -> Explanation:
    """Lucene's `sum of:` over matching clauses (a single part stands alone)."""
    if len(parts) == 1:
        return parts[0]
    total = np.float32(0.0)
    for part in parts:
        total += np.float32(part["value"])
    return expl(float(total), "sum of:", parts)


def tantivy_tree(ctx: IndexContext, query: tantivy.Query, address: Any) -> dict | None:
    """tantivy's explanation of a compiled query for one document (None: no match)."""
    try:
        return json.loads(query.explain(ctx.shard.fulltext.searcher, address).to_json())
    except ValueError:
        return None


def field_names(ctx: IndexContext) -> list[str]:
    """Field names by tantivy field number (the schema's order)."""
    return [KEY, ID, FIELD_NAMES, *(path for path, _, _ in ctx.shard.fulltext.signature)]


def explain_compiled(ctx: IndexContext, query: tantivy.Query, address: Any, boost: float,
                     label: str, phrase: tuple[str, list[str]] | None = None
                     ) -> Explanation | None:
    """A compiled query's explanation for one document in Lucene's texts; `label` names
    constant-score parts, `phrase` the field and terms of a phrase query."""
    tree = tantivy_tree(ctx, query, address)
    if tree is None:
        return None
    return _translate(ctx, tree, address, boost, label, phrase)


def _translate(ctx: IndexContext, tree: dict, address: Any, boost: float, label: str,
               phrase: tuple[str, list[str]] | None) -> Explanation:
    description = tree.get("description", "")
    children = tree.get("details") or []
    if description.startswith("TermQuery"):
        return _bm25(ctx, tree, address, boost)
    if description.startswith("Boost x"):
        factor = float(description[len("Boost x"):].split()[0])
        return _translate(ctx, children[0], address, boost * factor, label, phrase)
    if description.startswith("BooleanClause") and len(children) == 2 and \
            children[0].get("description", "").startswith("Boost x0 "):
        scored = _similarity_leaf(ctx, tree, address, boost, phrase)
        if scored is not None:
            return scored
    if description.startswith("BooleanClause"):
        parts = [_translate(ctx, c, address, boost, label, phrase) for c in children
                 if not (c.get("description") == "Const" and c["value"] == 0.0)]
        value = f32(tree["value"] * boost)
        # tantivy explains a disjunction-max (tie 0) as a boolean: its value is the best part
        best = max((p["value"] for p in parts), default=0.0)
        return expl(value, "max of:" if len(parts) > 1 and value == best else "sum of:", parts)
    if description == "Phrase Scorer" and phrase is not None and children:
        return _phrase(ctx, children[0], address, boost, phrase)
    value = f32(tree["value"] * boost)
    return expl(value, with_boost("*:*" if description == "AllQuery" else label, value))


def _stats(tree: dict) -> dict[str, float]:
    """The statistics of tantivy's BM25 explanation: (K1+1), idf, tf and their inputs."""
    details = tree["details"]
    out = {"k1+1": details[0]["value"], "idf": details[1]["value"], "tf": details[2]["value"]}
    for child in details[1:]:
        for grand in child.get("details") or []:
            out[grand["description"].split(",")[0]] = grand["value"]
    return out


def _tf(stats: dict[str, float]) -> Explanation:
    return expl(stats["tf"],
                "tf, computed as freq / (freq + k1 * (1 - b + b * dl / avgdl)) from:",
                [expl(stats["freq"], "freq, occurrences of term within document"),
                 expl(stats["k1"], "k1, term saturation parameter"),
                 expl(stats["b"], "b, length normalization parameter"),
                 expl(stats["dl"], "dl, length of field"),
                 expl(stats["avgdl"], "avgdl, average length of field")])


def _idf(n: float, total: float, value: float) -> Explanation:
    return expl(value, "idf, computed as log(1 + (N - n + 0.5) / (n + 0.5)) from:",
                [expl(int(n), "n, number of documents containing term"),
                 expl(int(total), "N, total number of documents with field")])


def _score(stats: dict[str, float], value: float, boost: float, idf: Explanation
           ) -> Explanation:
    return expl(value, f"score(freq={java_float(stats['freq'])}), computed as boost * idf * tf "
                       f"from:", [expl(f32(stats["k1+1"] * boost), "boost"), idf, _tf(stats)])


def _bm25(ctx: IndexContext, tree: dict, address: Any, boost: float) -> Explanation:
    stats = _stats(tree)
    value = f32(tree["value"] * boost)
    score = _score(stats, value, boost, _idf(stats["n"], stats["N"], stats["idf"]))
    match = _TERM_CONTEXT.match((tree.get("context") or [""])[0])
    names = field_names(ctx)
    path, term = "?", "?"
    if match and int(match.group(1)) < len(names):
        path, term = names[int(match.group(1))], match.group(2).strip('"')
    return expl(value, f"weight({path}:{term} in {address.doc}) [PerFieldSimilarity], "
                       f"result of:", [score])


def _phrase(ctx: IndexContext, tree: dict, address: Any, boost: float,
            phrase: tuple[str, list[str]]) -> Explanation:
    path, terms = phrase
    stats = _stats(tree)
    searcher = ctx.shard.fulltext.searcher
    total = searcher.num_docs
    idfs = []
    for term in terms:
        n = searcher.doc_freq(path, term)
        idfs.append(_idf(n, total, f32(np.log(1 + (total - n + 0.5) / (n + 0.5)))))
    value = f32(tree["value"] * boost)
    score = _score(stats, value, boost, expl(stats["idf"], "idf, sum of:", idfs))
    return expl(value, f'weight({path}:"{" ".join(terms)}" in {address.doc}) '
                       f"[PerFieldSimilarity], result of:", [score])


def _similarity_leaf(ctx: IndexContext, tree: dict, address: Any, boost: float,
                     phrase: tuple[str, list[str]] | None) -> Explanation | None:
    """A term or phrase scored with its field's similarity (`similarities.py` compiles it as
    the query at boost 0 beside its scores): Lucene's explanation with the field's parameters."""
    inner = (tree["details"][0].get("details") or [{}])[0]
    if inner.get("description", "").startswith("TermQuery"):
        match = _TERM_CONTEXT.match((inner.get("context") or [""])[0])
        names = field_names(ctx)
        if not match or int(match.group(1)) >= len(names):
            return None
        path, terms = names[int(match.group(1))], [match.group(2).strip('"')]
        shown = f"{path}:{terms[0]}"
    elif inner.get("description") == "Phrase Scorer" and phrase is not None:
        path, terms = phrase
        shown = f'{path}:"{" ".join(terms)}"'
    else:
        return None
    similarity = ctx.similarity(path)
    if similarity.is_default_bm25:  # a user's boost 0 on a field tantivy scores itself
        return None
    value = f32(tree["value"] * boost)
    title = f"weight({shown} in {address.doc}) [PerFieldSimilarity], result of:"
    if similarity.type == "boolean":
        return expl(value, title, [expl(value, "score(BooleanSimilarity), computed from:",
                                        [expl(f32(boost), "boost, query boost")])])
    found = tree_values(inner)
    stats = term_stats(ctx, path, terms, found.get("avgdl", 0.0))  # type: ignore[arg-type]
    freq = found.get("freq", 0.0)
    dl = 1 if ctx.shard.fulltext.kinds.get(path) == "keyword" else int(found.get("dl", 1))
    idfs = [_idf(n, stats.doc_count, f32(stats.term_idf(n))) for n in stats.doc_freqs]
    idf = idfs[0] if len(idfs) == 1 else expl(f32(stats.idf), "idf, sum of:", idfs)
    tf = _tf({"tf": f32(bm25_tf(similarity, stats, freq, dl)), "freq": freq,
              "k1": f32(similarity.k1), "b": f32(similarity.b), "dl": dl,
              "avgdl": f32(stats.avgdl)})
    return expl(value, title, [expl(value, f"score(freq={java_float(freq)}), computed as boost "
                                           f"* idf * tf from:",
                                    [expl(f32((1 + similarity.k1) * boost), "boost"), idf, tf])])


def with_boost(text: str, value: float) -> str:
    """Lucene's description of a constant-score match: the query, `^score` unless 1."""
    return text if value == 1.0 else f"{text}^{java_float(value)}"


def within_top_k(value: float) -> Explanation:
    """A kNN match, as Lucene's `KnnScoreDocQuery` explains it."""
    return expl(value, "within top k documents")
