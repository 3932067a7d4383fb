"""Live push over real Socket.IO connections: frames, unit pushes, resync and tablet actions."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Server

from .support import (
    LiveClient,
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


@pytest.fixture
def dashboard(server: Server, operator_token: str) -> Iterator[LiveClient]:
    client = connected(server.url, operator_token)
    assert client.sync() == {"ok": True, "kind": "snapshot"}
    client.wait_for("snapshot")
    yield client
    client.close()


@pytest.fixture
def unit(api: Api) -> dict[str, Any]:
    return create_unit(api, "MED-1")


@pytest.fixture
def tablet(server: Server, unit: dict[str, Any]) -> Iterator[LiveClient]:
    client = connected(server.url, unit["token"])
    assert client.sync() == {"ok": True, "kind": "assignments"}
    client.wait_for("assignments")
    yield client
    client.close()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _positions_of(client: LiveClient, unit_id: str) -> list[dict[str, Any]]:
    return [f["positions"][unit_id] for f in client.messages("frame") if unit_id in f["positions"]]


def _step_events(api: Api, assignment_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events_after(api, 0)
        if e["type"].startswith("Assignment") and e["payload"]["id"] == assignment_id
    ]


# --- snapshot -------------------------------------------------------------------


def test_dashboard_snapshot_has_everything_current_with_positions(
    server: Server, api: Api, operator_token: str, unit: dict[str, Any]
) -> None:
    demo = create_demonstration(api)
    incident = create_incident(api, demonstration_id=demo["id"])
    assignment = dispatch(api, unit["id"], incident["id"])
    fix = {"lat": 42.3601, "lon": -71.0589, "accuracy_m": 4}
    assert api.post(f"/api/units/{unit['id']}/position", fix).status_code == 202
    current = state(api)
    with connected(server.url, operator_token) as client:
        assert client.sync() == {"ok": True, "kind": "snapshot"}
        snapshot = client.wait_for("snapshot")
    assert snapshot["seq"] == current["seq"]
    for collection in ("demonstrations", "units", "incidents", "assignments"):
        assert snapshot[collection] == current[collection], collection
    assert [a["id"] for a in snapshot["assignments"]] == [assignment["id"]]
    assert snapshot["positions"][unit["id"]]["lat"] == fix["lat"]
    assert snapshot["positions"][unit["id"]]["accuracy_m"] == fix["accuracy_m"]


# --- positions ----------------------------------------------------------------


def test_events_reach_dashboards_before_the_tick_and_positions_wait_for_it(
    data_dir: Path, operator_token: str
) -> None:
    """An acknowledgement must not wait for the position tick: events leave in a frame of their own."""
    srv = Server(data_dir, extra_args=("--frame-interval", "5")).start()
    try:
        api = Api(srv.url, operator_token)
        unit = create_unit(api, "MED-9")
        with connected(srv.url, operator_token) as dashboard, connected(srv.url, unit["token"]) as tablet:
            assert dashboard.sync()["kind"] == "snapshot"
            start_seq = dashboard.wait_for("snapshot")["seq"]
            assert tablet.sync()["kind"] == "assignments"
            assert tablet.call("position", {"lat": 42.3555, "lon": -71.0555})["ok"] is True
            started = time.monotonic()
            incident = create_incident(api, note="events first")
            frame = dashboard.wait_for(
                "frame", lambda f: any(e["payload"].get("id") == incident["id"] for e in f["events"])
            )
            took = time.monotonic() - started
            assert frame["positions"] == {}, "an events frame carried fixes ahead of the tick"
            assert frame["changes"]["incidents"][incident["id"]]["note"] == "events first"
            # Well inside the 5 s tick, which the fix waits for.
            assert took < 2.0, f"the events frame took {took:.2f} s"
            moved = dashboard.wait_for("frame", lambda f: unit["id"] in f["positions"], timeout=7)
            assert moved["positions"][unit["id"]]["lat"] == 42.3555
            frames = dashboard.messages("frame")
            assert frames[0]["from_seq"] == start_seq
            for before, after in itertools.pairwise(frames):
                assert after["from_seq"] == before["seq"]
    finally:
        srv.stop()


@pytest.mark.parametrize("via", ["socket", "http"])
def test_position_fix_reaches_a_dashboard_frame_within_one_second(
    server: Server, dashboard: LiveClient, tablet: LiveClient, unit: dict[str, Any], via: str
) -> None:
    fix = {"lat": 42.3512345, "lon": -71.0654321, "accuracy_m": 6.5}
    sent_at = time.monotonic()
    if via == "socket":
        answer = tablet.call("position", fix)
        assert answer["ok"] is True, answer
    else:
        r = Api(server.url, unit["token"]).post(f"/api/units/{unit['id']}/position", fix)
        assert r.status_code == 202, r.text

    frame = dashboard.wait_for(
        "frame",
        lambda f: f["positions"].get(unit["id"], {}).get("lat") == fix["lat"],
        timeout=max(0.0, 1.0 - (time.monotonic() - sent_at)),
    )
    assert set(frame) == {"from_seq", "seq", "events", "changes", "positions", "at"}
    position = frame["positions"][unit["id"]]
    assert position["lon"] == fix["lon"]
    assert position["accuracy_m"] == fix["accuracy_m"]


def test_many_fixes_within_one_frame_are_coalesced_to_the_latest(
    dashboard: LiveClient, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    count = 60
    start = datetime.now(UTC) - timedelta(minutes=5)
    fixes = [
        {"lat": round(42.30 + i * 0.001, 6), "lon": -71.05, "at": _iso(start + timedelta(seconds=i))}
        for i in range(count)
    ]
    for fix in fixes[:-1]:
        tablet.sio.emit("position", fix)
    assert tablet.call("position", fixes[-1])["ok"] is True
    latest = fixes[-1]["lat"]

    dashboard.wait_for("frame", lambda f: f["positions"].get(unit["id"], {}).get("lat") == latest)
    # Let any frame still on its way arrive before counting.
    time.sleep(0.6)

    seen = _positions_of(dashboard, unit["id"])
    assert 1 <= len(seen) <= count // 6, len(seen)
    assert seen[-1]["lat"] == latest
    assert seen[-1]["at"] == fixes[-1]["at"]
    lats = [p["lat"] for p in seen]
    assert lats == sorted(lats), "a frame carried a fix older than one already sent"
    assert len(set(lats)) == len(lats), "the same fix was sent in two frames"


def test_an_older_fix_never_replaces_a_newer_one(
    dashboard: LiveClient, tablet: LiveClient, unit: dict[str, Any], api: Api
) -> None:
    now = datetime.now(UTC)
    assert tablet.call("position", {"lat": 42.36, "lon": -71.06, "at": _iso(now)})["ok"] is True
    dashboard.wait_for("frame", lambda f: f["positions"].get(unit["id"], {}).get("lat") == 42.36)
    late = {"lat": 42.10, "lon": -71.10, "at": _iso(now - timedelta(minutes=1))}
    assert tablet.call("position", late)["ok"] is True
    time.sleep(0.6)
    assert [p["lat"] for p in _positions_of(dashboard, unit["id"])] == [42.36]
    assert api.get(f"/api/units/{unit['id']}").json()["position"]["lat"] == 42.36


# --- assignments to units -------------------------------------------------------


def test_dispatched_assignment_is_pushed_received_and_acknowledged_to_the_dashboard(
    api: Api, dashboard: LiveClient, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    incident = create_incident(api, note="heat exhaustion by the fountain")
    assignment = dispatch(api, unit["id"], incident["id"])
    aid = assignment["id"]

    pushed = tablet.wait_for("assignment", lambda m: m["assignment"]["id"] == aid)
    assert pushed["assignment"]["status"] == "dispatched"
    assert pushed["unit"]["id"] == unit["id"]
    assert pushed["target"]["target_type"] == "incident"
    assert pushed["target"]["id"] == incident["id"]
    assert pushed["target"]["kind"] == "injury"
    assert pushed["target"]["note"] == "heat exhaustion by the fountain"

    got = tablet.call("received", {"assignment_id": aid})
    assert got["ok"] is True, got
    assert got["result"]["status"] == "delivered"
    assert api.get(f"/api/assignments/{aid}").json()["status"] == "delivered"

    ack = tablet.call("action", status_action("tab-ack-1", aid, "acknowledged"))
    assert ack == {"ok": True, "status": 200, "replayed": False, "result": ack["result"]}
    assert ack["result"]["status"] == "acknowledged"

    frame = dashboard.wait_for(
        "frame", lambda f: f["changes"].get("assignments", {}).get(aid, {}).get("status") == "acknowledged"
    )
    assert any(e["type"] == "AssignmentAcknowledged" and e["payload"]["id"] == aid for e in frame["events"])
    assert frame["changes"]["units"][unit["id"]]["active_assignment_id"] == aid
    tablet.wait_for(
        "assignment", lambda m: m["assignment"]["id"] == aid and m["assignment"]["status"] == "acknowledged"
    )


def test_assignment_dispatched_while_offline_arrives_on_connect(
    server: Server, api: Api, unit: dict[str, Any]
) -> None:
    demo = create_demonstration(api)
    r = api.post(
        "/api/assignments", {"unit_id": unit["id"], "kind": "observe", "demonstration_id": demo["id"]}
    )
    assert r.status_code == 201
    with connected(server.url, unit["token"]) as tablet:
        tablet.sync()
        message = tablet.wait_for("assignments")
    assert message["unit"]["id"] == unit["id"]
    assert [m["assignment"]["id"] for m in message["assignments"]] == [r.json()["id"]]
    assert message["assignments"][0]["target"]["target_type"] == "demonstration"
    assert message["assignments"][0]["target"]["id"] == demo["id"]


def test_unfinished_assignment_is_sent_again_on_reconnect_with_its_current_status(
    server: Server, api: Api, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    incident = create_incident(api)
    aid = dispatch(api, unit["id"], incident["id"])["id"]
    tablet.wait_for("assignment", lambda m: m["assignment"]["id"] == aid)
    assert tablet.call("received", {"assignment_id": aid})["ok"] is True
    tablet.close()

    with connected(server.url, unit["token"]) as again:
        again.sync()
        listed = again.wait_for("assignments")["assignments"]
        assert [(m["assignment"]["id"], m["assignment"]["status"]) for m in listed] == [(aid, "delivered")]
        ack = again.call("action", status_action("tab-ack-9", aid, "acknowledged"))
        assert ack["ok"] is True, ack

    with connected(server.url, unit["token"]) as third:
        third.sync()
        listed = third.wait_for("assignments")["assignments"]
        assert [(m["assignment"]["id"], m["assignment"]["status"]) for m in listed] == [(aid, "acknowledged")]

    r = api.post(f"/api/assignments/{aid}/status", {"status": "completed"})
    assert r.status_code == 200
    with connected(server.url, unit["token"]) as fourth:
        fourth.sync()
        assert fourth.wait_for("assignments")["assignments"] == []


# --- dashboards resuming --------------------------------------------------------


def test_dashboard_resync_has_exactly_the_missed_events_and_frames_continue_from_it(
    server: Server, api: Api, operator_token: str, dashboard: LiveClient
) -> None:
    first = create_demonstration(api)
    frame = dashboard.wait_for("frame", lambda f: f["events"] != [])
    last_seq = frame["seq"]
    assert last_seq == state(api)["seq"]
    dashboard.close()

    r = api.patch(f"/api/demonstrations/{first['id']}", {"tension": 4})
    assert r.status_code == 200
    second = create_demonstration(api, name="Counter-protest")
    unit = create_unit(api, "DEESC-1", "deescalation_team")
    incident = create_incident(api, kind="escalation", triage=None, demonstration_id=second["id"])
    assignment = dispatch(api, unit["id"], incident["id"], kind="deescalation")
    current = state(api)["seq"]
    assert current == last_seq + 5

    with connected(server.url, operator_token) as resumed:
        assert resumed.sync(last_seq) == {"ok": True, "kind": "resync"}
        resync = resumed.wait_for("resync")
        assert resync["from_seq"] == last_seq
        assert resync["seq"] == current
        assert [e["seq"] for e in resync["events"]] == list(range(last_seq + 1, current + 1))
        assert [e["type"] for e in resync["events"]] == [
            "DemonstrationUpdated",
            "DemonstrationCreated",
            "UnitRegistered",
            "IncidentReported",
            "AssignmentDispatched",
        ]
        assert resync["changes"]["demonstrations"][first["id"]]["tension"] == 4
        assert resync["changes"]["assignments"][assignment["id"]]["status"] == "dispatched"
        assert resync["changes"]["units"][unit["id"]]["status"] == "assigned"
        assert resumed.messages("snapshot") == []

        for tension in (2, 3, 5):
            assert api.patch(f"/api/demonstrations/{second['id']}", {"tension": tension}).status_code == 200
        final = current + 3
        resumed.wait_for("frame", lambda f: f["seq"] == final)
        frames = resumed.messages("frame")

    assert frames[0]["from_seq"] == resync["seq"]
    for before, after in itertools.pairwise(frames):
        assert after["from_seq"] == before["seq"]
    seqs = [e["seq"] for e in resync["events"]] + [e["seq"] for f in frames for e in f["events"]]
    assert seqs == list(range(last_seq + 1, final + 1))


def test_dashboard_resync_from_the_current_seq_is_empty(
    server: Server, api: Api, operator_token: str
) -> None:
    create_demonstration(api)
    seq = state(api)["seq"]
    with connected(server.url, operator_token) as client:
        assert client.sync(seq)["kind"] == "resync"
        resync = client.wait_for("resync")
    assert resync["from_seq"] == seq
    assert resync["seq"] == seq
    assert resync["events"] == []


def test_dashboard_sync_from_a_seq_ahead_of_the_server_gets_a_snapshot(
    server: Server, api: Api, operator_token: str
) -> None:
    demo = create_demonstration(api)
    ahead = state(api)["seq"] + 100
    with connected(server.url, operator_token) as client:
        assert client.sync(ahead)["kind"] == "snapshot"
        snapshot = client.wait_for("snapshot")
    assert snapshot["seq"] == ahead - 100
    assert [d["id"] for d in snapshot["demonstrations"]] == [demo["id"]]


# --- tablet actions -------------------------------------------------------------


def test_same_action_key_twice_applies_once(
    server: Server, api: Api, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    report = {
        "key": "tab-med1-0001",
        "type": "incident",
        "data": {"kind": "injury", "triage": "minor", "lat": 42.357, "lon": -71.058},
    }
    first = tablet.call("action", report)
    second = tablet.call("action", report)
    assert first["ok"] is True, first
    assert first["status"] == 201
    assert first["replayed"] is False
    assert second["ok"] is True, second
    assert second["status"] == 201
    assert second["replayed"] is True
    assert second["result"]["id"] == first["result"]["id"]
    reported = [e for e in events_after(api, 0) if e["type"] == "IncidentReported"]
    assert [e["payload"]["id"] for e in reported] == [first["result"]["id"]]
    assert reported[0]["actor"] == f"unit:{unit['id']}"

    # Keys belong to one device: another unit's identical key is its own action.
    other = create_unit(api, "MED-2")
    with connected(server.url, other["token"]) as other_tablet:
        third = other_tablet.call("action", report)
    assert third["ok"] is True
    assert third["replayed"] is False
    assert third["result"]["id"] != first["result"]["id"]
    assert len(api.get("/api/incidents").json()) == 2


def test_same_status_action_key_twice_records_one_step(
    api: Api, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    aid = dispatch(api, unit["id"], create_incident(api)["id"])["id"]
    first = tablet.call("action", status_action("tab-7", aid, "en_route"))
    second = tablet.call("action", status_action("tab-7", aid, "en_route"))
    assert (first["ok"], first["replayed"]) == (True, False)
    assert (second["ok"], second["replayed"]) == (True, True)
    assert second["result"]["status"] == "en_route"
    assert [e["type"] for e in _step_events(api, aid)] == ["AssignmentDispatched", "AssignmentEnRoute"]


def test_offline_queue_replayed_after_reconnect_applies_each_action_once_in_order(
    server: Server, api: Api, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    aid = dispatch(api, unit["id"], create_incident(api)["id"])["id"]
    tablet.wait_for("assignment", lambda m: m["assignment"]["id"] == aid)
    assert tablet.call("received", {"assignment_id": aid})["ok"] is True
    tablet.close()  # the tablet loses its connection and queues what the medic taps

    queue = [
        status_action("q-0001", aid, "acknowledged"),
        status_action("q-0002", aid, "en_route"),
        status_action("q-0003", aid, "on_scene"),
    ]
    with connected(server.url, unit["token"]) as back:
        back.sync()
        answers = [back.call("action", item) for item in queue]
        assert [a["ok"] for a in answers] == [True, True, True], answers
        assert [a["replayed"] for a in answers] == [False, False, False]
        assert [a["result"]["status"] for a in answers] == ["acknowledged", "en_route", "on_scene"]

        # The acks were lost on the way back, so the tablet sends the queue again.
        again = [back.call("action", item) for item in queue]
        assert [a["replayed"] for a in again] == [True, True, True], again
        assert all(a["ok"] for a in again)

        # A stale step queued long ago does not move the assignment backwards.
        late = back.call("action", status_action("q-0000", aid, "acknowledged"))
        assert late["ok"] is True, late
        assert late["result"]["status"] == "on_scene"

    steps = _step_events(api, aid)
    assert [e["type"] for e in steps] == [
        "AssignmentDispatched",
        "AssignmentDelivered",
        "AssignmentAcknowledged",
        "AssignmentEnRoute",
        "AssignmentOnScene",
    ]
    assert [e["seq"] for e in steps] == sorted(e["seq"] for e in steps)
    assert api.get(f"/api/assignments/{aid}").json()["status"] == "on_scene"
    assert api.get(f"/api/units/{unit['id']}").json()["status"] == "on_scene"


def test_unit_status_action_sets_the_unit_out_of_service_once(
    api: Api, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    action = {"key": "svc-1", "type": "unit_status", "data": {"status": "out_of_service"}}
    first = tablet.call("action", action)
    assert first["ok"] is True, first
    assert first["result"]["status"] == "out_of_service"
    assert tablet.call("action", action)["replayed"] is True
    assert api.get(f"/api/units/{unit['id']}").json()["status"] == "out_of_service"
    assert [e["type"] for e in events_after(api, 0)].count("UnitUpdated") == 1


def test_position_action_moves_the_unit(
    dashboard: LiveClient, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    answer = tablet.call(
        "action", {"key": "pos-1", "type": "position", "data": {"lat": 42.3333, "lon": -71.1}}
    )
    assert answer["ok"] is True, answer
    dashboard.wait_for("frame", lambda f: f["positions"].get(unit["id"], {}).get("lat") == 42.3333)


# --- malformed messages ---------------------------------------------------------

MALFORMED: dict[str, tuple[str, Any, str]] = {
    "position that is not an object": ("position", "42.3,-71.0", "body"),
    "position at latitude 91": ("position", {"lat": 91, "lon": -71.0}, "lat"),
    "position with an unknown field": ("position", {"lat": 42, "lon": -71, "speed": 3}, "speed"),
    "action that is not an object": ("action", ["acknowledged"], "body"),
    "action of an unknown type": ("action", {"key": "k1", "type": "teleport", "data": {}}, "type"),
    "action without a key": (
        "action",
        {"type": "incident", "data": {"kind": "other", "lat": 42, "lon": -71}},
        "key",
    ),
    "action with an empty key": (
        "action",
        {"key": "", "type": "incident", "data": {"kind": "other", "lat": 42, "lon": -71}},
        "key",
    ),
    "action with an unknown field": (
        "action",
        {"key": "k2", "type": "incident", "data": {"kind": "other", "lat": 42, "lon": -71}, "user": "x"},
        "user",
    ),
    "incident action at latitude 91": (
        "action",
        {"key": "k3", "type": "incident", "data": {"kind": "other", "lat": 91, "lon": -71}},
        "lat",
    ),
    "position action at latitude 91": (
        "action",
        {"key": "k4", "type": "position", "data": {"lat": 91, "lon": -71}},
        "lat",
    ),
    "status action with a malformed assignment id": (
        "action",
        {
            "key": "k5",
            "type": "assignment_status",
            "data": {"assignment_id": "1; drop", "status": "en_route"},
        },
        "assignment_id",
    ),
    "unit status the unit may not set": (
        "action",
        {"key": "k6", "type": "unit_status", "data": {"status": "on_scene"}},
        "status",
    ),
    "received for an unknown assignment": (
        "received",
        {"assignment_id": "asg-0123456789ab"},
        "assignment_id",
    ),
    "received without an object": ("received", 17, "body"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_socket_message_is_refused_naming_the_field_and_changes_nothing(
    api: Api, tablet: LiveClient, unit: dict[str, Any], case: str
) -> None:
    event, payload, field = MALFORMED[case]
    before = comparable(state(api))
    answer = tablet.call(event, payload)
    assert answer["ok"] is False, answer
    assert answer["field"] == field, answer
    assert 400 <= answer["status"] < 500
    assert comparable(state(api)) == before
    # The connection survives and keeps working.
    assert tablet.call("position", {"lat": 42.35, "lon": -71.06})["ok"] is True


def test_message_with_extra_arguments_is_still_answered(api: Api, tablet: LiveClient) -> None:
    before = comparable(state(api))
    answer = tablet.call("action", ({"key": "k", "type": "unit_status", "data": {}}, "extra"))
    assert answer["ok"] is False, answer
    assert answer["field"] == "status"
    assert comparable(state(api)) == before
    assert tablet.call("position", {"lat": 42.35, "lon": -71.06})["ok"] is True


def test_dashboard_sync_with_a_bad_last_seq_is_refused(server: Server, operator_token: str) -> None:
    with connected(server.url, operator_token) as client:
        for bad in (-1, "12", 1.5, True):
            answer = client.call("sync", {"last_seq": bad})
            assert answer["ok"] is False, (bad, answer)
            assert answer["field"] == "last_seq"
        assert client.call("sync", "everything")["field"] == "body"
        assert client.messages("snapshot") == []
        assert client.messages("resync") == []
        assert client.sync() == {"ok": True, "kind": "snapshot"}


def test_oversized_socket_message_drops_only_that_connection(
    server: Server, api: Api, dashboard: LiveClient, tablet: LiveClient, unit: dict[str, Any]
) -> None:
    before = comparable(state(api))
    tablet.sio.emit("action", "x" * (200 * 1024))
    poll(lambda: not tablet.sio.connected, timeout=5)

    assert comparable(state(api)) == before
    assert dashboard.sio.connected
    with connected(server.url, unit["token"]) as again:
        again.sync()
        assert again.call("position", {"lat": 42.3456, "lon": -71.0})["ok"] is True
    dashboard.wait_for("frame", lambda f: f["positions"].get(unit["id"], {}).get("lat") == 42.3456)
