"""Several nodes: the event log and unit tracks in Redis.

Keys, under one prefix P per operation:

    P events         stream; entry id "<seq>-0" is the event's global sequence number
    P idempotency    hash: caller's scoped key -> the first answer, as JSON
    P append:<id>    marker of one append (kept an hour): a retried append whose reply
                     was lost with the connection finds it and is not applied twice
    P track:<unit>   sorted set of a unit's fixes, score = epoch milliseconds of `at`
    P units          set of the units that have a track
    P latest, P latest_at   hashes: unit -> its newest fix (JSON) and that fix's time
    P telemetry      stream of fix batches, one entry per node and frame, capped; other
                     nodes read it to keep their live positions

Appends and fix batches are Lua scripts, so each is atomic and one round trip.
Durability is Redis's: with AOF and `appendfsync always` an event is on disk
before Redis replies; with `everysec` up to a second of acknowledged events can
be lost if the Redis host itself fails (docs/OPERATIONS.md).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from ..domain.events import EVENT_VERSION, NewEvent, StoredEvent
from ..domain.timefmt import parse_iso
from .protocols import Fix, Idempotency, SequenceConflict, StoreUnavailable

DEFAULT_PREFIX = "coordinator:"
APPEND_MARKER_TTL_S = 3600
TELEMETRY_MAXLEN = 2000

# KEYS: events, idempotency, marker. ARGV: expected seq, idempotency key ('' for none),
# its answer, marker TTL, number of events, then five fields per event.
APPEND_LUA = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'done', redis.call('GET', KEYS[3])}
end
local last = 0
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
if last ~= tonumber(ARGV[1]) then return {'conflict', tostring(last)} end
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return {'used', tostring(last)}
end
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local b = 6 + i * 5
  redis.call('XADD', KEYS[1], string.format('%d-0', last + i + 1),
    'at', ARGV[b], 'actor', ARGV[b + 1], 'type', ARGV[b + 2], 'v', ARGV[b + 3], 'payload', ARGV[b + 4])
end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
redis.call('SET', KEYS[3], tostring(last), 'EX', tonumber(ARGV[4]))
return {'ok', tostring(last)}
"""

# KEYS: units, latest, latest_at, telemetry. ARGV: track key prefix, node id, batch JSON,
# telemetry cap, then four fields per fix: unit, at, score, member.
WRITE_FIXES_LUA = """
for i = 5, #ARGV, 4 do
  local unit, at = ARGV[i], ARGV[i + 1]
  redis.call('ZADD', ARGV[1] .. unit, ARGV[i + 2], ARGV[i + 3])
  redis.call('SADD', KEYS[1], unit)
  local newest = redis.call('HGET', KEYS[3], unit)
  if (not newest) or newest <= at then
    redis.call('HSET', KEYS[3], unit, at)
    redis.call('HSET', KEYS[2], unit, ARGV[i + 3])
  end
end
if ARGV[2] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'node', ARGV[2], 'fixes', ARGV[3])
end
return 1
"""


