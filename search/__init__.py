"""Everything Meilisearch: client, index settings as data, documents, query building, match scoring."""
