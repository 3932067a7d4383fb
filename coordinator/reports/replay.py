"""Replay: the state of an operation at any past moment, folded from the log on demand.

Nothing is stored for replay: a seek reads the events up to the moment and the
newest fix of each unit at or before it, so the picture is exactly what the
log says and never a second copy that could disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.projection import State, apply
from ..domain.timefmt import iso
from ..store.protocols import EventLog, TrackStore

COLLECTIONS = ("demonstrations", "units", "incidents", "assignments", "alerts", "footage_requests")


def operation_span(log: EventLog) -> dict[str, Any]:
    """Return the time of the first and the last event (None for an empty log)."""
    first = log.read_after(0, limit=1)
    last_seq = log.last_seq()
    last = log.read_after(last_seq - 1, limit=1) if last_seq else []
    return {
        "start": first[0].at if first else None,
        "end": last[0].at if last else None,
        "seq": last_seq,
    }


def state_at(log: EventLog, moment: datetime) -> State:
    """Fold every event recorded at or before `moment`."""
    cutoff = iso(moment)
    state = State()
    cursor = 0
    while batch := log.read_after(cursor, limit=5000):
        for event in batch:
            if event.at > cutoff:
                return state
            apply(state, event)
        cursor = batch[-1].seq
    return state


def snapshot_at(
    log: EventLog, tracks: TrackStore, moment: datetime, *, stale_after_s: float
) -> dict[str, Any]:
    """Return what the dashboard showed at `moment`, in the live snapshot's shape."""
    state = state_at(log, moment)
    fixes = tracks.latest_at(list(state.units), iso(moment))
    body: dict[str, Any] = {"seq": state.seq, "replay": True, "server_time": iso(moment)}
    for collection in COLLECTIONS:
        views = [entity.view() for entity in getattr(state, collection).values()]
        body[collection] = views
    for unit in body["units"]:
        fix = fixes.get(unit["id"])
        unit["position"] = None if fix is None else fix.view()
        unit["stale"] = fix is None or fix.older_than(stale_after_s, now=moment)
    body["positions"] = {unit_id: fix.view() for unit_id, fix in fixes.items()}
    body["stale_after_s"] = stale_after_s
    return body
