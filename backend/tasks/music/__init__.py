"""Folk tunes in ABC notation, read and written one character at a time."""