def connect(url: str, *, socket_timeout: float = 5.0) -> redis.Redis:
    """Open a client that retries with exponential backoff while Redis restarts.

    Retrying is safe for every call this module makes: reads are idempotent, an
    append is settled by its marker, and a fix batch written twice changes nothing.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def _unavailable(exc: Exception, doing: str) -> StoreUnavailable:
    return StoreUnavailable(f"the event store (Redis) is unreachable: {doing} ({exc})")


def _ms(at: str) -> int:
    return int(parse_iso(at).timestamp() * 1000)


def _fix_member(fix: Fix) -> str:
    return json.dumps([fix.at, fix.lat, fix.lon, fix.accuracy_m, fix.received_at], separators=(",", ":"))


def _fix_from(unit_id: str, member: str) -> Fix:
    at, lat, lon, accuracy, received = json.loads(member)
    return Fix(unit_id, lat, lon, accuracy, at, received)


def fixes_to_wire(fixes: Sequence[Fix]) -> str:
    return json.dumps(
        [[f.unit_id, f.lat, f.lon, f.accuracy_m, f.at, f.received_at] for f in fixes], separators=(",", ":")
    )


def fixes_from_wire(text: str) -> list[Fix]:
    return [Fix(u, lat, lon, acc, at, rec) for u, lat, lon, acc, at, rec in json.loads(text)]


class RedisEventLog:
    """The event log as a Redis stream; every node appends and reads the same one."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._r = client
        self.prefix = prefix
        self.events_key = prefix + "events"
        self._idempotency_key = prefix + "idempotency"
        self._append = client.register_script(APPEND_LUA)

    def append(
        self,
        events: Sequence[NewEvent],
        *,
        actor: str,
        at: str,
        expected_seq: int,
        idempotency: Idempotency | None = None,
    ) -> list[StoredEvent]:
        args: list[Any] = [
            expected_seq,
            "" if idempotency is None else idempotency.key,
            ""
            if idempotency is None
            else json.dumps({"status": idempotency.status, "response": idempotency.response}),
            APPEND_MARKER_TTL_S,
            len(events),
        ]
        for event in events:
            args += [at, actor, event.type, EVENT_VERSION, json.dumps(event.payload)]
        marker = f"{self.prefix}append:{secrets.token_hex(12)}"
        try:
            outcome, last = cast(
                list[str], self._append(keys=[self.events_key, self._idempotency_key, marker], args=args)
            )
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise _unavailable(exc, "the write was not confirmed; retry it with its idempotency key") from exc
        if outcome == "conflict":
            raise SequenceConflict(f"log is at {last}, caller expected {expected_seq}")
        if outcome == "used":
            raise SequenceConflict(f"idempotency key {idempotency.key if idempotency else ''!r} already used")
        base = int(last)
        return [
            StoredEvent(base + offset, at, actor, event.type, event.payload)
            for offset, event in enumerate(events, start=1)
        ]

    def read_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        try:
            entries = self._r.xrange(self.events_key, min=f"{seq + 1}-0", max="+", count=limit)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise _unavailable(exc, "cannot read the log") from exc
        return [_event_from(entry_id, fields) for entry_id, fields in cast(list[Any], entries)]

    def last_seq(self) -> int:
        try:
            top = cast(list[Any], self._r.xrevrange(self.events_key, count=1))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise _unavailable(exc, "cannot read the log") from exc
        return int(top[0][0].split("-")[0]) if top else 0

    def idempotent_response(self, key: str) -> Idempotency | None:
        try:
            raw = cast(str | None, self._r.hget(self._idempotency_key, key))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise _unavailable(exc, "cannot read idempotency keys") from exc
        if raw is None:
            return None
        stored = json.loads(raw)
        return Idempotency(key, int(stored["status"]), stored["response"])

    def close(self) -> None:
        self._r.close()


def _event_from(entry_id: str, fields: dict[str, str]) -> StoredEvent:
    return StoredEvent(
        int(entry_id.split("-", maxsplit=1)[0]),
        fields["at"],
        fields["actor"],
        fields["type"],
        json.loads(fields["payload"]),
        int(fields["v"]),
    )


