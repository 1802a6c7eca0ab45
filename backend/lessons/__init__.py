"""The lessons: what each one runs and claims, and starting them as experiments."""
