"""Frames for dashboards and assignment pushes for units.

Dashboards share one room and get one `frame` per tick: the events since the
last frame, fresh views of what they touched, and the newest fix of each unit
that moved. The number of emits grows with ticks, not with fixes. Events do not
wait for the tick: a frame of events alone leaves as soon as they are written,
at most one per EVENT_FRAME_GAP_S, so an acknowledgement shows on the wall screen
at once while positions keep their steady tick. Each unit has a room of its own
and gets its assignments as soon as they change.

With several nodes (Redis), fixes leave as one `positions` message per tick through
the Socket.IO message queue, reaching the dashboards of every node; frames, snapshots
and unit pushes are sent to this node's sockets only, since every node builds them
from the same shared log.

Ordering: `live_lock` is taken before the service lock, and the small
`_pending_lock` after both, so a dashboard joining can never fall between a
frame's events and the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

from flask_socketio import SocketIO

from .. import heap
from ..actors import Actor
from ..config import Settings
from ..domain.events import API_TOKEN_REVOKED, UNIT_TOKEN_REVOKED, USER_DISABLED, StoredEvent
from ..domain.projection import Touched, touched_by
from ..domain.timefmt import iso
from ..geo.monitor import DemonstrationArea, SpatialState, UnitPoint
from ..geo.runtime import GeoService
from ..service import Coordinator
from ..store.protocols import Fix, StoreUnavailable
from . import offload
from .cluster import ClusterLink

log = logging.getLogger(__name__)

DASHBOARDS = "dashboards"
REVOCATIONS = (API_TOKEN_REVOKED, UNIT_TOKEN_REVOKED, USER_DISABLED)
MAX_RESYNC_EVENTS = 5000
# Events written closer together than this share one frame: a burst (an import, a
# busy minute) costs dashboards a frame per 50 ms, not one per event.
EVENT_FRAME_GAP_S = 0.05
# Geofences and coverage, the telemetry write and redelivery need not follow a short frame
# interval: they run after a frame, but at most once per this many seconds.
HOUSEKEEPING_S = 0.25
# Geofences and coverage take at most this share of the loop: their cost grows with the
# units (about 40 ms a pass at 5,000), and past that point they run less often, not the
# frames later. A twentieth: at 12,000 units a tenth was a tenth of the node's core, and
# passes every second or so still see each unit's fix (every 2 s) within half its interval.
SPATIAL_SHARE = 0.05


def unit_room(unit_id: str) -> str:
    return f"unit:{unit_id}"


def _revoked_by(event: StoredEvent, actor: Actor) -> bool:
    """Whether a revocation event takes away this socket's credential."""
    if event.type == API_TOKEN_REVOKED:
        return actor.kind == "token" and actor.name == event.payload["name"]
    if event.type == USER_DISABLED:
        return actor.kind == "user" and actor.name == event.payload["name"]
    return event.type == UNIT_TOKEN_REVOKED and actor.unit_id == event.payload["unit_id"]


