"""Matching and saved searches: the market-side of search (synonyms, saved searches, notifications)."""
