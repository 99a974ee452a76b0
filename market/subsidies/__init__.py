"""Subsidies: policies as data, computed with their working, approved and frozen."""
