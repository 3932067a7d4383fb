"""The report's map: folium layers, rendered without any network dependency.

folium writes <script src> and <link href> tags to CDNs (Leaflet, jQuery,
Bootstrap, awesome-markers). The report must open offline and be archived as
one file, so we keep only folium's map <div> and script, and inline the
vendored Leaflet plus our own small heat layer instead. Only plain vector
layers and tooltips are used: popups and icon markers need jQuery/Bootstrap.
"""

from __future__ import annotations

import base64
import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
from branca.element import Figure
from jinja2 import Template

from coordinator.domain.timefmt import parse_iso
from coordinator.reports.charts import tension_colour
from coordinator.reports.fmt import Clock, esc, humanize
from coordinator.resources import asset_dir

INCIDENT_COLOURS = {
    "federal_activity": "#6a1b9a",
    "use_of_force": "#ad1457",
    "property_damage": "#6d4c41",
    "warrantless_entry": "#283593",
    "escalation": "#00838f",
    "other": "#546e7a",
}
TRIAGE_COLOURS = {"immediate": "#d50000", "delayed": "#ff8f00", "minor": "#fdd835", None: "#e57373"}
UNIT_COLOURS = ["#1e88e5", "#43a047", "#8e24aa", "#00acc1", "#f4511e", "#6d4c41", "#c0ca33", "#3949ab"]
# Assignments are dark dashed lines, told apart by dash pattern, never by a unit's track colour.
ASSIGNMENT_COLOURS = {"completed": "#263238", "declined": "#9e9e9e", "cancelled": "#9e9e9e"}
ASSIGNMENT_ACTIVE = "#263238"
ASSIGNMENT_DASHES = {"completed": "2 6", "declined": "8 6", "cancelled": "8 6"}
ASSIGNMENT_ACTIVE_DASH = "10 6"

_HERE = Path(__file__).resolve().parent


def incident_colour(incident: dict[str, Any]) -> str:
    if incident.get("kind") == "injury":
        return TRIAGE_COLOURS.get(incident.get("triage"), TRIAGE_COLOURS[None])
    return INCIDENT_COLOURS.get(str(incident.get("kind")), INCIDENT_COLOURS["other"])


def unit_colours(report: dict[str, Any]) -> dict[str, str]:
    """One stable colour per unit, in report order, shared by the map and the legend."""
    ids = [u["id"] for u in report.get("units", [])]
    ids += [uid for uid in report.get("tracks", {}) if uid not in ids]
    return {uid: UNIT_COLOURS[i % len(UNIT_COLOURS)] for i, uid in enumerate(ids)}


def _tooltip_text(*lines: str) -> str:
    """Escape for HTML, then for the JS template literal folium wraps tooltips in."""
    text = "<br>".join(esc(line) for line in lines if line)
    return text.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def _tooltip(*lines: str) -> folium.Tooltip:
    return folium.Tooltip(_tooltip_text(*lines), sticky=True)


class HeatLayer(folium.map.Layer):
    """Our canvas heat layer (heat.js) as a folium layer, so the layer control lists it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.heatCanvas({{ this.points|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, points: list[list[float]], name: str, radius: int = 30) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "HeatLayer"
        self.points = points
        self.options = {"radius": radius}


def _add_demonstrations(report: dict[str, Any], fmap: folium.Map, clock: Clock) -> None:
    group = folium.FeatureGroup(name="Demonstrations")
    for demo in report.get("demonstrations", []):
        if demo.get("lat") is None or demo.get("lon") is None:
            continue
        crowd = demo.get("crowd_estimate") or 0
        # Area grows with the crowd, bounded so a big rally does not hide the incidents.
        radius = max(60.0, min(260.0, 2.2 * float(crowd) ** 0.5))
        colour = tension_colour(demo.get("tension"))
        folium.Circle(
            location=[demo["lat"], demo["lon"]],
            radius=radius,
            color=colour,
            weight=2,
            fill=True,
            fill_color=colour,
            fill_opacity=0.18,
            class_name="demo-area",
            tooltip=_tooltip(
                str(demo.get("name", "")),
                f"Tension {demo.get('tension')} of 5, crowd about {int(crowd):,}",
                "Federal presence reported" if demo.get("federal_presence") else "",
                f"Status: {humanize(demo.get('status'))}",
            ),
        ).add_to(group)
    group.add_to(fmap)


def _add_incidents(report: dict[str, Any], fmap: folium.Map, clock: Clock) -> None:
    group = folium.FeatureGroup(name="Incidents")
    for incident in report.get("incidents", []):
        if incident.get("lat") is None or incident.get("lon") is None:
            continue
        kind = humanize(incident.get("kind"))
        if incident.get("triage"):
            kind += f" ({incident['triage']})"
        folium.CircleMarker(
            location=[incident["lat"], incident["lon"]],
            radius=7,
            color="#ffffff",
            weight=2,
            fill=True,
            fill_color=incident_colour(incident),
            fill_opacity=0.95,
            class_name="incident-marker",
            tooltip=_tooltip(
                f"{kind} at {clock.time(incident.get('reported_at'))}",
                str(incident.get("note") or ""),
                "Federal involvement" if incident.get("federal_involved") else "",
            ),
        ).add_to(group)
    group.add_to(fmap)


def _add_tracks(report: dict[str, Any], fmap: folium.Map, colours: dict[str, str]) -> None:
    group = folium.FeatureGroup(name="Unit tracks")
    callsigns = {u["id"]: u.get("callsign") or u["id"] for u in report.get("units", [])}
    for unit_id, points in report.get("tracks", {}).items():
        line = [[p[0], p[1]] for p in points if len(p) >= 2]
        if len(line) < 2:
            continue
        folium.PolyLine(  # type: ignore[no-untyped-call]
            line,
            color=colours.get(unit_id, UNIT_COLOURS[0]),
            weight=3,
            opacity=0.85,
            class_name="unit-track",
            tooltip=_tooltip(f"Track of {callsigns.get(unit_id, unit_id)}", f"{len(line)} fixes"),
        ).add_to(group)
    group.add_to(fmap)


@dataclass(frozen=True)
class _Fix:
    at: float
    lat: float
    lon: float


def _fixes(points: list[list[Any]]) -> list[_Fix]:
    out = []
    for point in points:
        try:
            out.append(_Fix(parse_iso(str(point[2])).timestamp(), float(point[0]), float(point[1])))
        except (IndexError, TypeError, ValueError):
            continue
    return sorted(out, key=lambda f: f.at)


def position_at(points: list[list[Any]], at: str | None) -> tuple[float, float] | None:
    """The unit's last fix at or before `at`: where it was when dispatched, if known."""
    if not at:
        return None
    fixes = _fixes(points)
    index = bisect_right([f.at for f in fixes], parse_iso(at).timestamp())
    if index == 0:
        return None
    fix = fixes[index - 1]
    return fix.lat, fix.lon


