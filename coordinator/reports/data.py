"""The after-action report's data: one pass over the event log and the tracks, as a plain dict.

The dict is the contract with the renderers (HTML, PDF) and the exports (CSV, GeoJSON,
ICS-214): JSON-serialisable, nothing computed twice. Rules:

- The window [start, end) picks the incidents reported and the assignments dispatched in it.
- State is the fold of the log's events before `end` (the log's prefix, as replay reads
  it), so an assignment dispatched in the window carries its later steps if they came
  before `end`.
- With a demonstration, the report keeps it, its incidents and the assignments to it or
  to its incidents, and only the units of those assignments (and their tracks).
- With `redact_notes`, every free-text field is emptied. Timeline summaries never quote
  notes or reasons in any case. No entity holds personal data, and none is added here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain import events as ev
from ..domain.events import StoredEvent
from ..domain.model import ASSIGNMENT_STATUSES, TRIAGE_TAGS, Assignment, Incident
from ..domain.projection import State, apply
from ..domain.timefmt import iso, now_utc, parse_iso
from ..store.protocols import EventLog, TrackStore
from . import timeline
from .response import DEFAULT_TARGETS, ResponseTargets, Samples, add_sample, response_rows
from .thinning import thin_tracks

__all__ = ["DEFAULT_TARGETS", "ReportError", "ResponseTargets", "build_report", "read_until"]

PAGE = 5000


class ReportError(ValueError):
    """The report cannot be made as asked (an empty window, an unknown demonstration)."""


def read_until(log: EventLog, end: str) -> Iterator[StoredEvent]:
    """Yield the log's events in order up to the first one at or after `end` (ISO 8601 UTC)."""
    cursor = 0
    while batch := log.read_after(cursor, limit=PAGE):
        for event in batch:
            if event.at >= end:
                return
            yield event
        cursor = batch[-1].seq


@dataclass
class _Fold:
    """The state at `end` and what the state alone forgets: history, first dispatches, targets."""

    start: str
    state: State = field(default_factory=State)
    # Status of each demonstration as of `start`: one that had ended by then is left out.
    status_at_start: dict[str, str] = field(default_factory=dict)
    # id -> [(at, tension, crowd)] each time either changed.
    series: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    # incident id -> (time, assignment kind) of the first unit sent to it.
    first_dispatch: dict[str, tuple[str, str]] = field(default_factory=dict)
    # assignment id -> (lat, lon) of its target when dispatched (a demonstration can move).
    target_at_dispatch: dict[str, tuple[float, float]] = field(default_factory=dict)
    entries: list[tuple[timeline.Subject, dict[str, Any]]] = field(default_factory=list)

    def add(self, event: StoredEvent) -> None:
        prior = timeline.before(self.state, event)
        apply(self.state, event)
        p = event.payload
        if event.type in (ev.DEMONSTRATION_CREATED, ev.DEMONSTRATION_UPDATED):
            self._demonstration(event)
        elif event.type == ev.ASSIGNMENT_DISPATCHED:
            if p.get("incident_id") and p["incident_id"] not in self.first_dispatch:
                self.first_dispatch[p["incident_id"]] = (event.at, p["kind"])
            target = (
                self.state.incidents[p["incident_id"]]
                if p.get("incident_id")
                else self.state.demonstrations[p["demonstration_id"]]
            )
            self.target_at_dispatch[p["id"]] = (target.lat, target.lon)
        if event.at >= self.start and timeline.significant(event):
            subject, summary = timeline.entry(self.state, event, prior)
            item = {"at": event.at, "seq": event.seq, "type": event.type, "actor": event.actor}
            self.entries.append((subject, {**item, "summary": summary}))

    def _demonstration(self, event: StoredEvent) -> None:
        demo = self.state.demonstrations[event.payload["id"]]
        if event.at < self.start:
            self.status_at_start[demo.id] = demo.status
        points = self.series.setdefault(demo.id, [])
        if not points or points[-1][1:] != (demo.tension, demo.crowd_estimate):
            points.append((event.at, demo.tension, demo.crowd_estimate))


def _in(moment: str, start: str, end: str) -> bool:
    return start <= moment < end


