"""After-action report of a 12-hour operation: 300 units reporting every 5 s (about 2.6 million
fixes), 500 incidents, 1,500 assignments with lifecycles.

Run from the repository root: `python bench/bench_report.py` (`--smoke` for a tiny run).
The operation is written straight through the store APIs (in a child process, so its
memory does not count), then build_report and every export are timed. Prints a table
and, last, one JSON line with the figures. Targets: all formats within 60 s and 2 GB.
"""

from __future__ import annotations

import argparse
import heapq
import importlib
import importlib.util
import json
import multiprocessing
import platform
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from coordinator.domain import events as ev
from coordinator.domain.events import NewEvent
from coordinator.domain.timefmt import iso
from coordinator.reports.data import build_report
from coordinator.reports.exports import write_csv, write_geojson, write_ics214_csv
from coordinator.reports.replay import snapshot_at
from coordinator.store.protocols import Fix
from coordinator.store.sqlite import SqliteEventLog, SqliteTrackStore

T0 = datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC)
LAT0, LON0 = 42.355, -71.065
UNIT_KINDS = ("medical_team", "deescalation_team", "field_supervisor")
ASSIGNMENT_FOR = {
    "medical_team": "medical_aid",
    "deescalation_team": "deescalation",
    "field_supervisor": "observe",
}
INCIDENT_KINDS = ("injury", "injury", "injury", "escalation", "federal_activity", "use_of_force", "other")
TRIAGE = ("immediate", "delayed", "minor")
FIX_EVERY_S = 5
LEG_S = 600  # a unit walks a straight leg to a new waypoint every 10 minutes


@dataclass(frozen=True)
class Size:
    units: int
    hours: float
    incidents: int
    assignments: int


FULL = Size(units=300, hours=12, incidents=500, assignments=1500)
SMOKE = Size(units=20, hours=0.5, incidents=20, assignments=40)


def _events(size: Size, rng: np.random.Generator) -> dict[datetime, list[NewEvent]]:
    """Every event of the operation, grouped by the second it happens in."""
    span = size.hours * 3600
    by_time: dict[datetime, list[NewEvent]] = defaultdict(list)

    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=int(seconds))

    demos = [f"dem-{i:012x}" for i in range(3)]
    for n, demo_id in enumerate(demos):
        by_time[T0].append(
            NewEvent(
                ev.DEMONSTRATION_CREATED,
                {
                    "id": demo_id, "name": f"March {n + 1}", "lat": LAT0 + 0.004 * n, "lon": LON0,
                    "crowd_estimate": 1000 * (n + 1), "tension": 2, "status": "active",
                    "federal_presence": n == 0, "area": None, "languages": ["es"], "enrichment": None,
                },
            )
        )  # fmt: skip
    for hour in range(1, int(size.hours) + 1):
        for demo_id in demos:
            changes = {"tension": int(rng.integers(1, 6)), "crowd_estimate": int(rng.integers(100, 5000))}
            by_time[at(hour * 3600 - 60)].append(
                NewEvent(ev.DEMONSTRATION_UPDATED, {"id": demo_id, "changes": changes})
            )
    units = [(f"unit-{i:012x}", UNIT_KINDS[i % 3]) for i in range(size.units)]
    for i, (unit_id, kind) in enumerate(units):
        payload = {
            "id": unit_id,
            "callsign": f"U-{i:03d}",
            "kind": kind,
            "skills": [],
            "token_sha256": f"{i:064x}",
        }
        by_time[T0].append(NewEvent(ev.UNIT_REGISTERED, payload))

    incidents = []
    for i in range(size.incidents):
        reported = float(rng.uniform(60, span * 0.75))
        kind = INCIDENT_KINDS[i % len(INCIDENT_KINDS)]
        incident_id = f"inc-{i:012x}"
        incidents.append((reported, incident_id, kind))
        by_time[at(reported)].append(
            NewEvent(
                ev.INCIDENT_REPORTED,
                {
                    "id": incident_id, "kind": kind,
                    "lat": LAT0 + float(rng.normal(0, 0.01)), "lon": LON0 + float(rng.normal(0, 0.01)),
                    "severity": int(rng.integers(1, 6)),
                    "triage": TRIAGE[i % 3] if kind == "injury" else None,
                    "demonstration_id": demos[i % 3], "note": f"bench note {i}", "note_flags": [],
                    "federal_involved": kind in ("federal_activity", "use_of_force"), "enrichment": None,
                },
            )
        )  # fmt: skip

    # Assignments in dispatch order, each to the unit that has been free the longest, so no
    # unit ever holds two at once (as the rules require).
    free: list[tuple[float, int]] = [(0.0, i) for i in range(size.units)]
    heapq.heapify(free)
    plans = sorted(
        (incidents[j % len(incidents)][0] + float(rng.uniform(20, 400)), j) for j in range(size.assignments)
    )
    for n, (wanted_at, j) in enumerate(plans):
        free_at, unit_index = heapq.heappop(free)
        dispatched = max(wanted_at, free_at + 1)
        unit_id, unit_kind = units[unit_index]
        assignment_id = f"asg-{n:012x}"
        by_time[at(dispatched)].append(
            NewEvent(
                ev.ASSIGNMENT_DISPATCHED,
                {
                    "id": assignment_id, "unit_id": unit_id, "kind": ASSIGNMENT_FOR[unit_kind],
                    "incident_id": incidents[j % len(incidents)][1], "demonstration_id": None,
                    "priority": 3, "note": "", "note_flags": [],
                },
            )
        )  # fmt: skip
        t = dispatched
        outcome = rng.random()
        steps = ["delivered", "acknowledged", "en_route", "on_scene", "completed"]
        if outcome < 0.05:
            steps = ["delivered", "declined"]
        elif outcome < 0.10:
            steps = ["delivered", "acknowledged", "cancelled"]
        for step in steps:
            t += float(rng.uniform(5, 120 if step != "completed" else 900))
            payload: dict[str, Any] = {"id": assignment_id, "unit_id": unit_id}
            if step in ("declined", "cancelled"):
                payload["reason"] = "bench reason"
            by_time[at(t)].append(NewEvent(ev.ASSIGNMENT_STEP_EVENTS[step], payload))
        heapq.heappush(free, (t, unit_index))
    return by_time


