"""Parse untrusted JSON bodies into commands; every refusal names the field.

Unknown fields are refused too: a bridge that misspells `crowd_estimate` should
hear about it rather than have its value silently ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from . import commands as c
from .errors import ValidationError
from .model import (
    ASSIGNMENT_KINDS,
    ASSIGNMENT_STATUSES,
    DEMONSTRATION_STATUSES,
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    TRIAGE_TAGS,
    UNIT_KINDS,
)
from .timefmt import parse_iso

T = TypeVar("T")

MAX_NAME = 120
MAX_NOTE = 2000
MAX_REASON = 500
MAX_SKILLS = 20
MAX_CROWD = 5_000_000
MAX_ACCURACY_M = 100_000.0
MAX_AREA_POINTS = 2000
SKILL_RE = re.compile(r"^[a-z0-9][a-z0-9_:.-]{0,39}$")
ID_RE = re.compile(r"^[a-z]{2,5}-[0-9a-f]{6,32}$")
# Fixes stamped further ahead than this are refused: a device clock that is far
# off would otherwise make every later, honest fix look older.
MAX_FUTURE_SKEW = timedelta(seconds=120)


def body_object(body: Any) -> Mapping[str, Any]:
    """Return the body if it is a JSON object, else refuse it."""
    # A plain dict first: the ABC check costs a microsecond, on every position fix.
    if body.__class__ is not dict and not isinstance(body, Mapping):
        raise ValidationError("request body must be a JSON object", field="body")
    return body


def refuse_unknown(body: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Refuse any field the call does not take."""
    for key in body:
        if key not in allowed:
            raise ValidationError(f"unknown field '{key}'", field=str(key))


def _required(body: Mapping[str, Any], name: str) -> Any:
    if name not in body or body[name] is None:
        raise ValidationError(f"'{name}' is required", field=name)
    return body[name]


def text(value: Any, name: str, *, max_len: int, min_len: int = 0) -> str:
    """Return a trimmed string within length bounds."""
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' must be a string", field=name)
    result: str = value.strip()
    if len(result) < min_len:
        raise ValidationError(f"'{name}' must not be empty", field=name)
    if len(result) > max_len:
        raise ValidationError(f"'{name}' is longer than {max_len} characters", field=name)
    return result


def number(value: Any, name: str, *, low: float, high: float) -> float:
    """Return a finite number within [low, high]; booleans are not numbers."""
    if value.__class__ is float:  # most numbers, from JSON: nothing to convert
        result = value
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"'{name}' must be a number", field=name)
    else:
        try:
            result = float(value)
        except OverflowError:  # an integer too large for a float is out of any range
            result = math.inf
    if not math.isfinite(result) or not low <= result <= high:
        raise ValidationError(f"'{name}' must be between {low:g} and {high:g}", field=name)
    return result


def integer(value: Any, name: str, *, low: int, high: int) -> int:
    """Return an integer within [low, high]; 3.0 is accepted, 3.5 is not."""
    if isinstance(value, bool):
        raise ValidationError(f"'{name}' must be an integer", field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValidationError(f"'{name}' must be an integer", field=name)
    if not low <= value <= high:
        raise ValidationError(f"'{name}' must be between {low} and {high}", field=name)
    return value


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"'{name}' must be true or false", field=name)
    return value


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValidationError(f"'{name}' must be one of: {', '.join(options)}", field=name)
    return value