@dataclass(frozen=True)
class _Scope:
    """Which entities the report keeps."""

    state: State
    demonstration_id: str | None

    def incident(self, incident: Incident) -> bool:
        return self.demonstration_id is None or incident.demonstration_id == self.demonstration_id

    def assignment(self, assignment: Assignment) -> bool:
        if self.demonstration_id is None or assignment.demonstration_id == self.demonstration_id:
            return True
        incident = self.state.incidents.get(assignment.incident_id or "")
        return incident is not None and self.incident(incident)

    def subject(self, subject: timeline.Subject) -> bool:
        kind, entity_id = subject
        if self.demonstration_id is None:
            return True
        if kind == "demonstration":
            return entity_id == self.demonstration_id
        if kind == "incident":
            return self.incident(self.state.incidents[entity_id])
        return self.assignment(self.state.assignments[entity_id])


def build_report(
    log: EventLog,
    tracks: TrackStore,
    *,
    start: datetime,
    end: datetime,
    demonstration_id: str | None = None,
    redact_notes: bool = False,
    targets: ResponseTargets = DEFAULT_TARGETS,
    title: str = "After-action report",
    track_tolerance_m: float = 15.0,
) -> dict[str, Any]:
    """Fold the log and the tracks over [start, end) into the report dict (see the module doc)."""
    if end <= start:
        raise ReportError("the end of the window must be after its start")
    start_s, end_s = iso(start), iso(end)
    fold = _Fold(start_s)
    for event in read_until(log, end_s):
        fold.add(event)
    state = fold.state
    if demonstration_id is not None and demonstration_id not in state.demonstrations:
        raise ReportError(f"no demonstration '{demonstration_id}' before the end of the window")
    scope = _Scope(state, demonstration_id)

    incidents = [
        i for i in state.incidents.values() if _in(i.reported_at, start_s, end_s) and scope.incident(i)
    ]
    assignments = [
        a
        for a in state.assignments.values()
        if _in(a.times["dispatched"], start_s, end_s) and scope.assignment(a)
    ]
    involved = {a.unit_id for a in assignments}
    # Units in registration order, as the log has them.
    unit_ids = [u for u in state.units if demonstration_id is None or u in involved]
    demo_ids = _demonstrations_kept(fold, scope, incidents, assignments)
    kept_incidents = {i.id for i in incidents}

    # Each dispatch time is pinned in its unit's track: the GeoJSON line of an assignment
    # starts at the last fix at or before it, which thinning must not drop.
    pins: dict[str, list[str]] = {}
    for a in assignments:
        pins.setdefault(a.unit_id, []).append(a.times["dispatched"])
    wanted = set(unit_ids)
    thinned = thin_tracks(
        tracks.fixes_between(start_s, end_s), tolerance_m=track_tolerance_m, wanted=wanted, pins=pins
    )

    injuries = dict.fromkeys(TRIAGE_TAGS, 0)
    for i in incidents:
        if i.kind == "injury" and i.triage in injuries:
            injuries[i.triage] += 1
    by_status = dict.fromkeys(ASSIGNMENT_STATUSES, 0)
    for a in assignments:
        by_status[a.status] += 1

    return {
        "title": title,
        "generated_at": iso(now_utc()),
        "window": {"start": start_s, "end": end_s},
        "demonstration_id": demonstration_id,
        "redacted": redact_notes,
        "demonstrations": [_demonstration(fold, d, start_s) for d in demo_ids],
        "units": [_unit(state, u) for u in unit_ids],
        "incidents": [_incident(i, redact_notes) for i in incidents],
        "assignments": [_assignment(fold, a, redact_notes) for a in assignments],
        "tracks": {u: thinned.tracks[u] for u in unit_ids if u in thinned.tracks},
        "timeline": [item for subject, item in fold.entries if scope.subject(subject)],
        "response_times": response_rows(_samples(fold, incidents, assignments), targets),
        "compliance_alerts": [
            alert.view() for alert in state.alerts.values() if alert.incident_id in kept_incidents
        ],
        "footage_requests": [
            req.view() for req in state.footage_requests.values() if req.incident_id in kept_incidents
        ],
        "totals": {
            "incidents": len(incidents),
            "injuries": injuries,
            "assignments": len(assignments),
            "by_status": by_status,
            "units": len(unit_ids),
            "fixes": thinned.raw_fixes,
        },
    }


