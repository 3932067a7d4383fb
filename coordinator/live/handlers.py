"""Socket.IO events: who may connect, what a dashboard or a unit may send.

Every inbound message is validated; a bad one gets an error answer naming the
field and changes nothing. Writes from dashboards go through the HTTP API; a
unit's tablet writes over its socket so that its offline queue can replay
actions in order, each with an idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import request, session
from flask_socketio import ConnectionRefusedError as Refused
from flask_socketio import SocketIO, disconnect

from ..actors import Actor, actor_for_token, actor_for_user, bearer_token
from ..domain import validation as v
from ..domain.errors import DomainError, Forbidden, NotFound, ValidationError
from ..domain.timefmt import now_utc
from ..service import Coordinator
from .hub import LiveHub

log = logging.getLogger(__name__)

Answer = dict[str, Any]


def register(socketio: SocketIO, hub: LiveHub, service: Coordinator) -> None:
    """Attach the socket event handlers."""
    actors: dict[str, Actor] = {}

    def resolve(auth: Any) -> Actor:
        token = auth.get("token") if isinstance(auth, Mapping) else None
        if token is not None and not isinstance(token, str):
            raise Refused("token must be a string")
        token = token or bearer_token(request.headers)
        with service.lock:
            if token:
                return actor_for_token(service.state, token)
            if session.get("user"):
                return actor_for_user(service.state, str(session["user"]))
        raise Refused("sign in, or connect with auth {\"token\": ...}")

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        try:
            actor = resolve(auth)
        except DomainError as exc:
            raise Refused(exc.message) from None
        if not actor.is_unit and not actor.at_least("viewer"):
            raise Refused("no role")
        actors[request.sid] = actor  # type: ignore[attr-defined]

    @socketio.on("disconnect")
    def on_disconnect(*_args: Any) -> None:
        actor = actors.pop(request.sid, None)  # type: ignore[attr-defined]
        if actor is not None and actor.unit_id is not None:
            hub.leave_unit(request.sid, actor.unit_id)  # type: ignore[attr-defined]

    def guarded(handler: Callable[[Actor, Any], Answer]) -> Callable[[Any], Answer]:
        """Run a handler with the caller's actor; turn refusals into answers."""

        def run(data: Any = None) -> Answer:
            actor = actors.get(request.sid)  # type: ignore[attr-defined]
            if actor is None:
                disconnect()
                return {"ok": False, "error": "not connected"}
            try:
                return handler(actor, data)
            except DomainError as exc:
                return {"ok": False, "status": exc.status, **exc.to_json()}
            except Exception:
                log.exception("socket handler failed")
                return {"ok": False, "status": 500, "error": "internal error"}

        run.__name__ = handler.__name__
        return run

    def sync(actor: Actor, data: Any) -> Answer:
        """Start or resume the live feed: a snapshot, or what followed `last_seq`."""
        if actor.unit_id is not None:
            hub.join_unit(request.sid, actor.unit_id)  # type: ignore[attr-defined]
            return {"ok": True, "kind": "assignments"}
        last_seq = None
        if isinstance(data, Mapping) and data.get("last_seq") is not None:
            last_seq = v.integer(data["last_seq"], "last_seq", low=0, high=2**62)
        elif data is not None and not isinstance(data, Mapping):
            raise ValidationError("sync takes an object", field="body")
        kind = hub.join_dashboard(request.sid, last_seq)  # type: ignore[attr-defined]
        return {"ok": True, "kind": kind}

    def received(actor: Actor, data: Any) -> Answer:
        """Record that a tablet has an assignment on screen (`delivered`)."""
        unit_id = _require_unit(actor)
        body = v.body_object(data)
        assignment_id = v.entity_id(body.get("assignment_id"), "assignment_id")
        _own_assignment(service, unit_id, assignment_id)
        command = v.change_assignment_status(assignment_id, {"status": "delivered"})
        result = service.execute(command, actor=actor.label)
        return {"ok": True, "result": result.body}

    def position(actor: Actor, data: Any) -> Answer:
        unit_id = _require_unit(actor)
        lat, lon, accuracy, at = v.position_fix(data, now=now_utc())
        fix = service.record_fix(unit_id, lat, lon, accuracy, at)
        return {"ok": True, "result": fix.view()}

    def action(actor: Actor, data: Any) -> Answer:
        """Apply one queued tablet action exactly once (keyed by `key`)."""
        unit_id = _require_unit(actor)
        body = v.body_object(data)
        v.refuse_unknown(body, {"key", "type", "data"})
        key = v.text(body.get("key"), "key", max_len=128, min_len=1)
        kind = v.choice(
            body.get("type"), "type", ("assignment_status", "incident", "unit_status", "position")
        )
        payload = v.body_object(body.get("data"))
        if kind == "position":
            return position(actor, payload)
        if kind == "assignment_status":
            payload = dict(payload)
            assignment_id = v.entity_id(payload.pop("assignment_id", None), "assignment_id")
            _own_assignment(service, unit_id, assignment_id)
            command: Any = v.change_assignment_status(assignment_id, payload)
            if command.status == "cancelled":
                raise ValidationError("a unit declines rather than cancels", field="status")
            status = 200
        elif kind == "incident":
            command = v.report_incident(payload)
            status = 201
        else:
            command = v.update_unit(unit_id, {"status": payload.get("status")})
            status = 200
        result = service.execute(
            command, actor=actor.label, idempotency_key=key, success_status=status
        )
        return {"ok": True, "status": result.status, "replayed": result.replayed, "result": result.body}

    socketio.on_event("sync", guarded(sync))
    socketio.on_event("received", guarded(received))
    socketio.on_event("position", guarded(position))
    socketio.on_event("action", guarded(action))


def _require_unit(actor: Actor) -> str:
    if actor.unit_id is None:
        raise Forbidden("only a unit's device sends this")
    return actor.unit_id


def _own_assignment(service: Coordinator, unit_id: str, assignment_id: str) -> None:
    with service.lock:
        assignment = service.state.assignments.get(assignment_id)
    if assignment is None:
        raise NotFound(f"no assignment '{assignment_id}'", field="assignment_id")
    if assignment.unit_id != unit_id:
        raise Forbidden("that assignment belongs to another unit", field="assignment_id")
