"""Every route and socket event refuses the anonymous, the revoked and the unit acting for another."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from coordinator.openapi import openapi_document
from tests.conftest import Api, Server, cli

from .support import connected, create_demonstration, create_incident, create_unit, dispatch, live_token, poll

PUBLIC = {"/api/openapi.json"}
SOCKET_EVENTS = ("sync", "received", "position", "action")


def _operations() -> list[tuple[str, str]]:
    ops = []
    for path, item in openapi_document()["paths"].items():
        for method in ("get", "post", "patch"):
            if method in item and path not in PUBLIC:
                ops.append((method.upper(), path))
    return ops


OPERATIONS = _operations()


@pytest.fixture
def world(server: Server, api: Api) -> dict[str, Any]:
    """One of everything, so every path can be filled with a real id."""
    demo = create_demonstration(api)
    unit = create_unit(api, "MED-1")
    other = create_unit(api, "MED-2")
    incident = create_incident(api)
    assignment = dispatch(api, other["id"], incident["id"])
    return {
        "demonstration_id": demo["id"],
        "unit_id": other["id"],
        "incident_id": incident["id"],
        "assignment_id": assignment["id"],
        "name": "default-city-property",
        "unit": unit,
        "other": other,
    }


# Query parameters a read needs to succeed.
QUERIES = {
    "/api/replay/state": "?at=2030-01-01T00:00:00Z",
    "/api/report": "?from=2000-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&format=csv",
}


def _url(server: Server, path: str, ids: dict[str, Any]) -> str:
    filled = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
    return server.url + filled + QUERIES.get(path, "")


def _call(method: str, url: str, headers: dict[str, str]) -> requests.Response:
    return requests.request(method, url, json={}, headers=headers, timeout=10)


def test_every_route_refuses_an_anonymous_caller(server: Server, world: dict[str, Any]) -> None:
    assert len(OPERATIONS) >= 20
    for method, path in OPERATIONS:
        answer = _call(method, _url(server, path, world), {})
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert "error" in answer.json()


def test_every_route_refuses_a_revoked_token(server: Server, world: dict[str, Any], data_dir: Path) -> None:
    token = live_token(server, "operator", "soon-gone")
    assert cli(data_dir, "token", "revoke", "soon-gone").returncode == 0
    poll(
        lambda: (
            requests.get(
                f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=5
            ).status_code
            == 401
        )
    )
    for method, path in OPERATIONS:
        answer = _call(method, _url(server, path, world), {"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, (method, path, answer.status_code)


def test_every_socket_event_is_closed_to_the_anonymous_and_the_revoked(
    server: Server, world: dict[str, Any], data_dir: Path
) -> None:
    for auth in (None, {"token": "not-a-token"}):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(server.url, transports=["websocket"], auth=auth, wait_timeout=5)
    unit = world["unit"]
    assert cli(data_dir, "unit", "revoke", unit["id"]).returncode == 0
    time.sleep(0.5)
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, transports=["websocket"], auth={"token": unit["token"]}, wait_timeout=5)


def test_a_viewer_may_read_but_every_change_is_refused(server: Server, world: dict[str, Any]) -> None:
    viewer = {"Authorization": f"Bearer {live_token(server, 'viewer', 'watcher')}"}
    for method, path in OPERATIONS:
        answer = _call(method, _url(server, path, world), viewer)
        if method == "GET":
            assert answer.status_code == 200, (method, path)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)


def test_a_unit_cannot_touch_another_units_assignment_position_or_record(
    server: Server, api: Api, world: dict[str, Any]
) -> None:
    mine = Api(server.url, world["unit"]["token"])
    other_id, assignment_id = world["other"]["id"], world["assignment_id"]
    refused = [
        mine.get(f"/api/assignments/{assignment_id}"),
        mine.post(f"/api/assignments/{assignment_id}/status", json={"status": "acknowledged"}),
        mine.post(f"/api/units/{other_id}/position", json={"lat": 42.36, "lon": -71.06}),
        mine.patch(f"/api/units/{other_id}", json={"status": "out_of_service"}),
        mine.get(f"/api/units/{other_id}"),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    with connected(server.url, world["unit"]["token"]) as tablet:
        received = tablet.call("received", {"assignment_id": assignment_id})
        action = tablet.call(
            "action",
            {
                "key": "x1",
                "type": "assignment_status",
                "data": {"assignment_id": assignment_id, "status": "acknowledged"},
            },
        )
    assert (received["ok"], received["status"], action["ok"], action["status"]) == (False, 403, False, 403)
    assert api.get(f"/api/assignments/{assignment_id}").json()["status"] == "dispatched"


def test_tokens_and_passwords_are_stored_only_as_hashes(server: Server, api: Api, data_dir: Path) -> None:
    unit = create_unit(api, "MED-3")
    added = cli(
        data_dir, "user", "add", "hashcheck", "--role", "viewer", "--password-stdin", stdin="plain-secret-9\n"
    )
    assert added.returncode == 0
    raw = b""
    for path in data_dir.glob("coordinator.sqlite3*"):
        raw += path.read_bytes()
    assert unit["token"].encode() not in raw
    assert b"plain-secret-9" not in raw
    with sqlite3.connect(data_dir / "coordinator.sqlite3") as db:
        payloads = [row[0] for row in db.execute("SELECT payload FROM events WHERE type = 'UserCreated'")]
    assert payloads and "$argon2" in payloads[-1]


def _sign_in(server: Server, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    page = session.get(f"{server.url}/login", timeout=5).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    answer = session.post(
        f"{server.url}/login",
        data={"username": name, "password": password, "csrf": csrf.group(1)},
        timeout=5,
        allow_redirects=False,
    )
    return session, answer


def test_session_cookie_is_http_only_same_site_and_logout_ends_it(server: Server, data_dir: Path) -> None:
    cli(data_dir, "user", "add", "eoc", "--role", "viewer", "--password-stdin", stdin="long-password-1\n")
    # The running server learns of the new login from the log at once (it catches up on a miss).
    session, answer = _sign_in(server, "eoc", "long-password-1")
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert session.get(f"{server.url}/api/state", timeout=5).status_code == 200
    page = session.get(f"{server.url}/", timeout=5).text
    csrf = re.search(r'"csrf": "([^"]+)"', page)
    assert csrf
    session.post(f"{server.url}/logout", data={"csrf": csrf.group(1)}, timeout=5)
    assert session.get(f"{server.url}/api/state", timeout=5).status_code == 401


def test_the_session_cookie_is_secure_unless_told_otherwise_and_expires(
    data_dir: Path, operator_token: str
) -> None:
    cli(data_dir, "user", "add", "eoc2", "--role", "viewer", "--password-stdin", stdin="long-password-2\n")
    srv = Server(data_dir, insecure_cookies=False).start()
    try:
        _, answer = _sign_in(srv, "eoc2", "long-password-2")
        assert "Secure" in answer.headers["Set-Cookie"]
    finally:
        srv.stop()
    short = Server(data_dir, extra_args=("--session-lifetime", "2")).start()
    try:
        session, answer = _sign_in(short, "eoc2", "long-password-2")
        assert answer.status_code == 302
        assert session.get(f"{short.url}/api/state", timeout=5).status_code == 200
        time.sleep(3)
        assert session.get(f"{short.url}/api/state", timeout=5).status_code == 401
    finally:
        short.stop()
