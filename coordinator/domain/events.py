"""Events: immutable, past-tense facts; the log of them is the system of record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENT_VERSION = 1

DEMONSTRATION_CREATED = "DemonstrationCreated"
DEMONSTRATION_UPDATED = "DemonstrationUpdated"
UNIT_REGISTERED = "UnitRegistered"
UNIT_UPDATED = "UnitUpdated"
INCIDENT_REPORTED = "IncidentReported"
INCIDENT_UPDATED = "IncidentUpdated"
ASSIGNMENT_DISPATCHED = "AssignmentDispatched"
COMPLIANCE_ALERT_RAISED = "ComplianceAlertRaised"
FOOTAGE_PRESERVATION_REQUESTED = "FootagePreservationRequested"
USER_CREATED = "UserCreated"
USER_DISABLED = "UserDisabled"
USER_PASSWORD_CHANGED = "UserPasswordChanged"
API_TOKEN_CREATED = "ApiTokenCreated"
API_TOKEN_REVOKED = "ApiTokenRevoked"
UNIT_TOKEN_ISSUED = "UnitTokenIssued"
UNIT_TOKEN_REVOKED = "UnitTokenRevoked"

# One event type per assignment step, so the log reads as what happened.
ASSIGNMENT_STEP_EVENTS = {
    "delivered": "AssignmentDelivered",
    "acknowledged": "AssignmentAcknowledged",
    "en_route": "AssignmentEnRoute",
    "on_scene": "AssignmentOnScene",
    "completed": "AssignmentCompleted",
    "declined": "AssignmentDeclined",
    "cancelled": "AssignmentCancelled",
}
ASSIGNMENT_STEP_BY_EVENT = {v: k for k, v in ASSIGNMENT_STEP_EVENTS.items()}

# Hashes of credentials live in the log so every node can check them, but are
# never sent to a client.
SECRET_FIELDS = frozenset({"token_sha256", "password_hash"})


@dataclass(frozen=True)
class NewEvent:
    """An event decided by the rules, not yet given a place in the log."""

    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """An event with its global sequence number, UTC time and actor."""

    seq: int
    at: str
    actor: str
    type: str
    payload: dict[str, Any]
    v: int = EVENT_VERSION

    def public(self) -> dict[str, Any]:
        """Return the event as clients see it, without credential hashes."""
        payload = {k: v for k, v in self.payload.items() if k not in SECRET_FIELDS}
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "type": self.type,
            "v": self.v,
            "payload": payload,
        }
