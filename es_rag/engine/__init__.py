"""An embedded, single-node Elasticsearch-compatible engine (see README.md)."""
