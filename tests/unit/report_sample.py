"""A realistic after-action report dict, shaped like `build_report` returns it.

A Saturday of demonstrations in Boston: a march from Boston Common to City Hall
Plaza, three field units, injuries, federal activity near city property, and
assignments that went every way an assignment can go. Tests render it without a
store, so the renderer is checked on its own.
"""

from __future__ import annotations

import copy
from typing import Any

CITY_HALL = (42.3604, -71.0581)
COMMON = (42.3551, -71.0662)

# A note typed by a person on a tablet: the renderer must show it, not run it.
HOSTILE_NOTE = '<script>alert(1)</script> & "quoted" `${x}`'


def _t(hhmmss: str) -> str:
    """Return a UTC time on the day of the operation (14 June 2025)."""
    return f"2025-06-14T{hhmmss}.000Z"


def _track(points: list[tuple[float, float, str]]) -> list[list[Any]]:
    return [[lat, lon, _t(at)] for lat, lon, at in points]


_DEMONSTRATIONS: list[dict[str, Any]] = [
    {
        "id": "demo-common",
        "name": "March for Due Process",
        "lat": COMMON[0],
        "lon": COMMON[1],
        "status": "ended",
        "federal_presence": False,
        "crowd_estimate": 4200,
        "tension": 2,
        "languages": ["en", "es", "ht"],
        "series": [
            {"at": _t("14:00:00"), "tension": 1, "crowd_estimate": 800},
            {"at": _t("15:00:00"), "tension": 2, "crowd_estimate": 2500},
            {"at": _t("16:10:00"), "tension": 3, "crowd_estimate": 4200},
            {"at": _t("17:30:00"), "tension": 2, "crowd_estimate": 3000},
            {"at": _t("19:00:00"), "tension": 1, "crowd_estimate": 600},
        ],
    },
    {
        "id": "demo-cityhall",
        "name": "Rally at City Hall Plaza",
        "lat": CITY_HALL[0],
        "lon": CITY_HALL[1],
        "status": "active",
        "federal_presence": True,
        "crowd_estimate": 6100,
        "tension": 4,
        "languages": ["en", "pt", "zh"],
        "series": [
            {"at": _t("15:30:00"), "tension": 2, "crowd_estimate": 1500},
            {"at": _t("16:45:00"), "tension": 3, "crowd_estimate": 4800},
            {"at": _t("17:20:00"), "tension": 5, "crowd_estimate": 6100},
            {"at": _t("18:05:00"), "tension": 4, "crowd_estimate": 5200},
        ],
    },
]

_UNITS: list[dict[str, Any]] = [
    {"id": "unit-d1", "callsign": "DELTA-1", "kind": "deescalation_team", "skills": ["es", "mediation"]},
    {"id": "unit-m2", "callsign": "MEDIC-2", "kind": "medical_team", "skills": ["als", "pt"]},
    {"id": "unit-s3", "callsign": "SUPER-3", "kind": "field_supervisor", "skills": ["legal_observer"]},
]

