"""The core loop in real pages: log an incident, assign a unit, the tablet acknowledges."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Api, Server

from .conftest import new_page, sign_in

pytestmark = pytest.mark.e2e


def _unit(api: Api, callsign: str, kind: str = "medical_team") -> dict[str, str]:
    response = api.post("/api/units", json={"callsign": callsign, "kind": kind, "skills": ["emt:basic"]})
    assert response.status_code == 201
    unit: dict[str, str] = response.json()
    fix = api.post(f"/api/units/{unit['id']}/position", json={"lat": 42.3595, "lon": -71.0600})
    assert fix.status_code == 202
    return unit


def test_incident_logged_on_map_is_assigned_and_acknowledged_from_the_tablet(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    unit = _unit(e2e_api, "MED-7")
    dashboard = new_page(browser, page_errors)
    sign_in(dashboard, server, *operator_login)
    tablet = new_page(browser, page_errors)
    tablet.goto(f"{server.url}/field#token={unit['token']}")
    expect(tablet.locator("#conn")).to_have_text("Online", timeout=15_000)
    expect(tablet.locator("#callsign")).to_contain_text("MED-7")

    # The unit shows on the dashboard board, then an incident is logged by clicking the map.
    expect(dashboard.locator("#units li", has_text="MED-7")).to_be_visible()
    dashboard.click("#btn-log-incident")
    dashboard.click("#map", position={"x": 500, "y": 420})
    dashboard.select_option("#incident-kind", "injury")
    dashboard.select_option("#incident-triage", "immediate")
    dashboard.fill("#incident-note", "Person down near the plaza steps")
    dashboard.click("#incident-save")
    expect(dashboard.locator("#incidents li", has_text="immediate")).to_be_visible()

    # Logging an injury opens the assign dialog with the injury preselected.
    expect(dashboard.locator("#assign-dialog")).to_be_visible()
    dashboard.select_option("#assign-unit", unit["id"])
    expect(dashboard.locator("#assign-kind")).to_have_value("medical_aid")
    dashboard.click("#assign-save")
    row = dashboard.locator("#assignments li", has_text="MED-7")
    expect(row).to_be_visible()

    # The tablet gets it, confirms receipt, and the crew acknowledges.
    expect(tablet.locator("#assignment")).to_be_visible(timeout=5_000)
    expect(tablet.locator("#assignment-head")).to_contain_text("Medical aid")
    expect(tablet.locator("#assignment-head")).to_contain_text("immediate")
    tablet.click("[data-step=acknowledged]")
    expect(row.locator(".badge")).to_have_text("acknowledged", timeout=5_000)

    assignment = e2e_api.get("/api/assignments").json()[0]
    assert assignment["status"] == "acknowledged"
    assert {"dispatched", "delivered", "acknowledged"} <= set(assignment["times"])
    incident = e2e_api.get("/api/incidents").json()[0]
    assert (incident["kind"], incident["triage"]) == ("injury", "immediate")
    assert page_errors == []


def test_tablet_queues_actions_while_the_server_is_down_and_sends_them_once_in_order(
    browser: Browser, server: Server, e2e_api: Api, data_dir: Path, page_errors: list[str]
) -> None:
    unit = _unit(e2e_api, "MED-8")
    incident = e2e_api.post(
        "/api/incidents", json={"kind": "injury", "lat": 42.36, "lon": -71.06, "triage": "delayed"}
    ).json()
    tablet = new_page(browser, page_errors)
    tablet.goto(f"{server.url}/field#token={unit['token']}")
    expect(tablet.locator("#conn")).to_have_text("Online", timeout=15_000)
    assignment = e2e_api.post(
        "/api/assignments", json={"unit_id": unit["id"], "kind": "medical_aid", "incident_id": incident["id"]}
    ).json()
    expect(tablet.locator("#assignment")).to_be_visible(timeout=5_000)
    deadline = time.monotonic() + 5
    while e2e_api.get(f"/api/assignments/{assignment['id']}").json()["status"] != "delivered":
        assert time.monotonic() < deadline, "the tablet never confirmed receipt"
        time.sleep(0.05)

    server.kill()
    expect(tablet.locator("#conn")).to_contain_text("Offline", timeout=15_000)
    tablet.click("[data-step=acknowledged]")
    tablet.click("[data-step=en_route]")
    tablet.click("[data-step=on_scene]")
    expect(tablet.locator("#queue")).to_have_text("3 queued")

    server.start()
    expect(tablet.locator("#conn")).to_have_text("Online", timeout=20_000)
    expect(tablet.locator("#queue")).to_be_hidden(timeout=10_000)

    deadline = time.monotonic() + 5
    while e2e_api.get(f"/api/assignments/{assignment['id']}").json()["status"] != "on_scene":
        assert time.monotonic() < deadline, "queued steps never arrived"
        time.sleep(0.1)
    events = e2e_api.get("/api/events").json()["events"]
    steps = [e["type"] for e in events if e["payload"].get("id") == assignment["id"]]
    assert steps == [
        "AssignmentDispatched",
        "AssignmentDelivered",
        "AssignmentAcknowledged",
        "AssignmentEnRoute",
        "AssignmentOnScene",
    ]
    assert page_errors == []


def test_dashboard_shows_vector_layers_with_no_tile_server(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    e2e_api.post(
        "/api/demonstrations", json={"name": "Vigil", "lat": 42.3587, "lon": -71.0601, "crowd_estimate": 400}
    )
    dashboard = new_page(browser, page_errors)
    sign_in(dashboard, server, *operator_login)
    expect(dashboard.locator("#demonstrations li", has_text="Vigil")).to_be_visible()
    # The canvas renderer draws the circle even though no base tiles exist.
    assert dashboard.locator("canvas.leaflet-zoom-animated").count() >= 1
    drawn = dashboard.evaluate("() => window.eoc.demonstrations.size")
    assert drawn == 1
    assert page_errors == []
