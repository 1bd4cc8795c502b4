"""Domain adaptation of the relevance models: fine-tune the embedding model and train a
cross-encoder reranker from the team's judgments (or pseudo-queries mined from the corpus),
with hard negatives from the current BM25 and kNN results.

`data` reads the training queries (train judgments only, never test), `mining` finds hard
negatives and candidate pools in the index, `embeddings` and `reranker` train, `held_out` scores a
model on the training queries held back for early stopping, and `manifest` describes the model
directory (base model, data fingerprint, parameters, metrics before/after, checksum, version).
"""
