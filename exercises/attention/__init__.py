"""Exercise attention (being written)."""
