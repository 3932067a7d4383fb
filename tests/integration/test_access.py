"""Who may do what: anonymous callers, staff roles, unit devices and signed-in users."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.conftest import Api, Server, cli

from .support import (
    LiveClient,
    comparable,
    connected,
    create_demonstration,
    create_incident,
    create_unit,
    dispatch,
    live_token,
    poll,
    state,
    status_action,
)


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Two units, each with an assignment to its own incident."""
    demo = create_demonstration(api)
    mine = create_unit(api, "MED-1")
    theirs = create_unit(api, "MED-2")
    incident_a = create_incident(api)
    incident_b = create_incident(api, kind="escalation", triage=None)
    return {
        "demo": demo,
        "mine": mine,
        "theirs": theirs,
        "my_assignment": dispatch(api, mine["id"], incident_a["id"]),
        "their_assignment": dispatch(api, theirs["id"], incident_b["id"], kind="deescalation"),
        "incident": incident_a,
    }


def _reads(w: dict[str, Any]) -> list[str]:
    return [
        "/api/me",
        "/api/state",
        "/api/events",
        "/api/layers",
        "/api/demonstrations",
        f"/api/demonstrations/{w['demo']['id']}",
        "/api/units",
        f"/api/units/{w['mine']['id']}",
        "/api/incidents",
        f"/api/incidents/{w['incident']['id']}",
        "/api/assignments",
        f"/api/assignments/{w['my_assignment']['id']}",
    ]


