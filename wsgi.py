"""Gunicorn entry point: `gunicorn -w 1 --threads 100 wsgi:app` (threading mode, one process).

One gunicorn process holds every session's state and websocket; training runs in the
worker processes it starts. Several gunicorn processes would each see only their own sessions.
"""

from backend import create_app

app = create_app()
