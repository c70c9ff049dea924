"""Exercise positional_encoding (being written)."""
