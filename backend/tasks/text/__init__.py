"""Characters: next-character prediction on a text (the playground's first task)."""