class RedisTrackStore:
    """Unit tracks in sorted sets; each batch also goes out to the other nodes."""

    offloadable = False  # the client's sockets belong to the gevent loop

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, node_id: str = "") -> None:
        self._r = client
        self.prefix = prefix
        # Batches are tagged with the writing node, so it can skip its own when reading them back.
        self.node_id = node_id
        self.telemetry_key = prefix + "telemetry"
        self._track_prefix = prefix + "track:"
        self._units_key = prefix + "units"
        self._latest_key = prefix + "latest"
        self._latest_at_key = prefix + "latest_at"
        self._write = client.register_script(WRITE_FIXES_LUA)

    def _track(self, unit_id: str) -> str:
        return self._track_prefix + unit_id

    def write_fixes(self, fixes: Sequence[Fix]) -> None:
        if not fixes:
            return
        args: list[Any] = [self._track_prefix, self.node_id, fixes_to_wire(fixes), TELEMETRY_MAXLEN]
        for fix in fixes:
            args += [fix.unit_id, fix.at, _ms(fix.at), _fix_member(fix)]
        keys = [self._units_key, self._latest_key, self._latest_at_key, self.telemetry_key]
        try:
            self._write(keys=keys, args=args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise _unavailable(exc, "position fixes kept for the next attempt") from exc

    def _units(self) -> list[str]:
        return sorted(cast(set[str], self._r.smembers(self._units_key)))

    def latest(self) -> dict[str, Fix]:
        rows = cast(dict[str, str], self._r.hgetall(self._latest_key))
        return {unit_id: _fix_from(unit_id, member) for unit_id, member in rows.items()}

    def count(self) -> int:
        pipe = self._r.pipeline(transaction=False)
        for unit_id in self._units():
            pipe.zcard(self._track(unit_id))
        return sum(int(n) for n in pipe.execute())

    def fixes_between(self, start: str, end: str, *, batch: int = 50_000) -> Iterator[Fix]:
        """Yield the fixes taken in [start, end), by unit then time, a page at a time."""
        low, high = _ms(start), _ms(end)
        for unit_id in self._units():
            offset = 0
            while True:
                members = cast(
                    list[str],
                    self._r.zrangebyscore(self._track(unit_id), low, high, start=offset, num=batch),
                )
                for member in members:
                    fix = _fix_from(unit_id, member)
                    if start <= fix.at < end:
                        yield fix
                if len(members) < batch:
                    break
                offset += batch

    def latest_at(self, unit_ids: Sequence[str], at: str) -> dict[str, Fix]:
        """Return each unit's newest fix taken at or before `at` (two range reads per unit)."""
        moment = _ms(at)
        pipe = self._r.pipeline(transaction=False)
        for unit_id in unit_ids:
            # Same millisecond: compare the text; before it: the highest score wins.
            pipe.zrangebyscore(self._track(unit_id), moment, moment)
            pipe.zrevrangebyscore(self._track(unit_id), f"({moment}", "-inf", start=0, num=1)
        replies = pipe.execute()
        found: dict[str, Fix] = {}
        for index, unit_id in enumerate(unit_ids):
            same, before = replies[2 * index], replies[2 * index + 1]
            candidates = [_fix_from(unit_id, m) for m in [*same, *before]]
            candidates = [f for f in candidates if f.at <= at]
            if candidates:
                found[unit_id] = max(candidates, key=lambda f: f.at)
        return found

    def purge_before(self, at: str) -> int:
        """Delete fixes taken before `at`; return how many went (the hourly retention job)."""
        moment = _ms(at)
        removed = 0
        for unit_id in self._units():
            key = self._track(unit_id)
            removed += int(cast(int, self._r.zremrangebyscore(key, "-inf", f"({moment}")))
            same = cast(list[str], self._r.zrangebyscore(key, moment, moment))
            early = [m for m in same if _fix_from(unit_id, m).at < at]
            if early:
                removed += int(cast(int, self._r.zrem(key, *early)))
            self._refresh_latest(unit_id)
        return removed

    def _refresh_latest(self, unit_id: str) -> None:
        top = cast(list[str], self._r.zrevrange(self._track(unit_id), 0, 0))
        pipe = self._r.pipeline(transaction=True)
        if top:
            fix = _fix_from(unit_id, top[0])
            pipe.hset(self._latest_key, unit_id, top[0])
            pipe.hset(self._latest_at_key, unit_id, fix.at)
        else:
            pipe.hdel(self._latest_key, unit_id)
            pipe.hdel(self._latest_at_key, unit_id)
            pipe.srem(self._units_key, unit_id)
        pipe.execute()

    def close(self) -> None:
        self._r.close()
