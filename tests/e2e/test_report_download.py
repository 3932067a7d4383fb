"""The after-action report is a download from the dashboard, and an API call, for any window."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser

from tests.conftest import Api, Server

from .conftest import new_page, sign_in

pytestmark = pytest.mark.e2e


def _operation(api: Api) -> None:
    unit = api.post("/api/units", json={"callsign": "MED-5", "kind": "medical_team"}).json()
    api.post(f"/api/units/{unit['id']}/position", json={"lat": 42.3600, "lon": -71.0590})
    incident = api.post(
        "/api/incidents",
        json={
            "kind": "injury",
            "triage": "immediate",
            "lat": 42.3604,
            "lon": -71.0581,
            "note": "call 617-555-0100",
        },
    ).json()
    assignment = api.post(
        "/api/assignments", json={"unit_id": unit["id"], "kind": "medical_aid", "incident_id": incident["id"]}
    ).json()
    for step in ("acknowledged", "en_route", "on_scene"):
        api.post(f"/api/assignments/{assignment['id']}/status", json={"status": step})


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(minutes=5)).isoformat()}


def test_the_api_serves_the_html_report_and_a_zip_of_csv_files(server: Server, e2e_api: Api) -> None:
    _operation(e2e_api)
    html = e2e_api.get("/api/report", params={**_window(), "format": "html"})
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert "MED-5" in html.text and "617-555-0100" in html.text
    redacted = e2e_api.get("/api/report", params={**_window(), "format": "csv", "redact_notes": "true"})
    assert redacted.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(redacted.content))
    names = set(archive.namelist())
    assert {"incidents.csv", "assignments.csv", "tracks.csv"} <= names
    assert all(b"617-555-0100" not in archive.read(name) for name in names)
    bad = e2e_api.get("/api/report", params={"from": "yesterday", "to": _window()["to"]})
    assert bad.status_code == 400 and bad.json()["field"] == "from"


def test_the_dashboard_downloads_the_report_for_a_window(
    browser: Browser, server: Server, e2e_api: Api, operator_login: tuple[str, str], page_errors: list[str]
) -> None:
    _operation(e2e_api)
    page = new_page(browser, page_errors, accept_downloads=True)
    sign_in(page, server, *operator_login)
    page.click("#btn-report")
    page.select_option("#report-format", "html")
    with page.expect_download() as info:
        page.click("#report-download")
    content = info.value.path().read_text()
    assert info.value.suggested_filename == "report.html"
    assert "MED-5" in content and "<svg" in content
    assert page_errors == []


def test_report_downloads_are_limited_per_account(server: Server, e2e_api: Api) -> None:
    params = {**_window(), "format": "csv"}
    codes = [e2e_api.get("/api/report", params=params).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]
    assert "wait" in e2e_api.get("/api/report", params=params).json()["error"]
