"""Celery app and thin tasks: each loads by ID and calls a market service."""
