"""The service layer: carries out commands against the log and keeps the projection.

Entry points (HTTP, sockets, CLI, demo) parse input into commands and call
`Coordinator.execute`; only this class appends to the log, and every append is
durable before the caller hears "done".
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .domain import rules
from .domain.commands import Command, CreateDemonstration, ReportIncident, UpdateDemonstration
from .domain.events import StoredEvent
from .domain.projection import State, Touched, apply
from .domain.timefmt import iso, now_utc
from .store.protocols import EventLog, Fix, Idempotency, SequenceConflict, TrackStore

log = logging.getLogger(__name__)

Enricher = Callable[[float, float], dict[str, Any]]
EventListener = Callable[[list[StoredEvent], list[Touched]], None]
FixListener = Callable[[Fix], None]

COLLECTIONS = ("demonstrations", "units", "incidents", "assignments", "alerts", "footage_requests")


def new_entity_id(prefix: str) -> str:
    """Return a short random id such as `inc-3f9a1c0b2d4e`."""
    return f"{prefix}-{secrets.token_hex(6)}"


@dataclass
class Result:
    """What a command produced: the answer for the caller and the events appended."""

    status: int
    body: dict[str, Any]
    events: list[StoredEvent] = field(default_factory=list)
    replayed: bool = False


class Coordinator:
    """Holds the current state of one operation and the only path to change it."""

    def __init__(
        self,
        *,
        log: EventLog,
        tracks: TrackStore,
        stale_after_s: float = 120.0,
        min_fix_interval_s: float = 0.5,
        clock: Callable[[], datetime] = now_utc,
        id_maker: Callable[[str], str] = new_entity_id,
    ) -> None:
        self.log = log
        self.tracks = tracks
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.new_id = id_maker
        self.state = State()
        self.lock = threading.RLock()
        self.positions: dict[str, Fix] = {}
        self._fix_lock = threading.Lock()
        # One batch write at a time, so a flush (a graceful stop's) returns only once the
        # batch another task is writing is written too, and batches land in order.
        self._write_lock = threading.Lock()
        self._fix_buffer: list[Fix] = []
        # A unit sending faster than this has its extra fixes merged, not queued:
        # unit id -> (index of its fix in the buffer, monotonic time it was buffered).
        self.min_fix_interval_s = min_fix_interval_s
        self._buffered_at: dict[str, tuple[int, float]] = {}
        self.fixes_coalesced = 0
        self._event_listeners: list[EventListener] = []
        self._fix_listeners: list[FixListener] = []
        self.fixes_received = 0
        # Looks up what is around a point (map layers); None when no layers are wired.
        self.enricher: Enricher | None = None

    # --- wiring -----------------------------------------------------------

    def on_events(self, listener: EventListener) -> None:
        """Call `listener` with each batch of newly applied events, in log order."""
        self._event_listeners.append(listener)

    def on_fix(self, listener: FixListener) -> None:
        """Call `listener` with each fix that is a unit's newest."""
        self._fix_listeners.append(listener)

    def load(self) -> None:
        """Rebuild the projection from the whole log and the last fix of every unit."""
        with self.lock:
            self.catch_up()
        with self._fix_lock:
            self.positions = self.tracks.latest()

    def catch_up(self) -> list[StoredEvent]:
        """Apply events other writers (the CLI, other nodes) appended since our last."""
        with self.lock:
            applied: list[StoredEvent] = []
            while True:
                batch = self.log.read_after(self.state.seq, limit=5000)
                if not batch:
                    break
                self._apply_and_notify(batch)
                applied.extend(batch)
            return applied

    def _apply_and_notify(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        touched: list[Touched] = []
        for event in events:
            touched.extend(apply(self.state, event))
        for listener in self._event_listeners:
            listener(events, touched)

    # --- commands ---------------------------------------------------------

    def execute(
        self,
        command: Command,
        *,
        actor: str,
        idempotency_key: str | None = None,
        success_status: int = 200,
    ) -> Result:
        """Carry out a command; raise a DomainError if the rules refuse it.

        With an idempotency key, a command already carried out under the same
        key by the same actor is not applied again: its first answer is returned.
        """
        # A key is the caller's and the command kind's: the same key sent with another
        # kind of command is a different request, not a retry.
        scoped_key = (
            None if idempotency_key is None else f"{actor}\x1f{type(command).__name__}\x1f{idempotency_key}"
        )
        with self.lock:
            command = self._enriched(command)
            for _attempt in range(10):
                # Checked on every attempt: after a SequenceConflict, the writer that
                # moved the log on may have carried out this very key.
                if scoped_key is not None:
                    earlier = self.log.idempotent_response(scoped_key)
                    if earlier is not None:
                        # The answer is the entity's current view, which may have moved on;
                        # another node may have written it after our last catch-up.
                        self.catch_up()
                        ref = earlier.response
                        body = self.view(ref["collection"], ref["id"]) if ref.get("id") else {}
                        return Result(earlier.status, body or {}, replayed=True)
                decision = rules.decide(self.state, command, self.new_id)
                body = self._preview(decision)
                if not decision.events and scoped_key is None:
                    return Result(success_status, body)
                try:
                    stored = self.log.append(
                        decision.events,
                        actor=actor,
                        at=iso(self.clock()),
                        expected_seq=self.state.seq,
                        idempotency=None
                        if scoped_key is None
                        else Idempotency(
                            scoped_key,
                            success_status,
                            {"collection": decision.collection, "id": decision.entity_id},
                        ),
                    )
                except SequenceConflict:
                    self.catch_up()
                    continue
                self._apply_and_notify(stored)
                return Result(success_status, self._view_of(decision), stored)
            raise RuntimeError("event log kept moving; command not applied")

    def _enriched(self, command: Command) -> Command:
        """Attach the places around a new or moved incident or demonstration."""
        if self.enricher is None:
            return command
        try:
            if isinstance(command, CreateDemonstration | ReportIncident):
                return replace(command, enrichment=self.enricher(command.lat, command.lon))
            if isinstance(command, UpdateDemonstration) and {"lat", "lon"} & command.changes.keys():
                demo = self.state.demonstrations.get(command.id)
                if demo is None:
                    return command
                lat = command.changes.get("lat", demo.lat)
                lon = command.changes.get("lon", demo.lon)
                return replace(command, changes={**command.changes, "enrichment": self.enricher(lat, lon)})
        except Exception:
            # A report must never be lost because the map could not be read.
            log.exception("enrichment failed; the command goes ahead without it")
        return command

    def _preview(self, decision: rules.Decision) -> dict[str, Any]:
        return self._view_of(decision) if not decision.events else {}

    def _view_of(self, decision: rules.Decision) -> dict[str, Any]:
        if decision.collection is None or decision.entity_id is None:
            return {}
        return self.view(decision.collection, decision.entity_id) or {}

    # --- telemetry --------------------------------------------------------

    def record_fix(self, unit_id: str, lat: float, lon: float, accuracy_m: float | None, at: datetime) -> Fix:
        """Buffer a position fix for the next batch write; newest fixes go live."""
        fix = Fix.taken_at(unit_id, lat, lon, accuracy_m, at=at, received_at=iso(self.clock()))
        newest = False
        tick = time.monotonic()
        with self._fix_lock:
            self.fixes_received += 1
            earlier = self._buffered_at.get(unit_id)
            if earlier is not None and tick - earlier[1] < self.min_fix_interval_s:
                # Over the rate: the newer fix replaces the one still waiting to be written.
                if fix.at >= self._fix_buffer[earlier[0]].at:
                    self._fix_buffer[earlier[0]] = fix
                self.fixes_coalesced += 1
            else:
                self._buffered_at[unit_id] = (len(self._fix_buffer), tick)
                self._fix_buffer.append(fix)
            current = self.positions.get(unit_id)
            if current is None or fix.at >= current.at:
                self.positions[unit_id] = fix
                newest = True
        if newest:
            for listener in self._fix_listeners:
                listener(fix)
        return fix

    def merge_fixes(self, fixes: Sequence[Fix]) -> int:
        """Take fixes another node received and wrote: each becomes its unit's position if newest.

        They are already in the track store, and on every dashboard through the node
        that received them, so they are neither buffered nor announced again.
        """
        merged = 0
        with self._fix_lock:
            for fix in fixes:
                current = self.positions.get(fix.unit_id)
                if current is None or fix.at > current.at:
                    self.positions[fix.unit_id] = fix
                    merged += 1
        return merged

    def purge_fixes(self, *, older_than_days: float) -> int:
        """Apply the retention setting: drop position telemetry older than N days (events stay)."""
        cutoff = self.clock() - timedelta(days=older_than_days)
        return self.tracks.purge_before(iso(cutoff))

    @property
    def fixes_waiting(self) -> int:
        """Fixes buffered for the next batch write."""
        return len(self._fix_buffer)

    def flush_fixes(self, run: Callable[[Callable[[], None]], None] | None = None) -> int:
        """Write buffered fixes in one batch; return how many.

        `run` runs the write itself (the live loop passes a native thread for SQLite).
        """
        with self._write_lock:
            with self._fix_lock:
                batch, self._fix_buffer = self._fix_buffer, []
                self._buffered_at = {}
            if not batch:
                return 0
            try:
                if run is None:
                    self.tracks.write_fixes(batch)
                else:
                    run(lambda: self.tracks.write_fixes(batch))
            except Exception:
                with self._fix_lock:  # keep them for the next attempt, in order
                    self._fix_buffer[:0] = batch
                raise
            return len(batch)

    # --- views ------------------------------------------------------------

    def is_stale(self, fix: Fix | None, now: datetime | None = None) -> bool:
        return fix is None or fix.taken < self.stale_before(now or self.clock())

    def stale_before(self, now: datetime) -> datetime:
        """Fixes taken before this moment are stale at `now`."""
        return now - timedelta(seconds=self.stale_after_s)

    def all_positions(self) -> dict[str, dict[str, Any]]:
        """Return the newest fix of every unit that has one."""
        with self._fix_lock:
            fixes = list(self.positions.values())
        return {fix.unit_id: fix.view() for fix in fixes}

    def view(self, collection: str, entity_id: str) -> dict[str, Any] | None:
        """Return what clients see of one entity (units with their last fix)."""
        with self.lock:
            data = self.state.view(collection, entity_id)
        if data is not None and collection == "units":
            fix = self.positions.get(entity_id)
            data["position"] = None if fix is None else fix.view()
            data["stale"] = self.is_stale(fix)
        return data

    def list_views(self, collection: str) -> list[dict[str, Any]]:
        with self.lock:
            ids = list(getattr(self.state, collection))
        views = [self.view(collection, i) for i in ids]
        return [v for v in views if v is not None]

    def snapshot(self) -> dict[str, Any]:
        """Return everything current, consistent as of one sequence number."""
        with self.lock:
            body: dict[str, Any] = {"seq": self.state.seq}
            for collection in COLLECTIONS:
                body[collection] = self.list_views(collection)
        body["server_time"] = iso(self.clock())
        body["stale_after_s"] = self.stale_after_s
        return body
