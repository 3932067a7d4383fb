"""CSV, GeoJSON and ICS-214 exports of a report, and the `coordinator report` command end to end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coordinator.reports.data import build_report
from coordinator.reports.exports import write_csv, write_geojson, write_ics214_csv

from .report_operation import NOTES, W0, W1, Operation, build_operation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Operation:
    return build_operation(tmp_path_factory.mktemp("op") / "data")


def make_report(operation: Operation, **kwargs: Any) -> dict[str, Any]:
    log, tracks = operation.open()
    try:
        return build_report(log, tracks, start=W0, end=W1, **kwargs)
    finally:
        log.close()
        tracks.close()


@pytest.fixture(scope="module")
def report(operation: Operation) -> dict[str, Any]:
    return make_report(operation)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_files_hold_one_row_per_record(report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_csv(report, tmp_path)
    assert [p.name for p in paths] == ["incidents.csv", "assignments.csv", "tracks.csv"]
    incidents = read_csv(tmp_path / "incidents.csv")
    assert [r["id"] for r in incidents] == [i["id"] for i in report["incidents"]]
    for row, inc in zip(incidents, report["incidents"], strict=True):
        assert (float(row["lat"]), float(row["lon"]), row["kind"], row["note"]) == (
            inc["lat"],
            inc["lon"],
            inc["kind"],
            inc["note"],
        )
        assert row["triage"] == (inc["triage"] or "")
        assert row["city_property"] == "; ".join(inc["city_property"])
    assignments = read_csv(tmp_path / "assignments.csv")
    assert [r["id"] for r in assignments] == [a["id"] for a in report["assignments"]]
    steps = (
        "dispatched",
        "delivered",
        "acknowledged",
        "en_route",
        "on_scene",
        "completed",
        "declined",
        "cancelled",
    )
    assert [c for c in assignments[0] if c.endswith("_at")] == [f"{s}_at" for s in steps]
    for row, a in zip(assignments, report["assignments"], strict=True):
        assert {s: row[f"{s}_at"] for s in steps} == {s: a["times"].get(s, "") for s in steps}
        assert (row["callsign"], row["status"], row["target_id"]) == (
            a["callsign"],
            a["status"],
            a["target_id"],
        )
    tracks = read_csv(tmp_path / "tracks.csv")
    assert list(tracks[0]) == ["unit_id", "callsign", "lat", "lon", "at"]
    assert len(tracks) == sum(len(points) for points in report["tracks"].values())
    callsigns = {u["id"]: u["callsign"] for u in report["units"]}
    expected = [
        (unit_id, callsigns[unit_id], lat, lon, at)
        for unit_id, pts in report["tracks"].items()
        for lat, lon, at in pts
    ]
    assert [
        (r["unit_id"], r["callsign"], float(r["lat"]), float(r["lon"]), r["at"]) for r in tracks
    ] == expected


def check_position(position: Any) -> None:
    """RFC 7946 position in EPSG:4326: [lon, lat], lon first (Boston: lon -71, lat 42)."""
    assert isinstance(position, list) and len(position) == 2
    lon, lat = position
    assert -72 < lon < -70 and 42 < lat < 43


def check_geometry(geometry: dict[str, Any]) -> None:
    if geometry["type"] == "Point":
        check_position(geometry["coordinates"])
    else:
        assert geometry["type"] == "LineString" and len(geometry["coordinates"]) >= 2
        for position in geometry["coordinates"]:
            check_position(position)


def load_collection(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and "crs" not in data
    for feature in data["features"]:
        assert feature["type"] == "Feature" and isinstance(feature["properties"], dict)
        check_geometry(feature["geometry"])
    features: list[dict[str, Any]] = data["features"]
    return features


def test_geojson_layers_are_rfc7946_lon_lat(report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_geojson(report, tmp_path)
    assert [p.name for p in paths] == ["incidents.geojson", "assignments.geojson", "tracks.geojson"]
    incidents = load_collection(tmp_path / "incidents.geojson")
    assert [f["properties"]["id"] for f in incidents] == [i["id"] for i in report["incidents"]]
    for feature, inc in zip(incidents, report["incidents"], strict=True):
        assert feature["geometry"] == {"type": "Point", "coordinates": [inc["lon"], inc["lat"]]}
    assignments = load_collection(tmp_path / "assignments.geojson")
    assert [f["properties"]["id"] for f in assignments] == [a["id"] for a in report["assignments"]]
    for feature, a in zip(assignments, report["assignments"], strict=True):
        line = feature["geometry"]
        assert line["type"] == "LineString"
        # From the unit's last fix at or before the dispatch, to the target.
        fixes = [p for p in report["tracks"][a["unit_id"]] if p[2] <= a["times"]["dispatched"]]
        assert line["coordinates"] == [[fixes[-1][1], fixes[-1][0]], [a["target_lon"], a["target_lat"]]]
        assert feature["properties"]["origin_at"] == fixes[-1][2]
    tracks = load_collection(tmp_path / "tracks.geojson")
    assert [f["properties"]["unit_id"] for f in tracks] == list(report["tracks"])
    for feature in tracks:
        points = report["tracks"][feature["properties"]["unit_id"]]
        assert feature["geometry"]["coordinates"] == [[lon, lat] for lat, lon, _ in points]
        assert feature["properties"]["times"] == [at for _, _, at in points]


def test_an_assignment_with_no_fix_before_dispatch_is_the_target_point(
    report: dict[str, Any], tmp_path: Path
) -> None:
    bare = {**report, "tracks": {}}
    features = load_collection(write_geojson(bare, tmp_path)[1])
    for feature, a in zip(features, report["assignments"], strict=True):
        assert feature["geometry"] == {"type": "Point", "coordinates": [a["target_lon"], a["target_lat"]]}
        assert feature["properties"]["origin_at"] is None


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_ics214_one_log_per_unit_with_every_block(report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_ics214_csv(
        report, tmp_path, home_agency="City of Boston EOC", unit_leader_position="Team lead"
    )
    assert [p.name for p in paths] == [f"ics214-{u['callsign']}.csv" for u in report["units"]]
    for unit, path in zip(report["units"], paths, strict=True):
        rows = read_rows(path)
        blocks = {row[0]: row[1:] for row in rows if row and row[0]}
        assert blocks["1. Incident Name"] == [report["title"]]
        assert blocks["2. Operational Period"] == [
            "Date/Time From",
            report["window"]["start"],
            "Date/Time To",
            report["window"]["end"],
        ]
        assert blocks["3. Name"] == [unit["callsign"]]
        assert blocks["4. ICS Position"] == ["Team lead"]
        assert blocks["5. Home Agency (and Unit)"] == ["City of Boston EOC"]
        assert blocks["8. Prepared by"] == ["Name", "Coordinator", "Date/Time", report["generated_at"]]
        resources = rows[[r[0] for r in rows].index("6. Resources Assigned") + 1]
        assert resources[1] == f"{unit['callsign']} ({unit['kind']})"
        start = [r[0] for r in rows].index("7. Activity Log") + 1
        end = [r[0] for r in rows].index("8. Prepared by")
        activity = [(r[1], r[2]) for r in rows[start:end]]
        expected_times = sorted(
            at for a in report["assignments"] if a["unit_id"] == unit["id"] for at in a["times"].values()
        )
        assert [at for at, _ in activity] == expected_times
        for a in report["assignments"]:
            if a["unit_id"] == unit["id"]:
                assert sum(a["id"] in text for _, text in activity) == len(a["times"])
    sup1 = read_rows(tmp_path / "ics214-SUP-1.csv")
    declined = [r for r in sup1 if len(r) > 2 and r[2].startswith("Declined")]
    assert len(declined) == 1 and NOTES["decline"] in declined[0][2]
    assert "federal_activity" in declined[0][2]


def all_text(directory: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(directory.iterdir()))


def test_redacted_exports_hold_no_note(operation: Operation, tmp_path: Path) -> None:
    report = make_report(operation, redact_notes=True)
    written = (
        write_csv(report, tmp_path) + write_geojson(report, tmp_path) + write_ics214_csv(report, tmp_path)
    )
    assert len(written) == 6 + len(report["units"])
    text = all_text(tmp_path)
    for note in NOTES.values():
        assert note not in text
    plain = tmp_path / "plain"
    unredacted = make_report(operation)
    write_csv(unredacted, plain)
    write_ics214_csv(unredacted, plain)
    assert NOTES["i1"] in all_text(plain) and NOTES["decline"] in all_text(plain)


# --- the command ------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coordinator.cli", "report", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def data_dir(operation: Operation) -> Path:
    return operation.db_path.parent


# The end given with an offset: 09:10 in Boston (EDT) is 13:10 UTC.
WINDOW = ("--from", "2025-06-01T12:10:00Z", "--to", "2025-06-01T09:10:00-04:00")


@pytest.mark.parametrize(
    ("fmt", "names"),
    [
        ("csv", ["incidents.csv", "assignments.csv", "tracks.csv"]),
        ("geojson", ["incidents.geojson", "assignments.geojson", "tracks.geojson"]),
        (
            "ics214",
            [f"ics214-{c}.csv" for c in ("MED-1", "MED-2", "MED-3", "DEE-1", "DEE-2", "SUP-1", "SUP-2")],
        ),
    ],
)
def test_report_command_writes_each_format(
    fmt: str, names: list[str], data_dir: Path, tmp_path: Path, report: dict[str, Any]
) -> None:
    out = tmp_path / "out"
    done = cli(*WINDOW, "--format", fmt, "--out", str(out), "--data-dir", str(data_dir), "--redact-notes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(out / name) for name in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    text = all_text(out)
    for note in NOTES.values():
        assert note not in text
    if fmt == "csv":
        assert [r["id"] for r in read_csv(out / "assignments.csv")] == [
            a["id"] for a in report["assignments"]
        ]


def test_report_command_for_one_demonstration(operation: Operation, data_dir: Path, tmp_path: Path) -> None:
    done = cli(
        "--from", "2025-06-01T12:10:00Z", "--to", "2025-06-01T13:10:00Z", "--format", "ics214",
        "--demonstration", operation.ids["demoB"], "--out", str(tmp_path), "--data-dir", str(data_dir),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ics214-MED-2.csv",
        "ics214-SUP-1.csv",
        "ics214-SUP-2.csv",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-06-01T13:10:00Z", "--to", "2025-06-01T12:10:00Z"], "--to must be after --from"),
        (["--from", "2025-06-01T12:10:00Z", "--to", "2025-06-01T12:10:00Z"], "--to must be after --from"),
        (["--from", "2025-06-01T12:10:00", "--to", "2025-06-01T13:10:00Z"], "--from must be an ISO 8601"),
        (["--from", "yesterday", "--to", "2025-06-01T13:10:00Z"], "--from must be an ISO 8601"),
        (
            [
                "--from",
                "2025-06-01T12:10:00Z",
                "--to",
                "2025-06-01T13:10:00Z",
                "--demonstration",
                "dem-000000000000",
            ],
            "no demonstration 'dem-000000000000'",
        ),
    ],
)
def test_report_command_refuses_bad_input_with_exit_2(
    args: list[str], message: str, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = cli(*args, "--format", "csv", "--out", str(out), "--data-dir", str(data_dir))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert done.stdout == "" and not out.exists()


def test_report_command_refuses_a_missing_data_dir(tmp_path: Path) -> None:
    done = cli(
        "--from", "2025-06-01T12:10:00Z", "--to", "2025-06-01T13:10:00Z", "--format", "csv",
        "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "nothing"),
    )  # fmt: skip
    assert done.returncode == 2 and "no data directory" in done.stderr
    assert not (tmp_path / "nothing").exists()
