"""Commands: what a caller asks for, already parsed and typed, not yet checked against state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CreateDemonstration:
    name: str
    lat: float
    lon: float
    crowd_estimate: int
    tension: int
    status: str
    federal_presence: bool
    area: dict[str, Any] | None
    languages: tuple[str, ...] = ()
    enrichment: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpdateDemonstration:
    id: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class RegisterUnit:
    callsign: str
    kind: str
    skills: list[str]
    token_sha256: str


@dataclass(frozen=True)
class UpdateUnit:
    id: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class ReportIncident:
    kind: str
    lat: float
    lon: float
    severity: int
    triage: str | None
    demonstration_id: str | None
    note: str
    federal_involved: bool = False
    enrichment: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpdateIncident:
    id: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class DispatchAssignment:
    unit_id: str
    kind: str
    incident_id: str | None
    demonstration_id: str | None
    priority: int
    note: str


@dataclass(frozen=True)
class ChangeAssignmentStatus:
    id: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class CreateUser:
    name: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class CreateApiToken:
    name: str
    role: str
    token_sha256: str


@dataclass(frozen=True)
class DisableUser:
    name: str


@dataclass(frozen=True)
class ChangePassword:
    name: str
    password_hash: str


@dataclass(frozen=True)
class RevokeApiToken:
    name: str


@dataclass(frozen=True)
class IssueUnitToken:
    unit_id: str
    token_sha256: str


@dataclass(frozen=True)
class RevokeUnitToken:
    unit_id: str


Command = (
    CreateDemonstration
    | UpdateDemonstration
    | RegisterUnit
    | UpdateUnit
    | ReportIncident
    | UpdateIncident
    | DispatchAssignment
    | ChangeAssignmentStatus
    | CreateUser
    | CreateApiToken
    | RevokeApiToken
    | DisableUser
    | ChangePassword
    | IssueUnitToken
    | RevokeUnitToken
)
