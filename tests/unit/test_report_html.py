"""The HTML after-action report: self-contained, escaped, complete."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pytest

from coordinator.reports.html import render_html, write_html
from tests.unit.report_sample import HOSTILE_NOTE, sample_report


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


def test_no_external_script_or_stylesheet(page: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", page, re.IGNORECASE)
    assert not re.search(r"@import", page, re.IGNORECASE)
    # Leaflet's own images are inlined too, so no file beside the report is needed.
    assert "url(images/" not in page
    assert "L.map(" in page and "L.heatCanvas(" in page


def test_person_typed_notes_are_escaped(page: str) -> None:
    assert HOSTILE_NOTE not in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;" in page


def test_every_assignment_and_alert_and_footage_request_is_listed(page: str) -> None:
    report = sample_report()
    for assignment in report["assignments"]:
        assert f"id='assignment-{assignment['id']}'" in page
    for alert in report["compliance_alerts"]:
        assert f'id="alert-{alert["id"]}"' in page
        for place in alert["places"]:
            assert escape(place["name"]) in page and escape(place["rule"]) in page
    for request in report["footage_requests"]:
        assert f'id="footage-{request["id"]}"' in page
        for camera in request["cameras"]:
            assert escape(camera["name"]) in page


def test_targets_are_marked_met_or_not_met(page: str) -> None:
    rows = sample_report()["response_times"]
    assert page.count("✔ Met") == sum(1 for r in rows if r["met"] is True)
    assert page.count("✘ Not met") == sum(1 for r in rows if r["met"] is False)
    assert page.count("No target") == sum(1 for r in rows if r["met"] is None)


def test_a_chart_per_demonstration(page: str) -> None:
    assert page.count('<svg class="chart"') == len(sample_report()["demonstrations"])
    assert '<path class="tension"' in page


def test_redaction_notice_only_when_redacted(page: str) -> None:
    assert "Redacted edition" not in page
    assert "Redacted edition" in render_html(sample_report(redacted=True))


def test_times_are_shown_in_the_city_zone(page: str) -> None:
    # 16:12 UTC is 12:12 in Boston in June.
    assert "12:12:00" in page and "EDT" in page


def test_write_html_writes_report_html(tmp_path: Path) -> None:
    path = write_html(sample_report(), tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
