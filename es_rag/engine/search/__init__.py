"""Search execution: request parsing, query/knn/retriever execution, fusion, hits rendering."""
