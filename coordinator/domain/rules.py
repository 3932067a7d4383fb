"""Decide which events follow from a command, given the current state.

Rules are pure: the service gives them the state and a way to make ids, and
appends whatever they return. A command that changes nothing returns no events
(a repeated acknowledgement, say), which is how idempotent steps stay quiet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import commands as c
from . import events as ev
from .compliance import (
    FOOTAGE_WINDOW_AFTER_S,
    FOOTAGE_WINDOW_BEFORE_S,
    compliance_places,
    needs_footage,
)
from .errors import Conflict, NotFound, ValidationError
from .events import NewEvent
from .model import ASSIGNMENT_FLOW, ASSIGNMENT_TERMINAL
from .privacy import personal_data_flags
from .projection import State

IdMaker = Callable[[str], str]


@dataclass(frozen=True)
class Decision:
    """The events to append and the entity the caller should get back."""

    events: list[NewEvent]
    collection: str | None = None
    entity_id: str | None = None


def decide(state: State, command: c.Command, new_id: IdMaker) -> Decision:
    """Return the events that carry out a command, or raise a DomainError."""
    handler: Callable[[State, Any, IdMaker], Decision] = _RULES[type(command)]
    return handler(state, command, new_id)


def _create_demonstration(state: State, cmd: c.CreateDemonstration, new_id: IdMaker) -> Decision:
    demo_id = new_id("dem")
    payload = {
        "id": demo_id,
        "name": cmd.name,
        "lat": cmd.lat,
        "lon": cmd.lon,
        "crowd_estimate": cmd.crowd_estimate,
        "tension": cmd.tension,
        "status": cmd.status,
        "federal_presence": cmd.federal_presence,
        "area": cmd.area,
        "languages": list(cmd.languages),
        "enrichment": cmd.enrichment,
    }
    return Decision([NewEvent(ev.DEMONSTRATION_CREATED, payload)], "demonstrations", demo_id)


def _update_demonstration(state: State, cmd: c.UpdateDemonstration, new_id: IdMaker) -> Decision:
    demo = state.demonstrations.get(cmd.id)
    if demo is None:
        raise NotFound(f"no demonstration '{cmd.id}'", field="id")
    changes = {k: v for k, v in cmd.changes.items() if getattr(demo, k) != v}
    if not changes:
        return Decision([], "demonstrations", demo.id)
    event = NewEvent(ev.DEMONSTRATION_UPDATED, {"id": demo.id, "changes": changes})
    return Decision([event], "demonstrations", demo.id)


def _register_unit(state: State, cmd: c.RegisterUnit, new_id: IdMaker) -> Decision:
    unit_id = new_id("unit")
    payload = {
        "id": unit_id,
        "callsign": cmd.callsign,
        "kind": cmd.kind,
        "skills": cmd.skills,
        "token_sha256": cmd.token_sha256,
    }
    return Decision([NewEvent(ev.UNIT_REGISTERED, payload)], "units", unit_id)


def _update_unit(state: State, cmd: c.UpdateUnit, new_id: IdMaker) -> Decision:
    unit = state.units.get(cmd.id)
    if unit is None:
        raise NotFound(f"no unit '{cmd.id}'", field="id")
    if cmd.changes.get("status") == "out_of_service" and unit.active_assignment_id:
        raise Conflict(
            f"unit has active assignment '{unit.active_assignment_id}'; cancel or complete it first",
            field="status",
        )
    changes = dict(cmd.changes)
    if changes.get("status") == ("out_of_service" if unit.out_of_service else "available"):
        del changes["status"]
    changes = {k: v for k, v in changes.items() if k == "status" or getattr(unit, k) != v}
    if not changes:
        return Decision([], "units", unit.id)
    return Decision([NewEvent(ev.UNIT_UPDATED, {"id": unit.id, "changes": changes})], "units", unit.id)


def _report_incident(state: State, cmd: c.ReportIncident, new_id: IdMaker) -> Decision:
    if cmd.demonstration_id is not None and cmd.demonstration_id not in state.demonstrations:
        raise ValidationError(f"unknown demonstration '{cmd.demonstration_id}'", field="demonstration_id")
    incident_id = new_id("inc")
    payload = {
        "id": incident_id,
        "kind": cmd.kind,
        "lat": cmd.lat,
        "lon": cmd.lon,
        "severity": cmd.severity,
        "triage": cmd.triage,
        "demonstration_id": cmd.demonstration_id,
        "note": cmd.note,
        "note_flags": personal_data_flags(cmd.note),
        "federal_involved": cmd.federal_involved,
        "enrichment": cmd.enrichment,
    }
    events = [NewEvent(ev.INCIDENT_REPORTED, payload)]
    places = compliance_places(cmd.kind, cmd.enrichment)
    if places:
        alert = {"id": new_id("alr"), "incident_id": incident_id, "kind": cmd.kind, "places": places}
        events.append(NewEvent(ev.COMPLIANCE_ALERT_RAISED, alert))
    if needs_footage(cmd.kind, cmd.federal_involved):
        cameras = list((cmd.enrichment or {}).get("cameras", []))
        request = {
            "id": new_id("ftg"),
            "incident_id": incident_id,
            "cameras": cameras,
            "window_before_s": FOOTAGE_WINDOW_BEFORE_S,
            "window_after_s": FOOTAGE_WINDOW_AFTER_S,
        }
        events.append(NewEvent(ev.FOOTAGE_PRESERVATION_REQUESTED, request))
    return Decision(events, "incidents", incident_id)


def _update_incident(state: State, cmd: c.UpdateIncident, new_id: IdMaker) -> Decision:
    incident = state.incidents.get(cmd.id)
    if incident is None:
        raise NotFound(f"no incident '{cmd.id}'", field="id")
    if "triage" in cmd.changes and incident.kind != "injury":
        raise ValidationError("'triage' applies only to injuries", field="triage")
    changes = {k: v for k, v in cmd.changes.items() if getattr(incident, k) != v}
    if not changes:
        return Decision([], "incidents", incident.id)
    if "note" in changes:
        changes["note_flags"] = personal_data_flags(changes["note"])
    event = NewEvent(ev.INCIDENT_UPDATED, {"id": incident.id, "changes": changes})
    return Decision([event], "incidents", incident.id)


def _dispatch(state: State, cmd: c.DispatchAssignment, new_id: IdMaker) -> Decision:
    unit = state.units.get(cmd.unit_id)
    if unit is None:
        raise ValidationError(f"unknown unit '{cmd.unit_id}'", field="unit_id")
    if unit.out_of_service:
        raise Conflict(f"unit {unit.callsign} is out of service", field="unit_id")
    if unit.active_assignment_id is not None:
        raise Conflict(
            f"unit {unit.callsign} already has assignment '{unit.active_assignment_id}'; "
            "cancel it before assigning again",
            field="unit_id",
        )
    if cmd.incident_id is not None:
        incident = state.incidents.get(cmd.incident_id)
        if incident is None:
            raise ValidationError(f"unknown incident '{cmd.incident_id}'", field="incident_id")
        if incident.status != "open":
            raise Conflict("incident is resolved", field="incident_id")
    if cmd.demonstration_id is not None:
        demo = state.demonstrations.get(cmd.demonstration_id)
        if demo is None:
            raise ValidationError(f"unknown demonstration '{cmd.demonstration_id}'", field="demonstration_id")
        if demo.status == "ended":
            raise Conflict("demonstration has ended", field="demonstration_id")
    assignment_id = new_id("asg")
    payload = {
        "id": assignment_id,
        "unit_id": unit.id,
        "kind": cmd.kind,
        "incident_id": cmd.incident_id,
        "demonstration_id": cmd.demonstration_id,
        "priority": cmd.priority,
        "note": cmd.note,
        "note_flags": personal_data_flags(cmd.note),
    }
    return Decision([NewEvent(ev.ASSIGNMENT_DISPATCHED, payload)], "assignments", assignment_id)


def _change_status(state: State, cmd: c.ChangeAssignmentStatus, new_id: IdMaker) -> Decision:
    assignment = state.assignments.get(cmd.id)
    if assignment is None:
        raise NotFound(f"no assignment '{cmd.id}'", field="id")
    current, target = assignment.status, cmd.status
    quiet = Decision([], "assignments", assignment.id)
    if current == target:
        return quiet  # a repeated step (a retried acknowledgement) changes nothing
    if current in ASSIGNMENT_TERMINAL:
        raise Conflict(f"assignment is already {current}", field="status")
    if target in ASSIGNMENT_FLOW:
        if ASSIGNMENT_FLOW.index(target) < ASSIGNMENT_FLOW.index(current):
            # Late news from a device that was offline: the assignment has moved on.
            return quiet
    elif target == "declined" and current == "on_scene":
        raise Conflict("a unit on scene completes rather than declines", field="status")
    payload: dict[str, object] = {"id": assignment.id, "unit_id": assignment.unit_id}
    if cmd.reason:
        payload["reason"] = cmd.reason
    event = NewEvent(ev.ASSIGNMENT_STEP_EVENTS[target], payload)
    return Decision([event], "assignments", assignment.id)


def _create_user(state: State, cmd: c.CreateUser, new_id: IdMaker) -> Decision:
    if cmd.name in state.users:
        raise Conflict(f"user '{cmd.name}' exists", field="name")
    payload = {"name": cmd.name, "role": cmd.role, "password_hash": cmd.password_hash}
    return Decision([NewEvent(ev.USER_CREATED, payload)])


def _create_api_token(state: State, cmd: c.CreateApiToken, new_id: IdMaker) -> Decision:
    payload = {"name": cmd.name, "role": cmd.role, "token_sha256": cmd.token_sha256}
    return Decision([NewEvent(ev.API_TOKEN_CREATED, payload)])


def _disable_user(state: State, cmd: c.DisableUser, new_id: IdMaker) -> Decision:
    user = state.users.get(cmd.name)
    if user is None or user.revoked:
        raise NotFound(f"no active user '{cmd.name}'", field="name")
    return Decision([NewEvent(ev.USER_DISABLED, {"name": cmd.name})])


def _change_password(state: State, cmd: c.ChangePassword, new_id: IdMaker) -> Decision:
    user = state.users.get(cmd.name)
    if user is None or user.revoked:
        raise NotFound(f"no active user '{cmd.name}'", field="name")
    payload = {"name": cmd.name, "password_hash": cmd.password_hash}
    return Decision([NewEvent(ev.USER_PASSWORD_CHANGED, payload)])


def _revoke_api_token(state: State, cmd: c.RevokeApiToken, new_id: IdMaker) -> Decision:
    if not any(t.name == cmd.name and not t.revoked for t in state.api_tokens.values()):
        raise NotFound(f"no live API token named '{cmd.name}'", field="name")
    return Decision([NewEvent(ev.API_TOKEN_REVOKED, {"name": cmd.name})])


def _issue_unit_token(state: State, cmd: c.IssueUnitToken, new_id: IdMaker) -> Decision:
    if cmd.unit_id not in state.units:
        raise NotFound(f"no unit '{cmd.unit_id}'", field="unit_id")
    payload = {"unit_id": cmd.unit_id, "token_sha256": cmd.token_sha256}
    return Decision([NewEvent(ev.UNIT_TOKEN_ISSUED, payload)], "units", cmd.unit_id)


def _revoke_unit_token(state: State, cmd: c.RevokeUnitToken, new_id: IdMaker) -> Decision:
    if cmd.unit_id not in state.units:
        raise NotFound(f"no unit '{cmd.unit_id}'", field="unit_id")
    return Decision([NewEvent(ev.UNIT_TOKEN_REVOKED, {"unit_id": cmd.unit_id})], "units", cmd.unit_id)


_RULES: dict[type, Callable[[State, Any, IdMaker], Decision]] = {
    c.CreateDemonstration: _create_demonstration,
    c.UpdateDemonstration: _update_demonstration,
    c.RegisterUnit: _register_unit,
    c.UpdateUnit: _update_unit,
    c.ReportIncident: _report_incident,
    c.UpdateIncident: _update_incident,
    c.DispatchAssignment: _dispatch,
    c.ChangeAssignmentStatus: _change_status,
    c.CreateUser: _create_user,
    c.CreateApiToken: _create_api_token,
    c.RevokeApiToken: _revoke_api_token,
    c.DisableUser: _disable_user,
    c.ChangePassword: _change_password,
    c.IssueUnitToken: _issue_unit_token,
    c.RevokeUnitToken: _revoke_unit_token,
}
