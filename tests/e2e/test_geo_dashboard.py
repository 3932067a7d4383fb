"""The map layers at work on the dashboard: compliance alerts, coverage gaps, one-click dispatch."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Api, Server

from .conftest import new_page, sign_in

pytestmark = pytest.mark.e2e

CITY_HALL_PLAZA = (42.3604, -71.0581)  # inside the packaged default City Hall Plaza outline


def test_federal_activity_on_the_plaza_shows_an_alert_naming_the_place_and_rule(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    expect(page.locator("#alerts li")).to_have_text("No alerts")
    e2e_api.post(
        "/api/incidents",
        json={
            "kind": "federal_activity",
            "lat": CITY_HALL_PLAZA[0],
            "lon": CITY_HALL_PLAZA[1],
            "note": "staging",
        },
    )
    alert = page.locator("#alerts li[data-alert=compliance]", has_text="City Hall Plaza")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("court order")
    expect(page.locator("#incidents li", has_text="on city property: City Hall Plaza")).to_be_visible()
    assert page_errors == []


def test_a_coverage_gap_shows_and_clears_when_a_medical_team_comes_close(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    e2e_api.post(
        "/api/demonstrations",
        json={
            "name": "Plaza rally",
            "lat": CITY_HALL_PLAZA[0],
            "lon": CITY_HALL_PLAZA[1],
            "status": "active",
        },
    )
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    gap = page.locator("#alerts li[data-alert=coverage]", has_text="Plaza rally")
    expect(gap).to_contain_text("no medical team")
    unit = e2e_api.post("/api/units", json={"callsign": "MED-9", "kind": "medical_team"}).json()
    e2e_api.post(f"/api/units/{unit['id']}/position", json={"lat": 42.3610, "lon": -71.0585})
    expect(gap).to_have_count(0, timeout=5_000)
    assert page_errors == []


def test_the_nearest_team_is_dispatched_with_one_click(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    near = e2e_api.post("/api/units", json={"callsign": "MED-NEAR", "kind": "medical_team"}).json()
    far = e2e_api.post("/api/units", json={"callsign": "MED-FAR", "kind": "medical_team"}).json()
    e2e_api.post(f"/api/units/{near['id']}/position", json={"lat": 42.3610, "lon": -71.0590})
    e2e_api.post(f"/api/units/{far['id']}/position", json={"lat": 42.3500, "lon": -71.0700})
    injury = e2e_api.post(
        "/api/incidents", json={"kind": "injury", "triage": "immediate", "lat": 42.3605, "lon": -71.0585}
    ).json()
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    page.locator("#incidents li", has_text="immediate").get_by_role("button", name="Assign").click()
    first = page.locator("#recommendations .rec").first
    expect(first).to_contain_text("MED-NEAR")
    expect(page.locator("#recommendations .rec")).to_have_count(2)
    first.get_by_role("button", name="Dispatch").click()
    expect(page.locator("#assignments li", has_text="MED-NEAR")).to_be_visible()
    (assignment,) = e2e_api.get("/api/assignments").json()
    assert (assignment["unit_id"], assignment["incident_id"], assignment["kind"], assignment["priority"]) == (
        near["id"],
        injury["id"],
        "medical_aid",
        1,
    )
    assert page_errors == []


def test_map_layers_are_overlays_the_operator_can_toggle(
    browser: Browser, server: Server, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    overlays = page.locator(".leaflet-control-layers-overlays label")
    expect(overlays.filter(has_text="default-city-property")).to_have_count(1)
    toggle = overlays.filter(has_text="default-city-property").locator("input")
    assert toggle.is_checked()
    page.locator(".leaflet-control-layers").hover()
    toggle.uncheck()
    assert not toggle.is_checked()
    assert page_errors == []
