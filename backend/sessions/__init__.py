"""The session layer: who owns what, what each session is doing, and classrooms."""
