#!/usr/bin/env bash
# Install what is missing, then serve the playground at http://127.0.0.1:5000 under gunicorn.
# One gunicorn process (it holds every session), one thread per open websocket: size --threads
# for a class. Training runs in the worker processes the app starts, one per core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/gunicorn --workers 1 --threads "${THREADS:-100}" \
  --bind "${BIND:-127.0.0.1:5000}" --graceful-timeout 5 --no-control-socket wsgi:app
