"""RNN Playground: train small character-level recurrent networks live, in class.

`create_app` wires the pieces: storage (SQLite), the training engine (worker processes),
the session layer, the publisher (Socket.IO rooms), the HTTP blueprints and socket handlers;
in cluster mode (`backend.cluster`), PostgreSQL, Redis and Ray trainers take their places.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from backend import cluster
from backend.config import LIMITS
from backend.engine.pool import Engine
from backend.lessons.experiments import Experiments
from backend.sessions.classroom import Classroom
from backend.sessions.registry import Sessions
from backend.store.storage import lock_directory
from backend.web import api, guards, pages, sockets
from backend.web.publisher import SocketPublisher

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": str(ROOT / "instance"),  # where the database lives; nothing to start
    "WORKERS": 0,  # training processes; 0 = one per core, or one on a GPU
    "DEVICE": "auto",  # "auto" (CUDA when present), "cpu" or "cuda"
    "BATCH_SESSIONS": "auto",  # compatible sessions train as one batched step: auto = on a GPU
    "IDLE_PAUSE_S": LIMITS.idle_pause_s,  # pause running sessions nobody watches
    "HOUSEKEEPING_S": 15.0,  # how often to look for such sessions
    "EVICT_S": 900.0,  # idle, unwatched sessions leave memory after this (they come back)
    "MAX_RUNNING": 0,  # sessions training at once, more wait in a queue; 0 = 4 a worker, 64 a GPU
    "MAX_SESSIONS": 5000,  # sessions stored in all
    "CHECKPOINT_S": 15.0,  # a running session's weights are saved this often (and on pause)
    "ABANDON_S": 30 * 24 * 3600.0,  # sessions nobody used for this long are deleted; 0: never
    **guards.DEFAULTS,  # rate limits (RATE_*) and how often the gaps view measures
    # Largest HTTP body: the text limit plus room for JSON framing.
    "MAX_CONTENT_LENGTH": LIMITS.max_text_bytes + 64 * 1024,
    # Cluster mode (docs/deploy.md): all three set; unset, everything runs in this process.
    "DATABASE_URL": "",  # SQLAlchemy URL, e.g. postgresql+psycopg://...; unset: SQLite
    "MESSAGE_QUEUE": "",  # redis:// URL shared by every web process and trainer
    "RAY_ADDRESS": "",  # the Ray cluster whose nodes train
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; settings come from DEFAULTS, PLAYGROUND_* env vars, then `config`."""
    # Every socket's thread and the engines' readers share one GIL: hand it over within 1 ms
    # rather than 5 (with 60 students, an answer's hop from worker to page: p50 180 -> 140 ms).
    sys.setswitchinterval(0.001)
    app = Flask(__name__, static_folder=str(ROOT / "static"), static_url_path="")
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("PLAYGROUND")
    app.config.update(config or {})
    guards.init_app(app)

    if app.config["BATCH_SESSIONS"] not in ("auto", "on", "off"):
        raise ValueError("PLAYGROUND_BATCH_SESSIONS must be auto, on or off")

    clustered = cluster.clustered(app.config)
    if not clustered:  # first, before any worker starts: a second server on it stops here
        app.extensions["data_lock"] = lock_directory(app.config["DATA_DIR"])
    socketio = (cluster.ClusterSocketIO if clustered else SocketIO)(
        app,
        async_mode="threading",
        max_http_buffer_size=sockets.MAX_MESSAGE_BYTES,
        json=sockets.WireJson,
        message_queue=app.config["MESSAGE_QUEUE"] or None,
    )
    if clustered:
        limits = {"max_sessions": app.config["MAX_SESSIONS"]}
        manager, engine = cluster.build(app.config, socketio, LIMITS.progress_hz, **limits)
    else:
        manager = Sessions(
            cluster.storage(app.config),
            SocketPublisher(socketio, LIMITS.progress_hz),
            max_sessions=app.config["MAX_SESSIONS"],
        )
        engine = Engine(
            manager.on_event,
            workers=app.config["WORKERS"] or None,
            device=app.config["DEVICE"],
            checkpoint_s=app.config["CHECKPOINT_S"],
            batching=app.config["BATCH_SESSIONS"],
        )
    engine.start()
    # A GPU trains a cohort of sessions in about the time one takes; a core, one at a time.
    auto_running = 64 if engine.device.startswith("cuda") else 4 * engine.count
    manager.max_running = app.config["MAX_RUNNING"] or auto_running
    manager.attach(engine)
    atexit.register(engine.stop)

    classroom = Classroom(manager)
    app.extensions["playground"] = manager
    app.extensions["classroom"] = classroom
    app.extensions["experiments"] = Experiments(manager, app.config["GAPS_EVERY_S"])
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    sockets.register(socketio, manager, classroom, app.extensions["token_guard"])
    start_housekeeping(manager, app.config)
    logging.basicConfig(level=logging.INFO)
    return app


def start_housekeeping(manager: Sessions, config: dict[str, Any]) -> None:
    """Pause forgotten sessions (abandoned tabs cannot eat the machine) and free idle ones."""

    def loop() -> None:
        while not stop.wait(config["HOUSEKEEPING_S"]):
            manager.pause_unwatched(config["IDLE_PAUSE_S"])
            manager.evict_unwatched(config["EVICT_S"])
            if config["ABANDON_S"]:
                manager.remove_abandoned(config["ABANDON_S"])
            manager.sweep_files()

    stop = threading.Event()
    threading.Thread(target=loop, name="housekeeping", daemon=True).start()
