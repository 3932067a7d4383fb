"""Open the service over its storage: one SQLite file by default, Redis for several nodes."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import cast

import redis

from .service import Coordinator
from .store.redis_streams import DEFAULT_PREFIX, RedisEventLog, RedisTrackStore, connect
from .store.sqlite import SqliteEventLog, SqliteTrackStore

log = logging.getLogger(__name__)

DATABASE_FILE = "coordinator.sqlite3"


def database_path(data_dir: Path) -> Path:
    return data_dir / DATABASE_FILE


def redis_from_env() -> tuple[str | None, str]:
    """Return `REDIS_URL` (None when unset) and `COORDINATOR_REDIS_PREFIX`."""
    return os.environ.get("REDIS_URL") or None, os.environ.get("COORDINATOR_REDIS_PREFIX") or DEFAULT_PREFIX


def open_service(
    data_dir: Path,
    *,
    stale_after_s: float = 120.0,
    redis_url: str | None = None,
    redis_prefix: str = DEFAULT_PREFIX,
    node_id: str = "",
) -> Coordinator:
    """Return a service over the log and tracks, its state rebuilt.

    With `redis_url` the log and tracks are shared by every node on that Redis
    under `redis_prefix`; otherwise they live in the data directory's SQLite file.
    """
    if redis_url:
        client = connect(redis_url)
        warn_if_not_durable(client)
        service = Coordinator(
            log=RedisEventLog(client, prefix=redis_prefix),
            tracks=RedisTrackStore(client, prefix=redis_prefix, node_id=node_id),
            stale_after_s=stale_after_s,
        )
    else:
        path = database_path(data_dir)
        service = Coordinator(
            log=SqliteEventLog(path), tracks=SqliteTrackStore(path), stale_after_s=stale_after_s
        )
    service.load()
    return service


def warn_if_not_durable(client: redis.Redis) -> None:
    """Say in the log when Redis could lose acknowledged events on a restart."""
    try:
        appendonly = cast(dict[str, str], client.config_get("appendonly")).get("appendonly")
        fsync = cast(dict[str, str], client.config_get("appendfsync")).get("appendfsync")
    except redis.ResponseError:
        return  # managed services often refuse CONFIG; their durability is theirs to document
    if appendonly != "yes":
        log.warning(
            "Redis runs without AOF (appendonly no): events acknowledged since its last "
            "snapshot are lost if Redis restarts; see docs/OPERATIONS.md"
        )
    elif fsync != "always":
        log.warning("Redis AOF fsyncs %s: a crash of the Redis host can lose up to a second of events", fsync)
