"""What one node learns from the others through Redis.

Every node appends to the shared event stream and writes one telemetry batch per
frame. This link blocks on both streams: a new event wakes the hub, which
catches up from the log and pushes to its own units at once; another node's fix
batch updates this node's positions, so its snapshots, geofences and dispatch
ETAs see every unit. (Those fixes reach this node's dashboards through the
Socket.IO message queue, sent by the node that received them.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from ..service import Coordinator
from ..store.redis_streams import connect, fixes_from_wire

log = logging.getLogger(__name__)

BLOCK_MS = 1000
MAX_BACKOFF_S = 5.0


class ClusterLink:
    def __init__(
        self,
        *,
        redis_url: str,
        prefix: str,
        node_id: str,
        service: Coordinator,
        on_remote_events: Callable[[], None],
    ) -> None:
        # A connection of its own: XREAD blocks it for up to BLOCK_MS at a time.
        self._client = connect(redis_url, socket_timeout=BLOCK_MS / 1000 + 5)
        self._events_key = prefix + "events"
        self._telemetry_key = prefix + "telemetry"
        self.node_id = node_id
        self.service = service
        self._on_remote_events = on_remote_events
        self._running = False
        self.reachable = True
        self.stats = {"batches": 0, "fixes_merged": 0, "outages": 0}

    def start(self, spawn: Callable[[Callable[[], None]], Any]) -> None:
        if self._running:
            return
        self._running = True
        spawn(self._run)

    def stop(self) -> None:
        self._running = False

    def _cursors(self) -> dict[Any, Any]:
        # Telemetry from before this node started is not news; events are read from our seq.
        newest = cast(list[Any], self._client.xrevrange(self._telemetry_key, count=1))
        return {
            self._events_key: f"{self.service.state.seq}-0",
            self._telemetry_key: newest[0][0] if newest else "0-0",
        }

    def _run(self) -> None:
        backoff = 0.1
        cursors: dict[Any, Any] | None = None
        while self._running:
            try:
                if cursors is None:
                    cursors = self._cursors()
                reply = cast(list[Any], self._client.xread(cursors, block=BLOCK_MS, count=500))
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if self.reachable:
                    self.reachable = False
                    self.stats["outages"] += 1
                    log.warning("Redis unreachable (%s); retrying with backoff", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if not self.reachable:
                self.reachable = True
                log.info("Redis reachable again; catching up")
                self._on_remote_events()
            backoff = 0.1
            for stream, entries in reply or []:
                cursors[stream] = entries[-1][0]
                if stream == self._events_key:
                    self._on_remote_events()
                else:
                    self._merge(entries)
        self._client.close()

    def _merge(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        for _entry_id, fields in entries:
            if fields.get("node") == self.node_id:
                continue
            self.stats["batches"] += 1
            self.stats["fixes_merged"] += self.service.merge_fixes(fixes_from_wire(fields["fixes"]))
