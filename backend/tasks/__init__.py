"""Tasks: what a kind of sequence is (its data, encoding, loss, unit, queries, views)."""
