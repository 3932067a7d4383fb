"""The OpenAPI 3.1 description of the JSON API, built from the domain vocabularies."""

from __future__ import annotations

from functools import cache
from typing import Any

from .domain.model import (
    ASSIGNMENT_KINDS,
    ASSIGNMENT_STATUSES,
    DEMONSTRATION_STATUSES,
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    TRIAGE_TAGS,
    UNIT_KINDS,
    UNIT_STATUSES,
)
from .domain.validation import SETTABLE_ASSIGNMENT_STATUSES, UNIT_SETTABLE_STATUSES

LAT = {"type": "number", "minimum": -90, "maximum": 90}
LON = {"type": "number", "minimum": -180, "maximum": 180}
ID = {"type": "string", "pattern": "^[a-z]{2,5}-[0-9a-f]{6,32}$"}
TIME = {"type": "string", "format": "date-time"}


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer.update(_json(schema))
    return answer


ERRORS = {
    "400": _answer("Invalid input; `field` names the culprit", _ref("Error")),
    "401": _answer("No valid credentials", _ref("Error")),
    "403": _answer("Role or unit may not do this", _ref("Error")),
    "413": _answer("Body over the size limit", _ref("Error")),
    "429": _answer("Too many requests of this kind for now", _ref("Error")),
    "503": _answer(
        "The shared store (Redis, with several nodes) is unreachable; nothing was recorded "
        "unless a retry with the same Idempotency-Key says so",
        _ref("Error"),
    ),
}
NOT_FOUND = {"404": _answer("No such entity", _ref("Error"))}
CONFLICT = {"409": _answer("Refused by the current state", _ref("Error"))}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key by the same caller is applied once.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _schemas() -> dict[str, Any]:
    demonstration_fields = {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "lat": LAT,
        "lon": LON,
        "crowd_estimate": {"type": "integer", "minimum": 0, "maximum": 5_000_000},
        "tension": {"type": "integer", "minimum": 1, "maximum": 5},
        "status": _enum(DEMONSTRATION_STATUSES),
        "federal_presence": {"type": "boolean"},
        "area": _nullable(_ref("Polygon")),
        "languages": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "pattern": "^[a-z]{2,3}$"},
            "description": "languages spoken in the crowd; units with lang:<code> are preferred",
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
        },
        "Polygon": {
            "type": "object",
            "description": "GeoJSON Polygon, [lon, lat] positions, closed rings",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"const": "Polygon"},
                "coordinates": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "minItems": 4,
                        "items": {"type": "array", "minItems": 2, "items": {"type": "number"}},
                    },
                },
            },
        },
        "DemonstrationInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "lat", "lon"],
            "properties": demonstration_fields,
        },
        "DemonstrationPatch": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": demonstration_fields,
        },
        "Demonstration": {
            "type": "object",
            "required": ["id", "name", "lat", "lon", "crowd_estimate", "tension", "status"],
            "properties": {
                "id": ID,
                **demonstration_fields,
                "tension_label": {"type": "string"},
                "enrichment": _nullable(_ref("Enrichment")),
                "created_at": TIME,
                "updated_at": TIME,
            },
        },
        "UnitInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["callsign", "kind"],
            "properties": {
                "callsign": {"type": "string", "minLength": 1, "maxLength": 40},
                "kind": _enum(UNIT_KINDS),
                "skills": {
                    "type": "array",
                    "maxItems": 20,
                    "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_:.-]{0,39}$"},
                    "description": "Tags such as lang:es, emt:paramedic, crisis_intervention",
                },
            },
        },
        "UnitPatch": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "callsign": {"type": "string", "minLength": 1, "maxLength": 40},
                "skills": {"type": "array", "items": {"type": "string"}},
                "status": _enum(UNIT_SETTABLE_STATUSES),
            },
        },
        "Position": {
            "type": "object",
            "required": ["lat", "lon"],
            "properties": {
                "lat": LAT,
                "lon": LON,
                "accuracy_m": _nullable({"type": "number", "minimum": 0}),
                "at": TIME,
            },
        },
        "PositionInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["lat", "lon"],
            "properties": {
                "lat": LAT,
                "lon": LON,
                "accuracy_m": {"type": "number", "minimum": 0, "maximum": 100000},
                "at": {**TIME, "description": "when the fix was taken; defaults to receipt"},
            },
        },
        "Unit": {
            "type": "object",
            "required": ["id", "callsign", "kind", "skills", "status"],
            "properties": {
                "id": ID,
                "callsign": {"type": "string"},
                "kind": _enum(UNIT_KINDS),
                "skills": {"type": "array", "items": {"type": "string"}},
                "status": _enum(UNIT_STATUSES),
                "active_assignment_id": _nullable(ID),
                "position": _nullable(_ref("Position")),
                "stale": {"type": "boolean", "description": "no fix, or the last is too old"},
                "created_at": TIME,
            },
        },
        "NewUnit": {
            "allOf": [
                _ref("Unit"),
                {
                    "type": "object",
                    "required": ["token"],
                    "properties": {"token": {"type": "string", "description": "device token, shown once"}},
                },
            ]
        },
        "IncidentInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "lat", "lon"],
            "properties": {
                "kind": _enum(INCIDENT_KINDS),
                "lat": LAT,
                "lon": LON,
                "severity": {"type": "integer", "minimum": 1, "maximum": 5},
                "triage": {**_nullable(_enum(TRIAGE_TAGS)), "description": "required for injuries"},
                "demonstration_id": _nullable(ID),
                "note": {"type": "string", "maxLength": 2000},
                "federal_involved": {
                    "type": "boolean",
                    "description": "federal agents involved; true for federal_activity. Force or damage "
                    "involving them requests footage preservation",
                },
            },
        },
        "IncidentPatch": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "status": _enum(INCIDENT_STATUSES),
                "severity": {"type": "integer", "minimum": 1, "maximum": 5},
                "triage": _enum(TRIAGE_TAGS),
                "note": {"type": "string", "maxLength": 2000},
            },
        },
        "Incident": {
            "type": "object",
            "required": ["id", "kind", "lat", "lon", "severity", "status", "reported_at"],
            "properties": {
                "id": ID,
                "kind": _enum(INCIDENT_KINDS),
                "lat": LAT,
                "lon": LON,
                "severity": {"type": "integer"},
                "triage": _nullable(_enum(TRIAGE_TAGS)),
                "demonstration_id": _nullable(ID),
                "note": {"type": "string"},
                "status": _enum(INCIDENT_STATUSES),
                "reported_at": TIME,
                "reported_by": {"type": "string"},
                "updated_at": TIME,
                "federal_involved": {"type": "boolean"},
                "enrichment": _nullable(_ref("Enrichment")),
            },
        },
        "Place": {
            "type": "object",
            "required": ["name", "layer"],
            "properties": {
                "name": {"type": "string"},
                "category": {"type": "string"},
                "layer": {"type": "string"},
                "distance_m": {"type": "number"},
                "range_m": {"type": "number"},
            },
        },
        "Enrichment": {
            "type": "object",
            "description": "where the point stands against the map layers, computed when created or moved",
            "properties": {
                "neighborhood": _nullable({"type": "string"}),
                "city_property": {"type": "array", "items": _ref("Place")},
                "municipal_buildings": {"type": "array", "items": _ref("Place")},
                "sensitive_sites": {"type": "array", "items": _ref("Place")},
                "cameras": {"type": "array", "items": _ref("Place")},
                "sensitive_radius_m": {"type": "number"},
            },
        },
        "ComplianceAlert": {
            "type": "object",
            "required": ["id", "incident_id", "kind", "places", "raised_at"],
            "properties": {
                "id": ID,
                "incident_id": ID,
                "kind": _enum(INCIDENT_KINDS),
                "places": {
                    "type": "array",
                    "items": {
                        "allOf": [
                            _ref("Place"),
                            {
                                "type": "object",
                                "properties": {"place_type": {"type": "string"}, "rule": {"type": "string"}},
                            },
                        ]
                    },
                },
                "raised_at": TIME,
            },
        },
        "FootageRequest": {
            "type": "object",
            "required": ["id", "incident_id", "cameras", "window_start", "window_end"],
            "properties": {
                "id": ID,
                "incident_id": ID,
                "cameras": {"type": "array", "items": _ref("Place")},
                "window_start": TIME,
                "window_end": TIME,
                "requested_at": TIME,
            },
        },
        "Recommendations": {
            "type": "object",
            "required": ["target", "unit_kind", "recommendations"],
            "properties": {
                "target": {"type": "object"},
                "unit_kind": _enum(UNIT_KINDS),
                "assignment_kind": _enum(ASSIGNMENT_KINDS),
                "wanted_skills": {"type": "array", "items": {"type": "string"}},
                "routing": {"type": "string", "enum": ["road", "straight_line"]},
                "recommendations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["unit_id", "eta_s"],
                        "properties": {
                            "unit_id": ID,
                            "callsign": {"type": "string"},
                            "eta_s": {"type": "number"},
                            "distance_m": {"type": "number"},
                            "method": {"type": "string", "enum": ["road", "straight_line"]},
                            "skill_matches": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "AssignmentInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["unit_id", "kind"],
            "description": "exactly one of incident_id and demonstration_id",
            "properties": {
                "unit_id": ID,
                "kind": _enum(ASSIGNMENT_KINDS),
                "incident_id": _nullable(ID),
                "demonstration_id": _nullable(ID),
                "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                "note": {"type": "string", "maxLength": 2000},
            },
        },
        "StatusInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "properties": {
                "status": _enum(SETTABLE_ASSIGNMENT_STATUSES),
                "reason": {"type": "string", "maxLength": 500, "description": "required to decline"},
            },
        },
        "Assignment": {
            "type": "object",
            "required": ["id", "unit_id", "kind", "priority", "status", "times"],
            "properties": {
                "id": ID,
                "unit_id": ID,
                "kind": _enum(ASSIGNMENT_KINDS),
                "incident_id": _nullable(ID),
                "demonstration_id": _nullable(ID),
                "priority": {"type": "integer"},
                "note": {"type": "string"},
                "status": _enum(ASSIGNMENT_STATUSES),
                "reason": _nullable({"type": "string"}),
                "dispatched_by": {"type": "string"},
                "times": {
                    "type": "object",
                    "description": "UTC time each lifecycle step was reached",
                    "additionalProperties": TIME,
                },
            },
        },
        "Event": {
            "type": "object",
            "required": ["seq", "at", "actor", "type", "payload"],
            "properties": {
                "seq": {"type": "integer"},
                "at": TIME,
                "actor": {"type": "string"},
                "type": {"type": "string"},
                "v": {"type": "integer"},
                "payload": {"type": "object"},
            },
        },
        "State": {
            "type": "object",
            "required": ["seq", "demonstrations", "units", "incidents", "assignments"],
            "properties": {
                "seq": {"type": "integer"},
                "demonstrations": {"type": "array", "items": _ref("Demonstration")},
                "units": {"type": "array", "items": _ref("Unit")},
                "incidents": {"type": "array", "items": _ref("Incident")},
                "assignments": {"type": "array", "items": _ref("Assignment")},
                "alerts": {"type": "array", "items": _ref("ComplianceAlert")},
                "footage_requests": {"type": "array", "items": _ref("FootageRequest")},
                "server_time": TIME,
                "stale_after_s": {"type": "number"},
            },
        },
    }


