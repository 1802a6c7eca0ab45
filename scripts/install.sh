#!/usr/bin/env bash
# Install everything the playground runs on: .venv with pinned Python packages, npm packages,
# and the frontend built into static/. Safe to run again: it only does what is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
# Cluster mode (docs/deploy.md) adds Ray, redis and psycopg: only where it is configured.
if [ -n "${PLAYGROUND_RAY_ADDRESS:-}${PLAYGROUND_DATABASE_URL:-}${PLAYGROUND_MESSAGE_QUEUE:-}" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-cluster.lock
fi

# npm ci is exact and clean; skip it when node_modules already matches the lock.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.ok-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ok-lock
fi
npm run --silent build
