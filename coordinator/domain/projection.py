"""The current state of an operation: a fold of the event log, nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from . import events as ev
from .events import StoredEvent
from .model import (
    ASSIGNMENT_TERMINAL,
    UNIT_STATUS_FOR_ASSIGNMENT,
    Assignment,
    ComplianceAlert,
    Credential,
    Demonstration,
    FootageRequest,
    Incident,
    Unit,
)
from .timefmt import iso, parse_iso

# (collection, id) of an entity an event changed; used to push fresh views.
Touched = tuple[str, str]


@dataclass
class State:
    seq: int = 0
    demonstrations: dict[str, Demonstration] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    assignments: dict[str, Assignment] = field(default_factory=dict)
    alerts: dict[str, ComplianceAlert] = field(default_factory=dict)
    footage_requests: dict[str, FootageRequest] = field(default_factory=dict)
    users: dict[str, Credential] = field(default_factory=dict)
    api_tokens: dict[str, Credential] = field(default_factory=dict)
    unit_tokens: dict[str, str] = field(default_factory=dict)

    def view(self, collection: str, entity_id: str) -> dict[str, Any] | None:
        """Return the client view of one entity, or None if it does not exist."""
        entity = getattr(self, collection).get(entity_id)
        return None if entity is None else entity.view()


def fold(events: Iterable[StoredEvent], state: State | None = None) -> State:
    """Apply events in order to a state (a new empty one by default)."""
    state = state or State()
    for event in events:
        apply(state, event)
    return state


def apply(state: State, event: StoredEvent) -> list[Touched]:
    """Apply one event and return what it touched; unknown types are skipped."""
    if event.seq <= state.seq:
        return []  # already applied: folding is idempotent over replays
    state.seq = event.seq
    handler = _HANDLERS.get(event.type)
    if handler is None:
        step = ev.ASSIGNMENT_STEP_BY_EVENT.get(event.type)
        return [] if step is None else _assignment_step(state, event, step)
    return handler(state, event)


def _demonstration_created(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    state.demonstrations[p["id"]] = Demonstration(
        id=p["id"],
        name=p["name"],
        lat=p["lat"],
        lon=p["lon"],
        crowd_estimate=p["crowd_estimate"],
        tension=p["tension"],
        status=p["status"],
        federal_presence=p["federal_presence"],
        area=p.get("area"),
        languages=list(p.get("languages", [])),
        enrichment=p.get("enrichment"),
        created_at=e.at,
        updated_at=e.at,
    )
    return [("demonstrations", p["id"])]


def _demonstration_updated(state: State, e: StoredEvent) -> list[Touched]:
    demo = state.demonstrations[e.payload["id"]]
    for name, value in e.payload["changes"].items():
        setattr(demo, name, value)
    demo.updated_at = e.at
    return [("demonstrations", demo.id)]


def _unit_registered(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    state.units[p["id"]] = Unit(
        id=p["id"],
        callsign=p["callsign"],
        kind=p["kind"],
        skills=list(p["skills"]),
        status="available",
        created_at=e.at,
        token_sha256=p["token_sha256"],
    )
    state.unit_tokens[p["token_sha256"]] = p["id"]
    return [("units", p["id"])]


def _unit_updated(state: State, e: StoredEvent) -> list[Touched]:
    unit = state.units[e.payload["id"]]
    changes = e.payload["changes"]
    if "callsign" in changes:
        unit.callsign = changes["callsign"]
    if "skills" in changes:
        unit.skills = list(changes["skills"])
    if "status" in changes:
        unit.out_of_service = changes["status"] == "out_of_service"
        if unit.active_assignment_id is None:
            unit.status = changes["status"]
    return [("units", unit.id)]


def _incident_reported(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    state.incidents[p["id"]] = Incident(
        id=p["id"],
        kind=p["kind"],
        lat=p["lat"],
        lon=p["lon"],
        severity=p["severity"],
        triage=p.get("triage"),
        demonstration_id=p.get("demonstration_id"),
        note=p.get("note", ""),
        status="open",
        reported_at=e.at,
        reported_by=e.actor,
        updated_at=e.at,
        federal_involved=p.get("federal_involved", False),
        enrichment=p.get("enrichment"),
        note_flags=list(p.get("note_flags", [])),
    )
    return [("incidents", p["id"])]


def _compliance_alert_raised(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    state.alerts[p["id"]] = ComplianceAlert(
        id=p["id"], incident_id=p["incident_id"], kind=p["kind"], places=p["places"], raised_at=e.at
    )
    return [("alerts", p["id"])]


def _footage_requested(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    reported = parse_iso(e.at)
    state.footage_requests[p["id"]] = FootageRequest(
        id=p["id"],
        incident_id=p["incident_id"],
        cameras=p["cameras"],
        window_start=iso(reported - timedelta(seconds=p["window_before_s"])),
        window_end=iso(reported + timedelta(seconds=p["window_after_s"])),
        requested_at=e.at,
    )
    return [("footage_requests", p["id"])]


def _incident_updated(state: State, e: StoredEvent) -> list[Touched]:
    incident = state.incidents[e.payload["id"]]
    for name, value in e.payload["changes"].items():
        setattr(incident, name, value)
    incident.updated_at = e.at
    return [("incidents", incident.id)]


def _assignment_dispatched(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    assignment = Assignment(
        id=p["id"],
        unit_id=p["unit_id"],
        kind=p["kind"],
        incident_id=p.get("incident_id"),
        demonstration_id=p.get("demonstration_id"),
        priority=p["priority"],
        note=p.get("note", ""),
        status="dispatched",
        dispatched_by=e.actor,
        note_flags=list(p.get("note_flags", [])),
        times={"dispatched": e.at},
    )
    state.assignments[assignment.id] = assignment
    unit = state.units[assignment.unit_id]
    unit.active_assignment_id = assignment.id
    unit.status = "assigned"
    return [("assignments", assignment.id), ("units", unit.id)]


def _assignment_step(state: State, e: StoredEvent, step: str) -> list[Touched]:
    assignment = state.assignments[e.payload["id"]]
    assignment.status = step
    assignment.times[step] = e.at
    if e.payload.get("reason"):
        assignment.reason = e.payload["reason"]
    unit = state.units[assignment.unit_id]
    if unit.active_assignment_id == assignment.id:
        if step in ASSIGNMENT_TERMINAL:
            unit.active_assignment_id = None
            unit.status = "out_of_service" if unit.out_of_service else "available"
        else:
            unit.status = UNIT_STATUS_FOR_ASSIGNMENT[step]
    return [("assignments", assignment.id), ("units", unit.id)]


def _user_created(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    state.users[p["name"]] = Credential("user", p["name"], p["role"], p["password_hash"])
    return []


def _api_token_created(state: State, e: StoredEvent) -> list[Touched]:
    p = e.payload
    state.api_tokens[p["token_sha256"]] = Credential("api_token", p["name"], p["role"], p["token_sha256"])
    return []


def _user_disabled(state: State, e: StoredEvent) -> list[Touched]:
    state.users[e.payload["name"]].revoked = True
    return []


def _user_password_changed(state: State, e: StoredEvent) -> list[Touched]:
    state.users[e.payload["name"]].secret_hash = e.payload["password_hash"]
    return []


def _api_token_revoked(state: State, e: StoredEvent) -> list[Touched]:
    for credential in state.api_tokens.values():
        if credential.name == e.payload["name"]:
            credential.revoked = True
    return []


def _unit_token_issued(state: State, e: StoredEvent) -> list[Touched]:
    state.unit_tokens[e.payload["token_sha256"]] = e.payload["unit_id"]
    return []


def _unit_token_revoked(state: State, e: StoredEvent) -> list[Touched]:
    """Every device token of the unit stops working at once."""
    unit_id = e.payload["unit_id"]
    for digest in [d for d, owner in state.unit_tokens.items() if owner == unit_id]:
        del state.unit_tokens[digest]
    return []


_HANDLERS = {
    ev.DEMONSTRATION_CREATED: _demonstration_created,
    ev.DEMONSTRATION_UPDATED: _demonstration_updated,
    ev.UNIT_REGISTERED: _unit_registered,
    ev.UNIT_UPDATED: _unit_updated,
    ev.INCIDENT_REPORTED: _incident_reported,
    ev.INCIDENT_UPDATED: _incident_updated,
    ev.ASSIGNMENT_DISPATCHED: _assignment_dispatched,
    ev.COMPLIANCE_ALERT_RAISED: _compliance_alert_raised,
    ev.FOOTAGE_PRESERVATION_REQUESTED: _footage_requested,
    ev.USER_CREATED: _user_created,
    ev.API_TOKEN_CREATED: _api_token_created,
    ev.API_TOKEN_REVOKED: _api_token_revoked,
    ev.USER_DISABLED: _user_disabled,
    ev.USER_PASSWORD_CHANGED: _user_password_changed,
    ev.UNIT_TOKEN_ISSUED: _unit_token_issued,
    ev.UNIT_TOKEN_REVOKED: _unit_token_revoked,
}


_COLLECTION_BY_TYPE = {
    ev.DEMONSTRATION_CREATED: "demonstrations",
    ev.DEMONSTRATION_UPDATED: "demonstrations",
    ev.UNIT_REGISTERED: "units",
    ev.UNIT_UPDATED: "units",
    ev.INCIDENT_REPORTED: "incidents",
    ev.INCIDENT_UPDATED: "incidents",
    ev.COMPLIANCE_ALERT_RAISED: "alerts",
    ev.FOOTAGE_PRESERVATION_REQUESTED: "footage_requests",
}


def touched_by(event: StoredEvent) -> list[Touched]:
    """Return what an already applied event touched, from the event alone."""
    collection = _COLLECTION_BY_TYPE.get(event.type)
    if collection is not None:
        return [(collection, event.payload["id"])]
    if event.type == ev.ASSIGNMENT_DISPATCHED or event.type in ev.ASSIGNMENT_STEP_BY_EVENT:
        return [("assignments", event.payload["id"]), ("units", event.payload["unit_id"])]
    return []