def _write_events(log: SqliteEventLog, by_time: dict[datetime, list[NewEvent]]) -> int:
    seq = 0
    for moment in sorted(by_time):
        stored = log.append(by_time[moment], actor="user:bench", at=iso(moment), expected_seq=seq)
        seq = stored[-1].seq
    return seq


def _write_fixes(tracks: SqliteTrackStore, size: Size, rng: np.random.Generator) -> int:
    """Every unit walks straight legs between random waypoints, one fix every 5 s."""
    ticks = int(size.hours * 3600 // FIX_EVERY_S)
    legs = ticks * FIX_EVERY_S // LEG_S + 2
    # Waypoints in degrees: a few hundred metres apart around the operation's centre.
    way_lat = LAT0 + np.cumsum(rng.normal(0, 0.002, (size.units, legs)), axis=1) * 0.3
    way_lon = LON0 + np.cumsum(rng.normal(0, 0.003, (size.units, legs)), axis=1) * 0.3
    unit_ids = [f"unit-{i:012x}" for i in range(size.units)]
    written = 0
    chunk = 120  # ticks per batch: 10 minutes of the whole fleet
    for first in range(0, ticks, chunk):
        seconds = np.arange(first, min(first + chunk, ticks)) * FIX_EVERY_S
        leg, along = np.divmod(seconds, LEG_S)
        frac = along / LEG_S
        lats = way_lat[:, leg] + (way_lat[:, leg + 1] - way_lat[:, leg]) * frac
        lons = way_lon[:, leg] + (way_lon[:, leg + 1] - way_lon[:, leg]) * frac
        times = [iso(T0 + timedelta(seconds=int(s))) for s in seconds]
        batch = [
            Fix(unit_ids[u], lat, lon, 5.0, times[k], times[k])
            for u in range(size.units)
            for k, (lat, lon) in enumerate(zip(lats[u].tolist(), lons[u].tolist(), strict=True))
        ]
        tracks.write_fixes(batch)
        written += len(batch)
    return written


def generate(db_path: Path, size: Size, seed: int) -> None:
    """Write the operation (child process: its memory is not the report's)."""
    rng = np.random.default_rng(seed)
    log = SqliteEventLog(db_path)
    # Bench data only: thousands of small appends would each wait for a sync otherwise.
    log._conn.execute("PRAGMA synchronous=OFF")
    _write_events(log, _events(size, rng))
    tracks = SqliteTrackStore(db_path)
    tracks._conn.execute("PRAGMA synchronous=OFF")
    _write_fixes(tracks, size, rng)
    log.close()
    tracks.close()


def _timed(figures: dict[str, Any], name: str, action: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    result = action()
    figures[f"{name}_s"] = round(time.perf_counter() - began, 3)
    return result


def run(size: Size, smoke: bool, seed: int, work: Path) -> dict[str, Any]:
    db_path = work / "data" / "coordinator.sqlite3"
    db_path.parent.mkdir(parents=True)
    began = time.perf_counter()
    child = multiprocessing.get_context("fork").Process(target=generate, args=(db_path, size, seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"generating the operation failed (exit {child.exitcode})")
    figures: dict[str, Any] = {
        "benchmark": "report",
        "smoke": smoke,
        "generate_s": round(time.perf_counter() - began, 1),
    }
    log, tracks = SqliteEventLog(db_path), SqliteTrackStore(db_path)
    figures.update(units=size.units, hours=size.hours, fixes_stored=tracks.count(), events=log.last_seq())
    out = work / "out"
    start, end = T0, T0 + timedelta(hours=size.hours)
    total = time.perf_counter()
    report = _timed(figures, "build", lambda: build_report(log, tracks, start=start, end=end))
    _timed(figures, "csv", lambda: write_csv(report, out))
    _timed(figures, "geojson", lambda: write_geojson(report, out))
    _timed(figures, "ics214", lambda: write_ics214_csv(report, out))
    for name, module, function in (("html", "html", "write_html"), ("pdf", "pdf", "write_pdf")):
        if importlib.util.find_spec(f"coordinator.reports.{module}") is None:
            figures[f"{name}_s"] = None
            continue
        writer = getattr(importlib.import_module(f"coordinator.reports.{module}"), function)
        try:
            _timed(figures, name, lambda writer=writer: writer(report, out))
        except Exception as exc:  # a renderer that cannot run here (no browser) is reported, not fatal
            figures[f"{name}_s"] = None
            figures[f"{name}_error"] = f"{type(exc).__name__}: {exc}"[:200]
    figures["total_s"] = round(time.perf_counter() - total, 3)
    # Replay: seeks to evenly spread moments, each a fresh fold of the log plus one fix per unit.
    seeks = []
    for k in range(1, 11):
        moment = start + (end - start) * k / 10
        began = time.perf_counter()
        snapshot_at(log, tracks, moment, stale_after_s=120.0)
        seeks.append(time.perf_counter() - began)
    figures["replay_seek_max_s"] = round(max(seeks), 3)
    figures["replay_seek_median_s"] = round(sorted(seeks)[len(seeks) // 2], 3)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures.update(
        fixes_in_report=report["totals"]["fixes"],
        track_points_kept=sum(len(p) for p in report["tracks"].values()),
        incidents=report["totals"]["incidents"],
        assignments=report["totals"]["assignments"],
        timeline=len(report["timeline"]),
        files=len(list(out.iterdir())),
        python=platform.python_version(),
    )
    log.close()
    tracks.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="20 units, 30 minutes, 20 incidents, 40 assignments"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    size = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory(prefix="bench-report-") as work:
        figures = run(size, args.smoke, args.seed, Path(work))
    print(f"{'measure':<22}{'value':>14}")
    for key, value in figures.items():
        if key not in ("benchmark", "python") and not key.endswith("_error"):
            print(f"{key:<22}{value if value is not None else '-':>14}")
    for key, value in figures.items():
        if key.endswith("_error"):
            print(f"{key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
