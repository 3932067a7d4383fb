"""What survives a SIGKILL, and what the running server learns from the CLI writing the same log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Api, Server, cli

from .support import (
    comparable,
    connected,
    create_demonstration,
    create_incident,
    create_unit,
    dispatch,
    events_after,
    poll,
    state,
    status_action,
)

StartServer = Callable[[], Server]


@pytest.fixture
def start_server(data_dir: Path, operator_token: str) -> Iterator[StartServer]:
    """Start servers on the same data directory; stop whatever is still running at the end."""
    started: list[Server] = []

    def start() -> Server:
        srv = Server(data_dir).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def _all_events(api: Api) -> list[dict[str, Any]]:
    r = api.get("/api/events", params={"after": 0, "limit": 5000})
    assert r.status_code == 200
    return list(r.json()["events"])


def _move(api: Api, assignment_id: str, *statuses: str, reason: str | None = None) -> None:
    for status in statuses:
        body: dict[str, Any] = {"status": status}
        if reason is not None and status == "declined":
            body["reason"] = reason
        r = api.post(f"/api/assignments/{assignment_id}/status", body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status


def test_everything_acknowledged_before_sigkill_is_there_after_restart(
    start_server: StartServer, operator_token: str
) -> None:
    first = start_server()
    api = Api(first.url, operator_token)
    march = create_demonstration(api, name="Harbor march", tension=2)
    vigil = create_demonstration(api, name="Vigil", status="active")
    assert (
        api.patch(f"/api/demonstrations/{march['id']}", {"tension": 4, "status": "active"}).status_code == 200
    )
    medic = create_unit(api, "MED-1")
    talker = create_unit(api, "DEESC-1", "deescalation_team")
    lead = create_unit(api, "SUP-1", "field_supervisor")
    spare = create_unit(api, "MED-9")
    assert api.patch(f"/api/units/{spare['id']}", {"status": "out_of_service"}).status_code == 200
    injury = create_incident(api, demonstration_id=march["id"], severity=4, note="cut hand")
    clash = create_incident(api, kind="escalation", triage=None, demonstration_id=vigil["id"])
    done = dispatch(api, medic["id"], injury["id"])
    _move(api, done["id"], "acknowledged", "en_route", "on_scene", "completed")
    assert api.patch(f"/api/incidents/{injury['id']}", {"status": "resolved"}).status_code == 200
    refused = dispatch(api, talker["id"], clash["id"], kind="deescalation")
    _move(api, refused["id"], "declined", reason="crew already on a call")
    moving = dispatch(api, talker["id"], clash["id"], kind="deescalation")
    _move(api, moving["id"], "acknowledged", "en_route")
    r = api.post(
        "/api/assignments", {"unit_id": lead["id"], "kind": "observe", "demonstration_id": vigil["id"]}
    )
    assert r.status_code == 201
    with connected(first.url, talker["token"]) as tablet:
        tablet.sync()
        assert tablet.call("action", status_action("tab-1", moving["id"], "on_scene"))["ok"] is True
    keyed = api.post(
        "/api/incidents",
        {"kind": "federal_activity", "lat": 42.35, "lon": -71.05},
        headers={"Idempotency-Key": "bridge-1"},
    )
    assert keyed.status_code == 201

    before = comparable(state(api))
    events_before = _all_events(api)
    assert before["seq"] == len(events_before)
    first.kill()

    second = start_server()
    api = Api(second.url, operator_token)
    assert comparable(state(api)) == before
    assert _all_events(api) == events_before

    # Keys and device tokens were part of what was acknowledged, too.
    replay = api.post(
        "/api/incidents",
        {"kind": "federal_activity", "lat": 42.35, "lon": -71.05},
        headers={"Idempotency-Key": "bridge-1"},
    )
    assert replay.status_code == 201
    assert replay.json()["id"] == keyed.json()["id"]
    with connected(second.url, talker["token"]) as tablet:
        tablet.sync()
        listed = tablet.wait_for("assignments")["assignments"]
        assert [(m["assignment"]["id"], m["assignment"]["status"]) for m in listed] == [
            (moving["id"], "on_scene")
        ]
        again = tablet.call("action", status_action("tab-1", moving["id"], "on_scene"))
        assert again["replayed"] is True
    assert comparable(state(api)) == before


def test_every_incident_acknowledged_during_a_burst_survives_a_kill_mid_burst(
    start_server: StartServer, operator_token: str
) -> None:
    first = start_server()
    url = f"{first.url}/api/incidents"
    acknowledged: list[str] = []
    unexpected: list[tuple[int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def post_until_refused(worker: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {operator_token}"
        n = 0
        while not stop.is_set():
            body = {"kind": "other", "lat": 42.35, "lon": -71.06, "note": f"worker {worker} #{n}"}
            try:
                r = session.post(url, json=body, timeout=5)
            except requests.RequestException:
                return  # the server is gone
            with lock:
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])
                else:
                    unexpected.append((r.status_code, r.text))
            n += 1

    workers = [threading.Thread(target=post_until_refused, args=(i,)) for i in range(4)]
    for thread in workers:
        thread.start()
    try:
        poll(lambda: len(acknowledged) >= 40, timeout=20, interval=0.01)
        first.kill()
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in workers)
    assert unexpected == []

    second = start_server()
    api = Api(second.url, operator_token)
    present = {i["id"] for i in api.get("/api/incidents").json()}
    missing = set(acknowledged) - present
    assert not missing, f"{len(missing)} acknowledged incidents lost"
    # Only a request in flight at the kill may have been written without its answer.
    assert len(present) - len(acknowledged) <= len(workers)

    seq = state(api)["seq"]
    events = _all_events(api)
    assert [e["seq"] for e in events] == list(range(1, seq + 1))
    assert sum(e["type"] == "IncidentReported" for e in events) == len(present)

    after = create_incident(api)
    assert [e["seq"] for e in events_after(api, seq)] == [seq + 1]
    assert events_after(api, seq)[0]["payload"]["id"] == after["id"]


def test_flushed_position_fixes_survive_a_kill(start_server: StartServer, operator_token: str) -> None:
    first = start_server()
    api = Api(first.url, operator_token)
    by_http = create_unit(api, "MED-1")
    by_socket = create_unit(api, "MED-2")
    device = Api(first.url, by_http["token"])
    for lat, accuracy, at in ((42.30, 5, "2020-05-01T12:00:00.000Z"), (42.31, 6, "2020-05-01T12:00:05.000Z")):
        fix = {"lat": lat, "lon": -71.05, "accuracy_m": accuracy, "at": at}
        assert device.post(f"/api/units/{by_http['id']}/position", fix).status_code == 202
    with connected(first.url, by_socket["token"]) as tablet:
        tablet.sync()
        answer = tablet.call("position", {"lat": 42.37, "lon": -71.02, "at": "2020-05-01T12:00:03.000Z"})
        assert answer["ok"] is True, answer
    expected = {u["id"]: u["position"] for u in api.get("/api/units").json()}
    assert expected[by_http["id"]]["lat"] == 42.31
    assert expected[by_socket["id"]]["lat"] == 42.37
    time.sleep(1.2)  # fixes are written at most every 0.25 s, with a frame tick
    first.kill()

    second = start_server()
    api = Api(second.url, operator_token)
    after = {u["id"]: u["position"] for u in api.get("/api/units").json()}
    assert after == expected
    assert after[by_http["id"]] == {
        "lat": 42.31,
        "lon": -71.05,
        "accuracy_m": 6,
        "at": "2020-05-01T12:00:05.000Z",
    }


def test_user_added_with_the_cli_while_serving_can_sign_in_within_seconds(
    server: Server, data_dir: Path
) -> None:
    result = cli(
        data_dir,
        "user",
        "add",
        "night-lead",
        "--role",
        "supervisor",
        "--password-stdin",
        stdin="long enough passphrase\n",
    )
    assert result.returncode == 0, result.stderr

    def sign_in() -> requests.Session | None:
        browser = requests.Session()
        page = browser.get(f"{server.url}/login", timeout=10)
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = browser.post(
            f"{server.url}/login",
            data={"username": "night-lead", "password": "long enough passphrase", "csrf": csrf},
            allow_redirects=False,
            timeout=10,
        )
        return browser if r.status_code in (302, 303) else None

    browser = poll(sign_in, timeout=5, interval=0.2)
    me = browser.get(f"{server.url}/api/me", timeout=10)
    assert me.status_code == 200
    assert me.json() == {"kind": "user", "name": "night-lead", "role": "supervisor", "unit_id": None}


def test_unit_added_with_the_cli_while_serving_reaches_dashboards_and_can_connect(
    server: Server, data_dir: Path, api: Api, operator_token: str
) -> None:
    with connected(server.url, operator_token) as dashboard:
        dashboard.sync()
        dashboard.wait_for("snapshot")
        result = cli(data_dir, "unit", "add", "MED-CLI", "--kind", "medical_team", "--skill", "emt:basic")
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip().splitlines()[-1]
        frame = dashboard.wait_for(
            "frame", lambda f: any(e["type"] == "UnitRegistered" for e in f["events"]), timeout=5
        )
    (unit_id,) = frame["changes"]["units"]
    assert frame["changes"]["units"][unit_id]["callsign"] == "MED-CLI"
    assert frame["changes"]["units"][unit_id]["skills"] == ["emt:basic"]
    with connected(server.url, token) as tablet:
        assert tablet.sync() == {"ok": True, "kind": "assignments"}
        assert tablet.wait_for("assignments")["unit"]["id"] == unit_id
    # The server's own next write lands after the CLI's, with no gap or clash.
    create_demonstration(api)
    seq = state(api)["seq"]
    assert [e["seq"] for e in _all_events(api)] == list(range(1, seq + 1))
