"""One index's data and its definition, in Lucene's layering: analysis (analyzers), the mapping
(field types, document parsing), settings validation, the full-text index (tantivy, BM25), the
vector fields (hnswlib graphs and exact search) and the shard that keeps them in step with the
document store."""
