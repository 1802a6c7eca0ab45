"""The training engine: worker processes, their supervisor, scheduling and answering."""
