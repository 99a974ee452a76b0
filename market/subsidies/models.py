"""Tables of this domain (placeholder until the domain lands)."""
