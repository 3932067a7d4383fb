"""Who is asking: staff accounts, API tokens and field units, and what each may do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers

from .domain.errors import Forbidden, Unauthorized
from .domain.model import Credential
from .domain.projection import State
from .security import token_digest

if TYPE_CHECKING:
    from .service import Coordinator

ROLE_RANK = {"viewer": 1, "supervisor": 2, "operator": 3}


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "token", "unit" or "system"
    name: str
    role: str | None = None  # staff role; units have none
    unit_id: str | None = None

    @property
    def label(self) -> str:
        """Return the actor as written in the event log, e.g. `user:alice`."""
        return f"{self.kind}:{self.unit_id or self.name}"

    @property
    def is_unit(self) -> bool:
        return self.unit_id is not None

    def at_least(self, role: str) -> bool:
        return self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: str) -> None:
        """Refuse unless a staff actor holds `role` or a higher one."""
        if not self.at_least(role):
            raise Forbidden(f"this needs the {role} role or higher")

    def require_staff_or_unit(self, unit_id: str, *, role: str) -> None:
        """Let the unit itself, or staff with `role`, act on a unit's behalf."""
        if self.unit_id == unit_id:
            return
        if self.is_unit:
            raise Forbidden("a unit may act only on its own behalf")
        self.require(role)

    def view(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "role": self.role, "unit_id": self.unit_id}


SYSTEM = Actor("system", "coordinator", role="operator")


def actor_for_token(state: State, token: str) -> Actor:
    """Return the API token's or unit's actor for a bearer token, or refuse."""
    digest = token_digest(token)
    credential = state.api_tokens.get(digest)
    if credential is not None and not credential.revoked:
        return Actor("token", credential.name, role=credential.role)
    unit_id = state.unit_tokens.get(digest)
    if unit_id is not None and unit_id in state.units:
        return Actor("unit", state.units[unit_id].callsign, unit_id=unit_id)
    raise Unauthorized("unknown or revoked token")


def actor_for_user(state: State, name: str) -> Actor:
    credential = state.users.get(name)
    if credential is None or credential.revoked:
        raise Unauthorized("session is no longer valid; sign in again")
    return Actor("user", credential.name, role=credential.role)


def bearer_token(headers: Mapping[str, str] | Headers) -> str | None:
    value = headers.get("Authorization", "")
    if value[:7].lower() == "bearer ":
        token = value[7:].strip()
        return token or None
    return None


def resolve_token(service: Coordinator, token: str) -> Actor:
    """Resolve a bearer token, reading the log once more if it is unknown.

    A token made by the CLI a moment ago is in the log but maybe not yet in
    this node's projection; one catch-up closes that gap.
    """
    with service.lock:
        try:
            return actor_for_token(service.state, token)
        except Unauthorized:
            service.catch_up()
            return actor_for_token(service.state, token)


def known_user(service: Coordinator, name: str) -> Credential | None:
    """Return a login's credential, reading the log once more if the name is unknown
    (a login the CLI created a moment ago)."""
    with service.lock:
        if name not in service.state.users:
            service.catch_up()
        return service.state.users.get(name)


def resolve_user(service: Coordinator, name: str) -> Actor:
    """Resolve a signed-in user, reading the log once more if the name is unknown."""
    with service.lock:
        known_user(service, name)
        return actor_for_user(service.state, name)
