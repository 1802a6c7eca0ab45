#!/usr/bin/env bash
# Install what the tests need (Python test packages, Debian's Chromium, redis-server and
# PostgreSQL for the cluster tests) and run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k sockets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.lock

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

# The cluster tests start their own redis-server and PostgreSQL (initdb): Debian's packages.
if [ ! -x /usr/bin/redis-server ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql >/dev/null
  else
    echo "The cluster tests need redis-server and postgresql: sudo apt-get install redis-server postgresql" >&2
    exit 1
  fi
fi

.venv/bin/ruff check backend tests benchmarks wsgi.py
npm run --silent lint
exec .venv/bin/python -m pytest "$@"
