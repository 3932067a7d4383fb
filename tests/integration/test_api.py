"""The JSON API over real HTTP against a real `coordinator serve` process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import Api, Server

from .support import (
    create_demonstration,
    create_incident,
    create_unit,
    dispatch,
    events_after,
    state,
)


def test_demonstration_is_created_listed_read_and_patched(api: Api) -> None:
    created = create_demonstration(api, tension=2)
    assert created["id"].startswith("dem-")
    assert created["name"] == "City Hall rally"
    assert created["tension"] == 2

    listed = api.get("/api/demonstrations")
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()] == [created["id"]]

    patched = api.patch(f"/api/demonstrations/{created['id']}", {"tension": 4, "status": "active"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["tension"] == 4
    assert patched.json()["status"] == "active"

    read = api.get(f"/api/demonstrations/{created['id']}")
    assert read.status_code == 200
    assert read.json()["tension"] == 4
    assert read.json()["tension_label"] == "volatile"
    assert read.json()["status"] == "active"


def test_unit_registration_returns_id_and_a_working_device_token(api: Api, server: Server) -> None:
    unit = create_unit(api, "DEESC-7", "deescalation_team")
    assert unit["id"].startswith("unit-")
    assert isinstance(unit["token"], str)
    assert len(unit["token"]) >= 32
    assert unit["status"] == "available"

    listed = api.get("/api/units")
    assert listed.status_code == 200
    assert [u["id"] for u in listed.json()] == [unit["id"]]
    assert "token" not in listed.json()[0]
    assert "token_sha256" not in listed.json()[0]

    me = Api(server.url, unit["token"]).get("/api/me")
    assert me.status_code == 200
    assert me.json()["kind"] == "unit"
    assert me.json()["unit_id"] == unit["id"]


def test_position_report_is_accepted_with_202_and_becomes_the_units_position(api: Api) -> None:
    unit = create_unit(api)
    r = api.post(f"/api/units/{unit['id']}/position", {"lat": 42.351, "lon": -71.066, "accuracy_m": 8})
    assert r.status_code == 202, r.text
    assert r.json()["unit_id"] == unit["id"]
    assert r.json()["lat"] == 42.351

    view = api.get(f"/api/units/{unit['id']}").json()
    assert view["position"]["lat"] == 42.351
    assert view["position"]["lon"] == -71.066
    assert view["position"]["accuracy_m"] == 8
    assert view["stale"] is False


def test_incident_is_reported_and_listed(api: Api) -> None:
    demo = create_demonstration(api)
    incident = create_incident(api, demonstration_id=demo["id"], note="fall near the steps", severity=4)
    assert incident["id"].startswith("inc-")
    assert incident["status"] == "open"
    assert incident["severity"] == 4
    assert incident["triage"] == "delayed"

    listed = api.get("/api/incidents")
    assert listed.status_code == 200
    assert listed.json() == [incident]


def test_assignment_is_dispatched_listed_and_moved_through_statuses(api: Api) -> None:
    unit = create_unit(api)
    incident = create_incident(api)
    assignment = dispatch(api, unit["id"], incident["id"])
    assert assignment["id"].startswith("asg-")
    assert assignment["status"] == "dispatched"
    assert assignment["unit_id"] == unit["id"]

    listed = api.get("/api/assignments")
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [assignment["id"]]

    for status in ("acknowledged", "en_route", "on_scene", "completed"):
        r = api.post(f"/api/assignments/{assignment['id']}/status", {"status": status})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
        assert api.get(f"/api/assignments/{assignment['id']}").json()["status"] == status

    unit_view = api.get(f"/api/units/{unit['id']}").json()
    assert unit_view["status"] == "available"
    assert unit_view["active_assignment_id"] is None


def test_state_has_seq_and_every_collection(api: Api) -> None:
    empty = state(api)
    demo = create_demonstration(api)
    unit = create_unit(api)
    after = state(api)
    assert after["seq"] == empty["seq"] + 2
    assert [d["id"] for d in after["demonstrations"]] == [demo["id"]]
    assert [u["id"] for u in after["units"]] == [unit["id"]]
    assert after["incidents"] == []
    assert after["assignments"] == []


def test_events_after_n_are_exactly_the_later_events(api: Api) -> None:
    create_demonstration(api)
    create_unit(api)
    middle = state(api)["seq"]
    demo = create_demonstration(api, name="Second march")
    create_incident(api)
    last = state(api)["seq"]

    every = events_after(api, 0)
    assert [e["seq"] for e in every] == list(range(1, last + 1))
    for event in every:
        assert isinstance(event["seq"], int)
        assert isinstance(event["type"], str)
        assert event["at"].endswith("Z")

    later = api.get("/api/events", params={"after": middle})
    assert later.status_code == 200
    body = later.json()
    assert [e["seq"] for e in body["events"]] == [middle + 1, middle + 2]
    assert [e["type"] for e in body["events"]] == ["DemonstrationCreated", "IncidentReported"]
    assert body["events"][0]["payload"]["id"] == demo["id"]
    assert body["seq"] == last

    none_left = api.get("/api/events", params={"after": last}).json()
    assert none_left["events"] == []
    assert none_left["seq"] == last


def test_events_never_carry_credential_hashes(api: Api) -> None:
    unit = create_unit(api)
    for event in events_after(api, 0):
        assert "token_sha256" not in event["payload"]
        assert "password_hash" not in event["payload"]
        assert unit["token"] not in str(event)


def test_openapi_document_is_3_1_and_lists_every_route(server: Server) -> None:
    r = requests.get(f"{server.url}/api/openapi.json", timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1.")
    paths = doc["paths"]
    expected = {
        "/api/demonstrations": {"get", "post"},
        "/api/demonstrations/{demonstration_id}": {"patch"},
        "/api/units": {"get", "post"},
        "/api/units/{unit_id}/position": {"post"},
        "/api/incidents": {"get", "post"},
        "/api/assignments": {"get", "post"},
        "/api/assignments/{assignment_id}/status": {"post"},
        "/api/state": {"get"},
        "/api/events": {"get"},
        "/api/openapi.json": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))


# --- bad input ------------------------------------------------------------

World = dict[str, Any]
BadCall = Callable[[Api, World], requests.Response]


def _raw_post(api: Api, path: str, data: bytes | str) -> requests.Response:
    return api.session.post(
        api.base + path, data=data, headers={"Content-Type": "application/json"}, timeout=10
    )


BAD_INPUT: dict[str, tuple[BadCall, int, str]] = {
    "latitude 91": (
        lambda api, w: api.post("/api/demonstrations", {"name": "x", "lat": 91, "lon": -71.0}),
        400,
        "lat",
    ),
    "latitude 91 in a position fix": (
        lambda api, w: api.post(f"/api/units/{w['unit']}/position", {"lat": 91, "lon": -71.0}),
        400,
        "lat",
    ),
    "unknown unit kind": (
        lambda api, w: api.post("/api/units", {"callsign": "X-1", "kind": "water_cannon"}),
        400,
        "kind",
    ),
    "unknown incident kind": (
        lambda api, w: api.post("/api/incidents", {"kind": "riot", "lat": 42.0, "lon": -71.0}),
        400,
        "kind",
    ),
    "tension 9 on create": (
        lambda api, w: api.post("/api/demonstrations", {"name": "x", "lat": 42, "lon": -71, "tension": 9}),
        400,
        "tension",
    ),
    "tension 9 on update": (
        lambda api, w: api.patch(f"/api/demonstrations/{w['demo']}", {"tension": 9}),
        400,
        "tension",
    ),
    "unknown unit id in an assignment": (
        lambda api, w: api.post(
            "/api/assignments",
            {"unit_id": "unit-0123456789ab", "kind": "medical_aid", "incident_id": w["incident"]},
        ),
        400,
        "unit_id",
    ),
    "missing field": (
        lambda api, w: api.post("/api/incidents", {"kind": "escalation", "lon": -71.0}),
        400,
        "lat",
    ),
    "unknown field": (
        lambda api, w: api.post(
            "/api/incidents", {"kind": "escalation", "lat": 42, "lon": -71, "patient_name": "A. B."}
        ),
        400,
        "patient_name",
    ),
    "unknown field in a status change": (
        lambda api, w: api.post(f"/api/assignments/{w['assignment']}/status", {"status": "en_route", "x": 1}),
        400,
        "x",
    ),
    "unknown assignment status": (
        lambda api, w: api.post(f"/api/assignments/{w['assignment']}/status", {"status": "lost"}),
        400,
        "status",
    ),
    "non-JSON body": (
        lambda api, w: _raw_post(api, "/api/incidents", "kind=injury&lat=42"),
        400,
        "body",
    ),
    "JSON that is not an object": (
        lambda api, w: api.post("/api/demonstrations", [1, 2, 3]),
        400,
        "body",
    ),
    "body over 64 KiB": (
        lambda api, w: api.post(
            "/api/incidents", {"kind": "other", "lat": 42, "lon": -71, "note": "n" * (70 * 1024)}
        ),
        413,
        "body",
    ),
}


@pytest.fixture
def world(api: Api) -> World:
    demo = create_demonstration(api)
    unit = create_unit(api)
    incident = create_incident(api)
    other_unit = create_unit(api, "MED-2")
    assignment = dispatch(api, other_unit["id"], incident["id"])
    return {
        "demo": demo["id"],
        "unit": unit["id"],
        "incident": incident["id"],
        "assignment": assignment["id"],
    }


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(api: Api, world: World, case: str) -> None:
    call, status, field = BAD_INPUT[case]
    before = state(api)
    events_before = events_after(api, 0)

    r = call(api, world)

    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["field"] == field
    assert isinstance(body["error"], str)
    assert body["error"]
    after = state(api)
    assert after["seq"] == before["seq"]
    assert {k: v for k, v in after.items() if k != "server_time"} == {
        k: v for k, v in before.items() if k != "server_time"
    }
    assert events_after(api, 0) == events_before


def test_bad_events_cursor_is_refused_naming_the_parameter(api: Api) -> None:
    r = api.get("/api/events", params={"after": "yesterday"})
    assert r.status_code == 400
    assert r.json()["field"] == "after"
    r = api.get("/api/events", params={"after": -1})
    assert r.status_code == 400
    assert r.json()["field"] == "after"


def test_unknown_entity_is_404_naming_the_id(api: Api) -> None:
    r = api.patch("/api/demonstrations/dem-0123456789ab", {"tension": 2})
    assert r.status_code == 404
    assert r.json()["field"] == "id"
    r = api.post("/api/assignments/asg-0123456789ab/status", {"status": "en_route"})
    assert r.status_code == 404
    assert r.json()["field"] == "id"


# --- idempotency ----------------------------------------------------------


def test_same_idempotency_key_twice_creates_one_incident(api: Api) -> None:
    body = {"kind": "use_of_force", "lat": 42.355, "lon": -71.06, "severity": 4}
    headers = {"Idempotency-Key": "cad-bridge-7f3a"}
    first = api.post("/api/incidents", body, headers=headers)
    second = api.post("/api/incidents", body, headers=headers)
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json()["id"] == first.json()["id"]

    incidents = api.get("/api/incidents").json()
    assert [i["id"] for i in incidents] == [first.json()["id"]]
    reported = [e for e in events_after(api, 0) if e["type"] == "IncidentReported"]
    assert len(reported) == 1

    third = api.post("/api/incidents", body, headers={"Idempotency-Key": "cad-bridge-other"})
    assert third.status_code == 201
    assert third.json()["id"] != first.json()["id"]
    assert len(api.get("/api/incidents").json()) == 2
