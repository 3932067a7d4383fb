"""A Boston scenario that runs by itself, so a new user sees the system alive at once.

Twelve units patrol downtown; simulated crews acknowledge and drive to what the
dashboard assigns them (unless a real tablet has signed in as that unit); a
demonstration grows tense and an injury is reported along the way. Everything
goes through the same service as real input, under the actor `system:demo` or
the unit itself.
"""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from .config import Settings
from .domain import commands as c
from .domain import validation as v
from .domain.errors import DomainError
from .domain.timefmt import now_utc
from .security import hash_password, new_token, token_digest
from .service import Coordinator
from .storage import open_service

log = logging.getLogger(__name__)

DEMO_ACTOR = "system:demo"
CITY_HALL_PLAZA = (42.3604, -71.0581)
BOSTON_COMMON = (42.3551, -71.0662)

UNITS = [
    ("MED-1", "medical_team", ["emt:paramedic", "lang:es"], (42.3588, -71.0605)),
    ("MED-2", "medical_team", ["emt:basic"], (42.3541, -71.0632)),
    ("MED-3", "medical_team", ["emt:paramedic", "lang:ht"], (42.3620, -71.0555)),
    ("MED-4", "medical_team", ["emt:basic", "lang:pt"], (42.3520, -71.0690)),
    ("DE-1", "deescalation_team", ["crisis_intervention", "lang:es"], (42.3598, -71.0590)),
    ("DE-2", "deescalation_team", ["crisis_intervention"], (42.3560, -71.0650)),
    ("DE-3", "deescalation_team", ["lang:zh", "crisis_intervention"], (42.3575, -71.0610)),
    ("DE-4", "deescalation_team", ["lang:vi"], (42.3535, -71.0600)),
    ("DE-5", "deescalation_team", ["crisis_intervention", "lang:cv"], (42.3630, -71.0600)),
    ("SUP-1", "field_supervisor", ["crisis_intervention"], (42.3600, -71.0575)),
    ("SUP-2", "field_supervisor", ["lang:es"], (42.3555, -71.0670)),
    ("SUP-3", "field_supervisor", [], (42.3610, -71.0630)),
]


def prepare_demo(settings: Settings) -> tuple[str, str]:
    """Seed the scenario once per data directory; return the demo login."""
    login_file = settings.data_dir / "demo-login.txt"
    service = open_service(settings.data_dir)
    if "demo" not in service.state.users:
        password = secrets.token_urlsafe(9)
        service.execute(c.CreateUser("demo", "operator", hash_password(password)), actor=DEMO_ACTOR)
        login_file.write_text(f"demo\n{password}\n", encoding="utf-8")
        login_file.chmod(0o600)
    if not service.state.units:
        _seed(service, settings.data_dir)
    service.log.close()
    service.tracks.close()
    name, password = login_file.read_text(encoding="utf-8").split()[:2]
    return name, password


def _seed(service: Coordinator, data_dir: Path) -> None:
    lines = []
    for callsign, kind, skills, (lat, lon) in UNITS:
        token = new_token()
        command = v.register_unit(
            {"callsign": callsign, "kind": kind, "skills": skills}, token_sha256=token_digest(token)
        )
        unit_id = service.execute(command, actor=DEMO_ACTOR).body["id"]
        service.record_fix(unit_id, lat, lon, 8.0, now_utc())
        lines.append(f"{callsign} {unit_id} {token}")
    service.flush_fixes()
    tokens = data_dir / "demo-units.txt"
    tokens.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokens.chmod(0o600)
    for body in (
        {
            "name": "Rally at City Hall Plaza",
            "lat": CITY_HALL_PLAZA[0],
            "lon": CITY_HALL_PLAZA[1],
            "crowd_estimate": 1800,
            "tension": 2,
            "status": "active",
        },
        {
            "name": "March on Boston Common",
            "lat": BOSTON_COMMON[0],
            "lon": BOSTON_COMMON[1],
            "crowd_estimate": 900,
            "tension": 1,
            "status": "active",
        },
    ):
        service.execute(v.create_demonstration(body), actor=DEMO_ACTOR)


@dataclass
class _Crew:
    """What the simulator remembers about a unit it drives."""

    home: tuple[float, float]
    heading: float = field(default_factory=lambda: random.uniform(0, 2 * math.pi))
    on_scene_since: float | None = None


