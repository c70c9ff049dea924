"""Exercise decoder_block (being written)."""
