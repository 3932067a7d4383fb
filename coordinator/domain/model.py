"""Entities of an operation and the vocabularies they use.

Privacy rule: no entity has a field for the name or identity of a protester or
patient. Injuries are counted by triage tag and place, never by person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TENSION_LABELS = {1: "calm", 2: "elevated", 3: "tense", 4: "volatile", 5: "violent"}
DEMONSTRATION_STATUSES = ("planned", "active", "dispersing", "ended")
UNIT_KINDS = ("deescalation_team", "field_supervisor", "medical_team")
UNIT_STATUSES = ("available", "assigned", "en_route", "on_scene", "out_of_service")
INCIDENT_KINDS = (
    "injury",
    "federal_activity",
    "use_of_force",
    "property_damage",
    "warrantless_entry",
    "escalation",
    "other",
)
INCIDENT_STATUSES = ("open", "resolved")
TRIAGE_TAGS = ("immediate", "delayed", "minor")
ASSIGNMENT_KINDS = ("deescalation", "medical_aid", "observe", "support")
ROLES = ("viewer", "supervisor", "operator")

# The assignment lifecycle, in order; declined and cancelled end it early.
ASSIGNMENT_FLOW = ("dispatched", "delivered", "acknowledged", "en_route", "on_scene", "completed")
ASSIGNMENT_ENDINGS = ("declined", "cancelled")
ASSIGNMENT_STATUSES = ASSIGNMENT_FLOW + ASSIGNMENT_ENDINGS
ASSIGNMENT_TERMINAL = ("completed", "declined", "cancelled")

# A unit's status follows its active assignment's step.
UNIT_STATUS_FOR_ASSIGNMENT = {
    "dispatched": "assigned",
    "delivered": "assigned",
    "acknowledged": "assigned",
    "en_route": "en_route",
    "on_scene": "on_scene",
}


@dataclass
class Demonstration:
    id: str
    name: str
    lat: float
    lon: float
    crowd_estimate: int
    tension: int
    status: str
    federal_presence: bool
    area: dict[str, Any] | None = None
    # Languages spoken in the crowd (ISO 639 codes): units with `lang:<code>` are preferred.
    languages: list[str] = field(default_factory=list)
    # Where it stands against the map layers, computed when created or moved.
    enrichment: dict[str, Any] | None = None
    created_at: str = ""
    updated_at: str = ""

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        data["tension_label"] = TENSION_LABELS[self.tension]
        return data


@dataclass
class Unit:
    id: str
    callsign: str
    kind: str
    skills: list[str]
    status: str
    created_at: str = ""
    active_assignment_id: str | None = None
    out_of_service: bool = False
    token_sha256: str = ""

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        del data["token_sha256"]
        del data["out_of_service"]
        return data


@dataclass
class Incident:
    id: str
    kind: str
    lat: float
    lon: float
    severity: int
    triage: str | None
    demonstration_id: str | None
    note: str
    status: str
    reported_at: str
    reported_by: str
    updated_at: str = ""
    # Whether federal agents were involved (always so for federal_activity).
    federal_involved: bool = False
    enrichment: dict[str, Any] | None = None
    # "phone" / "email" when the note seems to hold personal details (see privacy.py).
    note_flags: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Assignment:
    id: str
    unit_id: str
    kind: str
    incident_id: str | None
    demonstration_id: str | None
    priority: int
    note: str
    status: str
    dispatched_by: str
    reason: str | None = None
    note_flags: list[str] = field(default_factory=list)
    # One timestamp per lifecycle step reached, keyed by status.
    times: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status not in ASSIGNMENT_TERMINAL

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Credential:
    """A login or bearer token; kept in the projection, never shown on the wire."""

    kind: str  # "user", "api_token"
    name: str
    role: str
    secret_hash: str
    revoked: bool = False


@dataclass
class ComplianceAlert:
    """A report that touches a rule of the executive order or the state's sensitive locations."""

    id: str
    incident_id: str
    kind: str  # the incident's kind
    places: list[dict[str, Any]]  # each: name, layer, place_type, rule, distance_m
    raised_at: str

    def view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FootageRequest:
    """A request to preserve city camera footage of federal agents' force or damage."""

    id: str
    incident_id: str
    cameras: list[dict[str, Any]]  # each: name, layer, distance_m, range_m
    window_start: str
    window_end: str
    requested_at: str

    def view(self) -> dict[str, Any]:
        return asdict(self)
