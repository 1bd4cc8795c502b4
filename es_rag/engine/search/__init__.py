"""Search: the request parsed (`request.py`, `retrievers.py`), a `SearchContext` per search
(request, the indices read with their alias and DLS filters, per-request state), the query phase
(query, kNN, hybrid, retrievers, RRF and linear fusion, sorting, collapse, totals, aggregations),
the fetch phase (hits as the response shows them: `_source`, fields, highlight, explanation), and
the services built on them: `_search`, `_count`, `_msearch`, explain, reindex and by-query
writes, scroll and point in time."""