_INCIDENTS: list[dict[str, Any]] = [
    {
        "id": "inc-1",
        "kind": "injury",
        "lat": 42.3556,
        "lon": -71.0655,
        "severity": 3,
        "triage": "immediate",
        "demonstration_id": "demo-common",
        "note": "Older man collapsed near the Park St gate, heat exhaustion suspected.",
        "status": "resolved",
        "reported_at": _t("16:12:00"),
        "reported_by": "SUPER-3",
        "federal_involved": False,
        "neighborhood": "Downtown",
        "city_property": ["Boston Common"],
        "sensitive_sites": [],
    },
    {
        "id": "inc-2",
        "kind": "injury",
        "lat": 42.3601,
        "lon": -71.0586,
        "severity": 2,
        "triage": "delayed",
        "demonstration_id": "demo-cityhall",
        "note": HOSTILE_NOTE,
        "status": "resolved",
        "reported_at": _t("17:22:00"),
        "reported_by": "DELTA-1",
        "federal_involved": True,
        "neighborhood": "Government Center",
        "city_property": ["City Hall Plaza"],
        "sensitive_sites": [],
    },
    {
        "id": "inc-3",
        "kind": "injury",
        "lat": 42.3599,
        "lon": -71.0578,
        "severity": 1,
        "triage": "minor",
        "demonstration_id": "demo-cityhall",
        "note": "Scraped knee, cleaned and bandaged on site.",
        "status": "resolved",
        "reported_at": _t("17:40:00"),
        "reported_by": "MEDIC-2",
        "federal_involved": False,
        "neighborhood": "Government Center",
        "city_property": ["City Hall Plaza"],
        "sensitive_sites": [],
    },
    {
        "id": "inc-4",
        "kind": "federal_activity",
        "lat": 42.3610,
        "lon": -71.0575,
        "severity": 3,
        "triage": None,
        "demonstration_id": "demo-cityhall",
        "note": "Unmarked vans staging on the plaza's Congress St side; agents in tactical vests.",
        "status": "open",
        "reported_at": _t("17:05:00"),
        "reported_by": "SUPER-3",
        "federal_involved": True,
        "neighborhood": "Government Center",
        "city_property": ["City Hall Plaza", "Government Center Garage"],
        "sensitive_sites": [],
    },
    {
        "id": "inc-5",
        "kind": "use_of_force",
        "lat": 42.3605,
        "lon": -71.0590,
        "severity": 3,
        "triage": None,
        "demonstration_id": "demo-cityhall",
        "note": "Pepper spray used on people at the front of the crowd.",
        "status": "open",
        "reported_at": _t("17:18:00"),
        "reported_by": "DELTA-1",
        "federal_involved": True,
        "neighborhood": "Government Center",
        "city_property": ["City Hall Plaza"],
        "sensitive_sites": ["John F. Kennedy Federal Building"],
    },
    {
        "id": "inc-6",
        "kind": "escalation",
        "lat": 42.3548,
        "lon": -71.0668,
        "severity": 2,
        "triage": None,
        "demonstration_id": "demo-common",
        "note": "Shouting match with counter-protesters at the Frog Pond path.",
        "status": "resolved",
        "reported_at": _t("16:05:00"),
        "reported_by": "SUPER-3",
        "federal_involved": False,
        "neighborhood": "Downtown",
        "city_property": ["Boston Common"],
        "sensitive_sites": [],
    },
    {
        "id": "inc-7",
        "kind": "property_damage",
        "lat": 42.3575,
        "lon": -71.0620,
        "severity": 1,
        "triage": None,
        "demonstration_id": None,
        "note": "Broken bus shelter glass on Tremont St.",
        "status": "open",
        "reported_at": _t("18:30:00"),
        "reported_by": "SUPER-3",
        "federal_involved": False,
        "neighborhood": "Downtown",
        "city_property": [],
        "sensitive_sites": [],
    },
]

