"""A realistic 80-minute operation, run through a real Coordinator on SQLite, for the report tests.

Window of the report: [W0, W1) = [12:10, 13:10). Something happens before it (an injury
handled, a demonstration that ended), inside it (two demonstrations whose tension moves,
injuries of each triage, federal activity on city property, force by federal agents, a
declined, a cancelled and a still-en-route assignment) and after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from coordinator.domain import validation as v
from coordinator.service import Coordinator
from coordinator.store.sqlite import SqliteEventLog, SqliteTrackStore

START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
W0 = START + timedelta(minutes=10)
W1 = START + timedelta(minutes=70)
FIX_EVERY_S = 10
FIXES_UNTIL_MIN = 80

# Every free text the operation holds: none may survive redaction.
NOTES = {
    "before": "NOTE-before twisted ankle by the bandstand",
    "before_dispatch": "NOTE-bring-crutches",
    "i1": "NOTE-head wound near Parkman fountain",
    "med1": "NOTE-approach from Tremont side",
    "dee1": "NOTE-speak with marshals first",
    "i3": "NOTE-agents staging vans on plaza",
    "decline": "REASON-radio failure cannot reach team",
    "cancel": "REASON-situation calmed by marshals",
    "i3_update": "NOTE-vans left toward Cambridge St",
    "i6": "NOTE-pepper spray used on marchers",
}

UNITS = (
    ("MED-1", "medical_team"),
    ("MED-2", "medical_team"),
    ("MED-3", "medical_team"),
    ("DEE-1", "deescalation_team"),
    ("DEE-2", "deescalation_team"),
    ("SUP-1", "field_supervisor"),
    ("SUP-2", "field_supervisor"),
)

ENRICHMENT = {
    "neighborhood": "Downtown",
    "city_property": [{"name": "City Hall Plaza", "layer": "city_property", "category": "plaza"}],
    "municipal_buildings": [],
    "sensitive_sites": [
        {"name": "Tufts Medical Center", "layer": "hospitals", "category": "hospital", "distance_m": 120.0}
    ],
    "cameras": [{"name": "CAM-12", "layer": "cameras", "distance_m": 40.0, "range_m": 100.0}],
    "sensitive_radius_m": 300.0,
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Operation:
    db_path: Path
    ids: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # callsign -> unit id

    def open(self) -> tuple[SqliteEventLog, SqliteTrackStore]:
        return SqliteEventLog(self.db_path), SqliteTrackStore(self.db_path)


def unit_position(index: int, moment: datetime) -> tuple[float, float]:
    """Unit `index` walks east in a straight line for 40 minutes, then north: one corner."""
    minutes = (moment - START).total_seconds() / 60
    lat0, lon0 = 42.350 + 0.002 * index, -71.070
    if minutes <= 40:
        return lat0, lon0 + 0.0002 * minutes
    return lat0 + 0.0002 * (minutes - 40), lon0 + 0.0002 * 40


def build_operation(data_dir: Path) -> Operation:
    db_path = data_dir / "coordinator.sqlite3"
    clock = Clock()
    service = Coordinator(
        log=SqliteEventLog(db_path), tracks=SqliteTrackStore(db_path), clock=clock, min_fix_interval_s=0.0
    )
    service.load()
    service.enricher = lambda _lat, _lon: ENRICHMENT
    op = Operation(db_path)

    def at(minutes: float) -> None:
        clock.now = START + timedelta(minutes=minutes)

    def run(command: Any, actor: str = "user:ops") -> str:
        return str(service.execute(command, actor=actor).body.get("id", ""))

    def demo(key: str, **body: Any) -> None:
        op.ids[key] = run(v.create_demonstration(body))

    def update_demo(key: str, **body: Any) -> None:
        run(v.update_demonstration(op.ids[key], body))

    def incident(key: str, **body: Any) -> None:
        op.ids[key] = run(v.report_incident(body), actor="user:dispatcher")

    def dispatch(key: str, callsign: str, kind: str, target: str, note: str = "") -> None:
        field_name = "demonstration_id" if target.startswith("demo") else "incident_id"
        body = {"unit_id": op.units[callsign], "kind": kind, field_name: op.ids[target], "note": note}
        op.ids[key] = run(v.dispatch_assignment(body))

    def step(key: str, status: str, reason: str | None = None) -> None:
        body = {"status": status} if reason is None else {"status": status, "reason": reason}
        run(v.change_assignment_status(op.ids[key], body), actor="user:ops")

    at(0)
    demo(
        "demoA",
        name="Common march",
        lat=42.355,
        lon=-71.066,
        tension=2,
        status="active",
        crowd_estimate=500,
        languages=["es", "ht"],
    )
    demo(
        "demoB",
        name="City Hall rally",
        lat=42.360,
        lon=-71.058,
        tension=1,
        status="planned",
        crowd_estimate=200,
    )
    demo(
        "demoC", name="Morning vigil", lat=42.351, lon=-71.062, tension=1, status="active", crowd_estimate=40
    )
    for callsign, kind in UNITS:
        command = v.register_unit({"callsign": callsign, "kind": kind}, token_sha256=callsign.encode().hex())
        op.units[callsign] = run(command)

    # Before the window.
    at(2)
    incident(
        "x0",
        kind="injury",
        triage="minor",
        lat=42.355,
        lon=-71.066,
        demonstration_id=op.ids["demoA"],
        note=NOTES["before"],
    )
    at(2.5)
    dispatch("ax0", "MED-3", "medical_aid", "x0", NOTES["before_dispatch"])
    at(3)
    step("ax0", "acknowledged")
    at(6)
    step("ax0", "on_scene")
    at(8)
    step("ax0", "completed")
    at(9)
    update_demo("demoC", status="ended")

    # Inside the window.
    at(11)
    update_demo("demoA", tension=3, crowd_estimate=800)
    at(12)
    incident(
        "i1",
        kind="injury",
        triage="immediate",
        lat=42.3552,
        lon=-71.0655,
        demonstration_id=op.ids["demoA"],
        note=NOTES["i1"],
    )
    at(12.5)
    dispatch("a1", "MED-1", "medical_aid", "i1", NOTES["med1"])
    at(12.6)
    step("a1", "delivered")
    at(13)
    step("a1", "acknowledged")
    at(13.5)
    step("a1", "en_route")
    at(14)
    incident(
        "i2", kind="injury", triage="delayed", lat=42.3601, lon=-71.0581, demonstration_id=op.ids["demoB"]
    )
    at(15.5)
    dispatch("a2", "MED-2", "medical_aid", "i2")
    at(16.25)
    step("a2", "acknowledged")
    at(16.5)
    step("a1", "on_scene")
    at(17)
    step("a2", "en_route")
    at(18)
    update_demo("demoB", tension=2, status="active")
    at(20)
    dispatch("a3", "DEE-1", "deescalation", "demoA", NOTES["dee1"])
    at(21.5)
    step("a3", "acknowledged")
    at(22)
    step("a2", "on_scene")
    step("a3", "en_route")
    at(24)
    incident(
        "i3",
        kind="federal_activity",
        lat=42.3603,
        lon=-71.0579,
        demonstration_id=op.ids["demoB"],
        note=NOTES["i3"],
    )
    at(25)
    step("a3", "on_scene")
    at(27)
    dispatch("a4", "SUP-1", "observe", "i3")
    at(28)
    step("a4", "declined", NOTES["decline"])
    at(29)
    dispatch("a5", "SUP-2", "observe", "i3")
    at(29.5)
    step("a5", "acknowledged")
    at(30)
    step("a1", "completed")
    step("a5", "en_route")
    at(31)
    incident("i4", kind="escalation", severity=4, lat=42.3549, lon=-71.0662, demonstration_id=op.ids["demoA"])
    at(32)
    dispatch("a6", "DEE-2", "deescalation", "i4")
    at(32.5)
    step("a6", "acknowledged")
    at(33)
    step("a6", "cancelled", NOTES["cancel"])
    at(35)
    step("a2", "completed")
    at(36)
    step("a5", "on_scene")
    at(38)
    incident("i5", kind="injury", triage="minor", lat=42.3556, lon=-71.0668, demonstration_id=op.ids["demoA"])
    at(39)
    dispatch("a7", "MED-3", "medical_aid", "i5")
    at(40)
    step("a3", "completed")
    step("a7", "delivered")
    at(41)
    step("a7", "acknowledged")
    at(42)
    step("a7", "en_route")
    incident(
        "i6",
        kind="use_of_force",
        federal_involved=True,
        lat=42.3553,
        lon=-71.0664,
        demonstration_id=op.ids["demoA"],
        note=NOTES["i6"],
    )
    at(43)
    dispatch("a8", "DEE-1", "deescalation", "i6")
    at(44)
    step("a8", "acknowledged")
    at(45)
    step("a8", "en_route")
    update_demo("demoA", tension=4)
    at(49)
    step("a8", "on_scene")
    at(50)
    step("a5", "completed")
    incident(
        "i7", kind="injury", triage="delayed", lat=42.3605, lon=-71.0585, demonstration_id=op.ids["demoB"]
    )
    at(52)
    run(v.update_incident(op.ids["i3"], {"note": NOTES["i3_update"]}))
    at(55)
    run(v.update_incident(op.ids["i1"], {"status": "resolved"}))
    at(58)
    update_demo("demoB", status="dispersing")
    at(60)
    step("a8", "completed")
    at(65)
    incident("i8", kind="other", severity=2, lat=42.3580, lon=-71.0600)

    # After the window: none of this is in the report.
    at(72)
    step("a7", "on_scene")
    incident(
        "i9", kind="injury", triage="immediate", lat=42.3557, lon=-71.0669, demonstration_id=op.ids["demoA"]
    )
    at(73)
    dispatch("a9", "MED-1", "medical_aid", "i9")
    update_demo("demoA", tension=2)

    for index, (callsign, _kind) in enumerate(UNITS):
        for second in range(0, FIXES_UNTIL_MIN * 60 + 1, FIX_EVERY_S):
            moment = START + timedelta(seconds=second)
            lat, lon = unit_position(index, moment)
            service.record_fix(op.units[callsign], lat, lon, 5.0, moment)
    service.flush_fixes()
    service.log.close()
    service.tracks.close()
    return op
