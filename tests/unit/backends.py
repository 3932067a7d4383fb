"""The two storage backends behind one small factory, so one contract suite runs on both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from coordinator.store.protocols import EventLog, TrackStore
from coordinator.store.redis_streams import RedisEventLog, RedisTrackStore, connect
from coordinator.store.sqlite import SqliteEventLog, SqliteTrackStore


@dataclass
class Backend:
    """Opens logs and track stores that all share one store: a SQLite file or a Redis key prefix."""

    kind: str
    db_path: Path
    redis_url: str = ""
    prefix: str = ""
    _opened: list[Any] = field(default_factory=list)

    def _client(self) -> redis.Redis:
        return connect(self.redis_url)

    def log(self) -> EventLog:
        opened: EventLog = (
            SqliteEventLog(self.db_path)
            if self.kind == "sqlite"
            else RedisEventLog(self._client(), prefix=self.prefix)
        )
        self._opened.append(opened)
        return opened

    def tracks(self) -> TrackStore:
        opened: TrackStore = (
            SqliteTrackStore(self.db_path)
            if self.kind == "sqlite"
            else RedisTrackStore(self._client(), prefix=self.prefix)
        )
        self._opened.append(opened)
        return opened

    def close(self) -> None:
        for item in self._opened:
            item.close()
        if self.kind == "redis":
            client = self._client()
            keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
