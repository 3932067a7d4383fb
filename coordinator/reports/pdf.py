"""The after-action report and per-unit ICS-214 activity logs as PDF.

Printed by Chromium from the same HTML readers open, so the two never differ.
A live Leaflet map does not print reliably (tiles of SVG, controls, clipping),
so the drawn map is photographed and swapped in as a PNG before printing.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from coordinator.reports.browser import new_page, open_browser, print_pdf
from coordinator.reports.html import render_html
from coordinator.reports.ics214_form import render_ics214

# Print proportions for the map (A4 text width by 150 mm), so the photo is not stretched.
_MAP_SHOT = {"width": 1000, "height": 815}

_FREEZE_MAP = """
async ({width, height}) => {
  const frame = document.getElementById('map-frame');
  const mapEl = frame && frame.querySelector('.folium-map');
  if (!mapEl) return false;
  frame.style.width = width + 'px';
  frame.style.height = height + 'px';
  const map = window[document.body.dataset.mapId];
  if (map) {
    map.invalidateSize({animate: false});
    const layers = Object.values(map._layers).filter(l => l.getBounds && l.getBounds().isValid());
    if (layers.length) {
      const bounds = layers.reduce((b, l) => b.extend(l.getBounds()), L.latLngBounds([]));
      map.fitBounds(bounds, {padding: [30, 30], maxZoom: 17, animate: false});
    }
  }
  // Controls are for hands, not paper.
  frame.querySelectorAll('.leaflet-control-zoom, .leaflet-control-layers')
       .forEach(el => el.style.display = 'none');
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
}
"""

_SWAP_IN = """
(src) => {
  const frame = document.getElementById('map-frame');
  frame.innerHTML = '';
  frame.style.width = '';
  frame.style.height = '';
  frame.classList.add('static');
  const img = document.createElement('img');
  img.className = 'map-image';
  img.alt = 'Map of demonstrations, incidents, unit tracks and assignments';
  img.src = src;
  frame.appendChild(img);
  return img.decode();
}
"""


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "unit"


def write_pdf(report: dict[str, Any], out_dir: Path, *, chromium: str | None = None) -> Path:
    """Write `report.pdf` into `out_dir`: the HTML report with its map as a picture."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.pdf"
    with open_browser(chromium) as browser:
        page = new_page(browser)
        page.set_content(render_html(report), wait_until="load")
        page.wait_for_function("document.body.dataset.mapReady === '1'", timeout=15_000)
        if page.evaluate(_FREEZE_MAP, _MAP_SHOT):
            shot = page.locator("#map-frame").screenshot(type="png", animations="disabled")
            page.evaluate(_SWAP_IN, "data:image/png;base64," + base64.b64encode(shot).decode("ascii"))
        print_pdf(page, path, footer=str(report.get("title") or "After-action report"))
    return path


def write_ics214_pdf(
    report: dict[str, Any],
    out_dir: Path,
    *,
    home_agency: str = "City of Boston",
    prepared_by: str = "Coordinator",
    chromium: str | None = None,
) -> list[Path]:
    """Write one ICS-214 Activity Log per unit (`ics214-<callsign>.pdf`) and return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    units = report.get("units", [])
    if not units:
        return paths
    with open_browser(chromium) as browser:
        page = new_page(browser)
        taken: set[str] = set()
        for unit in units:
            name = _safe_name(str(unit.get("callsign") or unit.get("id")))
            # Two units may share a callsign after redaction; never overwrite one's log with another's.
            while name in taken:
                name += "-" + _safe_name(str(unit.get("id")))
            taken.add(name)
            page.set_content(
                render_ics214(report, unit, home_agency=home_agency, prepared_by=prepared_by),
                wait_until="load",
            )
            label = f"ICS 214 · {unit.get('callsign') or unit.get('id')}"
            paths.append(print_pdf(page, out_dir / f"ics214-{name}.pdf", footer=label))
    return paths
