"""Exports of a report dict (see data.py): CSV tables, GeoJSON layers and ICS-214 activity logs.

Every writer reads only the report, so what a file says is what the report says. A
redacted report already has its free text emptied; the writers add none back.
"""

from __future__ import annotations

import bisect
import csv
import json
from pathlib import Path
from typing import Any

from ..domain.model import ASSIGNMENT_STATUSES
from .ics214_csv import write_ics214_csv

__all__ = ["origin_at_dispatch", "write_csv", "write_geojson", "write_ics214_csv"]

INCIDENT_COLUMNS = (
    "id",
    "kind",
    "reported_at",
    "lat",
    "lon",
    "severity",
    "triage",
    "status",
    "demonstration_id",
    "federal_involved",
    "neighborhood",
    "city_property",
    "sensitive_sites",
    "reported_by",
    "note",
)
ASSIGNMENT_COLUMNS = (
    "id",
    "unit_id",
    "callsign",
    "kind",
    "target_type",
    "target_id",
    "target_lat",
    "target_lon",
    "priority",
    "status",
    "dispatched_by",
    "reason",
    "note",
    # One column per lifecycle step, so a spreadsheet can subtract any two.
    *(f"{step}_at" for step in ASSIGNMENT_STATUSES),
)
TRACK_COLUMNS = ("unit_id", "callsign", "lat", "lon", "at")


def _write_rows(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cell(value: Any) -> Any:
    # Lists of place names in one cell; None as an empty cell, as spreadsheets expect.
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else value


def _callsigns(report: dict[str, Any]) -> dict[str, str]:
    return {unit["id"]: unit["callsign"] for unit in report["units"]}


def write_csv(report: dict[str, Any], out_dir: Path | str) -> list[Path]:
    """Write incidents.csv, assignments.csv and tracks.csv; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    incidents = [{c: _cell(i[c]) for c in INCIDENT_COLUMNS} for i in report["incidents"]]
    assignments = []
    for a in report["assignments"]:
        row = {c: _cell(a[c]) for c in ASSIGNMENT_COLUMNS if not c.endswith("_at")}
        row.update({f"{step}_at": a["times"].get(step, "") for step in ASSIGNMENT_STATUSES})
        assignments.append(row)
    callsigns = _callsigns(report)
    tracks = [
        {"unit_id": unit_id, "callsign": callsigns.get(unit_id, ""), "lat": lat, "lon": lon, "at": at}
        for unit_id, points in report["tracks"].items()
        for lat, lon, at in points
    ]
    return [
        _write_rows(out / "incidents.csv", INCIDENT_COLUMNS, incidents),
        _write_rows(out / "assignments.csv", ASSIGNMENT_COLUMNS, assignments),
        _write_rows(out / "tracks.csv", TRACK_COLUMNS, tracks),
    ]


def origin_at_dispatch(report: dict[str, Any], assignment: dict[str, Any]) -> list[Any] | None:
    """The unit's last track point at or before the dispatch ([lat, lon, at]), or None.

    build_report pins that fix in the thinned track, so it is the real nearest fix.
    """
    points = report["tracks"].get(assignment["unit_id"], [])
    index = bisect.bisect_right([p[2] for p in points], assignment["times"]["dispatched"]) - 1
    return points[index] if index >= 0 else None


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _collection(path: Path, features: list[dict[str, Any]]) -> Path:
    # RFC 7946: WGS 84 lon/lat is the only CRS, so no "crs" member is written.
    with path.open("w", encoding="utf-8") as handle:
        json.dump({"type": "FeatureCollection", "features": features}, handle)
    return path


def _line_or_point(positions: list[list[float]]) -> dict[str, Any]:
    # A LineString needs two positions (RFC 7946 3.1.4); a lone fix is a Point.
    if len(positions) >= 2:
        return {"type": "LineString", "coordinates": positions}
    return {"type": "Point", "coordinates": positions[0]}


def write_geojson(report: dict[str, Any], out_dir: Path | str) -> list[Path]:
    """Write incidents.geojson, assignments.geojson and tracks.geojson (EPSG:4326, lon/lat)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    incidents = [
        _feature(
            {"type": "Point", "coordinates": [i["lon"], i["lat"]]},
            {k: v for k, v in i.items() if k not in ("lat", "lon")},
        )
        for i in report["incidents"]
    ]
    assignments = []
    for a in report["assignments"]:
        origin = origin_at_dispatch(report, a)
        target = [a["target_lon"], a["target_lat"]]
        positions = [target] if origin is None else [[origin[1], origin[0]], target]
        properties = {k: v for k, v in a.items() if k not in ("target_lat", "target_lon")}
        properties["origin_at"] = None if origin is None else origin[2]
        assignments.append(_feature(_line_or_point(positions), properties))
    callsigns = _callsigns(report)
    tracks = [
        _feature(
            _line_or_point([[lon, lat] for lat, lon, _at in points]),
            {
                "unit_id": unit_id,
                "callsign": callsigns.get(unit_id, ""),
                "start": points[0][2],
                "end": points[-1][2],
                "times": [at for _lat, _lon, at in points],
            },
        )
        for unit_id, points in report["tracks"].items()
        if points
    ]
    return [
        _collection(out / "incidents.geojson", incidents),
        _collection(out / "assignments.geojson", assignments),
        _collection(out / "tracks.geojson", tracks),
    ]
