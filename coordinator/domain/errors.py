"""Errors the domain raises; entry points turn them into 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    """A refused command: says which field was wrong and why."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ValidationError(DomainError):
    """A value is missing, malformed or out of range."""

    status = 400


class NotFound(DomainError):
    """A referenced entity does not exist."""

    status = 404


class Conflict(DomainError):
    """The command is well formed but the current state refuses it."""

    status = 409


class Forbidden(DomainError):
    """The actor may not do this."""

    status = 403


class Unauthorized(DomainError):
    """No valid credentials were given."""

    status = 401


class Unavailable(DomainError):
    """The command could not be recorded now; the caller may retry it (with its idempotency key)."""

    status = 503
