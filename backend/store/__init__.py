"""What lasts: the database, checkpoint files, and model export and import."""