_ASSIGNMENTS: list[dict[str, Any]] = [
    {
        "id": "asg-1",
        "unit_id": "unit-m2",
        "callsign": "MEDIC-2",
        "kind": "medical_aid",
        "target_type": "incident",
        "target_id": "inc-1",
        "target_lat": 42.3556,
        "target_lon": -71.0655,
        "priority": 1,
        "status": "completed",
        "reason": "Immediate injury, nearest medical team",
        "note": "Transported to Tufts MC by BEMS.",
        "dispatched_by": "dispatcher",
        "times": {
            "dispatched": _t("16:13:10"),
            "delivered": _t("16:13:12"),
            "acknowledged": _t("16:13:40"),
            "en_route": _t("16:13:45"),
            "on_scene": _t("16:18:30"),
            "completed": _t("16:52:00"),
        },
    },
    {
        "id": "asg-2",
        "unit_id": "unit-d1",
        "kind": "deescalation",
        "callsign": "DELTA-1",
        "target_type": "incident",
        "target_id": "inc-6",
        "target_lat": 42.3548,
        "target_lon": -71.0668,
        "priority": 2,
        "status": "completed",
        "reason": "Escalation between groups; team speaks Spanish",
        "note": "Groups separated, counter-protesters left by Charles St.",
        "dispatched_by": "dispatcher",
        "times": {
            "dispatched": _t("16:06:00"),
            "delivered": _t("16:06:01"),
            "acknowledged": _t("16:06:20"),
            "en_route": _t("16:06:30"),
            "on_scene": _t("16:09:00"),
            "completed": _t("16:40:00"),
        },
    },
    {
        "id": "asg-3",
        "unit_id": "unit-m2",
        "callsign": "MEDIC-2",
        "kind": "medical_aid",
        "target_type": "incident",
        "target_id": "inc-2",
        "target_lat": 42.3601,
        "target_lon": -71.0586,
        "priority": 1,
        "status": "completed",
        "reason": "Delayed injury after pepper spray",
        "note": "Eyes flushed; declined transport.",
        "dispatched_by": "dispatcher",
        "times": {
            "dispatched": _t("17:24:00"),
            "delivered": _t("17:24:02"),
            "acknowledged": _t("17:26:30"),
            "en_route": _t("17:26:40"),
            "on_scene": _t("17:41:00"),
            "completed": _t("18:00:00"),
        },
    },
    {
        "id": "asg-4",
        "unit_id": "unit-d1",
        "callsign": "DELTA-1",
        "kind": "deescalation",
        "target_type": "demonstration",
        "target_id": "demo-cityhall",
        "target_lat": CITY_HALL[0],
        "target_lon": CITY_HALL[1],
        "priority": 1,
        "status": "on_scene",
        "reason": "Tension 5 at City Hall Plaza",
        "note": "",
        "dispatched_by": "dispatcher",
        "times": {
            "dispatched": _t("17:21:00"),
            "delivered": _t("17:21:01"),
            "acknowledged": _t("17:21:30"),
            "en_route": _t("17:21:35"),
            "on_scene": _t("17:33:00"),
        },
    },
    {
        "id": "asg-5",
        "unit_id": "unit-s3",
        "callsign": "SUPER-3",
        "kind": "observe",
        "target_type": "incident",
        "target_id": "inc-4",
        "target_lat": 42.3610,
        "target_lon": -71.0575,
        "priority": 2,
        "status": "declined",
        "reason": "Document federal staging on city property",
        "note": "Already observing use of force at the plaza front.",
        "dispatched_by": "dispatcher",
        "times": {
            "dispatched": _t("17:06:00"),
            "delivered": _t("17:06:02"),
            "declined": _t("17:07:10"),
        },
    },
    {
        "id": "asg-6",
        "unit_id": "unit-s3",
        "callsign": "SUPER-3",
        "kind": "support",
        "target_type": "incident",
        "target_id": "inc-7",
        "target_lat": 42.3575,
        "target_lon": -71.0620,
        "priority": 3,
        "status": "cancelled",
        "reason": "Secure broken glass until DPW arrives",
        "note": "DPW on site first.",
        "dispatched_by": "supervisor",
        "times": {"dispatched": _t("18:31:00"), "cancelled": _t("18:36:00")},
    },
]

_TRACKS: dict[str, list[list[Any]]] = {
    "unit-d1": _track(
        [
            (42.3560, -71.0640, "15:55:00"),
            (42.3553, -71.0655, "16:07:00"),
            (42.3549, -71.0666, "16:09:00"),
            (42.3556, -71.0650, "17:00:00"),
            (42.3570, -71.0625, "17:24:00"),
            (42.3590, -71.0600, "17:29:00"),
            (42.3603, -71.0583, "17:33:00"),
        ]
    ),
    "unit-m2": _track(
        [
            (42.3585, -71.0610, "16:00:00"),
            (42.3570, -71.0630, "16:15:00"),
            (42.3557, -71.0654, "16:18:30"),
            (42.3565, -71.0640, "17:10:00"),
            (42.3580, -71.0615, "17:30:00"),
            (42.3600, -71.0587, "17:41:00"),
        ]
    ),
    "unit-s3": _track(
        [
            (42.3548, -71.0660, "15:50:00"),
            (42.3552, -71.0664, "16:05:00"),
            (42.3590, -71.0595, "16:50:00"),
            (42.3606, -71.0588, "17:10:00"),
            (42.3577, -71.0622, "18:32:00"),
        ]
    ),
}

