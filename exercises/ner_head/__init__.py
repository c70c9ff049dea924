"""Exercise ner_head (being written)."""
