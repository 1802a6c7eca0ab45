"""Development server: `python -m backend [--port 5000]` (production uses gunicorn, see README)."""

from __future__ import annotations

import argparse

from backend import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app = create_app()
    app.extensions["socketio"].run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
