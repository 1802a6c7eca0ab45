"""Next-word prediction: words as tokens, a capped vocabulary, the course's running example."""
