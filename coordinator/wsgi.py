"""The production entry point: one node under gunicorn's gevent worker.

    gunicorn -c python:coordinator.gunicorn_conf -b 0.0.0.0:8080 'coordinator.wsgi:create()'

The settings file makes it one gevent worker per node, as Flask-SocketIO requires,
with room for 20,000 sockets; run more nodes behind a proxy with sticky sessions,
all on one Redis. Options are those of `coordinator serve`, taken from the
environment (`REDIS_URL`, `COORDINATOR_SECRET_KEY`, `COORDINATOR_DATA_DIR`, ...)
and from `COORDINATOR_SERVE_ARGS` for the rest, e.g. "--retain-fixes-days 30".
"""

from __future__ import annotations

import atexit
import logging
import os
import shlex
from dataclasses import replace

from flask import Flask

from .app import create_app, start_live
from .cli import serve_settings


def create() -> Flask:
    """Build the app for gevent and start its frame loop; called once per worker."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = serve_settings(shlex.split(os.environ.get("COORDINATOR_SERVE_ARGS", "")))
    app = create_app(replace(settings, async_mode="gevent"))
    hub = start_live(app)

    def stop() -> None:
        # Write buffered fixes on a graceful stop; events are durable already.
        hub.stop()
        app.extensions["coordinator"].flush_fixes()

    atexit.register(stop)
    return app
