"""The report's timeline: which events count as significant and how each reads in one line.

Summaries are built from structured fields only (kinds, levels, callsigns, ids, names of
places and demonstrations), never from notes or decline reasons, so a timeline is safe
to hand out whether or not the report is redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain import events as ev
from ..domain.events import StoredEvent
from ..domain.model import TENSION_LABELS
from ..domain.projection import State

# What an entry is about, so a report for one demonstration can keep only its own:
# ("demonstration" | "incident" | "assignment", id).
Subject = tuple[str, str]

INCIDENT_FIELDS_OF_NOTE = ("status", "triage", "severity")
DEMONSTRATION_FIELDS_OF_NOTE = ("tension", "status")


@dataclass(frozen=True)
class Before:
    """What an event is about to change, read from the state just before it is applied."""

    tension: int | None = None
    status: str | None = None


def before(state: State, event: StoredEvent) -> Before:
    if event.type == ev.DEMONSTRATION_UPDATED:
        demo = state.demonstrations.get(event.payload["id"])
        if demo is not None:
            return Before(tension=demo.tension, status=demo.status)
    return Before()


def significant(event: StoredEvent) -> bool:
    """Whether an event goes in the timeline (positions and deliveries never do)."""
    changes = event.payload.get("changes", {})
    if event.type == ev.DEMONSTRATION_UPDATED:
        return any(name in changes for name in DEMONSTRATION_FIELDS_OF_NOTE)
    if event.type == ev.INCIDENT_UPDATED:
        return any(name in changes for name in INCIDENT_FIELDS_OF_NOTE)
    return event.type in _ALWAYS


_ALWAYS = frozenset(
    {
        ev.DEMONSTRATION_CREATED,
        ev.INCIDENT_REPORTED,
        ev.ASSIGNMENT_DISPATCHED,
        ev.ASSIGNMENT_STEP_EVENTS["declined"],
        ev.ASSIGNMENT_STEP_EVENTS["cancelled"],
        ev.ASSIGNMENT_STEP_EVENTS["completed"],
        ev.COMPLIANCE_ALERT_RAISED,
        ev.FOOTAGE_PRESERVATION_REQUESTED,
    }
)


def target_description(state: State, incident_id: str | None, demonstration_id: str | None) -> str:
    """A target in words: 'incident inc-1 (injury, immediate)' or "demonstration 'March'"."""
    if incident_id is not None:
        incident = state.incidents.get(incident_id)
        if incident is None:
            return f"incident {incident_id}"
        detail = incident.kind if incident.triage is None else f"{incident.kind}, {incident.triage}"
        return f"incident {incident_id} ({detail})"
    demo = state.demonstrations.get(demonstration_id or "")
    return f"demonstration '{demo.name}'" if demo is not None else f"demonstration {demonstration_id}"


def entry(state: State, event: StoredEvent, prior: Before) -> tuple[Subject, str]:
    """Return what a significant event is about and its summary, from the state after it."""
    p = event.payload
    if event.type in (ev.DEMONSTRATION_CREATED, ev.DEMONSTRATION_UPDATED):
        return ("demonstration", p["id"]), _demonstration(state, event, prior)
    if event.type in (ev.INCIDENT_REPORTED, ev.INCIDENT_UPDATED):
        return ("incident", p["id"]), _incident(state, event)
    if event.type == ev.COMPLIANCE_ALERT_RAISED:
        names = ", ".join(str(place.get("name", "")) for place in p["places"])
        return ("incident", p["incident_id"]), (
            f"Compliance alert for incident {p['incident_id']} ({p['kind']}): {names}"
        )
    if event.type == ev.FOOTAGE_PRESERVATION_REQUESTED:
        return ("incident", p["incident_id"]), (
            f"Footage preservation requested for incident {p['incident_id']}: {len(p['cameras'])} camera(s)"
        )
    return ("assignment", p["id"]), _assignment(state, event)


def _demonstration(state: State, event: StoredEvent, prior: Before) -> str:
    demo = state.demonstrations[event.payload["id"]]
    if event.type == ev.DEMONSTRATION_CREATED:
        return (
            f"Demonstration '{demo.name}' created: {demo.status}, tension {demo.tension} "
            f"({TENSION_LABELS[demo.tension]}), crowd about {demo.crowd_estimate}"
        )
    parts = []
    changes: dict[str, Any] = event.payload["changes"]
    if "tension" in changes:
        parts.append(f"tension {prior.tension} -> {demo.tension} ({TENSION_LABELS[demo.tension]})")
    if "status" in changes:
        parts.append(f"status {prior.status} -> {demo.status}")
    return f"Demonstration '{demo.name}': " + ", ".join(parts)


def _incident(state: State, event: StoredEvent) -> str:
    incident = state.incidents[event.payload["id"]]
    if event.type == ev.INCIDENT_UPDATED:
        changes = event.payload["changes"]
        parts = [f"{name} {changes[name]}" for name in INCIDENT_FIELDS_OF_NOTE if name in changes]
        return f"Incident {incident.id} ({incident.kind}) updated: " + ", ".join(parts)
    text = f"Incident {incident.id} reported: {incident.kind}"
    if incident.triage:
        text += f" ({incident.triage})"
    text += f", severity {incident.severity}"
    if incident.federal_involved:
        text += ", federal agents involved"
    if incident.demonstration_id and (demo := state.demonstrations.get(incident.demonstration_id)):
        text += f", at demonstration '{demo.name}'"
    return text


def _assignment(state: State, event: StoredEvent) -> str:
    assignment = state.assignments[event.payload["id"]]
    unit = state.units.get(assignment.unit_id)
    callsign = unit.callsign if unit is not None else assignment.unit_id
    target = target_description(state, assignment.incident_id, assignment.demonstration_id)
    if event.type == ev.ASSIGNMENT_DISPATCHED:
        return f"{callsign} dispatched to {target} ({assignment.kind}, priority {assignment.priority})"
    step = ev.ASSIGNMENT_STEP_BY_EVENT[event.type]
    if step == "cancelled":
        return f"Assignment {assignment.id} of {callsign} to {target} cancelled"
    return f"{callsign} {step} assignment {assignment.id} to {target}"