def _add_assignments(report: dict[str, Any], fmap: folium.Map) -> None:
    group = folium.FeatureGroup(name="Assignments")
    tracks = report.get("tracks", {})
    for assignment in report.get("assignments", []):
        target = (assignment.get("target_lat"), assignment.get("target_lon"))
        if None in target:
            continue
        start = position_at(tracks.get(assignment.get("unit_id"), []), assignment["times"].get("dispatched"))
        if start is None:
            continue
        status = str(assignment.get("status"))
        folium.PolyLine(  # type: ignore[no-untyped-call]
            [list(start), list(target)],
            color=ASSIGNMENT_COLOURS.get(status, ASSIGNMENT_ACTIVE),
            weight=2.5,
            dash_array=ASSIGNMENT_DASHES.get(status, ASSIGNMENT_ACTIVE_DASH),
            class_name="assignment-line",
            tooltip=_tooltip(
                f"{assignment.get('callsign')}: {humanize(assignment.get('kind'))}",
                f"Outcome: {humanize(status)}",
            ),
        ).add_to(group)
    group.add_to(fmap)


def _bounds(report: dict[str, Any]) -> list[list[float]]:
    points = [
        (item["lat"], item["lon"])
        for key in ("demonstrations", "incidents")
        for item in report.get(key, [])
        if item.get("lat") is not None and item.get("lon") is not None
    ]
    points += [(p[0], p[1]) for track in report.get("tracks", {}).values() for p in track]
    if not points:
        return []
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


@dataclass(frozen=True)
class MapParts:
    """What the page needs: the map's element and its script, folium's CDN links removed."""

    div: str
    script: str
    element_id: str


def build_map(
    report: dict[str, Any], clock: Clock, *, tiles: str | None = None, attribution: str = ""
) -> MapParts:
    """Render the map's layers; `tiles` is an optional tile URL (it makes the map need a network)."""
    bounds = _bounds(report)
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2] if bounds else [0, 0]
    # Quarter zoom steps let the fitted view fill the frame instead of jumping a whole level out.
    fmap = folium.Map(location=centre, zoom_start=15, tiles=None, control_scale=True, zoom_snap=0.25)
    # Instance attributes, not the class lists, so other folium users in the process are unaffected.
    fmap.default_js = []
    fmap.default_css = []
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attribution or "Map tiles", name="Base map").add_to(fmap)
    weights = [
        [i["lat"], i["lon"], min(1.0, max(0.2, float(i.get("severity") or 1) / 3))]
        for i in report.get("incidents", [])
        if i.get("lat") is not None and i.get("lon") is not None
    ]
    HeatLayer(weights, name="Incident density").add_to(fmap)
    _add_demonstrations(report, fmap, clock)
    _add_tracks(report, fmap, unit_colours(report))
    _add_assignments(report, fmap)
    _add_incidents(report, fmap, clock)
    folium.LayerControl(collapsed=False).add_to(fmap)
    if bounds:
        fmap.fit_bounds(bounds, padding=(30, 30), max_zoom=17)
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    figure.render()  # populates the figure's html and script children
    return MapParts(figure.html.render(), figure.script.render(), fmap.get_name())


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _safe_in_script(code: str) -> str:
    """Keep inlined JS from closing its own <script> element early."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def inline_assets() -> tuple[str, str]:
    """Return (css, js) for Leaflet and the heat layer, with Leaflet's images as data URIs."""
    leaflet = asset_dir("static") / "vendor" / "leaflet"
    css = (leaflet / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(
        r"url\((['\"]?)images/([\w.-]+\.png)\1\)",
        lambda m: f"url({_data_uri(leaflet / 'images' / m.group(2))})",
        css,
    )
    js = (leaflet / "leaflet.js").read_text(encoding="utf-8") + "\n" + (_HERE / "heat.js").read_text("utf-8")
    return css, _safe_in_script(js)


__all__ = ["MapParts", "build_map", "incident_colour", "inline_assets", "position_at"]
