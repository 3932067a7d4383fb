"""The embedded default: event log and tracks in one SQLite file.

WAL with synchronous=FULL makes each commit durable before `append` returns, so
an event acknowledged to a caller survives a SIGKILL or power cut. Position
fixes come in batches, one transaction (and one sync) per batch.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..domain.events import NewEvent, StoredEvent
from .protocols import Fix, Idempotency, SequenceConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    type TEXT NOT NULL,
    v INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fixes (
    unit_id TEXT NOT NULL,
    at TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    accuracy_m REAL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fixes_unit_at ON fixes (unit_id, at);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open the database with the settings that make commits durable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    return conn


class SqliteEventLog:
    """An append-only event log; other processes (the CLI) may append to the same file."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()

    def append(
        self,
        events: Sequence[NewEvent],
        *,
        actor: str,
        at: str,
        expected_seq: int,
        idempotency: Idempotency | None = None,
    ) -> list[StoredEvent]:
        with self._lock:
            conn = self._conn
            # IMMEDIATE takes the write lock now, so the check below cannot race.
            conn.execute("BEGIN IMMEDIATE")
            try:
                (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
                if last != expected_seq:
                    raise SequenceConflict(f"log is at {last}, caller expected {expected_seq}")
                if (
                    idempotency is not None
                    and conn.execute("SELECT 1 FROM idempotency WHERE key = ?", (idempotency.key,)).fetchone()
                ):
                    # Another writer carried out the same keyed command first.
                    raise SequenceConflict(f"idempotency key {idempotency.key!r} already used")
                stored = []
                for offset, event in enumerate(events, start=1):
                    item = StoredEvent(last + offset, at, actor, event.type, event.payload)
                    conn.execute(
                        "INSERT INTO events (seq, at, actor, type, v, payload) VALUES (?,?,?,?,?,?)",
                        (item.seq, item.at, item.actor, item.type, item.v, json.dumps(item.payload)),
                    )
                    stored.append(item)
                if idempotency is not None:
                    conn.execute(
                        "INSERT INTO idempotency (key, status, response, seq) VALUES (?,?,?,?)",
                        (
                            idempotency.key,
                            idempotency.status,
                            json.dumps(idempotency.response),
                            last + len(events),
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return stored

    def read_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, at, actor, type, payload, v FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [StoredEvent(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def last_seq(self) -> int:
        with self._lock:
            (last,) = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(last)

    def idempotent_response(self, key: str) -> Idempotency | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT status, response FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return Idempotency(key, int(row[0]), json.loads(row[1]))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


FIX_COLUMNS = ("unit_id", "at", "lat", "lon", "accuracy_m", "received_at")
# Rows per INSERT of a batch: few statements per batch, none so long that preparing it costs.
ROWS_PER_INSERT = 1000


@functools.lru_cache(maxsize=8)
def _insert_fixes(rows: int) -> str:
    row = "(" + ",".join("?" * len(FIX_COLUMNS)) + ")"
    return f"INSERT INTO fixes ({', '.join(FIX_COLUMNS)}) VALUES " + ",".join([row] * rows)


class SqliteTrackStore:
    """Unit tracks: every fix kept for the after-action report, written in batches."""

    offloadable = True  # SQLite's C calls release the GIL; no socket of the loop's is used

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        variables = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._rows_per_insert = max(1, min(ROWS_PER_INSERT, variables // len(FIX_COLUMNS)))

    def write_fixes(self, fixes: Sequence[Fix]) -> None:
        if not fixes:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                # Many rows per statement, not executemany: that releases and takes back the
                # GIL for every row, and a write in a native thread beside a busy event loop
                # then waits a switch interval (5 ms) per row.
                step = self._rows_per_insert
                for start in range(0, len(fixes), step):
                    chunk = fixes[start : start + step]
                    values: list[Any] = []
                    for f in chunk:
                        values += (f.unit_id, f.at, f.lat, f.lon, f.accuracy_m, f.received_at)
                    self._conn.execute(_insert_fixes(len(chunk)), values)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def latest(self) -> dict[str, Fix]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT unit_id, MAX(at), lat, lon, accuracy_m, received_at FROM fixes GROUP BY unit_id"
            ).fetchall()
        return {r[0]: Fix(r[0], r[2], r[3], r[4], r[1], r[5]) for r in rows}

    def count(self) -> int:
        with self._lock:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM fixes").fetchone()
        return int(n)

    def fixes_between(self, start: str, end: str, *, batch: int = 50_000) -> Iterator[Fix]:
        """Yield the fixes taken in [start, end), by unit then time, a batch at a time.

        Times compare as text: pass them as `timefmt.iso` writes them.
        """
        cursor = ("", "", 0)  # (unit, time, rowid): rowid breaks ties of one unit's equal times
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT unit_id, at, lat, lon, accuracy_m, received_at, rowid FROM fixes"
                    " WHERE at >= ? AND at < ? AND (unit_id, at, rowid) > (?, ?, ?)"
                    " ORDER BY unit_id, at, rowid LIMIT ?",
                    (start, end, *cursor, batch),
                ).fetchall()
            if not rows:
                return
            for r in rows:
                yield Fix(r[0], r[2], r[3], r[4], r[1], r[5])
            cursor = (rows[-1][0], rows[-1][1], rows[-1][6])

    def latest_at(self, unit_ids: Sequence[str], at: str) -> dict[str, Fix]:
        """Return each unit's newest fix taken at or before `at` (one index seek per unit)."""
        found: dict[str, Fix] = {}
        with self._lock:
            for unit_id in unit_ids:
                row = self._conn.execute(
                    "SELECT at, lat, lon, accuracy_m, received_at FROM fixes"
                    " WHERE unit_id = ? AND at <= ? ORDER BY at DESC LIMIT 1",
                    (unit_id, at),
                ).fetchone()
                if row is not None:
                    found[unit_id] = Fix(unit_id, row[1], row[2], row[3], row[0], row[4])
        return found

    def purge_before(self, at: str) -> int:
        """Delete fixes taken before `at` (ISO 8601 UTC); return how many went."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM fixes WHERE at < ?", (at,))
        return int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