class LiveHub:
    def __init__(
        self, socketio: SocketIO, service: Coordinator, settings: Settings, geo: GeoService | None = None
    ) -> None:
        self.socketio = socketio
        self.service = service
        self.settings = settings
        self.geo = geo
        # The last geofence and coverage state sent; a frame carries it again when it changes.
        self.spatial: dict[str, Any] = {"unit_fences": {}, "demonstration_fences": {}, "coverage_gaps": []}
        self._spatial_changed = False
        self._next_layer_check = 0.0
        self._next_purge = 0.0
        self._next_spatial = 0.0
        self._clock = time.monotonic
        self._heap = heap.Pacer()
        self.live_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending_events: list[StoredEvent] = []
        self._pending_touched: dict[Touched, None] = {}
        self._dirty_fixes: dict[str, Fix] = {}
        self._unit_pushes: dict[str, dict[str, None]] = defaultdict(dict)
        self._wake = threading.Event()
        # The chores that block (geofences, the telemetry write, retention) run beside the
        # frame loop, their work in a native thread under gevent (offload.py).
        self._chores_due = threading.Event()
        self._native = offload.runner_for(settings.async_mode)
        self._track_runner = self._native if service.tracks.offloadable else offload.run_here
        self._running = False
        self.frame_seq = service.state.seq
        self.unit_sids: dict[str, set[str]] = defaultdict(set)
        # Every connected socket and who it is, so a revoked credential can be cut off.
        self.sockets: dict[str, Actor] = {}
        self._revoked: list[StoredEvent] = []
        self._last_sent: dict[str, float] = {}
        self.stats = {"frames": 0, "fixes_in_frames": 0, "fixes_superseded": 0, "unit_pushes": 0}
        # Several nodes: fixes go to every node's dashboards through the Socket.IO message
        # queue; everything else each node derives from the shared log and sends itself.
        self.cluster = bool(settings.redis_url)
        self.link: ClusterLink | None = None
        self._remote_events = False
        self._store_down = False
        service.on_events(self._on_events)
        service.on_fix(self._on_fix)

    # --- feeding (called from the service, under its lock) -----------------

    def _on_events(self, events: list[StoredEvent], touched: list[Touched]) -> None:
        with self._pending_lock:
            self._pending_events.extend(events)
            self._revoked.extend(e for e in events if e.type in REVOCATIONS)
            for item in touched:
                self._pending_touched[item] = None
                if item[0] == "assignments":
                    assignment = self.service.state.assignments[item[1]]
                    self._unit_pushes[assignment.unit_id][assignment.id] = None
        self._wake.set()

    def remote_events(self) -> None:
        """Another node appended: catch up and push to our units now, not at the next frame."""
        self._remote_events = True
        self._wake.set()

    def _emit(self, event: str, data: Any, to: str) -> None:
        """Send to this node's sockets only; the other nodes send the same from the same log."""
        self.socketio.emit(event, data, to=to, ignore_queue=True)

    def _on_fix(self, fix: Fix) -> None:
        with self._pending_lock:
            if fix.unit_id in self._dirty_fixes:
                self.stats["fixes_superseded"] += 1
            self._dirty_fixes[fix.unit_id] = fix

    # --- the loop -----------------------------------------------------------

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self.socketio.start_background_task(self._run)
        self.socketio.start_background_task(self._run_chores)
        if self.link is not None:
            self.link.start(self.socketio.start_background_task)

    def stop(self) -> None:
        self._running = False
        if self.link is not None:
            self.link.stop()
        self._wake.set()
        self._chores_due.set()

    def _run(self) -> None:
        interval = self.settings.frame_interval_s
        next_frame = time.monotonic() + interval
        next_event_frame = next_housekeeping = 0.0
        while self._running:
            now = time.monotonic()
            due = next_frame
            if self._pending_events:
                # Events waiting: wake at the gap's end rather than the tick's.
                due = min(due, max(now, next_event_frame))
            self._wake.wait(timeout=max(0.0, due - now))
            self._wake.clear()
            try:
                if self._remote_events:
                    self._remote_events = False
                    self.service.catch_up()
                self.disconnect_revoked()
                self.push_to_units()
                now = time.monotonic()
                if now >= next_frame:
                    next_frame = now + interval
                    next_event_frame = now + EVENT_FRAME_GAP_S
                    self.service.catch_up()
                    self.emit_frame()
                    if now >= next_housekeeping:
                        next_housekeeping = now + HOUSEKEEPING_S
                        self._chores_due.set()
                        self.redeliver()
                        self._check_layers()
                        self._heap.tick()
                elif self._pending_events and now >= next_event_frame:
                    next_event_frame = now + EVENT_FRAME_GAP_S
                    self.emit_frame(positions=False)
                self._store_answered()
            except StoreUnavailable as exc:
                self._store_failed(exc)
            except Exception:  # the loop must outlive one bad tick; the error is logged
                log.exception("live tick failed")
        self.service.flush_fixes()

    def _run_chores(self) -> None:
        while self._running:
            self._chores_due.wait()
            self._chores_due.clear()
            if self._running:
                self.run_chores()

    def run_chores(self) -> None:
        """Write the buffered fixes, then geofences and coverage and retention when due.

        The write comes first and apart, so a failing evaluation never holds fixes back.
        """
        try:
            self.service.flush_fixes(self._track_runner)
            self._store_answered()
        except StoreUnavailable as exc:
            self._store_failed(exc)
        except Exception:
            log.exception("writing position fixes failed; they are kept for the next attempt")
        try:
            self.spatial_when_due(self._clock())
            self._apply_retention()
        except StoreUnavailable as exc:
            self._store_failed(exc)
        except Exception:
            log.exception("live chores failed")

    def _store_answered(self) -> None:
        if self._store_down:
            self._store_down = False
            log.info("the store answers again; live frames resume")

    def _store_failed(self, exc: StoreUnavailable) -> None:
        # Buffered fixes are kept and written once the store is back; say so once.
        if not self._store_down:
            self._store_down = True
            log.warning("live tick held back: %s", exc)

    def emit_frame(self, *, positions: bool = True) -> dict[str, Any] | None:
        """Emit one frame of what changed since the last; return it (None if nothing did).

        `positions=False` sends the events alone and leaves fixes and spatial state for the tick.
        """
        with self.live_lock:
            return self._emit_frame_locked(positions=positions)

    def _drain(
        self, *, positions: bool = True
    ) -> tuple[list[StoredEvent], list[Touched], dict[str, Fix], dict[str, Any] | None]:
        """Take what the next frame sends: events, touched entities, fixes, new spatial state."""
        with self._pending_lock:
            events, self._pending_events = self._pending_events, []
            touched = list(self._pending_touched)
            self._pending_touched = {}
            fixes: dict[str, Fix] = {}
            spatial = None
            if positions:
                fixes, self._dirty_fixes = self._dirty_fixes, {}
                # Under the lock: the chores task may be setting a newer state meanwhile.
                if self._spatial_changed:
                    spatial, self._spatial_changed = self.spatial, False
        return events, touched, fixes, spatial

    def _emit_frame_locked(self, *, positions: bool = True) -> dict[str, Any] | None:
        events, touched, fixes, spatial = self._drain(positions=positions)
        spatial_changed = spatial is not None
        if not events and not fixes and not spatial_changed:
            return None
        views = {unit_id: fix.view() for unit_id, fix in fixes.items()}
        frame: dict[str, Any] = {
            "from_seq": self.frame_seq,
            "seq": events[-1].seq if events else self.frame_seq,
            "events": [e.public() for e in events],
            "changes": self._changes(touched),
            "positions": {} if self.cluster else views,
            "at": iso(self.service.clock()),
        }
        if spatial is not None:
            frame["spatial"] = spatial
        if self.cluster and views:
            # One publish per frame, however many fixes: the dashboards of every node get them.
            self.socketio.emit("positions", {"positions": views}, to=DASHBOARDS)
        if events or spatial_changed or not self.cluster:
            self._emit("frame", frame, DASHBOARDS)
            self.frame_seq = frame["seq"]
            self.stats["frames"] += 1
        self.stats["fixes_in_frames"] += len(fixes)
        return frame

    def _changes(self, touched: list[Touched]) -> dict[str, dict[str, Any]]:
        changes: dict[str, dict[str, Any]] = defaultdict(dict)
        for collection, entity_id in touched:
            view = self.service.view(collection, entity_id)
            if view is not None:
                changes[collection][entity_id] = view
        return dict(changes)

    # --- geofences, coverage and layers ---------------------------------------

    def spatial_when_due(self, now: float) -> None:
        """Evaluate fences and coverage when due: every HOUSEKEEPING_S, or less often when
        that would take more than SPATIAL_SHARE of the loop."""
        if now < self._next_spatial:
            return
        started = self._clock()
        self.evaluate_spatial()
        spent = self._clock() - started
        self._next_spatial = now + max(HOUSEKEEPING_S, spent / SPATIAL_SHARE)

    def evaluate_spatial(self) -> None:
        """Recompute who is inside which fence and where coverage is missing."""
        monitor = self.geo.snapshot.monitor if self.geo is not None else None
        if monitor is None:
            return
        now = self.service.clock()
        with self.service.lock:
            units = list(self.service.state.units.values())
            demos = [
                DemonstrationArea(d.id, d.name, d.status, d.tension, d.lat, d.lon, d.crowd_estimate, d.area)
                for d in self.service.state.demonstrations.values()
            ]
        # Thousands of units several times a second: one cutoff, no call per unit.
        stale_before = self.service.stale_before(now)
        # A copy: fixes keep arriving while the native thread reads it.
        positions = dict(self.service.positions)

        def evaluate() -> SpatialState:
            points = []
            for unit in units:
                fix = positions.get(unit.id)
                if fix is None:
                    continue
                available = unit.status == "available" and fix.taken >= stale_before
                points.append(UnitPoint(unit.id, unit.kind, available, fix.lat, fix.lon))
            return monitor.evaluate(points, demos)

        result = self._native(evaluate)
        spatial = {
            "unit_fences": result.unit_fences,
            "demonstration_fences": result.demonstration_fences,
            "coverage_gaps": result.coverage_gaps,
        }
        with self._pending_lock:
            if spatial != self.spatial:
                self.spatial = spatial
                self._spatial_changed = True

    def _apply_retention(self) -> None:
        days = self.settings.retain_fixes_days
        if days is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + 3600.0
        removed = self._track_runner(lambda: self.service.purge_fixes(older_than_days=days))
        if removed:
            log.info("retention: deleted %d position fixes older than %g days", removed, days)

    def _check_layers(self) -> None:
        """Pick up layers imported while running, building off the frame loop."""
        if self.geo is None or time.monotonic() < self._next_layer_check:
            return
        self._next_layer_check = time.monotonic() + 5.0
        self.socketio.start_background_task(self._reload_layers)

    def _reload_layers(self) -> None:
        try:
            if self.geo is not None and self.geo.load():
                heap.resettle()
                self._emit("layers", {"layers": self.geo.layers()}, DASHBOARDS)
        except Exception:
            log.exception("reloading map layers failed; keeping the previous ones")

    # --- dashboards ---------------------------------------------------------

    def join_dashboard(self, sid: str, last_seq: int | None) -> str:
        """Send a joining dashboard a snapshot, or exactly the events it missed; return which."""
        with self.live_lock, self.service.lock:
            current = self.service.state.seq
            # Pending events are all at or below `current`: hand them to the
            # room now so the newcomer's starting point and the room agree.
            self._emit_frame_locked()
            if last_seq is not None and 0 <= last_seq <= current:
                missed = self._events_between(last_seq, current)
                if missed is not None:
                    message = {
                        "from_seq": last_seq,
                        "seq": current,
                        "events": [e.public() for e in missed],
                        "changes": self._changes([t for e in missed for t in touched_by(e)]),
                        "positions": self._all_positions(),
                    }
                    self._emit("resync", message, sid)
                    kind = "resync"
                else:
                    kind = self._send_snapshot(sid)
            else:
                kind = self._send_snapshot(sid)
            self.socketio.server.enter_room(sid, DASHBOARDS, namespace="/")
        return kind

    def _send_snapshot(self, sid: str) -> str:
        snapshot = self.service.snapshot()
        snapshot["positions"] = self._all_positions()
        snapshot["spatial"] = self.spatial
        self._emit("snapshot", snapshot, sid)
        return "snapshot"

    def _events_between(self, after: int, upto: int) -> list[StoredEvent] | None:
        if upto - after > MAX_RESYNC_EVENTS:
            return None  # cheaper to start over from a snapshot
        out: list[StoredEvent] = []
        cursor = after
        while cursor < upto:
            batch = self.service.log.read_after(cursor, limit=1000)
            batch = [e for e in batch if e.seq <= upto]
            if not batch:
                break
            out.extend(batch)
            cursor = batch[-1].seq
        return out

    def _all_positions(self) -> dict[str, Any]:
        return self.service.all_positions()

    # --- credentials ----------------------------------------------------------

    def disconnect_revoked(self) -> None:
        """Close the live sockets of credentials revoked since the last tick."""
        with self._pending_lock:
            revoked, self._revoked = self._revoked, []
        for event in revoked:
            for sid, actor in list(self.sockets.items()):
                if _revoked_by(event, actor):
                    log.info("disconnecting %s: its credential was revoked", actor.label)
                    self.socketio.server.disconnect(sid, namespace="/", ignore_queue=True)

    # --- units --------------------------------------------------------------

    def assignment_message(self, assignment_id: str) -> dict[str, Any] | None:
        """Return an assignment with its unit and target, as a tablet needs it."""
        assignment = self.service.view("assignments", assignment_id)
        if assignment is None:
            return None
        if assignment["incident_id"]:
            target = self.service.view("incidents", assignment["incident_id"])
            target_type = "incident"
        else:
            target = self.service.view("demonstrations", assignment["demonstration_id"])
            target_type = "demonstration"
        return {
            "assignment": assignment,
            "unit": self.service.view("units", assignment["unit_id"]),
            "target": {**(target or {}), "target_type": target_type},
        }

    def join_unit(self, sid: str, unit_id: str) -> None:
        """Put a unit's socket in its room and send every assignment not yet finished."""
        self.socketio.server.enter_room(sid, unit_room(unit_id), namespace="/")
        self.unit_sids[unit_id].add(sid)
        with self.service.lock:
            active = [
                a.id for a in self.service.state.assignments.values() if a.unit_id == unit_id and a.active
            ]
        messages = [m for m in (self.assignment_message(a) for a in active) if m]
        self._emit("assignments", {"unit": self.service.view("units", unit_id), "assignments": messages}, sid)
        now = time.monotonic()
        for assignment_id in active:
            self._last_sent[assignment_id] = now

    def leave_unit(self, sid: str, unit_id: str) -> None:
        self.unit_sids[unit_id].discard(sid)
        if not self.unit_sids[unit_id]:
            del self.unit_sids[unit_id]

    def push_to_units(self) -> None:
        with self._pending_lock:
            pushes, self._unit_pushes = self._unit_pushes, defaultdict(dict)
        for unit_id, assignment_ids in pushes.items():
            for assignment_id in assignment_ids:
                self._send_assignment(unit_id, assignment_id)

    def _send_assignment(self, unit_id: str, assignment_id: str) -> None:
        message = self.assignment_message(assignment_id)
        if message is None:
            return
        self._emit("assignment", message, unit_room(unit_id))
        self._last_sent[assignment_id] = time.monotonic()
        self.stats["unit_pushes"] += 1

    def redeliver(self) -> None:
        """Send again every assignment a connected unit has not confirmed receiving."""
        now = time.monotonic()
        with self.service.lock:
            waiting = [
                (a.unit_id, a.id)
                for a in self.service.state.assignments.values()
                if a.status == "dispatched" and a.unit_id in self.unit_sids
            ]
        for unit_id, assignment_id in waiting:
            if now - self._last_sent.get(assignment_id, 0.0) >= self.settings.redeliver_after_s:
                self._send_assignment(unit_id, assignment_id)
