"""Dashboard editing, base tiles that fail, and reports and declines from the tablet."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Api, Server, cli

from .conftest import new_page, sign_in

pytestmark = pytest.mark.e2e


def _wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.1)


def test_operator_creates_and_edits_a_demonstration_on_the_map(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    page.click("#btn-new-demo")
    page.click("#map", position={"x": 420, "y": 380})
    page.fill("#demo-name", "Vigil at the State House")
    page.fill("#demo-crowd", "350")
    page.select_option("#demo-tension", "2")
    page.click("#demo-save")
    row = page.locator("#demonstrations li", has_text="Vigil at the State House")
    expect(row).to_contain_text("350")

    row.get_by_role("button", name="Edit").click()
    page.select_option("#demo-tension", "4")
    page.check("#demo-federal")
    page.click("#demo-save")
    expect(row).to_contain_text("tension 4 volatile")
    expect(row).to_contain_text("federal agents")

    (demo,) = e2e_api.get("/api/demonstrations").json()
    assert (demo["name"], demo["crowd_estimate"], demo["tension"], demo["federal_presence"]) == (
        "Vigil at the State House",
        350,
        4,
        True,
    )
    types = [e["type"] for e in e2e_api.get("/api/events").json()["events"]]
    assert types.count("DemonstrationCreated") == 1 and types.count("DemonstrationUpdated") == 1


def test_a_bad_value_in_the_dialog_is_shown_with_its_field_and_changes_nothing(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    page.click("#btn-new-demo")
    page.click("#map", position={"x": 420, "y": 380})
    page.fill("#demo-name", "Out of range")
    page.fill("#demo-lat", "91")
    page.click("#demo-save")
    expect(page.locator("#demo-error")).to_contain_text("(lat)")
    assert page.locator("#demo-lat").get_attribute("aria-invalid") == "true"
    assert e2e_api.get("/api/demonstrations").json() == []


def test_vector_layers_draw_while_the_tile_server_is_unreachable(
    browser: Browser, data_dir: Path, operator_token: str, page_errors: list[str]
) -> None:
    # Port 9 (discard) has no listener here: every tile request fails.
    srv = Server(data_dir, extra_args=("--tile-url", "http://127.0.0.1:9/{z}/{x}/{y}.png")).start()
    try:
        api = Api(srv.url, operator_token)
        api.post(
            "/api/demonstrations",
            json={"name": "Rally", "lat": 42.3604, "lon": -71.0581, "crowd_estimate": 900},
        )
        api.post("/api/incidents", json={"kind": "escalation", "lat": 42.3600, "lon": -71.0590})
        assert (
            cli(
                data_dir, "user", "add", "wall", "--role", "viewer", "--password-stdin", stdin="wallscreen1\n"
            ).returncode
            == 0
        )
        page = new_page(browser, page_errors)
        sign_in(page, srv, "wall", "wallscreen1")
        expect(page.locator("#demonstrations li", has_text="Rally")).to_be_visible()
        assert page.locator("img.leaflet-tile").count() > 0  # the configured tile layer is there...
        assert _painted_pixels(page) > 500  # ...and the vector layers are painted regardless
        assert page.evaluate("() => [window.eoc.demonstrations.size, window.eoc.incidents.size]") == [1, 1]
        # A viewer sees everything but cannot act.
        assert page.locator("#btn-log-incident").is_disabled()
    finally:
        srv.stop()
    assert page_errors == []


PAINTED = """() => {
  let painted = 0;
  for (const canvas of document.querySelectorAll('#map canvas')) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
  }
  return painted;
}"""


def _painted_pixels(page: Page) -> int:
    """Count the pixels the canvas renderer has painted (demonstrations, incidents, units)."""
    count: int = page.evaluate(PAINTED)
    return count


def test_tablet_reports_an_injury_where_it_stands_and_declines_with_a_reason(
    browser: Browser, server: Server, e2e_api: Api, data_dir: Path, page_errors: list[str]
) -> None:
    unit = e2e_api.post("/api/units", json={"callsign": "DE-4", "kind": "deescalation_team"}).json()
    demo = e2e_api.post(
        "/api/demonstrations", json={"name": "March", "lat": 42.3551, "lon": -71.0662, "tension": 3}
    ).json()
    tablet = new_page(browser, page_errors)
    tablet.goto(f"{server.url}/field#token={unit['token']}")
    expect(tablet.locator("#conn")).to_have_text("Online", timeout=15_000)

    # No GPS in a headless browser: the crew taps the map where it stands.
    tablet.click("#btn-here")
    tablet.click("#map", position={"x": 300, "y": 200})
    _wait_for(lambda: e2e_api.get(f"/api/units/{unit['id']}").json()["position"] is not None)
    tablet.click("#btn-injury")
    tablet.fill("#injury-note", "Cut hand, walking")
    tablet.click("[data-triage=minor]")
    _wait_for(lambda: len(e2e_api.get("/api/incidents").json()) == 1)
    (incident,) = e2e_api.get("/api/incidents").json()
    position = e2e_api.get(f"/api/units/{unit['id']}").json()["position"]
    assert (incident["kind"], incident["triage"], incident["note"]) == (
        "injury",
        "minor",
        "Cut hand, walking",
    )
    assert (incident["lat"], incident["lon"]) == (position["lat"], position["lon"])
    assert incident["reported_by"] == f"unit:{unit['id']}"

    assignment = e2e_api.post(
        "/api/assignments",
        json={"unit_id": unit["id"], "kind": "deescalation", "demonstration_id": demo["id"]},
    ).json()
    expect(tablet.locator("#assignment-head")).to_contain_text("March")
    tablet.click("#btn-decline")
    tablet.click("[data-reason='Cannot reach the location']")
    _wait_for(lambda: e2e_api.get(f"/api/assignments/{assignment['id']}").json()["status"] == "declined")
    assert e2e_api.get(f"/api/assignments/{assignment['id']}").json()["reason"] == "Cannot reach the location"
    assert e2e_api.get(f"/api/units/{unit['id']}").json()["status"] == "available"
    expect(tablet.locator("#no-assignment")).to_be_visible()
    assert page_errors == []


def test_field_page_refuses_a_wrong_token(browser: Browser, server: Server, page_errors: list[str]) -> None:
    tablet = new_page(browser, page_errors)
    tablet.goto(f"{server.url}/field#token=not-a-real-token")
    expect(tablet.locator("#signin")).to_be_visible(timeout=15_000)
    expect(tablet.locator("#signin-error")).to_contain_text("token")


def test_units_board_replaces_only_the_row_that_changed(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    sent = e2e_api.post("/api/units", json={"callsign": "MED-1", "kind": "medical_team"}).json()
    idle = e2e_api.post("/api/units", json={"callsign": "MED-2", "kind": "medical_team"}).json()
    demo = e2e_api.post("/api/demonstrations", json={"name": "Vigil", "lat": 42.3601, "lon": -71.0589}).json()
    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    idle_row = page.locator(f"#units li[data-id='{idle['id']}']")
    expect(idle_row).to_contain_text("available")
    idle_row.evaluate("li => { li.dataset.untouched = 'yes'; }")  # gone if the row is rebuilt

    e2e_api.post(
        "/api/assignments",
        json={"unit_id": sent["id"], "kind": "deescalation", "demonstration_id": demo["id"]},
    )
    sent_row = page.locator(f"#units li[data-id='{sent['id']}']")
    expect(sent_row).to_contain_text("Vigil")
    expect(sent_row).to_contain_text("assigned")
    assert idle_row.get_attribute("data-untouched") == "yes"
    # The list keeps its order (medical teams by callsign) and one row per unit.
    assert page.locator("#units li").evaluate_all("rows => rows.map(r => r.dataset.id)") == [
        sent["id"],
        idle["id"],
    ]
    assert page_errors == []