def _writes(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Well-formed writes that an operator would be allowed to make."""
    return [
        ("POST", "/api/demonstrations", {"name": "Vigil", "lat": 42.35, "lon": -71.06}),
        ("PATCH", f"/api/demonstrations/{w['demo']['id']}", {"tension": 3}),
        ("POST", "/api/units", {"callsign": "SUP-1", "kind": "field_supervisor"}),
        ("PATCH", f"/api/units/{w['mine']['id']}", {"callsign": "MED-1A"}),
        ("POST", f"/api/units/{w['mine']['id']}/position", {"lat": 42.35, "lon": -71.06}),
        ("POST", "/api/incidents", {"kind": "escalation", "lat": 42.35, "lon": -71.06}),
        ("PATCH", f"/api/incidents/{w['incident']['id']}", {"severity": 5}),
        (
            "POST",
            "/api/assignments",
            {"unit_id": w["mine"]["id"], "kind": "observe", "demonstration_id": w["demo"]["id"]},
        ),
        ("POST", f"/api/assignments/{w['my_assignment']['id']}/status", {"status": "acknowledged"}),
    ]


def _send(session: requests.Session, base: str, method: str, path: str, body: Any) -> requests.Response:
    return session.request(method, base + path, json=body, timeout=10)


# --- anonymous ------------------------------------------------------------


def test_anonymous_callers_get_401_on_every_api_route_but_the_openapi_document(
    server: Server, world: dict[str, Any]
) -> None:
    anonymous = requests.Session()
    for path in _reads(world):
        r = anonymous.get(server.url + path, timeout=10)
        assert r.status_code == 401, (path, r.status_code)
        assert r.json()["error"]
    for method, path, body in _writes(world):
        r = _send(anonymous, server.url, method, path, body)
        assert r.status_code == 401, (method, path, r.status_code)
    wrong = requests.Session()
    wrong.headers["Authorization"] = "Bearer not-a-real-token"
    assert wrong.get(server.url + "/api/state", timeout=10).status_code == 401
    assert anonymous.get(server.url + "/api/openapi.json", timeout=10).status_code == 200


def test_socket_connect_without_a_valid_token_is_refused(server: Server) -> None:
    for token in (None, "not-a-real-token"):
        client = LiveClient(server.url, token)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect()
        assert not client.sio.connected
        assert client.received == []
        client.close()


# --- staff roles ------------------------------------------------------------


def test_viewer_can_read_everything_but_every_write_is_403(
    server: Server, data_dir: Path, api: Api, world: dict[str, Any]
) -> None:
    viewer = Api(server.url, live_token(server, "viewer", "wall-screen"))
    for path in _reads(world):
        r = viewer.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
    before = comparable(state(api))
    for method, path, body in _writes(world):
        r = _send(viewer.session, server.url, method, path, body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    assert comparable(state(api)) == before


def test_viewer_dashboard_socket_gets_a_snapshot(
    server: Server, data_dir: Path, world: dict[str, Any]
) -> None:
    with connected(server.url, live_token(server, "viewer", "wall-screen")) as dashboard:
        assert dashboard.sync() == {"ok": True, "kind": "snapshot"}
        snapshot = dashboard.wait_for("snapshot")
        assert {u["id"] for u in snapshot["units"]} == {world["mine"]["id"], world["theirs"]["id"]}


def test_supervisor_can_dispatch_and_update_demonstrations_but_not_register_units(
    server: Server, data_dir: Path, api: Api
) -> None:
    supervisor = Api(server.url, live_token(server, "supervisor", "shift-lead"))
    unit = create_unit(api)
    demo = supervisor.post("/api/demonstrations", {"name": "March", "lat": 42.35, "lon": -71.06})
    assert demo.status_code == 201, demo.text
    patched = supervisor.patch(f"/api/demonstrations/{demo.json()['id']}", {"tension": 3})
    assert patched.status_code == 200, patched.text
    assert patched.json()["tension"] == 3
    assignment = supervisor.post(
        "/api/assignments", {"unit_id": unit["id"], "kind": "observe", "demonstration_id": demo.json()["id"]}
    )
    assert assignment.status_code == 201, assignment.text

    before = comparable(state(api))
    refused = supervisor.post("/api/units", {"callsign": "SUP-9", "kind": "field_supervisor"})
    assert refused.status_code == 403, refused.text
    assert comparable(state(api)) == before


# --- unit devices -----------------------------------------------------------


def test_unit_may_post_its_own_position_but_not_another_units(server: Server, world: dict[str, Any]) -> None:
    device = Api(server.url, world["mine"]["token"])
    own = device.post(f"/api/units/{world['mine']['id']}/position", {"lat": 42.351, "lon": -71.061})
    assert own.status_code == 202, own.text
    other = device.post(f"/api/units/{world['theirs']['id']}/position", {"lat": 42.0, "lon": -71.0})
    assert other.status_code == 403, other.text
    assert device.get(f"/api/units/{world['theirs']['id']}").status_code == 403
    assert device.get(f"/api/units/{world['mine']['id']}").json()["position"]["lat"] == 42.351


def test_unit_may_change_its_own_assignment_but_not_another_units(
    server: Server, api: Api, world: dict[str, Any]
) -> None:
    device = Api(server.url, world["mine"]["token"])
    own = device.post(f"/api/assignments/{world['my_assignment']['id']}/status", {"status": "acknowledged"})
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "acknowledged"

    before = comparable(state(api))
    other = device.post(f"/api/assignments/{world['their_assignment']['id']}/status", {"status": "en_route"})
    assert other.status_code == 403, other.text
    assert device.get(f"/api/assignments/{world['their_assignment']['id']}").status_code == 403
    assert comparable(state(api)) == before
    theirs = api.get(f"/api/assignments/{world['their_assignment']['id']}").json()
    assert theirs["status"] == "dispatched"


def test_unit_cannot_read_the_whole_state_or_the_event_log(server: Server, world: dict[str, Any]) -> None:
    device = Api(server.url, world["mine"]["token"])
    assert device.get("/api/state").status_code == 403
    assert device.get("/api/events").status_code == 403
    assert device.get("/api/events", params={"after": 0}).status_code == 403


def test_unit_lists_only_its_own_assignments(server: Server, api: Api, world: dict[str, Any]) -> None:
    assert len(api.get("/api/assignments").json()) == 2
    mine = Api(server.url, world["mine"]["token"]).get("/api/assignments")
    assert mine.status_code == 200
    assert [a["id"] for a in mine.json()] == [world["my_assignment"]["id"]]
    theirs = Api(server.url, world["theirs"]["token"]).get("/api/assignments")
    assert [a["id"] for a in theirs.json()] == [world["their_assignment"]["id"]]


def test_unit_socket_action_on_another_units_assignment_is_refused_with_403(
    server: Server, api: Api, world: dict[str, Any]
) -> None:
    before = comparable(state(api))
    with connected(server.url, world["mine"]["token"]) as tablet:
        tablet.sync()
        answer = tablet.call(
            "action", status_action("k-steal-1", world["their_assignment"]["id"], "acknowledged")
        )
        assert answer["ok"] is False
        assert answer["status"] == 403
        assert answer["field"] == "assignment_id"
        received = tablet.call("received", {"assignment_id": world["their_assignment"]["id"]})
        assert received["ok"] is False
        assert received["status"] == 403
        # The same socket may still act on its own assignment.
        own = tablet.call("action", status_action("k-own-1", world["my_assignment"]["id"], "acknowledged"))
        assert own["ok"] is True, own
    after = comparable(state(api))
    theirs = next(a for a in after["assignments"] if a["id"] == world["their_assignment"]["id"])
    assert theirs == next(a for a in before["assignments"] if a["id"] == world["their_assignment"]["id"])


def test_dashboard_socket_cannot_send_unit_actions(
    server: Server, api: Api, operator_token: str, world: dict[str, Any]
) -> None:
    before = comparable(state(api))
    with connected(server.url, operator_token) as dashboard:
        answer = dashboard.call("action", status_action("k-1", world["my_assignment"]["id"], "acknowledged"))
        assert answer["ok"] is False
        assert answer["status"] == 403
        fix = dashboard.call("position", {"lat": 42.0, "lon": -71.0})
        assert fix["ok"] is False
        assert fix["status"] == 403
    assert comparable(state(api)) == before


# --- signed-in users (session cookie) ---------------------------------------


def _add_user(data_dir: Path, name: str, role: str, password: str) -> None:
    result = cli(data_dir, "user", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert result.returncode == 0, result.stderr


def _try_login(base: str, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Sign in through the form the way a browser does: read its CSRF input, post it back."""
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=10)
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, "login form has no csrf input"
    r = browser.post(
        f"{base}/login",
        data={"username": name, "password": password, "csrf": match.group(1)},
        allow_redirects=False,
        timeout=10,
    )
    return browser, r


