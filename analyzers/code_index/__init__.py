"""code_indexer and code_search: the incremental FTS5 trigram index with Python symbols, and
ranked search over it."""
