"""es-rag: retrieval-augmented generation on Elasticsearch, every search asset kept as code."""
