"""The naive baseline for bench_fanout.py: one emit per fix to every dashboard.

The pattern of the Flask-SocketIO examples: a minimal Flask-SocketIO server, no auth,
no storage. Run directly it serves in threading mode (like `coordinator serve`); under
gunicorn with the gevent worker, as the benchmark runs it beside a gunicorn coordinator,
set NAIVE_ASYNC_MODE=gevent; NAIVE_WEBSOCKET=coordinator there gives it the coordinator's
WebSocket transport instead of Engine.IO's (to tell what the transport gains from what the
frames gain). A socket that
connects with auth {"token": "dashboard"} is a dashboard; any other token is
taken as the unit's id. A dashboard calls `sync` to join the room; each
`position` {lat, lon, accuracy_m, at} from a unit is emitted at once to every
dashboard as {"unit_id", "lat", "lon", "accuracy_m", "at"}.

Run: `python bench/naive_server.py --port 5001`, or
`NAIVE_ASYNC_MODE=gevent gunicorn -c python:coordinator.gunicorn_conf --chdir bench naive_server:app`.
"""

from __future__ import annotations

import argparse
import gc
import os
from typing import Any

from flask import Flask, request
from flask_socketio import ConnectionRefusedError as Refused
from flask_socketio import SocketIO, join_room

DASHBOARDS = "dashboards"

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode=os.environ.get("NAIVE_ASYNC_MODE", "threading"),
    async_handlers=False,
    manage_session=False,
)
if os.environ.get("NAIVE_WEBSOCKET") == "coordinator":
    from coordinator.live import websocket

    websocket.install(socketio.server.eio)
units: dict[str, str] = {}
# As the coordinator does at start: keep the garbage collector's full passes off what the
# libraries loaded, so both servers differ only in how they fan out.
gc.collect()
gc.freeze()


@app.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"ok": True}


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise Refused("connect with auth {'token': ...}")
    if token != "dashboard":
        units[request.sid] = token  # type: ignore[attr-defined]


@socketio.on("disconnect")
def on_disconnect(*_args: Any) -> None:
    units.pop(request.sid, None)  # type: ignore[attr-defined]


@socketio.on("sync")
def on_sync(_data: Any = None) -> dict[str, Any]:
    if request.sid not in units:  # type: ignore[attr-defined]
        join_room(DASHBOARDS)
    return {"ok": True}


@socketio.on("position")
def on_position(data: Any) -> dict[str, Any]:
    unit_id = units.get(request.sid)  # type: ignore[attr-defined]
    if unit_id is None or not isinstance(data, dict):
        return {"ok": False}
    socketio.emit("position", {"unit_id": unit_id, **data}, to=DASHBOARDS)
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args()
    socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True, log_output=False)


if __name__ == "__main__":
    main()
