"""Session-scoped real services for tests that need them: Meilisearch, Redis, a Celery worker.

(Owned by the search work; other domains import these fixtures by name.)
"""
