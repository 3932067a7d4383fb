"""build_report against figures the test computes itself from the raw event log and fixes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from coordinator.domain.events import StoredEvent
from coordinator.domain.timefmt import iso
from coordinator.reports.data import ReportError, ResponseTargets, build_report
from coordinator.reports.response import percentile
from coordinator.store.sqlite import SqliteEventLog, SqliteTrackStore

from .report_operation import NOTES, START, W0, W1, Operation, build_operation

STEP_OF = {
    "AssignmentDelivered": "delivered",
    "AssignmentAcknowledged": "acknowledged",
    "AssignmentEnRoute": "en_route",
    "AssignmentOnScene": "on_scene",
    "AssignmentCompleted": "completed",
    "AssignmentDeclined": "declined",
    "AssignmentCancelled": "cancelled",
}


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Operation:
    return build_operation(tmp_path_factory.mktemp("op") / "data")


@pytest.fixture
def stores(operation: Operation) -> Iterator[tuple[SqliteEventLog, SqliteTrackStore]]:
    log, tracks = operation.open()
    yield log, tracks
    log.close()
    tracks.close()


def raw_events(log: SqliteEventLog) -> list[StoredEvent]:
    return log.read_after(0, limit=1_000_000)


def hand_percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, written out (not numpy)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def seconds(later: str, earlier: str) -> float:
    from coordinator.domain.timefmt import parse_iso

    return (parse_iso(later) - parse_iso(earlier)).total_seconds()


class Expected:
    """An independent fold of raw payloads: dicts only, no projection code."""

    def __init__(self, events: list[StoredEvent], start: str, end: str, demo: str | None = None) -> None:
        self.demos: dict[str, dict[str, Any]] = {}
        self.units: dict[str, dict[str, Any]] = {}
        self.incidents: dict[str, dict[str, Any]] = {}
        self.assignments: dict[str, dict[str, Any]] = {}
        self.first_dispatch: dict[str, tuple[str, str]] = {}
        self.alerts: list[StoredEvent] = []
        self.footage: list[StoredEvent] = []
        self.history: dict[str, list[tuple[str, int, int, str]]] = {}
        self.events = [e for e in events if e.at < end]
        for e in self.events:
            self._apply(e)
        self.start, self.end, self.demo = start, end, demo

    def _apply(self, e: StoredEvent) -> None:
        p = e.payload
        if e.type == "DemonstrationCreated":
            self.demos[p["id"]] = dict(p)
        elif e.type == "DemonstrationUpdated":
            self.demos[p["id"]].update(p["changes"])
        elif e.type == "UnitRegistered":
            self.units[p["id"]] = dict(p)
        elif e.type == "IncidentReported":
            self.incidents[p["id"]] = {**p, "reported_at": e.at, "reported_by": e.actor, "status": "open"}
        elif e.type == "IncidentUpdated":
            self.incidents[p["id"]].update(p["changes"])
        elif e.type == "AssignmentDispatched":
            self.assignments[p["id"]] = {
                **p,
                "times": {"dispatched": e.at},
                "status": "dispatched",
                "dispatched_by": e.actor,
                "reason": None,
            }
            if p["incident_id"]:
                self.first_dispatch.setdefault(p["incident_id"], (e.at, p["kind"]))
        elif e.type in STEP_OF:
            a = self.assignments[p["id"]]
            a["times"][STEP_OF[e.type]] = e.at
            a["status"] = STEP_OF[e.type]
            a["reason"] = p.get("reason", a["reason"])
        elif e.type == "ComplianceAlertRaised":
            self.alerts.append(e)
        elif e.type == "FootagePreservationRequested":
            self.footage.append(e)
        if e.type.startswith("Demonstration"):
            d = self.demos[p["id"]]
            self.history.setdefault(p["id"], []).append(
                (e.at, d["tension"], d["crowd_estimate"], d["status"])
            )

    def incident_ids(self) -> list[str]:
        return [
            i
            for i, inc in self.incidents.items()
            if self.start <= inc["reported_at"] < self.end
            and (self.demo is None or inc["demonstration_id"] == self.demo)
        ]

    def belongs(self, a: dict[str, Any]) -> bool:
        if self.demo is None or a["demonstration_id"] == self.demo:
            return True
        return (
            a["incident_id"] is not None and self.incidents[a["incident_id"]]["demonstration_id"] == self.demo
        )

    def assignment_ids(self) -> list[str]:
        return [
            i
            for i, a in self.assignments.items()
            if self.start <= a["times"]["dispatched"] < self.end and self.belongs(a)
        ]

    def response(self) -> dict[tuple[str, str, str], list[float]]:
        out: dict[tuple[str, str, str], list[float]] = {}
        for i in self.incident_ids():
            inc = self.incidents[i]
            if i in self.first_dispatch:
                at, kind = self.first_dispatch[i]
                gap = seconds(at, inc["reported_at"])
                out.setdefault(("incident_kind", inc["kind"], "incident_to_dispatch"), []).append(gap)
                out.setdefault(("assignment_kind", kind, "incident_to_dispatch"), []).append(gap)
        for a_id in self.assignment_ids():
            a = self.assignments[a_id]
            for measure, step in (("dispatch_to_ack", "acknowledged"), ("dispatch_to_on_scene", "on_scene")):
                if step in a["times"]:
                    gap = seconds(a["times"][step], a["times"]["dispatched"])
                    out.setdefault(("assignment_kind", a["kind"], measure), []).append(gap)
                    if a["incident_id"]:
                        kind = self.incidents[a["incident_id"]]["kind"]
                        out.setdefault(("incident_kind", kind, measure), []).append(gap)
        return out


@pytest.fixture
def expected(stores: tuple[SqliteEventLog, SqliteTrackStore]) -> Expected:
    return Expected(raw_events(stores[0]), iso(W0), iso(W1))


@pytest.fixture
def report(stores: tuple[SqliteEventLog, SqliteTrackStore]) -> dict[str, Any]:
    return build_report(*stores, start=W0, end=W1)


def test_the_report_has_exactly_the_contract_keys_and_is_json(report: dict[str, Any]) -> None:
    assert set(report) == {
        "title",
        "generated_at",
        "window",
        "demonstration_id",
        "redacted",
        "demonstrations",
        "units",
        "incidents",
        "assignments",
        "tracks",
        "timeline",
        "response_times",
        "compliance_alerts",
        "footage_requests",
        "totals",
    }
    assert json.loads(json.dumps(report)) == report
    assert report["window"] == {"start": "2025-06-01T12:10:00.000Z", "end": "2025-06-01T13:10:00.000Z"}
    assert (report["title"], report["demonstration_id"], report["redacted"]) == (
        "After-action report",
        None,
        False,
    )


def test_incidents_are_those_reported_in_the_window_with_their_state_at_end(
    report: dict[str, Any], expected: Expected, operation: Operation
) -> None:
    ids = expected.incident_ids()
    assert [i["id"] for i in report["incidents"]] == ids
    # The one before the window and the one after are out; the operation has 8 inside.
    assert operation.ids["x0"] not in ids and operation.ids["i9"] not in ids and len(ids) == 8
    for row in report["incidents"]:
        inc = expected.incidents[row["id"]]
        assert {k: row[k] for k in ("kind", "lat", "lon", "severity", "triage", "demonstration_id")} == {
            k: inc[k] for k in ("kind", "lat", "lon", "severity", "triage", "demonstration_id")
        }
        assert (row["note"], row["status"], row["reported_at"], row["reported_by"]) == (
            inc["note"],
            inc["status"],
            inc["reported_at"],
            inc["reported_by"],
        )
        assert row["federal_involved"] == inc["federal_involved"]
        assert row["neighborhood"] == inc["enrichment"]["neighborhood"]
        assert row["city_property"] == [p["name"] for p in inc["enrichment"]["city_property"]]
        assert row["sensitive_sites"] == [p["name"] for p in inc["enrichment"]["sensitive_sites"]]
    by_id = {i["id"]: i for i in report["incidents"]}
    assert by_id[operation.ids["i1"]]["status"] == "resolved"
    assert by_id[operation.ids["i3"]]["note"] == NOTES["i3_update"]


def test_assignments_carry_every_step_before_end_and_none_after(
    report: dict[str, Any], expected: Expected, operation: Operation
) -> None:
    ids = expected.assignment_ids()
    assert [a["id"] for a in report["assignments"]] == ids
    assert operation.ids["ax0"] not in ids and operation.ids["a9"] not in ids and len(ids) == 8
    callsigns = {u_id: u["callsign"] for u_id, u in expected.units.items()}
    for row in report["assignments"]:
        a = expected.assignments[row["id"]]
        target_key = "incident_id" if a["incident_id"] else "demonstration_id"
        target = (expected.incidents if a["incident_id"] else expected.demos)[a[target_key]]
        assert row == {
            "id": a["id"],
            "unit_id": a["unit_id"],
            "callsign": callsigns[a["unit_id"]],
            "kind": a["kind"],
            "target_type": "incident" if a["incident_id"] else "demonstration",
            "target_id": a[target_key],
            "target_lat": target["lat"],
            "target_lon": target["lon"],
            "priority": a["priority"],
            "status": a["status"],
            "reason": a["reason"],
            "note": a["note"],
            "dispatched_by": a["dispatched_by"],
            "times": a["times"],
        }
    by_id = {a["id"]: a for a in report["assignments"]}
    assert by_id[operation.ids["a4"]]["status"] == "declined"
    assert by_id[operation.ids["a4"]]["reason"] == NOTES["decline"]
    assert by_id[operation.ids["a6"]]["status"] == "cancelled"
    # Still en route at the end: its on_scene at 13:12 is after the window.
    assert by_id[operation.ids["a7"]]["status"] == "en_route"
    assert "on_scene" not in by_id[operation.ids["a7"]]["times"]
    assert list(by_id[operation.ids["a1"]]["times"]) == [
        "dispatched",
        "delivered",
        "acknowledged",
        "en_route",
        "on_scene",
        "completed",
    ]


def test_response_times_match_a_hand_written_percentile(report: dict[str, Any], expected: Expected) -> None:
    samples = expected.response()
    targets = {"incident_to_dispatch": 120.0, "dispatch_to_ack": 60.0, "dispatch_to_on_scene": 480.0}
    rows = {(r["group"], r["key"], r["measure"]): r for r in report["response_times"]}
    assert len(rows) == len(report["response_times"]) == 3 * (4 + 7)
    assert {k for k, r in rows.items() if r["count"]} == set(samples)
    for key, row in rows.items():
        values = samples.get(key, [])
        assert row["count"] == len(values)
        assert row["target_s"] == targets[key[2]]
        if not values:
            assert (row["median_s"], row["p90_s"], row["met"]) == (None, None, None)
            continue
        assert row["median_s"] == pytest.approx(hand_percentile(values, 50))
        assert row["p90_s"] == pytest.approx(hand_percentile(values, 90))
        assert row["met"] == (hand_percentile(values, 90) <= targets[key[2]])
    # Spot figures, worked by hand from the scenario: first dispatches to the three injuries
    # came 30, 90 and 60 s after the reports -> median 60, p90 = 60 + 0.8 * 30 = 84.
    injury = rows[("incident_kind", "injury", "incident_to_dispatch")]
    assert (injury["count"], injury["median_s"], injury["p90_s"], injury["met"]) == (3, 60.0, 84.0, True)
    # Federal activity: SUP-1 (declined) was the first sent, 180 s after the report.
    federal = rows[("incident_kind", "federal_activity", "incident_to_dispatch")]
    assert (federal["count"], federal["median_s"], federal["met"]) == (1, 180.0, False)


def test_percentile_is_linear_interpolation_and_none_for_nothing() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 90) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)


def test_targets_can_be_overridden_per_assignment_kind(
    stores: tuple[SqliteEventLog, SqliteTrackStore],
) -> None:
    targets = ResponseTargets(by_assignment_kind={"medical_aid": {"dispatch_to_ack": 200.0}})
    report = build_report(*stores, start=W0, end=W1, targets=targets)
    rows = {(r["group"], r["key"], r["measure"]): r for r in report["response_times"]}
    medical = rows[("assignment_kind", "medical_aid", "dispatch_to_ack")]
    assert (medical["target_s"], medical["met"]) == (200.0, True)
    # Incident-kind rows keep the default: no single assignment kind applies to them.
    assert rows[("incident_kind", "injury", "dispatch_to_ack")]["target_s"] == 60.0
    assert rows[("assignment_kind", "observe", "dispatch_to_ack")]["target_s"] == 60.0


def test_totals(report: dict[str, Any], expected: Expected) -> None:
    incidents = [expected.incidents[i] for i in expected.incident_ids()]
    assignments = [expected.assignments[a] for a in expected.assignment_ids()]
    injuries = {t: sum(1 for i in incidents if i["triage"] == t) for t in ("immediate", "delayed", "minor")}
    assert injuries == {"immediate": 1, "delayed": 2, "minor": 1}
    statuses = ("dispatched", "delivered", "acknowledged", "en_route", "on_scene", "completed")
    by_status = {
        s: sum(1 for a in assignments if a["status"] == s) for s in (*statuses, "declined", "cancelled")
    }
    assert report["totals"] == {
        "incidents": len(incidents),
        "injuries": injuries,
        "assignments": len(assignments),
        "by_status": by_status,
        "units": 7,
        "fixes": 7 * 360,  # a fix every 10 s from 12:10:00 to 13:09:50
    }
    assert by_status["completed"] == 5 and by_status["en_route"] == 1


def test_demonstrations_and_their_series(
    report: dict[str, Any], expected: Expected, operation: Operation
) -> None:
    # The vigil ended before the window opened: it is left out.
    assert [d["id"] for d in report["demonstrations"]] == [operation.ids["demoA"], operation.ids["demoB"]]
    start = iso(W0)
    for row in report["demonstrations"]:
        demo = expected.demos[row["id"]]
        for name in (
            "name",
            "lat",
            "lon",
            "status",
            "federal_presence",
            "crowd_estimate",
            "tension",
            "languages",
        ):
            assert row[name] == demo[name], name
        history = expected.history[row["id"]]
        before = [h for h in history if h[0] < start]
        points = [(start, before[-1][1], before[-1][2])] + [h[:3] for h in history if h[0] >= start]
        # A status-only change does not add a point.
        deduped = [p for n, p in enumerate(points) if n == 0 or p[1:] != points[n - 1][1:]]
        assert [(s["at"], s["tension"], s["crowd_estimate"]) for s in row["series"]] == deduped
    common = report["demonstrations"][0]
    assert [s["tension"] for s in common["series"]] == [2, 3, 4]
    assert common["tension"] == 4  # the drop to 2 came after the window


def test_units_tracks_thinned_with_endpoints_and_dispatch_fixes(
    report: dict[str, Any], stores: tuple[SqliteEventLog, SqliteTrackStore], expected: Expected
) -> None:
    assert [u["id"] for u in report["units"]] == list(expected.units)
    assert [(u["callsign"], u["kind"], u["skills"]) for u in report["units"]] == [
        (u["callsign"], u["kind"], u["skills"]) for u in expected.units.values()
    ]
    raw: dict[str, list[list[Any]]] = {}
    for fix in stores[1].fixes_between(iso(W0), iso(W1)):
        raw.setdefault(fix.unit_id, []).append([fix.lat, fix.lon, fix.at])
    assert set(report["tracks"]) == set(raw)
    dispatches = [expected.assignments[a] for a in expected.assignment_ids()]
    corner = iso(START + timedelta(minutes=40))
    for unit_id, points in report["tracks"].items():
        full = raw[unit_id]
        assert points[0] == full[0] and points[-1] == full[-1]
        assert all(p in full for p in points)  # only real fixes, in order
        assert [p[2] for p in points] == sorted(p[2] for p in points)
        # Two straight runs of 180 fixes each: the corner stays, the runs shrink to their ends.
        assert any(p[2] == corner for p in points)
        assert len(points) <= 3 + sum(1 for a in dispatches if a["unit_id"] == unit_id)
        for a in dispatches:
            if a["unit_id"] == unit_id:
                before = [f for f in full if f[2] <= a["times"]["dispatched"]]
                assert before[-1] in points


def test_a_zero_tolerance_keeps_every_fix(stores: tuple[SqliteEventLog, SqliteTrackStore]) -> None:
    report = build_report(*stores, start=W0, end=W1, track_tolerance_m=0.0)
    assert sum(len(p) for p in report["tracks"].values()) == report["totals"]["fixes"]


def test_timeline_holds_the_significant_events_of_the_window(
    report: dict[str, Any], expected: Expected
) -> None:
    always = {
        "DemonstrationCreated",
        "IncidentReported",
        "AssignmentDispatched",
        "AssignmentDeclined",
        "AssignmentCancelled",
        "AssignmentCompleted",
        "ComplianceAlertRaised",
        "FootagePreservationRequested",
    }
    wanted = [
        e
        for e in expected.events
        if e.at >= iso(W0)
        and (
            e.type in always
            or (e.type == "DemonstrationUpdated" and {"tension", "status"} & set(e.payload["changes"]))
            or (e.type == "IncidentUpdated" and {"status", "triage", "severity"} & set(e.payload["changes"]))
        )
    ]
    assert [(t["seq"], t["at"], t["type"], t["actor"]) for t in report["timeline"]] == [
        (e.seq, e.at, e.type, e.actor) for e in wanted
    ]
    types = {t["type"] for t in report["timeline"]}
    assert "AssignmentDelivered" not in types and "AssignmentEnRoute" not in types
    assert all(t["summary"] for t in report["timeline"])
    # The note-only update of the federal activity report is not a timeline entry.
    assert not any(t["type"] == "IncidentUpdated" and "note" in t["summary"] for t in report["timeline"])


def test_alerts_and_footage_requests(
    report: dict[str, Any], expected: Expected, operation: Operation
) -> None:
    assert report["compliance_alerts"] == [
        {
            "id": e.payload["id"],
            "incident_id": e.payload["incident_id"],
            "kind": e.payload["kind"],
            "places": e.payload["places"],
            "raised_at": e.at,
        }
        for e in expected.alerts
        if e.payload["incident_id"] in expected.incident_ids()
    ]
    assert [a["incident_id"] for a in report["compliance_alerts"]] == [operation.ids["i3"]]
    assert [f["incident_id"] for f in report["footage_requests"]] == [operation.ids["i6"]]
    footage = report["footage_requests"][0]
    event = expected.footage[0]
    assert footage["cameras"] == event.payload["cameras"]
    assert footage["requested_at"] == event.at
    assert seconds(event.at, footage["window_start"]) == event.payload["window_before_s"]
    assert seconds(footage["window_end"], event.at) == event.payload["window_after_s"]


def test_one_demonstration_keeps_its_incidents_assignments_and_units(
    stores: tuple[SqliteEventLog, SqliteTrackStore], operation: Operation
) -> None:
    demo = operation.ids["demoB"]
    report = build_report(*stores, start=W0, end=W1, demonstration_id=demo)
    expected = Expected(raw_events(stores[0]), iso(W0), iso(W1), demo)
    assert report["demonstration_id"] == demo
    assert [d["id"] for d in report["demonstrations"]] == [demo]
    assert [i["id"] for i in report["incidents"]] == expected.incident_ids()
    assert {i["demonstration_id"] for i in report["incidents"]} == {demo}
    assert [a["id"] for a in report["assignments"]] == expected.assignment_ids()
    involved = {expected.assignments[a]["unit_id"] for a in expected.assignment_ids()}
    callsigns = {operation.units[c] for c in ("MED-2", "SUP-1", "SUP-2")}
    assert {u["id"] for u in report["units"]} == involved == callsigns == set(report["tracks"])
    assert report["totals"]["units"] == 3 and report["totals"]["fixes"] == 3 * 360
    assert [a["incident_id"] for a in report["compliance_alerts"]] == [operation.ids["i3"]]
    assert report["footage_requests"] == []
    kept = {demo, *expected.incident_ids(), *expected.assignment_ids()}
    for entry in report["timeline"]:
        event = next(e for e in expected.events if e.seq == entry["seq"])
        about = {event.payload.get("id"), event.payload.get("incident_id")}
        assert about & kept, entry
    rows = {(r["group"], r["key"], r["measure"]): r for r in report["response_times"]}
    assert rows[("assignment_kind", "deescalation", "dispatch_to_ack")]["count"] == 0


def test_redaction_leaves_no_note_anywhere(stores: tuple[SqliteEventLog, SqliteTrackStore]) -> None:
    report = build_report(*stores, start=W0, end=W1, redact_notes=True)
    assert report["redacted"] is True
    text = json.dumps(report)
    for note in NOTES.values():
        assert note not in text
    assert all(i["note"] == "" for i in report["incidents"])
    assert all(a["note"] == "" and a["reason"] == "" for a in report["assignments"])
    plain = json.dumps(build_report(*stores, start=W0, end=W1))
    assert NOTES["i1"] in plain and NOTES["decline"] in plain  # the plain report does hold them


def test_timeline_never_quotes_notes_even_unredacted(report: dict[str, Any]) -> None:
    summaries = json.dumps([t["summary"] for t in report["timeline"]])
    for note in NOTES.values():
        assert note not in summaries


def test_bad_windows_and_unknown_demonstrations_are_refused(
    stores: tuple[SqliteEventLog, SqliteTrackStore],
) -> None:
    with pytest.raises(ReportError):
        build_report(*stores, start=W1, end=W0)
    with pytest.raises(ReportError):
        build_report(*stores, start=W0, end=W0)
    with pytest.raises(ReportError, match="no demonstration"):
        build_report(*stores, start=W0, end=W1, demonstration_id="dem-000000000000")


def test_a_window_before_anything_happened_is_empty_but_well_formed(
    stores: tuple[SqliteEventLog, SqliteTrackStore],
) -> None:
    report = build_report(*stores, start=START - timedelta(hours=2), end=START - timedelta(hours=1))
    assert report["incidents"] == report["assignments"] == report["timeline"] == []
    assert report["tracks"] == {} and report["units"] == [] and report["demonstrations"] == []
    assert all(r["count"] == 0 and r["met"] is None for r in report["response_times"])
    assert report["totals"]["fixes"] == 0