_TIMELINE: list[dict[str, Any]] = [
    {"at": _t("14:00:00"), "seq": 101, "type": "DemonstrationCreated", "actor": "dispatcher",
     "summary": "March for Due Process starts at Boston Common"},
    {"at": _t("16:05:00"), "seq": 140, "type": "IncidentReported", "actor": "SUPER-3",
     "summary": "Escalation near Frog Pond path"},
    {"at": _t("16:06:00"), "seq": 141, "type": "AssignmentDispatched", "actor": "dispatcher",
     "summary": "DELTA-1 sent to de-escalate at Frog Pond path"},
    {"at": _t("16:12:00"), "seq": 150, "type": "IncidentReported", "actor": "SUPER-3",
     "summary": "Immediate injury at Park St gate"},
    {"at": _t("16:18:30"), "seq": 158, "type": "AssignmentOnScene", "actor": "MEDIC-2",
     "summary": "MEDIC-2 on scene at Park St gate"},
    {"at": _t("17:05:00"), "seq": 190, "type": "IncidentReported", "actor": "SUPER-3",
     "summary": "Federal vehicles staging on City Hall Plaza"},
    {"at": _t("17:05:01"), "seq": 191, "type": "ComplianceAlertRaised", "actor": "system",
     "summary": "Federal staging on city property: City Hall Plaza"},
    {"at": _t("17:18:00"), "seq": 200, "type": "IncidentReported", "actor": "DELTA-1",
     "summary": "Use of force at City Hall Plaza"},
    {"at": _t("17:18:01"), "seq": 201, "type": "FootagePreservationRequested", "actor": "system",
     "summary": "Footage preservation: 2 cameras near City Hall Plaza"},
    {"at": _t("17:20:00"), "seq": 205, "type": "DemonstrationUpdated", "actor": "dispatcher",
     "summary": "Rally at City Hall Plaza: tension 5, crowd 6,100"},
    {"at": _t("17:24:00"), "seq": 210, "type": "AssignmentDispatched", "actor": "dispatcher",
     "summary": "MEDIC-2 sent to a delayed injury at City Hall Plaza"},
    {"at": _t("18:36:00"), "seq": 260, "type": "AssignmentCancelled", "actor": "supervisor",
     "summary": "SUPER-3 support on Tremont St cancelled"},
    {"at": _t("19:00:00"), "seq": 270, "type": "DemonstrationUpdated", "actor": "dispatcher",
     "summary": "March for Due Process ended"},
]  # fmt: skip

_RESPONSE_TIMES: list[dict[str, Any]] = [
    {"group": "assignment_kind", "key": "medical_aid", "measure": "dispatch_to_ack", "count": 2,
     "median_s": 84.0, "p90_s": 142.0, "target_s": 60, "met": False},
    {"group": "assignment_kind", "key": "medical_aid", "measure": "dispatch_to_on_scene", "count": 2,
     "median_s": 585.0, "p90_s": 948.0, "target_s": 480, "met": False},
    {"group": "assignment_kind", "key": "deescalation", "measure": "dispatch_to_ack", "count": 2,
     "median_s": 25.0, "p90_s": 29.0, "target_s": 60, "met": True},
    {"group": "assignment_kind", "key": "deescalation", "measure": "dispatch_to_on_scene", "count": 2,
     "median_s": 516.0, "p90_s": 708.0, "target_s": 600, "met": True},
    {"group": "incident_kind", "key": "injury", "measure": "incident_to_dispatch", "count": 2,
     "median_s": 125.0, "p90_s": 130.0, "target_s": 120, "met": False},
    {"group": "incident_kind", "key": "escalation", "measure": "incident_to_dispatch", "count": 1,
     "median_s": 60.0, "p90_s": 60.0, "target_s": 120, "met": True},
    {"group": "incident_kind", "key": "property_damage", "measure": "incident_to_dispatch", "count": 1,
     "median_s": 60.0, "p90_s": 60.0, "target_s": None, "met": None},
]  # fmt: skip

