"""Unit tests of the Coordinator service on a real SQLite event log and track store."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from coordinator.domain import commands as c
from coordinator.domain import events as ev
from coordinator.domain import validation as v
from coordinator.domain.errors import Conflict
from coordinator.domain.events import NewEvent, StoredEvent
from coordinator.domain.projection import Touched
from coordinator.domain.timefmt import iso, parse_iso
from coordinator.service import Coordinator, new_entity_id
from coordinator.store.protocols import EventLog, Fix, Idempotency, SequenceConflict, TrackStore

from .backends import Backend

START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the service."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


OpenCoordinator = Callable[..., Coordinator]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_coordinator(backend: Backend, clock: Clock) -> Iterator[OpenCoordinator]:
    """Open Coordinators on one shared store (a SQLite file or a Redis prefix), each loaded."""

    def _open(**kwargs: Any) -> Coordinator:
        service = Coordinator(log=backend.log(), tracks=backend.tracks(), clock=clock, **kwargs)
        service.load()
        return service

    yield _open


@pytest.fixture
def coordinator(open_coordinator: OpenCoordinator) -> Coordinator:
    return open_coordinator()


def create_demonstration(service: Coordinator, name: str = "March", actor: str = "ops", **kwargs: Any) -> str:
    result = service.execute(
        v.create_demonstration({"name": name, "lat": 41.88, "lon": -87.63}), actor=actor, **kwargs
    )
    return str(result.body["id"])


def register_unit(service: Coordinator, callsign: str = "MED-1") -> str:
    command = v.register_unit(
        {"callsign": callsign, "kind": "medical_team"}, token_sha256=callsign.encode().hex()
    )
    return str(service.execute(command, actor="ops").body["id"])


def without_server_time(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in snapshot.items() if k != "server_time"}


def all_events(log: EventLog) -> list[StoredEvent]:
    return log.read_after(0, limit=1_000_000)


# --- durable execution ---------------------------------------------------


def test_execute_returns_entity_view_and_stored_events(coordinator: Coordinator) -> None:
    result = coordinator.execute(
        v.create_demonstration({"name": "March", "lat": 41.88, "lon": -87.63, "tension": 2}),
        actor="ops",
        success_status=201,
    )
    assert result.status == 201
    assert not result.replayed
    assert [(e.seq, e.type, e.actor, e.at) for e in result.events] == [
        (1, ev.DEMONSTRATION_CREATED, "ops", iso(START))
    ]
    assert result.body["name"] == "March"
    assert result.body["tension_label"] == "elevated"
    assert result.body == coordinator.view("demonstrations", result.body["id"])
    assert coordinator.state.seq == coordinator.log.last_seq() == 1


def test_execute_appends_durably_and_a_reopened_coordinator_sees_the_same(
    open_coordinator: OpenCoordinator, clock: Clock
) -> None:
    first = open_coordinator()
    demo_id = create_demonstration(first)
    unit_id = register_unit(first)
    incident = first.execute(
        v.report_incident(
            {"kind": "injury", "triage": "minor", "lat": 41.9, "lon": -87.6, "demonstration_id": demo_id}
        ),
        actor="medic-lead",
    ).body["id"]
    clock.advance(5)
    assignment = first.execute(
        v.dispatch_assignment({"unit_id": unit_id, "kind": "medical_aid", "incident_id": incident}),
        actor="ops",
    ).body["id"]
    clock.advance(5)
    first.execute(v.change_assignment_status(assignment, {"status": "acknowledged"}), actor=f"unit:{unit_id}")
    first.execute(v.update_demonstration(demo_id, {"tension": 3}), actor="ops")

    second = open_coordinator()
    assert second.state.seq == first.state.seq == 6
    assert without_server_time(second.snapshot()) == without_server_time(first.snapshot())
    assert second.state == first.state
    view = second.view("assignments", assignment)
    assert view is not None
    assert view["status"] == "acknowledged"
    assert view["times"] == {
        "dispatched": iso(START + timedelta(seconds=5)),
        "acknowledged": iso(START + timedelta(seconds=10)),
    }


def test_refused_command_appends_nothing(coordinator: Coordinator) -> None:
    unit_id = register_unit(coordinator)
    demo_id = create_demonstration(coordinator)
    coordinator.execute(
        v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "demonstration_id": demo_id}),
        actor="ops",
    )
    before = coordinator.log.last_seq()
    with pytest.raises(Conflict):
        coordinator.execute(
            v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "demonstration_id": demo_id}),
            actor="ops",
        )
    assert coordinator.log.last_seq() == coordinator.state.seq == before


def test_command_that_changes_nothing_appends_nothing(coordinator: Coordinator) -> None:
    demo_id = create_demonstration(coordinator)
    result = coordinator.execute(v.update_demonstration(demo_id, {"name": "March"}), actor="ops")
    assert result.events == []
    assert result.body["id"] == demo_id
    assert coordinator.log.last_seq() == 1


def test_listeners_hear_each_batch_with_what_it_touched(coordinator: Coordinator) -> None:
    heard: list[tuple[list[int], list[Touched]]] = []
    coordinator.on_events(lambda events, touched: heard.append(([e.seq for e in events], touched)))
    unit_id = register_unit(coordinator)
    demo_id = create_demonstration(coordinator)
    assignment = coordinator.execute(
        v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "demonstration_id": demo_id}),
        actor="ops",
    ).body["id"]
    assert heard == [
        ([1], [("units", unit_id)]),
        ([2], [("demonstrations", demo_id)]),
        ([3], [("assignments", assignment), ("units", unit_id)]),
    ]


# --- idempotency ---------------------------------------------------------


def test_same_key_same_actor_applies_once_and_replays_current_view(
    coordinator: Coordinator, open_coordinator: OpenCoordinator
) -> None:
    first = coordinator.execute(
        v.create_demonstration({"name": "March", "lat": 41.88, "lon": -87.63}),
        actor="bridge",
        idempotency_key="req-1",
        success_status=201,
    )
    demo_id = first.body["id"]
    coordinator.execute(v.update_demonstration(demo_id, {"tension": 5}), actor="ops")
    seq = coordinator.log.last_seq()

    again = coordinator.execute(
        v.create_demonstration({"name": "March", "lat": 41.88, "lon": -87.63}),
        actor="bridge",
        idempotency_key="req-1",
        success_status=201,
    )
    assert again.replayed
    assert again.status == 201
    assert again.events == []
    assert again.body == coordinator.view("demonstrations", demo_id)
    assert again.body["tension"] == 5
    assert coordinator.log.last_seq() == seq
    assert len(coordinator.state.demonstrations) == 1

    # The key lives in the log, so a restarted service still recognises it.
    reopened = open_coordinator()
    third = reopened.execute(
        v.create_demonstration({"name": "March", "lat": 41.88, "lon": -87.63}),
        actor="bridge",
        idempotency_key="req-1",
    )
    assert third.replayed
    assert third.body["id"] == demo_id
    assert len(reopened.state.demonstrations) == 1


def test_same_key_from_another_actor_is_a_separate_command(coordinator: Coordinator) -> None:
    a = create_demonstration(coordinator, "A", actor="bridge-a", idempotency_key="shared")
    b = create_demonstration(coordinator, "B", actor="bridge-b", idempotency_key="shared")
    assert a != b
    assert set(coordinator.state.demonstrations) == {a, b}
    assert coordinator.log.last_seq() == 2
    # The keys really are scoped: each actor's replay returns its own entity.
    for actor, expected in (("bridge-a", a), ("bridge-b", b)):
        again = coordinator.execute(
            v.create_demonstration({"name": "C", "lat": 0, "lon": 0}), actor=actor, idempotency_key="shared"
        )
        assert again.replayed
        assert again.body["id"] == expected
    assert coordinator.log.last_seq() == 2


def test_different_keys_from_same_actor_apply_separately(coordinator: Coordinator) -> None:
    a = create_demonstration(coordinator, idempotency_key="k1")
    b = create_demonstration(coordinator, idempotency_key="k2")
    assert a != b
    assert coordinator.log.last_seq() == 2


def test_keyed_command_that_changes_nothing_is_remembered(coordinator: Coordinator) -> None:
    demo_id = create_demonstration(coordinator)
    first = coordinator.execute(
        v.update_demonstration(demo_id, {"name": "March"}), actor="ops", idempotency_key="noop"
    )
    assert not first.replayed
    assert first.body["id"] == demo_id
    assert coordinator.log.last_seq() == 1
    again = coordinator.execute(
        v.update_demonstration(demo_id, {"name": "March"}), actor="ops", idempotency_key="noop"
    )
    assert again.replayed
    assert again.body["id"] == demo_id


# --- concurrent writers --------------------------------------------------


def test_sequence_conflict_is_caught_up_and_command_succeeds(open_coordinator: OpenCoordinator) -> None:
    ours = open_coordinator()
    theirs = open_coordinator()
    heard: list[int] = []
    ours.on_events(lambda events, _touched: heard.extend(e.seq for e in events))
    create_demonstration(ours, "ours-1")
    their_demo = create_demonstration(theirs, "theirs")  # appended behind our back
    assert ours.state.seq == 1
    assert theirs.state.seq == 2

    result = ours.execute(v.create_demonstration({"name": "ours-2", "lat": 0, "lon": 0}), actor="ops")

    assert [e.seq for e in result.events] == [3]
    assert ours.state.seq == ours.log.last_seq() == 3
    assert their_demo in ours.state.demonstrations
    assert [e.seq for e in all_events(ours.log)] == [1, 2, 3]
    assert heard == [1, 2, 3]


def test_command_is_decided_again_against_the_caught_up_state(open_coordinator: OpenCoordinator) -> None:
    ours = open_coordinator()
    unit_id = register_unit(ours)
    demo_id = create_demonstration(ours)
    theirs = open_coordinator()
    dispatch = v.dispatch_assignment({"unit_id": unit_id, "kind": "observe", "demonstration_id": demo_id})
    theirs.execute(dispatch, actor="other-node")
    with pytest.raises(Conflict) as caught:
        ours.execute(dispatch, actor="ops")
    assert caught.value.field == "unit_id"
    assert ours.state.seq == ours.log.last_seq() == 3
    assert len(ours.state.assignments) == 1


def test_catch_up_applies_events_of_another_writer(open_coordinator: OpenCoordinator) -> None:
    ours = open_coordinator()
    theirs = open_coordinator()
    ids = [create_demonstration(theirs, f"d{i}") for i in range(3)]
    applied = ours.catch_up()
    assert [e.seq for e in applied] == [1, 2, 3]
    assert list(ours.state.demonstrations) == ids
    assert ours.catch_up() == []


# --- position fixes ------------------------------------------------------


def test_record_fix_keeps_newest_fix_even_if_an_older_one_arrives_later(
    coordinator: Coordinator, clock: Clock
) -> None:
    live: list[Fix] = []
    coordinator.on_fix(live.append)
    newer = coordinator.record_fix("unit-000001", 41.90, -87.60, 5.0, START - timedelta(seconds=10))
    older = coordinator.record_fix("unit-000001", 41.80, -87.70, 8.0, START - timedelta(seconds=60))
    assert coordinator.positions["unit-000001"] == newer
    assert coordinator.all_positions() == {"unit-000001": newer.view()}
    assert live == [newer]
    assert coordinator.fixes_received == 2
    assert older.at < newer.at
    assert newer.received_at == iso(START)


def test_record_fix_replaces_with_a_newer_fix(coordinator: Coordinator) -> None:
    coordinator.record_fix("unit-000001", 1.0, 1.0, None, START - timedelta(seconds=30))
    latest = coordinator.record_fix("unit-000001", 2.0, 2.0, None, START - timedelta(seconds=1))
    other = coordinator.record_fix("unit-000002", 3.0, 3.0, None, START - timedelta(seconds=90))
    assert coordinator.positions == {"unit-000001": latest, "unit-000002": other}


def test_flush_fixes_writes_the_buffer_in_one_batch(coordinator: Coordinator) -> None:
    coordinator.min_fix_interval_s = 0.0  # every fix is kept: this test is about the batch
    for i in range(25):
        coordinator.record_fix(
            f"unit-00000{i % 3}", 41.0 + i / 100, -87.0, None, START - timedelta(seconds=100 - i)
        )
    assert coordinator.tracks.count() == 0
    assert coordinator.flush_fixes() == 25
    assert coordinator.tracks.count() == 25
    assert coordinator.flush_fixes() == 0
    assert coordinator.tracks.count() == 25


def test_fixes_over_the_rate_limit_are_merged_not_queued(coordinator: Coordinator) -> None:
    coordinator.min_fix_interval_s = 60.0
    for i in range(10):
        coordinator.record_fix("unit-000001", 41.0 + i / 100, -87.0, None, START - timedelta(seconds=20 - i))
    other = coordinator.record_fix("unit-000002", 42.0, -88.0, None, START)
    assert coordinator.fixes_received == 11 and coordinator.fixes_coalesced == 9
    assert coordinator.flush_fixes() == 2  # one waiting fix per unit, the newest of the burst
    assert coordinator.positions["unit-000001"].lat == 41.09
    assert coordinator.positions["unit-000002"] == other
    # After the batch is written the next fix is buffered again.
    coordinator.record_fix("unit-000001", 43.0, -87.0, None, START)
    assert coordinator.flush_fixes() == 1


def test_positions_survive_reopening(open_coordinator: OpenCoordinator) -> None:
    first = open_coordinator()
    unit_id = register_unit(first)
    newest = first.record_fix(unit_id, 41.95, -87.65, 3.5, START - timedelta(seconds=5))
    first.record_fix(unit_id, 41.85, -87.55, 9.0, START - timedelta(seconds=50))
    other = first.record_fix("unit-00000f", 41.70, -87.70, None, START - timedelta(seconds=500))
    first.flush_fixes()

    second = open_coordinator()
    assert second.positions == {unit_id: newest, "unit-00000f": other}
    view = second.view("units", unit_id)
    assert view is not None
    assert view["position"] == newest.view()
    assert view["stale"] is False


def test_track_store_latest_picks_newest_row_per_unit(backend: Backend) -> None:
    tracks = backend.tracks()
    rows = [
        Fix("unit-000001", 1.0, 1.0, None, "2025-06-01T12:00:05.000Z", "2025-06-01T12:00:06.000Z"),
        Fix("unit-000001", 2.0, 2.0, 4.0, "2025-06-01T12:00:09.000Z", "2025-06-01T12:00:09.500Z"),
        Fix("unit-000001", 3.0, 3.0, None, "2025-06-01T12:00:01.000Z", "2025-06-01T12:00:10.000Z"),
    ]
    tracks.write_fixes(rows)
    tracks.write_fixes([])
    assert tracks.count() == 3
    assert tracks.latest() == {"unit-000001": rows[1]}


def test_track_store_writes_a_batch_longer_than_one_statement_exactly(backend: Backend) -> None:
    tracks = backend.tracks()
    # 2,345 rows: the SQLite store splits them into INSERTs of at most 1,000 rows.
    rows = [
        Fix(
            f"unit-{i % 37:06d}",
            42.2 + i * 1.234567891234e-5,
            -71.1 - i * 9.87654321e-6,
            None if i % 3 else float(i % 50),
            f"2025-06-01T12:{i // 600:02d}:{i // 10 % 60:02d}.{i % 10:03d}Z",
            "2025-06-01T13:00:00.000Z",
        )
        for i in range(2345)
    ]
    tracks.write_fixes(rows)
    assert tracks.count() == len(rows)
    stored = list(tracks.fixes_between("2025-06-01T00:00:00.000Z", "2025-06-02T00:00:00.000Z"))
    assert sorted(stored, key=repr) == sorted(rows, key=repr)


def _track_rows() -> list[Fix]:
    def fix(unit: str, at: str, lat: float) -> Fix:
        return Fix(unit, lat, -71.0, None, f"2025-06-01T12:{at}Z", f"2025-06-01T12:{at}Z")

    return [
        fix("unit-00000b", "00:05.000", 1.0),
        fix("unit-00000a", "00:09.001", 2.0),
        fix("unit-00000a", "00:09.000", 3.0),
        fix("unit-00000a", "00:01.500", 4.0),
        fix("unit-00000b", "01:00.000", 5.0),
    ]


def test_track_store_yields_a_window_by_unit_then_time(backend: Backend) -> None:
    tracks: TrackStore = backend.tracks()
    rows = _track_rows()
    tracks.write_fixes(rows[:2])
    tracks.write_fixes(rows[2:])
    window = list(tracks.fixes_between("2025-06-01T12:00:01.500Z", "2025-06-01T12:01:00.000Z"))
    assert window == [rows[3], rows[2], rows[1], rows[0]]
    assert list(tracks.fixes_between("2025-06-01T12:00:09.001Z", "2025-06-01T12:00:09.002Z")) == [rows[1]]


def test_track_store_finds_each_units_fix_as_of_a_moment(backend: Backend) -> None:
    tracks: TrackStore = backend.tracks()
    rows = _track_rows()
    tracks.write_fixes(rows)
    ids = ["unit-00000a", "unit-00000b", "unit-00000c"]
    assert tracks.latest_at(ids, "2025-06-01T12:00:09.000Z") == {
        "unit-00000a": rows[2],
        "unit-00000b": rows[0],
    }
    assert tracks.latest_at(ids, "2025-06-01T12:00:01.000Z") == {}
    assert tracks.latest_at(ids, "2025-06-01T13:00:00.000Z") == {
        "unit-00000a": rows[1],
        "unit-00000b": rows[4],
    }


def test_track_store_purge_drops_only_older_fixes_and_keeps_latest_true(backend: Backend) -> None:
    tracks: TrackStore = backend.tracks()
    rows = _track_rows()
    tracks.write_fixes(rows)
    assert tracks.purge_before("2025-06-01T12:00:09.001Z") == 3
    assert tracks.count() == 2
    assert tracks.latest() == {"unit-00000a": rows[1], "unit-00000b": rows[4]}
    assert tracks.purge_before("2025-06-01T12:00:59.000Z") == 1
    assert tracks.latest() == {"unit-00000b": rows[4]}


def test_is_stale_after_stale_after_s(open_coordinator: OpenCoordinator, clock: Clock) -> None:
    service = open_coordinator(stale_after_s=30.0)
    fix = service.record_fix("unit-000001", 0.0, 0.0, None, START)
    assert service.is_stale(None)
    assert not service.is_stale(fix)
    assert not service.is_stale(fix, START + timedelta(seconds=30))
    assert service.is_stale(fix, START + timedelta(seconds=30.001))
    clock.advance(29)
    assert not service.is_stale(fix)
    clock.advance(2)
    assert service.is_stale(fix)


def test_unit_view_reports_staleness(open_coordinator: OpenCoordinator, clock: Clock) -> None:
    service = open_coordinator(stale_after_s=60.0)
    unit_id = register_unit(service)
    view = service.view("units", unit_id)
    assert view is not None
    assert (view["position"], view["stale"]) == (None, True)
    service.record_fix(unit_id, 1.0, 2.0, 10.0, START)
    assert service.view("units", unit_id)["stale"] is False  # type: ignore[index]
    clock.advance(61)
    assert service.view("units", unit_id)["stale"] is True  # type: ignore[index]
    assert service.snapshot()["stale_after_s"] == 60.0


# --- events on the wire --------------------------------------------------


def test_public_event_strips_credential_hashes(coordinator: Coordinator) -> None:
    token = "ab" * 32
    result = coordinator.execute(
        v.register_unit({"callsign": "MED-1", "kind": "medical_team"}, token_sha256=token), actor="ops"
    )
    (event,) = result.events
    assert event.payload["token_sha256"] == token
    public = event.public()
    assert "token_sha256" not in public["payload"]
    assert public["payload"]["callsign"] == "MED-1"
    assert set(public) == {"seq", "at", "actor", "type", "v", "payload"}
    assert token not in repr(public)
    assert "token_sha256" not in (coordinator.view("units", event.payload["id"]) or {})

    user = coordinator.execute(
        c.CreateUser(name="ops", role="operator", password_hash="$argon2id$x"), actor="cli"
    )
    (created,) = user.events
    assert user.body == {}
    assert created.public()["payload"] == {"name": "ops", "role": "operator"}
    api = coordinator.execute(
        c.CreateApiToken(name="bridge", role="supervisor", token_sha256="cd" * 32), actor="cli"
    )
    assert api.events[0].public()["payload"] == {"name": "bridge", "role": "supervisor"}


def test_stored_events_keep_hashes_so_a_reopened_service_can_check_them(
    open_coordinator: OpenCoordinator,
) -> None:
    first = open_coordinator()
    first.execute(c.CreateUser(name="ops", role="operator", password_hash="$argon2id$x"), actor="cli")
    unit_id = register_unit(first, "DE-4")
    second = open_coordinator()
    assert second.state.users["ops"].secret_hash == "$argon2id$x"
    assert second.state.unit_tokens[b"DE-4".hex()] == unit_id


# --- the SQLite event log ------------------------------------------------


def _append(log: EventLog, count: int) -> list[StoredEvent]:
    stored: list[StoredEvent] = []
    for i in range(count):
        stored += log.append(
            [NewEvent("Noted", {"i": i})], actor="t", at=iso(START), expected_seq=log.last_seq()
        )
    return stored


def test_read_after_pages_with_limit(backend: Backend) -> None:
    log = backend.log()
    try:
        written = _append(log, 7)
        assert log.read_after(0, limit=3) == written[0:3]
        assert log.read_after(3, limit=3) == written[3:6]
        assert log.read_after(6, limit=3) == written[6:7]
        assert log.read_after(7, limit=3) == []
        assert log.read_after(2) == written[2:]
        pages: list[StoredEvent] = []
        after = 0
        while page := log.read_after(after, limit=2):
            assert len(page) <= 2
            pages += page
            after = page[-1].seq
        assert pages == written
        assert [e.payload["i"] for e in pages] == list(range(7))
    finally:
        log.close()


def test_append_refuses_a_stale_expected_seq_and_writes_nothing(backend: Backend) -> None:
    log = backend.log()
    try:
        _append(log, 2)
        with pytest.raises(SequenceConflict):
            log.append([NewEvent("Noted", {"i": 99})], actor="t", at=iso(START), expected_seq=1)
        assert log.last_seq() == 2
        assert [e.payload["i"] for e in all_events(log)] == [0, 1]
    finally:
        log.close()


def test_append_of_a_batch_gets_contiguous_seqs_and_keeps_idempotency(backend: Backend) -> None:
    log = backend.log()
    try:
        stored = log.append(
            [NewEvent("A", {"n": 1}), NewEvent("B", {"n": 2})],
            actor="t",
            at=iso(START),
            expected_seq=0,
            idempotency=Idempotency("t\x1fk", 201, {"collection": "units", "id": "unit-000001"}),
        )
        assert [(e.seq, e.type) for e in stored] == [(1, "A"), (2, "B")]
        assert log.idempotent_response("t\x1fk") == Idempotency(
            "t\x1fk", 201, {"collection": "units", "id": "unit-000001"}
        )
        assert log.idempotent_response("other") is None
    finally:
        log.close()


def test_append_refuses_an_idempotency_key_already_used_and_writes_nothing(backend: Backend) -> None:
    log = backend.log()
    try:
        key = Idempotency("t\x1fk", 200, {"collection": None, "id": None})
        log.append([NewEvent("A", {})], actor="t", at=iso(START), expected_seq=0, idempotency=key)
        with pytest.raises(SequenceConflict):
            log.append([NewEvent("B", {})], actor="t", at=iso(START), expected_seq=1, idempotency=key)
        assert [e.type for e in all_events(log)] == ["A"]
    finally:
        log.close()


def test_new_entity_ids_are_valid_and_distinct() -> None:
    made = [
        new_entity_id(prefix) for prefix, _ in itertools.product(("dem", "unit", "inc", "asg"), range(50))
    ]
    assert len(set(made)) == len(made)
    for made_id in made:
        assert v.entity_id(made_id, "id") == made_id


# --- a retried request racing on two nodes ---------------------------------


class RacingClock(Clock):
    """A clock that lets another node run a command the first time it is read.

    The service reads its clock between deciding and appending, so this puts the
    other node's write exactly inside that window, as a real race would.
    """

    def __init__(self, race: Callable[[], object]) -> None:
        super().__init__()
        self._race: Callable[[], object] | None = race

    def __call__(self) -> datetime:
        race, self._race = self._race, None
        if race is not None:
            race()
        return super().__call__()


def test_same_key_racing_on_another_node_is_replayed_not_applied_twice(
    backend: Backend, open_coordinator: OpenCoordinator
) -> None:
    theirs = open_coordinator()
    command = v.create_demonstration({"name": "March", "lat": 41.88, "lon": -87.63})
    won: list[str] = []
    clock = RacingClock(
        lambda: won.append(theirs.execute(command, actor="bridge", idempotency_key="retry-7").body["id"])
    )
    ours = Coordinator(log=backend.log(), tracks=backend.tracks(), clock=clock)
    try:
        ours.load()
        result = ours.execute(command, actor="bridge", idempotency_key="retry-7")
        assert result.replayed
        assert result.body["id"] == won[0]
        assert [e.type for e in all_events(ours.log)] == [ev.DEMONSTRATION_CREATED]
        assert list(ours.state.demonstrations) == won
    finally:
        ours.log.close()
        ours.tracks.close()


def test_same_key_for_a_no_op_racing_on_another_node_is_replayed(
    backend: Backend, open_coordinator: OpenCoordinator
) -> None:
    theirs = open_coordinator()
    demo_id = create_demonstration(theirs)
    command = v.update_demonstration(demo_id, {"name": "March"})
    clock = RacingClock(lambda: theirs.execute(command, actor="bridge", idempotency_key="noop-7"))
    ours = Coordinator(log=backend.log(), tracks=backend.tracks(), clock=clock)
    try:
        ours.load()
        result = ours.execute(command, actor="bridge", idempotency_key="noop-7")
        assert result.replayed
        assert result.body["id"] == demo_id
        assert ours.log.last_seq() == 1
    finally:
        ours.log.close()
        ours.tracks.close()


def test_one_idempotency_key_on_two_kinds_of_command_is_two_requests(coordinator: Coordinator) -> None:
    demo = coordinator.execute(
        v.create_demonstration({"name": "Rally", "lat": 42.36, "lon": -71.06}),
        actor="ops",
        idempotency_key="k1",
    )
    incident = coordinator.execute(
        v.report_incident({"kind": "other", "lat": 42.36, "lon": -71.06}), actor="ops", idempotency_key="k1"
    )
    assert not incident.replayed
    assert demo.body["id"].startswith("dem-") and incident.body["id"].startswith("inc-")


def test_a_retry_on_a_node_behind_the_log_answers_with_the_entity(open_coordinator: OpenCoordinator) -> None:
    first_node, second_node = open_coordinator(), open_coordinator()
    command = v.create_demonstration({"name": "Vigil", "lat": 42.35, "lon": -71.06})
    created = first_node.execute(command, actor="bridge", idempotency_key="retry-1", success_status=201)
    # The second node has not read the log since: the retry must still answer with the entity.
    retried = second_node.execute(command, actor="bridge", idempotency_key="retry-1", success_status=201)
    assert retried.replayed and retried.status == 201
    assert retried.body == created.body
    assert second_node.log.last_seq() == 1


def test_a_fix_made_from_a_device_time_is_taken_when_its_text_says():
    at = datetime(2026, 12, 1, 7, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))
    fix = Fix.taken_at("unit-1", 42.36, -71.06, 5.0, at=at, received_at="2026-12-01T12:30:16.000Z")
    assert fix.at == "2026-12-01T12:30:15.123Z"
    assert fix.taken == parse_iso(fix.at)
