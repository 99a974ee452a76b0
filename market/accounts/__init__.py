"""Organisations, their users, and how they prove who they are."""
