"""Who should go: the available units of the right kind, ranked by ETA.

The kind follows the need: medical teams for injuries, de-escalation teams for
demonstrations and for escalation or force, field supervisors to observe and
document federal activity, property damage and entries. Stale positions are
left out: a unit whose whereabouts are unknown cannot be promised anywhere.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .domain.errors import NotFound
from .geo.recommend import Candidate, rank
from .geo.runtime import GeoService
from .service import Coordinator

KIND_FOR_INCIDENT = {
    "injury": "medical_team",
    "escalation": "deescalation_team",
    "use_of_force": "deescalation_team",
    "federal_activity": "field_supervisor",
    "property_damage": "field_supervisor",
    "warrantless_entry": "field_supervisor",
    "other": "field_supervisor",
}
ASSIGNMENT_FOR_UNIT_KIND = {
    "medical_team": "medical_aid",
    "deescalation_team": "deescalation",
    "field_supervisor": "observe",
}


def recommend(
    service: Coordinator,
    geo: GeoService,
    *,
    incident_id: str | None = None,
    demonstration_id: str | None = None,
    limit: int = 3,
) -> dict[str, Any]:
    """Return the ranking for an incident or a demonstration, best first."""
    with service.lock:
        state = service.state
        languages: list[str] = []
        if incident_id is not None:
            incident = state.incidents.get(incident_id)
            if incident is None:
                raise NotFound(f"no incident '{incident_id}'", field="id")
            need = KIND_FOR_INCIDENT[incident.kind]
            lat, lon = incident.lat, incident.lon
            demo = state.demonstrations.get(incident.demonstration_id or "")
            languages = list(demo.languages) if demo else []
            wanted = {f"lang:{code}" for code in languages}
            if incident.triage == "immediate":
                wanted.add("emt:paramedic")
        else:
            demo = state.demonstrations.get(demonstration_id or "")
            if demo is None:
                raise NotFound(f"no demonstration '{demonstration_id}'", field="id")
            need = "deescalation_team"
            lat, lon = demo.lat, demo.lon
            wanted = {f"lang:{code}" for code in demo.languages}
            if demo.tension >= 4:
                wanted.add("crisis_intervention")
        units = [u for u in state.units.values() if u.status == "available" and u.kind == need]
    now = service.clock()
    candidates = []
    for unit in units:
        fix = service.positions.get(unit.id)
        if fix is None or service.is_stale(fix, now):
            continue
        candidates.append(Candidate(unit.id, unit.callsign, unit.kind, tuple(unit.skills), fix.lat, fix.lon))
    snapshot = geo.snapshot
    ranking = rank(
        lat,
        lon,
        candidates,
        graph=snapshot.graph,
        wanted_skills=wanted,
        limit=limit,
        speed_mps=geo.settings.speed_mps,
        detour_factor=geo.settings.detour_factor,
    )
    return {
        "target": {
            "type": "incident" if incident_id else "demonstration",
            "id": incident_id or demonstration_id,
            "lat": lat,
            "lon": lon,
        },
        "unit_kind": need,
        "assignment_kind": ASSIGNMENT_FOR_UNIT_KIND[need],
        "wanted_skills": sorted(wanted),
        "routing": "road" if snapshot.graph is not None else "straight_line",
        "recommendations": [{**asdict(r), "skill_matches": list(r.skill_matches)} for r in ranking],
    }