_ALERTS: list[dict[str, Any]] = [
    {
        "id": "alert-1",
        "incident_id": "inc-4",
        "kind": "federal_staging_on_city_property",
        "places": [
            {"name": "City Hall Plaza", "layer": "city_property", "category": "plaza",
             "place_type": "city_property", "rule": "No federal staging on city property (EO §3)",
             "distance_m": 0.0},
            {"name": "Government Center Garage", "layer": "city_property", "category": "garage",
             "place_type": "city_property", "rule": "No federal staging on city property (EO §3)",
             "distance_m": 48.5},
        ],
        "raised_at": _t("17:05:01"),
    },
    {
        "id": "alert-2",
        "incident_id": "inc-5",
        "kind": "use_of_force_near_sensitive_site",
        "places": [
            {"name": "John F. Kennedy Federal Building", "layer": "sensitive_sites", "category": "federal",
             "place_type": "sensitive_site", "rule": "Report use of force near sensitive sites (EO §5)",
             "distance_m": 131.2},
        ],
        "raised_at": _t("17:18:01"),
    },
]  # fmt: skip

_FOOTAGE: list[dict[str, Any]] = [
    {
        "id": "foot-1",
        "incident_id": "inc-5",
        "cameras": [
            {"name": "CH Plaza North (BPD-114)", "layer": "cameras", "distance_m": 22.0, "range_m": 80.0},
            {"name": "Congress St & State St (BTD-37)", "layer": "cameras", "distance_m": 95.4,
             "range_m": 120.0},
        ],
        "window_start": _t("17:03:00"),
        "window_end": _t("17:33:00"),
        "requested_at": _t("17:18:01"),
    },
    {
        "id": "foot-2",
        "incident_id": "inc-4",
        "cameras": [{"name": "Government Center Garage Ramp (BTD-52)", "layer": "cameras",
                     "distance_m": 40.1, "range_m": 60.0}],
        "window_start": _t("16:50:00"),
        "window_end": _t("17:20:00"),
        "requested_at": _t("17:05:01"),
    },
]  # fmt: skip

_REPORT: dict[str, Any] = {
    "title": "After-action report: demonstrations of 14 June 2025",
    "generated_at": "2025-06-15T09:00:00.000Z",
    "window": {"start": _t("14:00:00"), "end": _t("20:00:00")},
    "demonstration_id": None,
    "redacted": False,
    "demonstrations": _DEMONSTRATIONS,
    "units": _UNITS,
    "incidents": _INCIDENTS,
    "assignments": _ASSIGNMENTS,
    "tracks": _TRACKS,
    "timeline": _TIMELINE,
    "response_times": _RESPONSE_TIMES,
    "compliance_alerts": _ALERTS,
    "footage_requests": _FOOTAGE,
    "totals": {
        "incidents": 7,
        "injuries": {"immediate": 1, "delayed": 1, "minor": 1},
        "assignments": 6,
        "by_status": {"completed": 3, "on_scene": 1, "declined": 1, "cancelled": 1},
        "units": 3,
        "fixes": 18,
    },
}


def sample_report(*, redacted: bool = False) -> dict[str, Any]:
    """Return a fresh deep copy, so a test that edits it cannot leak into another."""
    report = copy.deepcopy(_REPORT)
    report["redacted"] = redacted
    return report
