"""The rendered report in headless Chromium, and its PDFs through pdftoppm."""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser

from coordinator.reports.browser import chromium_path
from coordinator.reports.html import write_html
from coordinator.reports.pdf import write_ics214_pdf, write_pdf
from tests.unit.report_sample import sample_report

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def in_own_thread(work: Callable[[], T]) -> T:
    """Run a PDF writer as the CLI would: it starts its own Playwright, which cannot
    share a thread with the session `browser` fixture's."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result(timeout=120)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG into rows (PIL is not installed, and this is all we need)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def colours(data: bytes) -> tuple[set[bytes], float]:
    """Distinct pixel colours and the share of pixels that are not white."""
    width, channels, rows = png_pixels(data)
    seen: set[bytes] = set()
    inked = total = 0
    for row in rows:
        for x in range(0, width * channels, channels):
            pixel = row[x : x + 3]
            seen.add(pixel)
            total += 1
            inked += pixel != b"\xff\xff\xff"
    return seen, inked / max(total, 1)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_html(sample_report(), tmp_path_factory.mktemp("report"))


def test_report_opens_offline_with_its_map_and_charts(browser: Browser, report_file: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report_file.as_uri())
    page.wait_for_function("document.body.dataset.mapReady === '1'")

    report = sample_report()
    assert page.locator(".leaflet-container").count() == 1
    assert page.locator(".leaflet-overlay-pane svg path").count() > len(report["incidents"])
    assert page.locator("path.incident-marker").count() == len(report["incidents"])
    assert page.locator("path.unit-track").count() == len(report["tracks"])
    assert page.locator("path.assignment-line").count() >= 1
    assert page.locator(".leaflet-control-layers-overlays label").count() == 5
    # The heat layer drew something: some pixels of its canvas are not transparent.
    painted = page.evaluate(
        """() => { const c = document.querySelector('canvas.heat-canvas');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"""
    )
    assert painted > 500

    charts = page.locator("svg.chart")
    assert charts.count() == len(report["demonstrations"])
    for i in range(charts.count()):
        assert charts.nth(i).locator("path.tension").count() == 1
        assert charts.nth(i).bounding_box()["height"] > 100  # type: ignore[index]

    map_shot = page.locator("#map-frame").screenshot()
    seen, inked = colours(map_shot)
    assert len(seen) > 50 and inked > 0.5
    full = page.screenshot(full_page=True)
    assert len(full) > 100_000

    assert errors == []
    assert requests == [report_file.as_uri()], "the report must not load anything beside itself"
    context.close()


def pdf_pages(pdf: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(out / pdf.stem)], check=True)
    return sorted(out.glob(f"{pdf.stem}-*.png"))


def test_pdf_has_pages_and_a_map_picture(tmp_path: Path) -> None:
    pdf = in_own_thread(lambda: write_pdf(sample_report(), tmp_path, chromium=chromium_path()))
    assert pdf == tmp_path / "report.pdf" and pdf.read_bytes().startswith(b"%PDF")
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 2
    seen, inked = colours(pages[0].read_bytes())
    assert len(seen) > 20 and inked > 0.02
    # Page two is the map, photographed: plenty of colour, not an empty frame.
    seen, _ = colours(pages[1].read_bytes())
    assert len(seen) > 100


def test_one_ics214_pdf_per_unit(tmp_path: Path) -> None:
    report = sample_report()
    paths = in_own_thread(
        lambda: write_ics214_pdf(report, tmp_path, home_agency="City of Boston", chromium=chromium_path())
    )
    assert [p.name for p in paths] == [f"ics214-{u['callsign']}.pdf" for u in report["units"]]
    for path in paths:
        pages = pdf_pages(path, tmp_path)
        assert len(pages) >= 1
        _, inked = colours(pages[0].read_bytes())
        assert inked > 0.01