class Simulator:
    """Moves units, answers their assignments and plays the scripted storyline."""

    STEP_S = 1.0
    SPEED_MPS = 6.0  # a crew on foot through a crowd, or a slow vehicle

    def __init__(self, app: Flask, *, speedup: float = 1.0) -> None:
        self.service: Coordinator = app.extensions["coordinator"]
        self.hub = app.extensions["coordinator.hub"]
        self.crews: dict[str, _Crew] = {}
        self.started = time.monotonic()
        # A faster clock for tests: the story and the steps, not the distances, speed up.
        self.speedup = speedup
        self.script = [
            (15 / speedup, self._tension_rises),
            (35 / speedup, self._injury),
            (60 / speedup, self._federal_agents),
        ]

    def run(self) -> None:
        while True:
            time.sleep(self.STEP_S / self.speedup)
            try:
                self._tick()
            except DomainError as exc:  # the operator moved first; the story goes on
                log.info("demo step skipped: %s", exc.message)
            except Exception:
                log.exception("demo step failed")

    def _tick(self) -> None:
        elapsed = time.monotonic() - self.started
        while self.script and elapsed >= self.script[0][0]:
            self.script.pop(0)[1]()
        with self.service.lock:
            units = list(self.service.state.units.values())
        for unit in units:
            if unit.id in self.hub.unit_sids:
                continue  # a real tablet is driving this unit
            self._move(unit.id, unit.active_assignment_id)

    def _move(self, unit_id: str, assignment_id: str | None) -> None:
        fix = self.service.positions.get(unit_id)
        if fix is None:
            return
        crew = self.crews.setdefault(unit_id, _Crew(home=(fix.lat, fix.lon)))
        lat, lon = fix.lat, fix.lon
        if assignment_id is None:
            crew.on_scene_since = None
            crew.heading += random.uniform(-0.6, 0.6)
            step = 1.5
            # Drift home when far from it, so patrols stay downtown.
            if _metres(lat, lon, *crew.home) > 250:
                crew.heading = _bearing(lat, lon, *crew.home)
            lat, lon = _offset(lat, lon, crew.heading, step)
        else:
            lat, lon = self._work(unit_id, assignment_id, crew, lat, lon)
        self.service.record_fix(unit_id, lat, lon, 6.0, now_utc())

    def _work(
        self, unit_id: str, assignment_id: str, crew: _Crew, lat: float, lon: float
    ) -> tuple[float, float]:
        with self.service.lock:
            assignment = self.service.state.assignments[assignment_id]
            status = assignment.status
            target: Any = self.service.state.incidents.get(
                assignment.incident_id or ""
            ) or self.service.state.demonstrations.get(assignment.demonstration_id or "")
        actor = f"unit:{unit_id}"

        def step(to: str) -> None:
            command = v.change_assignment_status(assignment_id, {"status": to})
            self.service.execute(command, actor=actor)

        if status in ("dispatched", "delivered"):
            step("acknowledged")
        elif status == "acknowledged":
            step("en_route")
        elif status == "en_route" and target is not None:
            distance = _metres(lat, lon, target.lat, target.lon)
            if distance < 25:
                step("on_scene")
                crew.on_scene_since = time.monotonic()
            else:
                heading = _bearing(lat, lon, target.lat, target.lon)
                lat, lon = _offset(lat, lon, heading, min(distance, self.SPEED_MPS * self.STEP_S))
        elif (
            status == "on_scene"
            and crew.on_scene_since is not None
            and time.monotonic() - crew.on_scene_since > 90 / self.speedup
        ):
            step("completed")
            crew.home = (lat, lon)
        return lat, lon

    def _demonstration(self, name_start: str) -> str | None:
        with self.service.lock:
            for demo in self.service.state.demonstrations.values():
                if demo.name.startswith(name_start) and demo.status != "ended":
                    return demo.id
        return None

    def _tension_rises(self) -> None:
        demo_id = self._demonstration("Rally at City Hall")
        if demo_id:
            command = v.update_demonstration(demo_id, {"tension": 3, "crowd_estimate": 2600})
            self.service.execute(command, actor=DEMO_ACTOR)

    def _injury(self) -> None:
        demo_id = self._demonstration("March on Boston Common")
        body = {
            "kind": "injury",
            "lat": BOSTON_COMMON[0] + 0.0004,
            "lon": BOSTON_COMMON[1] + 0.0006,
            "severity": 3,
            "triage": "delayed",
            "demonstration_id": demo_id,
            "note": "Fall near the bandstand; conscious, leg injury.",
        }
        self.service.execute(v.report_incident(body), actor=DEMO_ACTOR)

    def _federal_agents(self) -> None:
        demo_id = self._demonstration("Rally at City Hall")
        if demo_id:
            command = v.update_demonstration(demo_id, {"tension": 4, "federal_presence": True})
            self.service.execute(command, actor=DEMO_ACTOR)
            body = {
                "kind": "federal_activity",
                "lat": CITY_HALL_PLAZA[0] - 0.0003,
                "lon": CITY_HALL_PLAZA[1] + 0.0004,
                "severity": 4,
                "demonstration_id": demo_id,
                "note": "Unmarked vehicles parked on the plaza; agents in tactical vests.",
            }
            self.service.execute(v.report_incident(body), actor=DEMO_ACTOR)


def start_simulator(app: Flask) -> None:
    """Start the scenario on the app's background-task machinery."""
    speedup = float(os.environ.get("COORDINATOR_DEMO_SPEEDUP", "1") or 1)
    app.extensions["socketio"].start_background_task(Simulator(app, speedup=speedup).run)


EARTH_RADIUS_M = 6_371_000.0


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing in radians, 0 = north, clockwise."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.atan2(y, x)


def _offset(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    """Move a short distance along a bearing (flat-earth step, fine for metres)."""
    dlat = metres * math.cos(bearing) / EARTH_RADIUS_M
    dlon = metres * math.sin(bearing) / (EARTH_RADIUS_M * math.cos(math.radians(lat)))
    return lat + math.degrees(dlat), lon + math.degrees(dlon)