def _demonstrations_kept(
    fold: _Fold, scope: _Scope, incidents: list[Incident], assignments: list[Assignment]
) -> list[str]:
    """The demonstration asked for; otherwise every one not yet ended at the start, plus any
    the kept incidents and assignments point to (so every target in the report resolves)."""
    if scope.demonstration_id is not None:
        return [scope.demonstration_id]
    wanted = {d for d in fold.state.demonstrations if fold.status_at_start.get(d) != "ended"}
    wanted |= {i.demonstration_id for i in incidents if i.demonstration_id}
    wanted |= {a.demonstration_id for a in assignments if a.demonstration_id}
    return [d for d in fold.state.demonstrations if d in wanted]


def _demonstration(fold: _Fold, demo_id: str, start: str) -> dict[str, Any]:
    demo = fold.state.demonstrations[demo_id]
    points = fold.series.get(demo_id, [])
    # The level in force when the window opens comes first, stamped with the window's start.
    earlier = [p for p in points if p[0] < start]
    series = [(start, *earlier[-1][1:])] if earlier else []
    series += [p for p in points if p[0] >= start]
    return {
        "id": demo.id,
        "name": demo.name,
        "lat": demo.lat,
        "lon": demo.lon,
        "status": demo.status,
        "federal_presence": demo.federal_presence,
        "crowd_estimate": demo.crowd_estimate,
        "tension": demo.tension,
        "languages": list(demo.languages),
        "series": [{"at": at, "tension": t, "crowd_estimate": c} for at, t, c in series],
    }


def _unit(state: State, unit_id: str) -> dict[str, Any]:
    unit = state.units[unit_id]
    return {"id": unit.id, "callsign": unit.callsign, "kind": unit.kind, "skills": list(unit.skills)}


def _names(places: Any) -> list[str]:
    return [str(place.get("name", "")) for place in places or []]


def _incident(incident: Incident, redact: bool) -> dict[str, Any]:
    enrichment = incident.enrichment or {}
    return {
        "id": incident.id,
        "kind": incident.kind,
        "lat": incident.lat,
        "lon": incident.lon,
        "severity": incident.severity,
        "triage": incident.triage,
        "demonstration_id": incident.demonstration_id,
        "note": "" if redact else incident.note,
        "status": incident.status,
        "reported_at": incident.reported_at,
        "reported_by": incident.reported_by,
        "federal_involved": incident.federal_involved,
        "neighborhood": enrichment.get("neighborhood"),
        "city_property": _names(enrichment.get("city_property")),
        "sensitive_sites": _names(enrichment.get("sensitive_sites")),
    }


def _assignment(fold: _Fold, assignment: Assignment, redact: bool) -> dict[str, Any]:
    unit = fold.state.units[assignment.unit_id]
    lat, lon = fold.target_at_dispatch[assignment.id]
    on_incident = assignment.incident_id is not None
    return {
        "id": assignment.id,
        "unit_id": assignment.unit_id,
        "callsign": unit.callsign,
        "kind": assignment.kind,
        "target_type": "incident" if on_incident else "demonstration",
        "target_id": assignment.incident_id if on_incident else assignment.demonstration_id,
        "target_lat": lat,
        "target_lon": lon,
        "priority": assignment.priority,
        "status": assignment.status,
        "reason": "" if redact else assignment.reason,
        "note": "" if redact else assignment.note,
        "dispatched_by": assignment.dispatched_by,
        "times": dict(assignment.times),
    }


def _seconds(later: str, earlier: str) -> float:
    return (parse_iso(later) - parse_iso(earlier)).total_seconds()


def _samples(fold: _Fold, incidents: list[Incident], assignments: list[Assignment]) -> Samples:
    samples: Samples = {}
    for incident in incidents:
        first = fold.first_dispatch.get(incident.id)
        if first is not None:
            seconds = _seconds(first[0], incident.reported_at)
            add_sample(samples, "incident_kind", incident.kind, "incident_to_dispatch", seconds)
            add_sample(samples, "assignment_kind", first[1], "incident_to_dispatch", seconds)
    for assignment in assignments:
        target = fold.state.incidents.get(assignment.incident_id or "")
        for measure, step in (("dispatch_to_ack", "acknowledged"), ("dispatch_to_on_scene", "on_scene")):
            if step not in assignment.times:
                continue
            seconds = _seconds(assignment.times[step], assignment.times["dispatched"])
            add_sample(samples, "assignment_kind", assignment.kind, measure, seconds)
            if target is not None:
                add_sample(samples, "incident_kind", target.kind, measure, seconds)
    return samples
