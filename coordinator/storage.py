"""Open the embedded default: the service over one SQLite file in a data directory."""

from __future__ import annotations

from pathlib import Path

from .service import Coordinator
from .store.sqlite import SqliteEventLog, SqliteTrackStore

DATABASE_FILE = "coordinator.sqlite3"


def database_path(data_dir: Path) -> Path:
    return data_dir / DATABASE_FILE


def open_service(data_dir: Path, *, stale_after_s: float = 120.0) -> Coordinator:
    """Return a service over the data directory's log and tracks, its state rebuilt."""
    path = database_path(data_dir)
    service = Coordinator(
        log=SqliteEventLog(path), tracks=SqliteTrackStore(path), stale_after_s=stale_after_s
    )
    service.load()
    return service
