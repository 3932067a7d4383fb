"""Per-request access to the service, settings and the caller."""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, g, request, session

from ..actors import Actor, bearer_token, resolve_token, resolve_user
from ..config import Settings
from ..domain.errors import Forbidden, Unauthorized, ValidationError
from ..security import same
from ..service import Coordinator

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def service() -> Coordinator:
    svc: Coordinator = current_app.extensions["coordinator"]
    return svc


def settings() -> Settings:
    value: Settings = current_app.config["COORDINATOR_SETTINGS"]
    return value


def csrf_token() -> str:
    """Return this session's CSRF token, making one on first use."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return str(token)


def current_actor() -> Actor:
    """Resolve the caller from a bearer token or the session cookie, or refuse."""
    if "actor" in g:
        actor: Actor = g.actor
        return actor
    svc = service()
    token = bearer_token(request.headers)
    with svc.lock:
        if token is not None:
            actor = resolve_token(svc, token)
        elif session.get("user"):
            actor = resolve_user(svc, str(session["user"]))
            if request.method in UNSAFE_METHODS:
                # Cookies ride along on cross-site requests; a header cannot.
                sent = request.headers.get("X-CSRF-Token", "")
                if not sent or not same(sent, str(session.get("csrf", ""))):
                    raise Forbidden("missing or wrong X-CSRF-Token header", field="X-CSRF-Token")
        else:
            raise Unauthorized("sign in, or send Authorization: Bearer <token>")
    g.actor = actor
    return actor


def json_body() -> Any:
    """Return the parsed JSON body; refuse a body that is not JSON."""
    if not request.get_data(cache=True):
        raise ValidationError("request body must be a JSON object", field="body")
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise ValidationError("request body is not valid JSON", field="body")
    return data


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise ValidationError("Idempotency-Key must be 1-128 printable characters", field="Idempotency-Key")
    return key
