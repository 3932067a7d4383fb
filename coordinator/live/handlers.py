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
from flask_socketio import SocketIO

from ..actors import Actor, bearer_token, resolve_token, resolve_user
from ..domain import validation as v
from ..domain.errors import DomainError, Forbidden, NotFound, ValidationError
from ..domain.timefmt import now_utc
from ..service import Coordinator
from ..store.protocols import Fix
from ..web.limits import Budget
from . import fastpath
from .hub import LiveHub

log = logging.getLogger(__name__)

Answer = dict[str, Any]
UNANSWERED: Answer = {"ok": True}


def register(socketio: SocketIO, hub: LiveHub, service: Coordinator, budget: Budget) -> None:
    """Attach the socket event handlers."""
    handlers = SocketHandlers(hub, service, budget)
    socketio.on_event("connect", handlers.on_connect)
    socketio.on_event("disconnect", handlers.on_disconnect)
    socketio.on_event("sync", handlers.guarded(handlers.sync))
    socketio.on_event("received", handlers.guarded(handlers.received))
    # Fixes are most of the traffic, so they skip the Flask request context Flask-SocketIO
    # builds for each event: its URL match fails on the Socket.IO path and leaves a reference
    # cycle of about 60 objects per message behind, for the garbage collector's pauses.
    socketio.server.on("position", handlers.bare(handlers.position), namespace="/")
    # And those that ask for no answer skip Socket.IO's dispatch altogether (fastpath.py).
    fastpath.install(socketio.server, handlers.bare(handlers.position_unanswered))
    socketio.on_event("action", handlers.guarded(handlers.action))


class SocketHandlers:
    """One instance per app: knows which actor each connected socket is."""

    def __init__(self, hub: LiveHub, service: Coordinator, budget: Budget) -> None:
        self.hub = hub
        self.service = service
        self.budget = budget
        self.actors = hub.sockets

    def _resolve(self, auth: Any) -> Actor:
        token = auth.get("token") if isinstance(auth, Mapping) else None
        if token is not None and not isinstance(token, str):
            raise Refused("token must be a string")
        token = token or bearer_token(request.headers)
        with self.service.lock:
            if token:
                return resolve_token(self.service, token)
            if session.get("user"):
                return resolve_user(self.service, str(session["user"]))
        raise Refused('sign in, or connect with auth {"token": ...}')

    def on_connect(self, auth: Any = None) -> None:
        try:
            actor = self._resolve(auth)
        except DomainError as exc:
            raise Refused(exc.message) from None
        if not actor.is_unit and not actor.at_least("viewer"):
            raise Refused("no role")
        self.actors[_sid()] = actor

    def on_disconnect(self, *_args: Any) -> None:
        actor = self.actors.pop(_sid(), None)
        if actor is not None and actor.unit_id is not None:
            self.hub.leave_unit(_sid(), actor.unit_id)

    def guarded(self, handler: Callable[[Actor, Any], Answer]) -> Callable[..., Answer]:
        """Run a handler with the caller's actor; turn refusals into answers."""

        def run(data: Any = None, *_extra: Any) -> Answer:
            return self._answer(_sid(), handler, data)

        run.__name__ = handler.__name__
        return run

    def bare(self, handler: Callable[[Actor, Any], Answer]) -> Callable[..., Answer]:
        """As `guarded`, for a handler registered on the Socket.IO server itself (no Flask context)."""

        def run(sid: str, data: Any = None, *_extra: Any) -> Answer:
            return self._answer(sid, handler, data)

        run.__name__ = handler.__name__
        return run

    def _answer(self, sid: str, handler: Callable[[Actor, Any], Answer], data: Any) -> Answer:
        actor = self.actors.get(sid)
        if actor is None:
            self.hub.socketio.server.disconnect(sid, namespace="/")
            return {"ok": False, "error": "not connected"}
        try:
            return handler(actor, data)
        except DomainError as exc:
            return {"ok": False, "status": exc.status, **exc.to_json()}
        except Exception:
            log.exception("socket handler failed")
            return {"ok": False, "status": 500, "error": "internal error"}

    def sync(self, actor: Actor, data: Any) -> Answer:
        """Start or resume the live feed: a snapshot, or what followed `last_seq`."""
        if actor.unit_id is not None:
            self.hub.join_unit(_sid(), actor.unit_id)
            return {"ok": True, "kind": "assignments"}
        last_seq = None
        if isinstance(data, Mapping) and data.get("last_seq") is not None:
            last_seq = v.integer(data["last_seq"], "last_seq", low=0, high=2**62)
        elif data is not None and not isinstance(data, Mapping):
            raise ValidationError("sync takes an object", field="body")
        kind = self.hub.join_dashboard(_sid(), last_seq)
        return {"ok": True, "kind": kind}

    def received(self, actor: Actor, data: Any) -> Answer:
        """Record that a tablet has an assignment on screen (`delivered`)."""
        unit_id = _require_unit(actor)
        body = v.body_object(data)
        assignment_id = v.entity_id(body.get("assignment_id"), "assignment_id")
        _own_assignment(self.service, unit_id, assignment_id)
        command = v.change_assignment_status(assignment_id, {"status": "delivered"})
        result = self.service.execute(command, actor=actor.label)
        return {"ok": True, "result": result.body}

    def position(self, actor: Actor, data: Any) -> Answer:
        return {"ok": True, "result": self._record_position(actor, data).view()}

    def position_unanswered(self, actor: Actor, data: Any) -> Answer:
        """A fix sent without asking for an answer: the answer is not built only to be dropped."""
        self._record_position(actor, data)
        return UNANSWERED

    def _record_position(self, actor: Actor, data: Any) -> Fix:
        unit_id = _require_unit(actor)
        lat, lon, accuracy, at = v.position_fix(data, now=now_utc())
        return self.service.record_fix(unit_id, lat, lon, accuracy, at)

    def action(self, actor: Actor, data: Any) -> Answer:
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
            return self.position(actor, payload)
        command: Any
        status = 200
        if kind == "assignment_status":
            fields = dict(payload)
            assignment_id = v.entity_id(fields.pop("assignment_id", None), "assignment_id")
            _own_assignment(self.service, unit_id, assignment_id)
            command = v.change_assignment_status(assignment_id, fields)
            if command.status == "cancelled":
                raise ValidationError("a unit declines rather than cancels", field="status")
        elif kind == "incident":
            command = v.report_incident(payload)
            status = 201
            self.budget.spend(unit_id)
        else:
            command = v.update_unit(unit_id, {"status": payload.get("status")})
        result = self.service.execute(command, actor=actor.label, idempotency_key=key, success_status=status)
        return {
            "ok": True,
            "status": result.status,
            "replayed": result.replayed,
            "result": result.body,
        }


def _sid() -> str:
    sid: str = request.sid  # type: ignore[attr-defined]
    return sid


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
