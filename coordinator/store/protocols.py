"""The small contracts every storage backend fulfils."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..domain.errors import Unavailable
from ..domain.events import NewEvent, StoredEvent
from ..domain.timefmt import iso, parse_iso


class SequenceConflict(Exception):
    """Another writer appended first; the caller catches up and decides again."""


class StoreUnavailable(Unavailable):
    """The shared store cannot be reached; the message says what was not done."""


@dataclass(frozen=True)
class Idempotency:
    """A caller's key for a command and the answer to give if it comes again."""

    key: str
    status: int
    response: dict[str, Any]


@dataclass(frozen=True)
class Fix:
    """One position report of a unit."""

    unit_id: str
    lat: float
    lon: float
    accuracy_m: float | None
    at: str  # when the device took it, ISO 8601 UTC
    received_at: str

    @classmethod
    def taken_at(
        cls, unit_id: str, lat: float, lon: float, accuracy_m: float | None, *, at: datetime, received_at: str
    ) -> Fix:
        """A fix from an aware device time: `taken` then never parses `at` back."""
        fix = cls(unit_id, lat, lon, accuracy_m, iso(at), received_at)
        fix.__dict__["_taken"] = _to_ms(at)
        return fix

    def view(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m, "at": self.at}

    @property
    def taken(self) -> datetime:
        """`at` parsed once per fix: staleness is checked for every unit several times a second.

        Cached by hand: functools.cached_property takes a lock shared by every instance.
        """
        cached: datetime | None = self.__dict__.get("_taken")
        if cached is None:
            cached = self.__dict__["_taken"] = parse_iso(self.at)
        return cached

    def older_than(self, seconds: float, *, now: datetime) -> bool:
        """Whether the fix was taken more than `seconds` before `now` (then it is stale)."""
        return (now - self.taken).total_seconds() > seconds


class EventLog(Protocol):
    def append(
        self,
        events: Sequence[NewEvent],
        *,
        actor: str,
        at: str,
        expected_seq: int,
        idempotency: Idempotency | None = None,
    ) -> list[StoredEvent]:
        """Append atomically and durably, or raise SequenceConflict if the log moved on."""

    def read_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        """Return up to `limit` events with a sequence number above `seq`, in order."""

    def last_seq(self) -> int:
        """Return the highest sequence number in the log (0 when empty)."""

    def idempotent_response(self, key: str) -> Idempotency | None:
        """Return the stored answer of a command already carried out under `key`."""

    def close(self) -> None: ...


class TrackStore(Protocol):
    # Whether its calls may run in a native thread beside a gevent loop: true when they
    # touch no gevent socket (SQLite), false for a network client bound to the loop (Redis).
    offloadable: bool

    def write_fixes(self, fixes: Sequence[Fix]) -> None:
        """Write a batch of fixes in one transaction."""

    def latest(self) -> dict[str, Fix]:
        """Return the newest fix of each unit."""

    def count(self) -> int: ...

    def fixes_between(self, start: str, end: str) -> Iterator[Fix]:
        """Yield the fixes taken in [start, end), ordered by unit, then time."""

    def latest_at(self, unit_ids: Sequence[str], at: str) -> dict[str, Fix]:
        """Return each unit's newest fix taken at or before `at`."""

    def purge_before(self, at: str) -> int:
        """Delete fixes taken before `at`; events are never purged."""

    def close(self) -> None: ...


def _to_ms(moment: datetime) -> datetime:
    """UTC, to the millisecond, as `at` keeps it."""
    if moment.tzinfo is UTC and not moment.microsecond % 1000:
        return moment  # a time parsed from `at`: already so
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
