"""Helpers shared by the integration tests: a recording Socket.IO client and polling."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import socketio

from tests.conftest import Api, Server, make_token

T = TypeVar("T")

# Every message a server pushes to dashboards or units.
PUSHED = ("snapshot", "resync", "frame", "positions", "assignments", "assignment")


def poll(probe: Callable[[], T | None], *, timeout: float = 5.0, interval: float = 0.05) -> T:
    """Call `probe` until it returns something other than None/False; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class LiveClient:
    """A real Socket.IO client that records every pushed message, in arrival order."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self.sio = socketio.Client(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        for name in PUSHED:
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(data: Any) -> None:
            with self._cond:
                self.received.append((name, data))
                self._cond.notify_all()

        return record

    def connect(self) -> LiveClient:
        auth = None if self.token is None else {"token": self.token}
        self.sio.connect(self.url, transports=["websocket"], auth=auth, wait_timeout=5)
        return self

    def call(self, event: str, data: Any = None, timeout: float = 5.0) -> Any:
        return self.sio.call(event, data, timeout=timeout)

    def sync(self, last_seq: int | None = None) -> Any:
        return self.call("sync", {} if last_seq is None else {"last_seq": last_seq})

    def close(self) -> None:
        """Disconnect; the server hears the Socket.IO disconnect packet at once.

        The server ends the WebSocket without a closing handshake the client's
        reader can see, so websocket-client would wait its default 3 s for one;
        bound that wait instead.
        """
        if self.sio.connected:
            ws = getattr(self.sio.eio, "ws", None)
            if ws is not None:
                ws.close = functools.partial(ws.close, timeout=0.2)
            self.sio.disconnect()

    def messages(self, name: str) -> list[Any]:
        with self._cond:
            return [data for kind, data in self.received if kind == name]

    def wait_for(
        self, name: str, match: Callable[[Any], bool] = lambda _d: True, *, timeout: float = 3.0
    ) -> Any:
        """Return the first `name` message (already received or arriving) that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for kind, data in self.received:
                    if kind == name and match(data):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [kind for kind, _ in self.received]
                    raise AssertionError(f"no matching '{name}' within {timeout} s; got {seen}")
                self._cond.wait(remaining)

    def __enter__(self) -> LiveClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def connected(url: str, token: str | None) -> LiveClient:
    return LiveClient(url, token).connect()


# --- building blocks through the API -----------------------------------------


def live_token(server: Server, role: str, name: str) -> str:
    """Create an API token with the CLI while the server runs; return it once the server knows it.

    The running server reads what the CLI appended on its next tick, so poll briefly.
    """
    token = make_token(server.data_dir, role, name)
    client = Api(server.url, token)
    poll(lambda: client.get("/api/me").status_code == 200, timeout=5)
    return token


def create_demonstration(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "City Hall rally", "lat": 42.3601, "lon": -71.0589, "crowd_estimate": 400, **fields}
    r = api.post("/api/demonstrations", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def create_unit(api: Api, callsign: str = "MED-1", kind: str = "medical_team") -> dict[str, Any]:
    r = api.post("/api/units", {"callsign": callsign, "kind": kind, "skills": ["lang:es"]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def create_incident(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"kind": "injury", "triage": "delayed", "lat": 42.36, "lon": -71.06, **fields}
    r = api.post("/api/incidents", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def dispatch(api: Api, unit_id: str, incident_id: str, kind: str = "medical_aid") -> dict[str, Any]:
    r = api.post("/api/assignments", {"unit_id": unit_id, "kind": kind, "incident_id": incident_id})
    assert r.status_code == 201, r.text
    return dict(r.json())


def state(api: Api) -> dict[str, Any]:
    r = api.get("/api/state")
    assert r.status_code == 200, r.text
    return dict(r.json())


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Return a state without what changes by itself with time (server time, fix freshness)."""
    out = {k: v for k, v in snapshot.items() if k != "server_time"}
    out["units"] = [{k: v for k, v in u.items() if k != "stale"} for u in snapshot["units"]]
    return out


def events_after(api: Api, after: int = 0) -> list[dict[str, Any]]:
    r = api.get("/api/events", params={"after": after})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def status_action(key: str, assignment_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "type": "assignment_status",
        "data": {"assignment_id": assignment_id, "status": status, **extra},
    }


# --- several nodes -----------------------------------------------------------


class Cluster:
    """Nodes sharing one Redis key prefix; each has its own data directory (map layers only)."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.root = root
        self.env = {"REDIS_URL": redis_url, "COORDINATOR_REDIS_PREFIX": f"t-{uuid.uuid4().hex[:10]}:"}
        self.nodes: list[Server] = []
        self.token = make_token(root / "admin", "operator", "ops", env=self.env)

    def start_node(self, *, gunicorn: bool = False) -> Server:
        node = Server(self.root / f"node{len(self.nodes)}", env=self.env, gunicorn=gunicorn).start()
        self.nodes.append(node)
        return node

    def api(self, node: Server) -> Api:
        return Api(node.url, self.token)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def position(lat: float, lon: float) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "accuracy_m": 5, "at": now_iso()}
