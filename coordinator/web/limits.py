"""Rate limits: sign-in attempts per client address, field reports per unit.

Built on the `limits` library (the engine under Flask-Limiter) with a moving
window, so one budget covers a unit whichever way its reports arrive, HTTP or
its socket. Storage is in memory on one node, or Redis (`--rate-limit-storage
redis://...`) so that several nodes share the budgets.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..config import ConfigError
from ..domain.errors import DomainError

LOGIN_LIMIT = "10 per minute"
FIELD_REPORT_LIMIT = "30 per minute"
# A report can start Chromium for a PDF: seconds of work a caller should not repeat at will.
REPORT_LIMIT = "10 per minute"


class RateLimited(DomainError):
    """Too many requests of this kind from this caller for now."""

    status = 429


class Budget:
    """A moving-window allowance per key (an address, a unit)."""

    def __init__(self, scope: str, limit: str, message: str, storage: Storage | None = None) -> None:
        self.scope = scope
        self.item: RateLimitItem = parse(limit)
        self.message = message
        self.limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    def spend(self, key: str) -> None:
        if not self.limiter.hit(self.item, self.scope, key):
            raise RateLimited(self.message)


def register(app: Flask, *, storage_uri: str = "memory://", key_prefix: str = "coordinator") -> Budget:
    """Create the budgets of one app; return the field-report budget for the socket handlers."""
    # Nodes of one operation share counters under its prefix; other operations do not.
    options = {"key_prefix": key_prefix} if storage_uri.startswith(("redis://", "rediss://")) else {}
    storage = storage_from_string(storage_uri, **options)
    if not isinstance(storage, Storage):  # an async backend cannot serve these threads
        raise ConfigError(f"rate-limit storage {storage_uri!r} is not a synchronous backend")
    app.extensions["coordinator.login_budget"] = Budget(
        "login", LOGIN_LIMIT, "too many sign-in attempts from this address; wait a minute", storage
    )
    field = Budget(
        "field-report",
        FIELD_REPORT_LIMIT,
        f"more than {FIELD_REPORT_LIMIT} reports from this unit; wait a moment",
        storage,
    )
    app.extensions["coordinator.field_budget"] = field
    app.extensions["coordinator.report_budget"] = Budget(
        "report", REPORT_LIMIT, f"more than {REPORT_LIMIT} reports for this account; wait a minute", storage
    )
    return field


def spend_login_attempt() -> None:
    budget: Budget = current_app.extensions["coordinator.login_budget"]
    budget.spend(request.remote_addr or "unknown")


def spend_report(actor_label: str) -> None:
    budget: Budget = current_app.extensions["coordinator.report_budget"]
    budget.spend(actor_label)


def spend_field_report() -> None:
    """Charge the calling unit's report budget; staff callers are not limited here."""
    actor = g.get("actor")
    if actor is not None and actor.unit_id is not None:
        budget: Budget = current_app.extensions["coordinator.field_budget"]
        budget.spend(actor.unit_id)