def entity_id(value: Any, name: str) -> str:
    """Return a well-formed entity id (existence is checked against state later)."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ValidationError(f"'{name}' is not a valid id", field=name)
    return value


def latitude(value: Any, name: str = "lat") -> float:
    return number(value, name, low=-90.0, high=90.0)


def longitude(value: Any, name: str = "lon") -> float:
    return number(value, name, low=-180.0, high=180.0)


def skills(value: Any, name: str = "skills") -> list[str]:
    """Return a list of skill tags such as `lang:es`, `emt:paramedic`, `crisis_intervention`."""
    if not isinstance(value, list):
        raise ValidationError(f"'{name}' must be a list of strings", field=name)
    if len(value) > MAX_SKILLS:
        raise ValidationError(f"'{name}' has more than {MAX_SKILLS} entries", field=name)
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not SKILL_RE.fullmatch(item):
            raise ValidationError(
                f"'{name}' entries must be short lower-case tags like 'lang:es'", field=name
            )
        if item not in out:
            out.append(item)
    return out


def polygon(value: Any, name: str = "area") -> dict[str, Any]:
    """Return a GeoJSON Polygon (RFC 7946, lon/lat order) with closed rings."""
    if not isinstance(value, Mapping) or value.get("type") != "Polygon":
        raise ValidationError(f"'{name}' must be a GeoJSON Polygon", field=name)
    rings = value.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise ValidationError(f"'{name}' needs coordinates", field=name)
    total = 0
    clean: list[list[list[float]]] = []
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise ValidationError(f"'{name}' rings need at least 4 positions", field=name)
        points: list[list[float]] = []
        for pos in ring:
            if not isinstance(pos, list) or len(pos) < 2:
                raise ValidationError(f"'{name}' positions must be [lon, lat]", field=name)
            points.append([longitude(pos[0], name), latitude(pos[1], name)])
        if points[0] != points[-1]:
            raise ValidationError(f"'{name}' rings must be closed", field=name)
        total += len(points)
        clean.append(points)
    if total > MAX_AREA_POINTS:
        raise ValidationError(f"'{name}' has more than {MAX_AREA_POINTS} positions", field=name)
    return {"type": "Polygon", "coordinates": clean}


def _optional(body: Mapping[str, Any], name: str, parse: Callable[[Any], T], default: T) -> T:
    if name not in body or body[name] is None:
        return default
    return parse(body[name])


# --- demonstrations -------------------------------------------------------

DEMONSTRATION_FIELDS = frozenset(
    {"name", "lat", "lon", "crowd_estimate", "tension", "status", "federal_presence", "area", "languages"}
)
LANGUAGE_RE = re.compile(r"[a-z]{2,3}")
MAX_LANGUAGES = 10


def languages(value: Any, name: str = "languages") -> tuple[str, ...]:
    """Return ISO 639 language codes such as `es` or `ht`, without repeats."""
    if not isinstance(value, list) or len(value) > MAX_LANGUAGES:
        raise ValidationError(f"'{name}' must be a list of at most {MAX_LANGUAGES} codes", field=name)
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not LANGUAGE_RE.fullmatch(item):
            raise ValidationError(f"'{name}' entries must be language codes like 'es'", field=name)
        if item not in out:
            out.append(item)
    return tuple(out)


def _demonstration_field(name: str, value: Any) -> Any:
    parsers: dict[str, Callable[[Any], Any]] = {
        "name": lambda v: text(v, "name", max_len=MAX_NAME, min_len=1),
        "lat": latitude,
        "lon": longitude,
        "crowd_estimate": lambda v: integer(v, "crowd_estimate", low=0, high=MAX_CROWD),
        "tension": lambda v: integer(v, "tension", low=1, high=5),
        "status": lambda v: choice(v, "status", DEMONSTRATION_STATUSES),
        "federal_presence": lambda v: boolean(v, "federal_presence"),
        "area": lambda v: None if v is None else polygon(v),
        "languages": lambda v: list(languages(v)),
    }
    return parsers[name](value)


def create_demonstration(body: Any) -> c.CreateDemonstration:
    body = body_object(body)
    refuse_unknown(body, DEMONSTRATION_FIELDS)
    return c.CreateDemonstration(
        name=_demonstration_field("name", _required(body, "name")),
        lat=_demonstration_field("lat", _required(body, "lat")),
        lon=_demonstration_field("lon", _required(body, "lon")),
        crowd_estimate=_optional(
            body, "crowd_estimate", lambda v: _demonstration_field("crowd_estimate", v), 0
        ),
        tension=_optional(body, "tension", lambda v: _demonstration_field("tension", v), 1),
        status=_optional(body, "status", lambda v: _demonstration_field("status", v), "planned"),
        federal_presence=_optional(
            body, "federal_presence", lambda v: _demonstration_field("federal_presence", v), False
        ),
        area=_optional(body, "area", polygon, None),
        languages=_optional(body, "languages", languages, ()),
    )


def update_demonstration(demonstration_id: str, body: Any) -> c.UpdateDemonstration:
    body = body_object(body)
    refuse_unknown(body, DEMONSTRATION_FIELDS)
    if not body:
        raise ValidationError("give at least one field to change", field="body")
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if value is None and name != "area":
            raise ValidationError(f"'{name}' cannot be null", field=name)
        changes[name] = _demonstration_field(name, value)
    return c.UpdateDemonstration(id=demonstration_id, changes=changes)


# --- units ----------------------------------------------------------------

UNIT_FIELDS = frozenset({"callsign", "kind", "skills"})
UNIT_UPDATE_FIELDS = frozenset({"callsign", "skills", "status"})
# The statuses a person sets directly; the others follow assignments.
UNIT_SETTABLE_STATUSES = ("available", "out_of_service")


def register_unit(body: Any, *, token_sha256: str) -> c.RegisterUnit:
    body = body_object(body)
    refuse_unknown(body, UNIT_FIELDS)
    return c.RegisterUnit(
        callsign=text(_required(body, "callsign"), "callsign", max_len=40, min_len=1),
        kind=choice(_required(body, "kind"), "kind", UNIT_KINDS),
        skills=_optional(body, "skills", skills, []),
        token_sha256=token_sha256,
    )


def update_unit(unit_id: str, body: Any) -> c.UpdateUnit:
    body = body_object(body)
    refuse_unknown(body, UNIT_UPDATE_FIELDS)
    if not body:
        raise ValidationError("give at least one field to change", field="body")
    changes: dict[str, Any] = {}
    if "callsign" in body:
        changes["callsign"] = text(body["callsign"], "callsign", max_len=40, min_len=1)
    if "skills" in body:
        changes["skills"] = skills(body["skills"])
    if "status" in body:
        changes["status"] = choice(body["status"], "status", UNIT_SETTABLE_STATUSES)
    return c.UpdateUnit(id=unit_id, changes=changes)


# --- position fixes (telemetry, not events) -------------------------------

POSITION_FIELDS = frozenset({"lat", "lon", "accuracy_m", "at"})


def position_fix(body: Any, *, now: datetime) -> tuple[float, float, float | None, datetime]:
    """Return (lat, lon, accuracy_m, at) of a position fix."""
    body = body_object(body)
    refuse_unknown(body, POSITION_FIELDS)
    lat = latitude(_required(body, "lat"))
    lon = longitude(_required(body, "lon"))
    accuracy = _optional(
        body, "accuracy_m", lambda v: number(v, "accuracy_m", low=0.0, high=MAX_ACCURACY_M), None
    )
    at = now
    if body.get("at") is not None:
        raw = body["at"]
        if not isinstance(raw, str) or len(raw) > 40:
            raise ValidationError("'at' must be an ISO 8601 time with offset", field="at")
        try:
            at = parse_iso(raw)
        except (ValueError, OverflowError):  # OverflowError: out of range once moved to UTC
            raise ValidationError("'at' must be an ISO 8601 time with offset", field="at") from None
        if at - now > MAX_FUTURE_SKEW:
            raise ValidationError("'at' is in the future", field="at")
    return lat, lon, accuracy, at


# --- incidents ------------------------------------------------------------

INCIDENT_FIELDS = frozenset(
    {"kind", "lat", "lon", "severity", "triage", "demonstration_id", "note", "federal_involved"}
)
INCIDENT_UPDATE_FIELDS = frozenset({"status", "severity", "triage", "note"})


def report_incident(body: Any) -> c.ReportIncident:
    body = body_object(body)
    refuse_unknown(body, INCIDENT_FIELDS)
    kind = choice(_required(body, "kind"), "kind", INCIDENT_KINDS)
    triage = _optional(body, "triage", lambda v: choice(v, "triage", TRIAGE_TAGS), None)
    if kind == "injury" and triage is None:
        raise ValidationError("'triage' is required for an injury", field="triage")
    if kind != "injury" and triage is not None:
        raise ValidationError("'triage' applies only to injuries", field="triage")
    return c.ReportIncident(
        kind=kind,
        lat=latitude(_required(body, "lat")),
        lon=longitude(_required(body, "lon")),
        severity=_optional(body, "severity", lambda v: integer(v, "severity", low=1, high=5), 3),
        triage=triage,
        demonstration_id=_optional(
            body, "demonstration_id", lambda v: entity_id(v, "demonstration_id"), None
        ),
        note=_optional(body, "note", lambda v: text(v, "note", max_len=MAX_NOTE), ""),
        # Federal activity involves federal agents by definition.
        federal_involved=kind == "federal_activity"
        or _optional(body, "federal_involved", lambda v: boolean(v, "federal_involved"), False),
    )


def update_incident(incident_id: str, body: Any) -> c.UpdateIncident:
    body = body_object(body)
    refuse_unknown(body, INCIDENT_UPDATE_FIELDS)
    if not body:
        raise ValidationError("give at least one field to change", field="body")
    changes: dict[str, Any] = {}
    if "status" in body:
        changes["status"] = choice(body["status"], "status", INCIDENT_STATUSES)
    if "severity" in body:
        changes["severity"] = integer(body["severity"], "severity", low=1, high=5)
    if "triage" in body:
        changes["triage"] = choice(body["triage"], "triage", TRIAGE_TAGS)
    if "note" in body:
        changes["note"] = text(body["note"], "note", max_len=MAX_NOTE)
    return c.UpdateIncident(id=incident_id, changes=changes)


# --- assignments ----------------------------------------------------------

ASSIGNMENT_FIELDS = frozenset({"unit_id", "kind", "incident_id", "demonstration_id", "priority", "note"})
STATUS_FIELDS = frozenset({"status", "reason"})
# Callers set these; `dispatched` is the creation and `delivered` is recorded
# by the server when the tablet confirms receipt.
SETTABLE_ASSIGNMENT_STATUSES = tuple(s for s in ASSIGNMENT_STATUSES if s not in ("dispatched",))


def dispatch_assignment(body: Any) -> c.DispatchAssignment:
    body = body_object(body)
    refuse_unknown(body, ASSIGNMENT_FIELDS)
    incident_id = _optional(body, "incident_id", lambda v: entity_id(v, "incident_id"), None)
    demonstration_id = _optional(body, "demonstration_id", lambda v: entity_id(v, "demonstration_id"), None)
    if (incident_id is None) == (demonstration_id is None):
        raise ValidationError("give exactly one of 'incident_id' or 'demonstration_id'", field="incident_id")
    return c.DispatchAssignment(
        unit_id=entity_id(_required(body, "unit_id"), "unit_id"),
        kind=choice(_required(body, "kind"), "kind", ASSIGNMENT_KINDS),
        incident_id=incident_id,
        demonstration_id=demonstration_id,
        priority=_optional(body, "priority", lambda v: integer(v, "priority", low=1, high=5), 3),
        note=_optional(body, "note", lambda v: text(v, "note", max_len=MAX_NOTE), ""),
    )


def change_assignment_status(assignment_id: str, body: Any) -> c.ChangeAssignmentStatus:
    body = body_object(body)
    refuse_unknown(body, STATUS_FIELDS)
    status = choice(_required(body, "status"), "status", SETTABLE_ASSIGNMENT_STATUSES)
    reason = _optional(body, "reason", lambda v: text(v, "reason", max_len=MAX_REASON), None)
    if status == "declined" and not reason:
        raise ValidationError("'reason' is required to decline", field="reason")
    return c.ChangeAssignmentStatus(id=assignment_id, status=status, reason=reason or None)


# --- accounts -------------------------------------------------------------

ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def account_name(value: Any, name: str = "name") -> str:
    if not isinstance(value, str) or not ACCOUNT_NAME_RE.fullmatch(value):
        raise ValidationError(f"'{name}' must be 1-64 letters, digits or . _ @ - characters", field=name)
    return value
