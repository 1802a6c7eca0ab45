"""A small translator: English number words in, French number words out, one character at a time."""
