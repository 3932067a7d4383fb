"""Unit tests of coordinator/domain/validation.py: untrusted JSON bodies become typed commands."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.domain import commands as c
from coordinator.domain import validation as v
from coordinator.domain.errors import ValidationError

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
DEMO_ID = "dem-0a1b2c"
UNIT_ID = "unit-0a1b2c"
INCIDENT_ID = "inc-0a1b2c"
ASSIGNMENT_ID = "asg-0a1b2c"
TOKEN = "f" * 64

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-87.63, 41.88], [-87.62, 41.88], [-87.62, 41.89], [-87.63, 41.89], [-87.63, 41.88]]],
}
OPEN_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-87.63, 41.88], [-87.62, 41.88], [-87.62, 41.89], [-87.63, 41.89], [-87.64, 41.88]]],
}

# Every parser as a one-argument callable taking the untrusted body.
PARSERS: dict[str, Callable[[Any], Any]] = {
    "create_demonstration": v.create_demonstration,
    "update_demonstration": lambda body: v.update_demonstration(DEMO_ID, body),
    "register_unit": lambda body: v.register_unit(body, token_sha256=TOKEN),
    "update_unit": lambda body: v.update_unit(UNIT_ID, body),
    "position_fix": lambda body: v.position_fix(body, now=NOW),
    "report_incident": v.report_incident,
    "update_incident": lambda body: v.update_incident(INCIDENT_ID, body),
    "dispatch_assignment": v.dispatch_assignment,
    "change_assignment_status": lambda body: v.change_assignment_status(ASSIGNMENT_ID, body),
    "polygon": v.polygon,
    "skills": v.skills,
    "account_name": v.account_name,
}

# The fields each object-taking parser knows, so generated bodies get past the unknown-field check.
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "create_demonstration": v.DEMONSTRATION_FIELDS,
    "update_demonstration": v.DEMONSTRATION_FIELDS,
    "register_unit": v.UNIT_FIELDS,
    "update_unit": v.UNIT_UPDATE_FIELDS,
    "position_fix": v.POSITION_FIELDS,
    "report_incident": v.INCIDENT_FIELDS,
    "update_incident": v.INCIDENT_UPDATE_FIELDS,
    "dispatch_assignment": v.ASSIGNMENT_FIELDS,
    "change_assignment_status": v.STATUS_FIELDS,
    "polygon": frozenset({"type", "coordinates"}),
}


def refusal(parse: Callable[[Any], Any], body: Any) -> ValidationError:
    """Run a parser that must refuse the body and return the error."""
    with pytest.raises(ValidationError) as caught:
        parse(body)
    return caught.value


# --- create_demonstration ------------------------------------------------


def test_create_demonstration_minimal_body_fills_defaults() -> None:
    cmd = v.create_demonstration({"name": "  Grant Park march ", "lat": 41.8757, "lon": -87.6243})
    assert cmd == c.CreateDemonstration(
        name="Grant Park march",
        lat=41.8757,
        lon=-87.6243,
        crowd_estimate=0,
        tension=1,
        status="planned",
        federal_presence=False,
        area=None,
    )


def test_create_demonstration_full_body_keeps_every_value() -> None:
    cmd = v.create_demonstration(
        {
            "name": "Rally",
            "lat": 41,
            "lon": -87,
            "crowd_estimate": 2500.0,
            "tension": 4,
            "status": "active",
            "federal_presence": True,
            "area": SQUARE,
        }
    )
    assert cmd.lat == 41.0 and isinstance(cmd.lat, float)
    assert cmd.lon == -87.0 and isinstance(cmd.lon, float)
    assert cmd.crowd_estimate == 2500 and isinstance(cmd.crowd_estimate, int)
    assert cmd.tension == 4
    assert cmd.status == "active"
    assert cmd.federal_presence is True
    assert cmd.area == SQUARE


def test_create_demonstration_null_optionals_take_defaults() -> None:
    cmd = v.create_demonstration(
        {"name": "Vigil", "lat": 0, "lon": 0, "tension": None, "status": None, "area": None}
    )
    assert (cmd.tension, cmd.status, cmd.area) == (1, "planned", None)


def test_create_demonstration_accepts_boundary_values() -> None:
    cmd = v.create_demonstration(
        {"name": "x" * v.MAX_NAME, "lat": -90, "lon": 180, "crowd_estimate": v.MAX_CROWD, "tension": 5}
    )
    assert (cmd.lat, cmd.lon, cmd.crowd_estimate, cmd.tension) == (-90.0, 180.0, v.MAX_CROWD, 5)


CREATE_DEMO_BASE: dict[str, Any] = {"name": "March", "lat": 41.88, "lon": -87.63}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lat": -90.0001}, "lat"),
        ({"lon": -181}, "lon"),
        ({"lon": 180.5}, "lon"),
        ({"lat": float("nan")}, "lat"),
        ({"lon": float("nan")}, "lon"),
        ({"lat": float("inf")}, "lat"),
        ({"lon": float("-inf")}, "lon"),
        ({"lat": True}, "lat"),
        ({"lon": False}, "lon"),
        ({"lat": "41.88"}, "lat"),
        ({"lat": [41.88]}, "lat"),
        ({"lat": 10**400}, "lat"),
        ({"lon": -(10**400)}, "lon"),
        ({"crowd_estimate": -1}, "crowd_estimate"),
        ({"crowd_estimate": v.MAX_CROWD + 1}, "crowd_estimate"),
        ({"crowd_estimate": 2.5}, "crowd_estimate"),
        ({"crowd_estimate": True}, "crowd_estimate"),
        ({"crowd_estimate": float("nan")}, "crowd_estimate"),
        ({"crowd_estimate": "100"}, "crowd_estimate"),
        ({"tension": 9}, "tension"),
        ({"tension": 0}, "tension"),
        ({"tension": True}, "tension"),
        ({"tension": 3.5}, "tension"),
        ({"status": "riot"}, "status"),
        ({"status": 1}, "status"),
        ({"federal_presence": "yes"}, "federal_presence"),
        ({"federal_presence": 1}, "federal_presence"),
        ({"area": OPEN_SQUARE}, "area"),
        ({"area": {"type": "Point", "coordinates": [0, 0]}}, "area"),
        ({"organizer": "someone"}, "organizer"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * (v.MAX_NAME + 1)}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"lat": None}, "lat"),
    ],
)
def test_create_demonstration_refuses_bad_value_naming_field(changes: dict[str, Any], field: str) -> None:
    assert refusal(v.create_demonstration, {**CREATE_DEMO_BASE, **changes}).field == field


@pytest.mark.parametrize("missing", ["name", "lat", "lon"])
def test_create_demonstration_refuses_missing_required_field(missing: str) -> None:
    body = {k: val for k, val in CREATE_DEMO_BASE.items() if k != missing}
    assert refusal(v.create_demonstration, body).field == missing


@pytest.mark.parametrize("body", [None, [], "March", 3, [("name", "March")]])
def test_create_demonstration_refuses_non_object_body(body: Any) -> None:
    assert refusal(v.create_demonstration, body).field == "body"


# --- update_demonstration ------------------------------------------------


def test_update_demonstration_returns_only_given_changes() -> None:
    cmd = v.update_demonstration(DEMO_ID, {"tension": 4, "status": "dispersing", "crowd_estimate": 300})
    assert cmd == c.UpdateDemonstration(
        id=DEMO_ID, changes={"tension": 4, "status": "dispersing", "crowd_estimate": 300}
    )


def test_update_demonstration_area_may_be_cleared_with_null() -> None:
    assert v.update_demonstration(DEMO_ID, {"area": None}).changes == {"area": None}


def test_update_demonstration_parses_area_and_trims_name() -> None:
    cmd = v.update_demonstration(DEMO_ID, {"area": SQUARE, "name": " New name "})
    assert cmd.changes == {"area": SQUARE, "name": "New name"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"tension": 9}, "tension"),
        ({"tension": 0}, "tension"),
        ({"tension": None}, "tension"),
        ({"name": None}, "name"),
        ({"lat": 91}, "lat"),
        ({"lon": -181}, "lon"),
        ({"lat": float("nan")}, "lat"),
        ({"lat": True}, "lat"),
        ({"federal_presence": 0}, "federal_presence"),
        ({"status": "over"}, "status"),
        ({"area": OPEN_SQUARE}, "area"),
        ({"name": "x" * (v.MAX_NAME + 1)}, "name"),
        ({"id": "dem-ffffff"}, "id"),
        ({"created_at": "2025-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_update_demonstration_refuses_bad_value_naming_field(body: dict[str, Any], field: str) -> None:
    assert refusal(lambda b: v.update_demonstration(DEMO_ID, b), body).field == field


# --- register_unit -------------------------------------------------------


def test_register_unit_fills_default_skills_and_keeps_token() -> None:
    cmd = v.register_unit({"callsign": " MED-1 ", "kind": "medical_team"}, token_sha256=TOKEN)
    assert cmd == c.RegisterUnit(callsign="MED-1", kind="medical_team", skills=[], token_sha256=TOKEN)


def test_register_unit_deduplicates_skills_in_order() -> None:
    cmd = v.register_unit(
        {
            "callsign": "DE-2",
            "kind": "deescalation_team",
            "skills": ["lang:es", "crisis_intervention", "lang:es"],
        },
        token_sha256=TOKEN,
    )
    assert cmd.skills == ["lang:es", "crisis_intervention"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "medical_team"}, "callsign"),
        ({"callsign": "MED-1"}, "kind"),
        ({"callsign": "MED-1", "kind": "swat"}, "kind"),
        ({"callsign": "MED-1", "kind": None}, "kind"),
        ({"callsign": "", "kind": "medical_team"}, "callsign"),
        ({"callsign": "C" * 41, "kind": "medical_team"}, "callsign"),
        ({"callsign": 7, "kind": "medical_team"}, "callsign"),
        ({"callsign": "MED-1", "kind": "medical_team", "skills": "emt"}, "skills"),
        ({"callsign": "MED-1", "kind": "medical_team", "skills": ["EMT"]}, "skills"),
        ({"callsign": "MED-1", "kind": "medical_team", "status": "available"}, "status"),
        ({"callsign": "MED-1", "kind": "medical_team", "token_sha256": TOKEN}, "token_sha256"),
    ],
)
def test_register_unit_refuses_bad_value_naming_field(body: dict[str, Any], field: str) -> None:
    assert refusal(PARSERS["register_unit"], body).field == field


# --- update_unit ---------------------------------------------------------


@pytest.mark.parametrize("status", ["available", "out_of_service"])
def test_update_unit_accepts_settable_statuses(status: str) -> None:
    assert v.update_unit(UNIT_ID, {"status": status}) == c.UpdateUnit(id=UNIT_ID, changes={"status": status})


def test_update_unit_parses_callsign_and_skills() -> None:
    cmd = v.update_unit(UNIT_ID, {"callsign": " DE-9 ", "skills": ["lang:fr", "lang:fr"]})
    assert cmd.changes == {"callsign": "DE-9", "skills": ["lang:fr"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"status": "en_route"}, "status"),
        ({"status": "assigned"}, "status"),
        ({"status": None}, "status"),
        ({"callsign": None}, "callsign"),
        ({"callsign": "C" * 41}, "callsign"),
        ({"skills": ["ok", "Not OK"]}, "skills"),
        ({"kind": "medical_team"}, "kind"),
        ({"active_assignment_id": None}, "active_assignment_id"),
    ],
)
def test_update_unit_refuses_bad_value_naming_field(body: dict[str, Any], field: str) -> None:
    assert refusal(PARSERS["update_unit"], body).field == field


# --- position_fix --------------------------------------------------------


def test_position_fix_defaults_to_now_without_accuracy() -> None:
    assert v.position_fix({"lat": 41.9, "lon": -87.6}, now=NOW) == (41.9, -87.6, None, NOW)


def test_position_fix_parses_offset_time_into_utc() -> None:
    lat, lon, accuracy, at = v.position_fix(
        {"lat": 41.9, "lon": -87.6, "accuracy_m": 12, "at": "2025-06-01T07:59:30.250-04:00"}, now=NOW
    )
    assert (lat, lon, accuracy) == (41.9, -87.6, 12.0)
    assert at == datetime(2025, 6, 1, 11, 59, 30, 250000, tzinfo=UTC)
    assert at.utcoffset() == timedelta(0)


def test_position_fix_accepts_z_suffix_and_small_clock_skew() -> None:
    _, _, _, at = v.position_fix({"lat": 0, "lon": 0, "at": "2025-06-01T12:01:59Z"}, now=NOW)
    assert at == NOW + timedelta(seconds=119)


def test_position_fix_accepts_exactly_the_maximum_skew() -> None:
    ahead = (NOW + v.MAX_FUTURE_SKEW).isoformat()
    assert v.position_fix({"lat": 0, "lon": 0, "at": ahead}, now=NOW)[3] == NOW + v.MAX_FUTURE_SKEW


def test_position_fix_accepts_old_fixes() -> None:
    old = datetime(2025, 6, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert v.position_fix({"lat": 0, "lon": 0, "at": old.isoformat()}, now=NOW)[3] == old


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lon": 0}, "lat"),
        ({"lat": 0}, "lon"),
        ({"lat": 91, "lon": 0}, "lat"),
        ({"lat": 0, "lon": -181}, "lon"),
        ({"lat": float("nan"), "lon": 0}, "lat"),
        ({"lat": 0, "lon": float("inf")}, "lon"),
        ({"lat": True, "lon": 0}, "lat"),
        ({"lat": 0, "lon": 0, "accuracy_m": -1}, "accuracy_m"),
        ({"lat": 0, "lon": 0, "accuracy_m": v.MAX_ACCURACY_M + 1}, "accuracy_m"),
        ({"lat": 0, "lon": 0, "accuracy_m": True}, "accuracy_m"),
        ({"lat": 0, "lon": 0, "accuracy_m": float("nan")}, "accuracy_m"),
        ({"lat": 0, "lon": 0, "at": "2025-06-01T12:00:00"}, "at"),
        ({"lat": 0, "lon": 0, "at": "2025-06-01"}, "at"),
        ({"lat": 0, "lon": 0, "at": "yesterday"}, "at"),
        ({"lat": 0, "lon": 0, "at": 1748779200}, "at"),
        ({"lat": 0, "lon": 0, "at": "2025-06-01T12:00:00" + " " * 40 + "Z"}, "at"),
        ({"lat": 0, "lon": 0, "at": "2025-06-01T12:02:01Z"}, "at"),
        ({"lat": 0, "lon": 0, "at": "2030-01-01T00:00:00Z"}, "at"),
        ({"lat": 0, "lon": 0, "at": "9999-12-31T23:59:59Z"}, "at"),
        ({"lat": 0, "lon": 0, "at": "9999-12-31T23:59:59-05:00"}, "at"),
        ({"lat": 0, "lon": 0, "at": "0001-01-01T00:00:00+01:00"}, "at"),
        ({"lat": 0, "lon": 0, "speed": 3}, "speed"),
        ({"lat": 0, "lon": 0, "unit_id": UNIT_ID}, "unit_id"),
    ],
)
def test_position_fix_refuses_bad_value_naming_field(body: dict[str, Any], field: str) -> None:
    assert refusal(PARSERS["position_fix"], body).field == field


# --- report_incident -----------------------------------------------------


def test_report_incident_fills_defaults_for_non_injury() -> None:
    cmd = v.report_incident({"kind": "federal_activity", "lat": 41.88, "lon": -87.63})
    assert cmd == c.ReportIncident(
        kind="federal_activity",
        lat=41.88,
        lon=-87.63,
        severity=3,
        triage=None,
        demonstration_id=None,
        note="",
        federal_involved=True,  # federal activity involves federal agents by definition
    )


def test_report_incident_injury_keeps_triage_and_links() -> None:
    cmd = v.report_incident(
        {
            "kind": "injury",
            "triage": "immediate",
            "lat": 41.88,
            "lon": -87.63,
            "severity": 5,
            "demonstration_id": DEMO_ID,
            "note": "  head wound, conscious ",
        }
    )
    assert (cmd.triage, cmd.severity, cmd.demonstration_id, cmd.note) == (
        "immediate",
        5,
        DEMO_ID,
        "head wound, conscious",
    )


INCIDENT_BASE: dict[str, Any] = {"kind": "use_of_force", "lat": 41.88, "lon": -87.63}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "injury"}, "triage"),
        ({"kind": "injury", "triage": None}, "triage"),
        ({"triage": "minor"}, "triage"),
        ({"kind": "injury", "triage": "black"}, "triage"),
        ({"kind": "riot"}, "kind"),
        ({"kind": None}, "kind"),
        ({"lat": 91}, "lat"),
        ({"lon": -181}, "lon"),
        ({"lat": float("nan")}, "lat"),
        ({"lon": True}, "lon"),
        ({"lat": None}, "lat"),
        ({"severity": 0}, "severity"),
        ({"severity": 6}, "severity"),
        ({"severity": True}, "severity"),
        ({"severity": 2.5}, "severity"),
        ({"demonstration_id": "march-1"}, "demonstration_id"),
        ({"demonstration_id": 12}, "demonstration_id"),
        ({"demonstration_id": "DEM-ABCDEF"}, "demonstration_id"),
        ({"demonstration_id": DEMO_ID + "\n"}, "demonstration_id"),
        ({"note": "n" * (v.MAX_NOTE + 1)}, "note"),
        ({"note": 3}, "note"),
        ({"patient_name": "Jane Doe"}, "patient_name"),
        ({"status": "resolved"}, "status"),
    ],
)
def test_report_incident_refuses_bad_value_naming_field(changes: dict[str, Any], field: str) -> None:
    assert refusal(v.report_incident, {**INCIDENT_BASE, **changes}).field == field


@pytest.mark.parametrize("missing", ["kind", "lat", "lon"])
def test_report_incident_refuses_missing_required_field(missing: str) -> None:
    body = {k: val for k, val in INCIDENT_BASE.items() if k != missing}
    assert refusal(v.report_incident, body).field == missing


def test_report_incident_note_at_maximum_length_is_accepted() -> None:
    assert len(v.report_incident({**INCIDENT_BASE, "note": "n" * v.MAX_NOTE}).note) == v.MAX_NOTE


# --- update_incident -----------------------------------------------------


def test_update_incident_returns_parsed_changes() -> None:
    cmd = v.update_incident(
        INCIDENT_ID, {"status": "resolved", "severity": 2.0, "triage": "delayed", "note": " handed over "}
    )
    assert cmd == c.UpdateIncident(
        id=INCIDENT_ID,
        changes={"status": "resolved", "severity": 2, "triage": "delayed", "note": "handed over"},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"status": "closed"}, "status"),
        ({"severity": 0}, "severity"),
        ({"severity": 6}, "severity"),
        ({"severity": False}, "severity"),
        ({"triage": "expectant"}, "triage"),
        ({"triage": None}, "triage"),
        ({"note": "n" * (v.MAX_NOTE + 1)}, "note"),
        ({"kind": "injury"}, "kind"),
        ({"lat": 1}, "lat"),
    ],
)
def test_update_incident_refuses_bad_value_naming_field(body: dict[str, Any], field: str) -> None:
    assert refusal(PARSERS["update_incident"], body).field == field


# --- dispatch_assignment -------------------------------------------------


def test_dispatch_assignment_to_incident_fills_defaults() -> None:
    cmd = v.dispatch_assignment({"unit_id": UNIT_ID, "kind": "medical_aid", "incident_id": INCIDENT_ID})
    assert cmd == c.DispatchAssignment(
        unit_id=UNIT_ID,
        kind="medical_aid",
        incident_id=INCIDENT_ID,
        demonstration_id=None,
        priority=3,
        note="",
    )


def test_dispatch_assignment_to_demonstration_keeps_priority_and_note() -> None:
    cmd = v.dispatch_assignment(
        {
            "unit_id": UNIT_ID,
            "kind": "deescalation",
            "demonstration_id": DEMO_ID,
            "incident_id": None,
            "priority": 1,
            "note": " north side ",
        }
    )
    assert (cmd.incident_id, cmd.demonstration_id, cmd.priority, cmd.note) == (None, DEMO_ID, 1, "north side")


DISPATCH_BASE: dict[str, Any] = {"unit_id": UNIT_ID, "kind": "observe", "incident_id": INCIDENT_ID}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"demonstration_id": DEMO_ID}, "incident_id"),
        ({"incident_id": None}, "incident_id"),
        ({"incident_id": "inc-zzzzzz"}, "incident_id"),
        ({"incident_id": None, "demonstration_id": "dem-12"}, "demonstration_id"),
        ({"unit_id": None}, "unit_id"),
        ({"unit_id": "MED-1"}, "unit_id"),
        ({"unit_id": UNIT_ID + "\n"}, "unit_id"),
        ({"kind": "arrest"}, "kind"),
        ({"kind": None}, "kind"),
        ({"priority": 0}, "priority"),
        ({"priority": 6}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": float("inf")}, "priority"),
        ({"note": "n" * (v.MAX_NOTE + 1)}, "note"),
        ({"status": "dispatched"}, "status"),
    ],
)
def test_dispatch_assignment_refuses_bad_value_naming_field(changes: dict[str, Any], field: str) -> None:
    assert refusal(v.dispatch_assignment, {**DISPATCH_BASE, **changes}).field == field


@pytest.mark.parametrize("missing", ["unit_id", "kind"])
def test_dispatch_assignment_refuses_missing_required_field(missing: str) -> None:
    body = {k: val for k, val in DISPATCH_BASE.items() if k != missing}
    assert refusal(v.dispatch_assignment, body).field == missing


def test_dispatch_assignment_with_neither_target_names_incident_id() -> None:
    assert refusal(v.dispatch_assignment, {"unit_id": UNIT_ID, "kind": "observe"}).field == "incident_id"


# --- change_assignment_status --------------------------------------------


@pytest.mark.parametrize(
    "status", ["delivered", "acknowledged", "en_route", "on_scene", "completed", "cancelled"]
)
def test_change_assignment_status_accepts_steps_without_reason(status: str) -> None:
    cmd = v.change_assignment_status(ASSIGNMENT_ID, {"status": status})
    assert cmd == c.ChangeAssignmentStatus(id=ASSIGNMENT_ID, status=status, reason=None)


def test_change_assignment_status_decline_keeps_trimmed_reason() -> None:
    cmd = v.change_assignment_status(ASSIGNMENT_ID, {"status": "declined", "reason": "  vehicle down "})
    assert cmd == c.ChangeAssignmentStatus(id=ASSIGNMENT_ID, status="declined", reason="vehicle down")


def test_change_assignment_status_blank_reason_becomes_none() -> None:
    assert v.change_assignment_status(ASSIGNMENT_ID, {"status": "cancelled", "reason": "   "}).reason is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "declined"}, "reason"),
        ({"status": "declined", "reason": None}, "reason"),
        ({"status": "declined", "reason": ""}, "reason"),
        ({"status": "declined", "reason": "   "}, "reason"),
        ({"status": "declined", "reason": "r" * (v.MAX_REASON + 1)}, "reason"),
        ({"status": "declined", "reason": 404}, "reason"),
        ({"status": "dispatched"}, "status"),
        ({"status": "finished"}, "status"),
        ({"status": None}, "status"),
        ({}, "status"),
        ({"reason": "busy"}, "status"),
        ({"status": "completed", "at": "2025-06-01T12:00:00Z"}, "at"),
    ],
)
def test_change_assignment_status_refuses_bad_value_naming_field(body: dict[str, Any], field: str) -> None:
    assert refusal(PARSERS["change_assignment_status"], body).field == field


# --- polygon -------------------------------------------------------------


def test_polygon_returns_clean_closed_rings_as_floats() -> None:
    area = v.polygon(
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]], "bbox": [0, 0, 1, 1]}
    )
    assert area == {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]}
    assert all(isinstance(x, float) for pos in area["coordinates"][0] for x in pos)


def test_polygon_accepts_a_hole_and_drops_altitude() -> None:
    outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[2, 2, 5], [3, 2, 5], [3, 3, 5], [2, 2, 5]]
    area = v.polygon({"type": "Polygon", "coordinates": [outer, hole]})
    assert area["coordinates"][1] == [[2.0, 2.0], [3.0, 2.0], [3.0, 3.0], [2.0, 2.0]]


def test_polygon_reads_lon_then_lat() -> None:
    # 170 is a fine longitude but not a latitude; swapped order would be refused.
    area = v.polygon({"type": "Polygon", "coordinates": [[[170, 10], [171, 10], [171, 11], [170, 10]]]})
    assert area["coordinates"][0][0] == [170.0, 10.0]
    swapped = {"type": "Polygon", "coordinates": [[[10, 170], [10, 171], [11, 171], [10, 170]]]}
    assert refusal(v.polygon, swapped).field == "area"


def test_polygon_accepts_the_maximum_number_of_positions() -> None:
    ring = [[0.0, i / 10_000] for i in range(v.MAX_AREA_POINTS - 1)] + [[0.0, 0.0]]
    assert len(v.polygon({"type": "Polygon", "coordinates": [ring]})["coordinates"][0]) == v.MAX_AREA_POINTS


@pytest.mark.parametrize(
    "value",
    [
        OPEN_SQUARE,
        None,
        [],
        "Polygon",
        {"coordinates": SQUARE["coordinates"]},
        {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]},
        {"type": "Polygon"},
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": {"0": []}},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        {"type": "Polygon", "coordinates": ["ring"]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1], [1, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], "1,0", [1, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [181, 0], [1, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 91], [1, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, float("nan")], [1, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [True, 0], [1, 1], [0, 0]]]},
        {
            "type": "Polygon",
            "coordinates": [[[0.0, i / 10_000] for i in range(v.MAX_AREA_POINTS)] + [[0.0, 0.0]]],
        },
    ],
)
def test_polygon_refuses_bad_geometry_naming_area(value: Any) -> None:
    assert refusal(v.polygon, value).field == "area"


def test_polygon_errors_use_the_given_field_name() -> None:
    assert refusal(lambda val: v.polygon(val, "zone"), OPEN_SQUARE).field == "zone"


# --- skills --------------------------------------------------------------


def test_skills_accepts_tags_and_drops_repeats_keeping_order() -> None:
    assert v.skills(["lang:es", "emt:paramedic", "lang:es", "crisis_intervention", "a.b-c"]) == [
        "lang:es",
        "emt:paramedic",
        "crisis_intervention",
        "a.b-c",
    ]


def test_skills_accepts_empty_list_and_maximum_count_and_length() -> None:
    assert v.skills([]) == []
    assert len(v.skills([f"s{i}" for i in range(v.MAX_SKILLS)])) == v.MAX_SKILLS
    assert v.skills(["a" * 40]) == ["a" * 40]


@pytest.mark.parametrize(
    "value",
    [
        None,
        "lang:es",
        {"lang": "es"},
        [f"s{i}" for i in range(v.MAX_SKILLS + 1)],
        ["Lang:es"],
        ["lang es"],
        [""],
        ["-lead"],
        ["a" * 41],
        [3],
        [None],
        ["lang:es\n"],
    ],
)
def test_skills_refuses_bad_tags_naming_skills(value: Any) -> None:
    assert refusal(v.skills, value).field == "skills"


# --- account_name --------------------------------------------------------


@pytest.mark.parametrize("name", ["ops", "a", "jane.doe@eoc", "shift_2-lead", "A" * 64])
def test_account_name_accepts_valid_names_unchanged(name: str) -> None:
    assert v.account_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A" * 65, ".ops", "-ops", "ops lead", "ops/lead", "ops\n", "ópera", None, 42, ["ops"]]
)
def test_account_name_refuses_bad_names(name: Any) -> None:
    assert refusal(v.account_name, name).field == "name"


def test_account_name_errors_use_the_given_field_name() -> None:
    assert refusal(lambda val: v.account_name(val, "user"), "bad name").field == "user"


# --- properties ----------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)

# Values a well-meaning but sloppy client might send, per field: mostly close to valid, so a
# generated body gets past the first checks and reaches the later ones.
iso_times = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes() | st.sampled_from([datetime.min, datetime.max]),
    st.integers(min_value=-1439, max_value=1439),
)
huge_integers = st.integers(min_value=2**1024, max_value=10**400) | st.integers(
    min_value=-(10**400), max_value=-(2**1024)
)
ids = st.sampled_from([DEMO_ID, UNIT_ID, INCIDENT_ID, ASSIGNMENT_ID, DEMO_ID + "\n", "dem-xyz"])
positions = st.lists(
    st.floats(min_value=-181, max_value=181) | st.integers(min_value=-181, max_value=181), max_size=3
)
ring = st.lists(positions, max_size=6).map(lambda pts: [*pts, pts[0]] if pts else pts)
small_integers = st.integers(min_value=-1, max_value=7) | st.floats(min_value=-1, max_value=7)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "name": st.text(max_size=130),
    "callsign": st.text(max_size=45),
    "note": st.text(max_size=30),
    "reason": st.text(max_size=30),
    "lat": st.floats(min_value=-91, max_value=91) | huge_integers,
    "lon": st.floats(min_value=-181, max_value=181) | huge_integers,
    "accuracy_m": st.floats(min_value=-1, max_value=2 * v.MAX_ACCURACY_M) | huge_integers,
    "crowd_estimate": st.integers(min_value=-1, max_value=v.MAX_CROWD + 1) | huge_integers,
    "tension": small_integers,
    "severity": small_integers,
    "priority": small_integers,
    "federal_presence": st.booleans(),
    "federal_involved": st.booleans(),
    "languages": st.lists(st.sampled_from(["es", "ht", "zh", "ES", "english", "", "es\n"]), max_size=4),
    "status": st.sampled_from(
        [
            "planned",
            "active",
            "ended",
            "available",
            "out_of_service",
            "open",
            "resolved",
            "declined",
            "on_scene",
        ]
    ),
    "kind": st.sampled_from(["medical_team", "injury", "other", "medical_aid", "observe", "riot"]),
    "triage": st.sampled_from(["immediate", "delayed", "minor", "black"]),
    "skills": st.lists(st.sampled_from(["lang:es", "emt", "Lang", "lang:es\n", ""]), max_size=4),
    "at": iso_times | st.text(max_size=45),
    "unit_id": ids,
    "incident_id": ids,
    "demonstration_id": ids,
    "type": st.just("Polygon"),
    "coordinates": st.lists(ring, max_size=2),
}
PLAUSIBLE["area"] = st.fixed_dictionaries(
    {"type": st.just("Polygon"), "coordinates": PLAUSIBLE["coordinates"]}
)


def known_field_bodies(fields: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects holding any subset of the fields, each plausible, arbitrary JSON or null."""
    return st.fixed_dictionaries(
        {}, optional={name: PLAUSIBLE[name] | json_values for name in sorted(fields)}
    )


