"""Exercise gpt2_loading (being written)."""
