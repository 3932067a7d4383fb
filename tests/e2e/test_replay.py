"""Replay: the dashboard shows any past moment, rebuilt from the event log, then returns to live."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Api, Server

from .conftest import new_page, sign_in

pytestmark = pytest.mark.e2e


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _show(page: Page, moment_ms: int) -> None:
    page.evaluate(
        """(ms) => { const s = document.getElementById('replay-slider'); s.value = ms;
                     s.dispatchEvent(new Event('input')); }""",
        moment_ms,
    )


def test_replay_shows_the_past_and_returns_to_live(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    demo = e2e_api.post(
        "/api/demonstrations",
        json={"name": "Rally", "lat": 42.3604, "lon": -71.0581, "tension": 1, "status": "active"},
    ).json()
    time.sleep(1.2)
    calm = _now_ms()
    time.sleep(1.2)
    e2e_api.patch(f"/api/demonstrations/{demo['id']}", json={"tension": 4})
    e2e_api.post(
        "/api/incidents", json={"kind": "injury", "triage": "immediate", "lat": 42.3601, "lon": -71.0585}
    )

    page = new_page(browser, page_errors)
    sign_in(page, server, *operator_login)
    row = page.locator("#demonstrations li", has_text="Rally")
    expect(row).to_contain_text("tension 4")
    page.click("#btn-replay")
    expect(page.locator("#replay-bar")).to_be_visible()
    expect(page.locator("#conn")).to_contain_text("Replay")

    _show(page, calm)
    expect(row).to_contain_text("tension 1 calm")
    expect(page.locator("#incidents li")).to_have_text("No open incidents")
    assert page.locator("#btn-log-incident").is_disabled()

    # Live changes do not leak into the past on screen.
    e2e_api.post("/api/incidents", json={"kind": "other", "lat": 42.36, "lon": -71.06})
    time.sleep(0.6)
    expect(page.locator("#incidents li")).to_have_text("No open incidents")

    page.click("#replay-exit")
    expect(page.locator("#conn")).to_have_text("Live")
    expect(row).to_contain_text("tension 4")
    expect(page.locator("#incidents li")).to_have_count(2)
    assert page_errors == []


def test_the_replay_api_folds_the_log_up_to_the_moment(server: Server, e2e_api: Api) -> None:
    unit = e2e_api.post("/api/units", json={"callsign": "MED-1", "kind": "medical_team"}).json()
    e2e_api.post(f"/api/units/{unit['id']}/position", json={"lat": 42.30, "lon": -71.10})
    time.sleep(1.2)
    before = datetime.now(UTC).isoformat()
    time.sleep(1.2)
    e2e_api.post(f"/api/units/{unit['id']}/position", json={"lat": 42.36, "lon": -71.06})
    e2e_api.post("/api/incidents", json={"kind": "other", "lat": 42.36, "lon": -71.06})
    time.sleep(0.6)  # the fixes reach the track store with the next batch
    past = e2e_api.get("/api/replay/state", params={"at": before}).json()
    assert past["replay"] is True and past["incidents"] == []
    assert past["positions"][unit["id"]]["lat"] == 42.30
    now = e2e_api.get("/api/replay/state", params={"at": datetime.now(UTC).isoformat()}).json()
    assert len(now["incidents"]) == 1 and now["positions"][unit["id"]]["lat"] == 42.36
    assert now["seq"] == e2e_api.get("/api/state").json()["seq"]
    bad = e2e_api.get("/api/replay/state", params={"at": "yesterday"})
    assert bad.status_code == 400 and bad.json()["field"] == "at"
    span = e2e_api.get("/api/replay").json()
    assert span["start"] <= span["end"] and span["seq"] == now["seq"]
