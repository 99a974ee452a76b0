"""Benchmarks: scripts that print numbers."""