def outcome(parse: Callable[[Any], Any], body: Any) -> None:
    """A parser either returns something or raises ValidationError; anything else escapes."""
    try:
        parse(body)
    except ValidationError as error:
        assert isinstance(error.message, str) and error.message
        assert error.field is None or isinstance(error.field, str)


@pytest.mark.parametrize("parser", sorted(PARSERS))
@PROPERTY_SETTINGS
@given(body=json_values)
def test_parser_on_any_json_value_returns_or_raises_validation_error(parser: str, body: Any) -> None:
    outcome(PARSERS[parser], body)


@pytest.mark.parametrize("parser", sorted(KNOWN_FIELDS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_parser_on_objects_with_known_fields_returns_or_raises_validation_error(
    parser: str, data: st.DataObject
) -> None:
    outcome(PARSERS[parser], data.draw(known_field_bodies(KNOWN_FIELDS[parser])))


@PROPERTY_SETTINGS
@given(at=iso_times | st.text(max_size=40))
def test_position_fix_any_time_string_is_accepted_or_refused_naming_at(at: str) -> None:
    try:
        _, _, _, parsed = v.position_fix({"lat": 1.0, "lon": 2.0, "at": at}, now=NOW)
    except ValidationError as error:
        assert error.field == "at"
    else:
        assert parsed.utcoffset() == timedelta(0)
        assert parsed - NOW <= v.MAX_FUTURE_SKEW


@PROPERTY_SETTINGS
@given(
    lat=st.floats(min_value=-90.0, max_value=90.0),
    lon=st.floats(min_value=-180.0, max_value=180.0),
)
def test_create_demonstration_preserves_any_in_range_coordinates_exactly(lat: float, lon: float) -> None:
    cmd = v.create_demonstration({"name": "March", "lat": lat, "lon": lon})
    assert cmd.lat.hex() == lat.hex()
    assert cmd.lon.hex() == lon.hex()


@PROPERTY_SETTINGS
@given(lat=st.integers(min_value=-90, max_value=90), lon=st.integers(min_value=-180, max_value=180))
def test_create_demonstration_accepts_integer_coordinates_as_floats(lat: int, lon: int) -> None:
    cmd = v.create_demonstration({"name": "March", "lat": lat, "lon": lon})
    assert (cmd.lat, cmd.lon) == (float(lat), float(lon))
    assert isinstance(cmd.lat, float) and isinstance(cmd.lon, float)


@PROPERTY_SETTINGS
@given(
    lat=st.floats(min_value=90.0, exclude_min=True)
    | st.floats(max_value=-90.0, exclude_max=True)
    | st.just(math.nan)
)
def test_create_demonstration_refuses_any_latitude_outside_range(lat: float) -> None:
    assert refusal(v.create_demonstration, {"name": "March", "lat": lat, "lon": 0}).field == "lat"