def _collection(name: str, schema: str, *, create_status: str = "201") -> dict[str, Any]:
    return {
        "get": {
            "summary": f"List {name}",
            "responses": {"200": _answer("OK", {"type": "array", "items": _ref(schema)}), **ERRORS},
        },
        "post": {
            "summary": f"Create one of the {name}",
            "parameters": [IDEMPOTENCY],
            "requestBody": {"required": True, **_json(_ref(f"{schema}Input"))},
            "responses": {create_status: _answer("Created", _ref(schema)), **ERRORS, **CONFLICT},
        },
    }


def _item(name: str, schema: str, param: str, *, patch: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "parameters": [_path_id(param)],
        "get": {
            "summary": f"One of the {name}",
            "responses": {"200": _answer("OK", _ref(schema)), **ERRORS, **NOT_FOUND},
        },
    }
    if patch:
        item["patch"] = {
            "summary": f"Change one of the {name}",
            "parameters": [IDEMPOTENCY],
            "requestBody": {"required": True, **_json(_ref(f"{schema}Patch"))},
            "responses": {"200": _answer("OK", _ref(schema)), **ERRORS, **NOT_FOUND, **CONFLICT},
        }
    return item


def _recommendations(param: str) -> dict[str, Any]:
    return {
        "parameters": [_path_id(param)],
        "get": {
            "summary": "Available units of the right kind ranked by ETA (road when a streets layer exists)",
            "responses": {"200": _answer("OK", _ref("Recommendations")), **ERRORS, **NOT_FOUND},
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """Return the API description (built once; it depends only on the code)."""
    units = _collection("units", "Unit")
    units["post"]["parameters"] = []
    units["post"]["responses"]["201"] = _answer("Created, with the device token", _ref("NewUnit"))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coordinator API",
            "version": "1.0.0",
            "description": (
                "Demonstrations, field units, incidents and assignments of an emergency "
                "operations center. Authenticate with `Authorization: Bearer <token>` (an API "
                "token or a unit's device token) or a signed-in session plus `X-CSRF-Token`."
            ),
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "coordinator_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/state": {
                "get": {
                    "summary": "Everything current, with the sequence number it is consistent at",
                    "responses": {"200": _answer("OK", _ref("State")), **ERRORS},
                }
            },
            "/api/events": {
                "get": {
                    "summary": "Events after a sequence number, in order",
                    "parameters": [
                        {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 5000},
                        },
                    ],
                    "responses": {
                        "200": _answer(
                            "OK",
                            {
                                "type": "object",
                                "required": ["events", "seq"],
                                "properties": {
                                    "events": {"type": "array", "items": _ref("Event")},
                                    "seq": {"type": "integer"},
                                },
                            },
                        ),
                        **ERRORS,
                    },
                }
            },
            "/api/me": {
                "get": {
                    "summary": "Who the caller is",
                    "responses": {"200": _answer("OK", {"type": "object"}), **ERRORS},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _answer("OK", {"type": "object"})},
                }
            },
            "/api/demonstrations": _collection("demonstrations", "Demonstration"),
            "/api/demonstrations/{demonstration_id}": _item(
                "demonstrations", "Demonstration", "demonstration_id", patch=True
            ),
            "/api/units": units,
            "/api/units/{unit_id}": _item("units", "Unit", "unit_id", patch=True),
            "/api/units/{unit_id}/position": {
                "parameters": [_path_id("unit_id")],
                "post": {
                    "summary": "Report a position fix (telemetry; batched to disk)",
                    "requestBody": {"required": True, **_json(_ref("PositionInput"))},
                    "responses": {
                        "202": _answer("Accepted and live", _ref("Position")),
                        **ERRORS,
                        **NOT_FOUND,
                    },
                },
            },
            "/api/incidents": _collection("incidents", "Incident"),
            "/api/incidents/{incident_id}": _item("incidents", "Incident", "incident_id", patch=True),
            "/api/incidents/{incident_id}/recommendations": _recommendations("incident_id"),
            "/api/demonstrations/{demonstration_id}/recommendations": _recommendations("demonstration_id"),
            "/api/replay": {
                "get": {
                    "summary": "The time span of the operation in the event log, for replay",
                    "responses": {"200": _answer("OK", {"type": "object"}), **ERRORS},
                }
            },
            "/api/replay/state": {
                "get": {
                    "summary": "The state at a past moment, rebuilt from the event log",
                    "parameters": [
                        {
                            "name": "at",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "format": "date-time"},
                        }
                    ],
                    "responses": {"200": _answer("OK", _ref("State")), **ERRORS},
                }
            },
            "/api/report": {
                "get": {
                    "summary": "The after-action report for a time window (HTML, PDF, or a zip of files)",
                    "parameters": [
                        {
                            "name": "from",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "to",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["html", "pdf", "csv", "geojson", "ics214", "all"],
                            },
                        },
                        {"name": "redact_notes", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "demonstration_id", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "The report",
                            "content": {
                                "text/html": {"schema": {"type": "string"}},
                                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                            },
                        },
                        **ERRORS,
                    },
                }
            },
            "/api/alerts": {
                "get": {
                    "summary": "Compliance alerts and footage requests of open incidents; live coverage gaps",
                    "responses": {"200": _answer("OK", {"type": "object"}), **ERRORS},
                }
            },
            "/api/layers": {
                "get": {
                    "summary": "The map layers in use (imported, and packaged defaults for other kinds)",
                    "responses": {"200": _answer("OK", {"type": "object"}), **ERRORS},
                }
            },
            "/api/layers/{name}.geojson": {
                "parameters": [_path_id("name")],
                "get": {
                    "summary": "One layer as GeoJSON (EPSG:4326)",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/geo+json": {"schema": {"type": "object"}}},
                        },
                        **ERRORS,
                        **NOT_FOUND,
                    },
                },
            },
            "/api/assignments": _collection("assignments", "Assignment"),
            "/api/assignments/{assignment_id}": _item(
                "assignments", "Assignment", "assignment_id", patch=False
            ),
            "/api/assignments/{assignment_id}/status": {
                "parameters": [_path_id("assignment_id")],
                "post": {
                    "summary": "Move an assignment along its lifecycle",
                    "parameters": [IDEMPOTENCY],
                    "requestBody": {"required": True, **_json(_ref("StatusInput"))},
                    "responses": {
                        "200": _answer("The assignment with its new status", _ref("Assignment")),
                        **ERRORS,
                        **NOT_FOUND,
                        **CONFLICT,
                    },
                },
            },
        },
    }
