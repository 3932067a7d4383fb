"""The JSON API that the dashboard, tablets and CAD bridges use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from ..domain import validation as v
from ..domain.errors import NotFound, ValidationError
from ..domain.timefmt import now_utc, parse_iso
from ..geo.runtime import GeoService
from ..openapi import openapi_document
from ..recommendations import recommend
from ..reports.replay import operation_span, snapshot_at
from ..security import new_token, token_digest
from .context import current_actor, idempotency_key, json_body, service
from .limits import spend_field_report

bp = Blueprint("api", __name__, url_prefix="/api")


def _existing(collection: str, entity_id: str) -> dict[str, Any]:
    view = service().view(collection, entity_id) if v.ID_RE.match(entity_id) else None
    if view is None:
        raise NotFound(f"no {collection[:-1]} '{entity_id}'", field="id")
    return view


def _run(command: Any, *, status: int = 200) -> tuple[Response, int]:
    result = service().execute(
        command,
        actor=current_actor().label,
        idempotency_key=idempotency_key(),
        success_status=status,
    )
    return jsonify(result.body), result.status


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get("/me")
def me() -> Response:
    return jsonify(current_actor().view())


@bp.get("/state")
def state() -> Response:
    actor = current_actor()
    actor.require("viewer")
    return jsonify(service().snapshot())


@bp.get("/events")
def events() -> Response:
    current_actor().require("viewer")
    after = _query_int("after", default=0, low=0, high=2**62)
    limit = _query_int("limit", default=1000, low=1, high=5000)
    items = service().log.read_after(after, limit=limit)
    return jsonify({"events": [e.public() for e in items], "seq": items[-1].seq if items else after})


def _query_int(name: str, *, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"'{name}' must be an integer", field=name) from None
    if not low <= value <= high:
        raise ValidationError(f"'{name}' must be between {low} and {high}", field=name)
    return value


# --- demonstrations -------------------------------------------------------


@bp.get("/demonstrations")
def list_demonstrations() -> Response:
    actor = current_actor()
    if not actor.is_unit:  # units read them to report tension at a demonstration
        actor.require("viewer")
    return jsonify(service().list_views("demonstrations"))


@bp.post("/demonstrations")
def create_demonstration() -> tuple[Response, int]:
    current_actor().require("supervisor")
    return _run(v.create_demonstration(json_body()), status=201)


@bp.get("/demonstrations/<demonstration_id>")
def get_demonstration(demonstration_id: str) -> Response:
    current_actor().require("viewer")
    return jsonify(_existing("demonstrations", demonstration_id))


@bp.patch("/demonstrations/<demonstration_id>")
def update_demonstration(demonstration_id: str) -> tuple[Response, int]:
    current_actor().require("supervisor")
    _existing("demonstrations", demonstration_id)
    return _run(v.update_demonstration(demonstration_id, json_body()))


# --- units ----------------------------------------------------------------


@bp.get("/units")
def list_units() -> Response:
    current_actor().require("viewer")
    return jsonify(service().list_views("units"))


@bp.post("/units")
def register_unit() -> tuple[Response, int]:
    actor = current_actor()
    actor.require("operator")
    if idempotency_key() is not None:
        # The device token is shown once and never stored, so a replay could not return it.
        raise ValidationError("creating a unit does not take an Idempotency-Key", field="Idempotency-Key")
    token = new_token()
    command = v.register_unit(json_body(), token_sha256=token_digest(token))
    result = service().execute(command, actor=actor.label, success_status=201)
    return jsonify({**result.body, "token": token}), 201


@bp.get("/units/<unit_id>")
def get_unit(unit_id: str) -> Response:
    actor = current_actor()
    view = _existing("units", unit_id)
    actor.require_staff_or_unit(unit_id, role="viewer")
    return jsonify(view)


@bp.patch("/units/<unit_id>")
def update_unit(unit_id: str) -> tuple[Response, int]:
    actor = current_actor()
    _existing("units", unit_id)
    actor.require_staff_or_unit(unit_id, role="supervisor")
    return _run(v.update_unit(unit_id, json_body()))


@bp.post("/units/<unit_id>/position")
def report_position(unit_id: str) -> tuple[Response, int]:
    actor = current_actor()
    _existing("units", unit_id)
    actor.require_staff_or_unit(unit_id, role="operator")
    lat, lon, accuracy, at = v.position_fix(json_body(), now=now_utc())
    fix = service().record_fix(unit_id, lat, lon, accuracy, at)
    # 202: the fix is live now and written with the next batch, not yet on disk.
    return jsonify({"unit_id": unit_id, **fix.view()}), 202


# --- incidents ------------------------------------------------------------


@bp.get("/incidents")
def list_incidents() -> Response:
    current_actor().require("viewer")
    return jsonify(service().list_views("incidents"))


@bp.post("/incidents")
def report_incident() -> tuple[Response, int]:
    actor = current_actor()
    if not actor.is_unit:
        actor.require("supervisor")
    command = v.report_incident(json_body())
    spend_field_report()
    return _run(command, status=201)


@bp.get("/incidents/<incident_id>")
def get_incident(incident_id: str) -> Response:
    current_actor().require("viewer")
    return jsonify(_existing("incidents", incident_id))


@bp.patch("/incidents/<incident_id>")
def update_incident(incident_id: str) -> tuple[Response, int]:
    current_actor().require("supervisor")
    _existing("incidents", incident_id)
    return _run(v.update_incident(incident_id, json_body()))


# --- assignments ----------------------------------------------------------


@bp.get("/assignments")
def list_assignments() -> Response:
    actor = current_actor()
    views = service().list_views("assignments")
    if actor.is_unit:
        views = [a for a in views if a["unit_id"] == actor.unit_id]
    else:
        actor.require("viewer")
    return jsonify(views)


@bp.post("/assignments")
def dispatch() -> tuple[Response, int]:
    current_actor().require("supervisor")
    return _run(v.dispatch_assignment(json_body()), status=201)


@bp.get("/assignments/<assignment_id>")
def get_assignment(assignment_id: str) -> Response:
    actor = current_actor()
    view = _existing("assignments", assignment_id)
    actor.require_staff_or_unit(view["unit_id"], role="viewer")
    return jsonify(view)


@bp.post("/assignments/<assignment_id>/status")
def change_status(assignment_id: str) -> tuple[Response, int]:
    actor = current_actor()
    view = _existing("assignments", assignment_id)
    actor.require_staff_or_unit(view["unit_id"], role="supervisor")
    command = v.change_assignment_status(assignment_id, json_body())
    if actor.is_unit and command.status == "cancelled":
        raise ValidationError("a unit declines rather than cancels", field="status")
    return _run(command)


def _geo() -> GeoService:
    geo: GeoService = current_app.extensions["coordinator.geo"]
    return geo


@bp.get("/layers")
def layers() -> Response:
    current_actor().require("viewer")
    return jsonify({"layers": _geo().layers()})


@bp.get("/layers/<name>.geojson")
def layer_geojson(name: str) -> Response:
    current_actor().require("viewer")
    found = _geo().layer_geojson(name)
    if found is None:
        raise NotFound(f"no layer '{name}'", field="name")
    if isinstance(found, str):
        return Response(found, mimetype="application/geo+json")
    return send_file(found, mimetype="application/geo+json", max_age=0)


@bp.get("/incidents/<incident_id>/recommendations")
def incident_recommendations(incident_id: str) -> Response:
    current_actor().require("viewer")
    _existing("incidents", incident_id)
    return jsonify(recommend(service(), _geo(), incident_id=incident_id))


@bp.get("/demonstrations/<demonstration_id>/recommendations")
def demonstration_recommendations(demonstration_id: str) -> Response:
    current_actor().require("viewer")
    _existing("demonstrations", demonstration_id)
    return jsonify(recommend(service(), _geo(), demonstration_id=demonstration_id))


@bp.get("/replay")
def replay_span() -> Response:
    """The span of the operation in the log, for the replay slider."""
    current_actor().require("viewer")
    return jsonify(operation_span(service().log))


@bp.get("/replay/state")
def replay_state() -> Response:
    """The picture at a past moment (`at`, ISO 8601), rebuilt from the log."""
    current_actor().require("viewer")
    raw = request.args.get("at", "")
    try:
        moment = parse_iso(raw)
    except (ValueError, OverflowError):
        raise ValidationError("'at' must be an ISO 8601 time with offset", field="at") from None
    svc = service()
    return jsonify(snapshot_at(svc.log, svc.tracks, moment, stale_after_s=svc.stale_after_s))


@bp.get("/alerts")
def alerts() -> Response:
    """Compliance alerts and footage requests of open incidents, and live coverage gaps."""
    current_actor().require("viewer")
    svc = service()
    with svc.lock:
        open_incidents = {i.id for i in svc.state.incidents.values() if i.status == "open"}
        compliance = [a.view() for a in svc.state.alerts.values() if a.incident_id in open_incidents]
        footage = [f.view() for f in svc.state.footage_requests.values()]
    hub = current_app.extensions["coordinator.hub"]
    return jsonify(
        {
            "compliance": compliance,
            "footage_requests": footage,
            "coverage_gaps": hub.spatial["coverage_gaps"],
            "unit_fences": hub.spatial["unit_fences"],
            "demonstration_fences": hub.spatial["demonstration_fences"],
        }
    )