def _login(base: str, name: str, password: str) -> requests.Session:
    """Sign in a user the CLI just added; the running server learns of it on its next tick."""

    def attempt() -> requests.Session | None:
        browser, r = _try_login(base, name, password)
        if r.status_code == 401:
            return None
        assert r.status_code in (302, 303), (r.status_code, r.text[:200])
        return browser

    return poll(attempt, timeout=5, interval=0.1)


def _dashboard_csrf(browser: requests.Session, base: str) -> str:
    page = browser.get(f"{base}/", timeout=10)
    assert page.status_code == 200
    match = re.search(r'<script id="config" type="application/json">(.*?)</script>', page.text, re.S)
    assert match
    return str(json.loads(match.group(1))["csrf"])


def test_cli_user_signs_in_and_the_session_cookie_reads_the_api(
    server: Server, data_dir: Path, api: Api
) -> None:
    create_demonstration(api)
    _add_user(data_dir, "wall", "viewer", "correct horse battery")
    browser = _login(server.url, "wall", "correct horse battery")
    r = browser.get(f"{server.url}/api/state", timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["seq"] == state(api)["seq"]
    assert browser.get(f"{server.url}/api/me", timeout=10).json()["name"] == "wall"


def test_wrong_password_gives_no_session(server: Server, data_dir: Path) -> None:
    _add_user(data_dir, "wall", "viewer", "correct horse battery")
    _login(server.url, "wall", "correct horse battery")  # the server knows the user now
    browser, r = _try_login(server.url, "wall", "wrong horse battery")
    assert r.status_code == 401
    assert browser.get(f"{server.url}/api/state", timeout=10).status_code == 401


def test_cookie_post_without_csrf_header_is_refused_403(server: Server, data_dir: Path, api: Api) -> None:
    _add_user(data_dir, "wall", "viewer", "correct horse battery")
    _add_user(data_dir, "lead", "supervisor", "another good passphrase")
    body = {"name": "Vigil", "lat": 42.35, "lon": -71.06}
    viewer = _login(server.url, "wall", "correct horse battery")
    lead = _login(server.url, "lead", "another good passphrase")
    before = comparable(state(api))

    r = viewer.post(f"{server.url}/api/demonstrations", json=body, timeout=10)
    assert r.status_code == 403
    assert r.json()["field"] == "X-CSRF-Token"

    r = lead.post(f"{server.url}/api/demonstrations", json=body, timeout=10)
    assert r.status_code == 403
    assert r.json()["field"] == "X-CSRF-Token"
    r = lead.post(
        f"{server.url}/api/demonstrations", json=body, headers={"X-CSRF-Token": "guessed"}, timeout=10
    )
    assert r.status_code == 403
    assert comparable(state(api)) == before

    # With the session's own token the same supervisor may write.
    r = lead.post(
        f"{server.url}/api/demonstrations",
        json=body,
        headers={"X-CSRF-Token": _dashboard_csrf(lead, server.url)},
        timeout=10,
    )
    assert r.status_code == 201, r.text
