"""Revoking credentials and listing what an account did, on a real SQLite log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.actors import actor_for_token
from coordinator.admin_cli import audit_events, matches_actor
from coordinator.domain import commands as c
from coordinator.domain import validation as v
from coordinator.domain.errors import NotFound, Unauthorized
from coordinator.security import token_digest
from coordinator.service import Coordinator
from coordinator.store.sqlite import SqliteEventLog, SqliteTrackStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path: Path, clock: Clock) -> Iterator[Coordinator]:
    path = tmp_path / "coordinator.sqlite3"
    svc = Coordinator(log=SqliteEventLog(path), tracks=SqliteTrackStore(path), clock=clock)
    svc.load()
    yield svc
    svc.log.close()
    svc.tracks.close()


def _unit(service: Coordinator, token: str, callsign: str = "MED-1") -> str:
    command = v.register_unit(
        {"callsign": callsign, "kind": "medical_team"}, token_sha256=token_digest(token)
    )
    unit_id: str = service.execute(command, actor="user:ops").body["id"]
    return unit_id


def test_a_revoked_api_token_is_refused_and_others_keep_working(service: Coordinator) -> None:
    service.execute(c.CreateApiToken("bridge", "supervisor", token_digest("t-bridge")), actor="cli:admin")
    service.execute(c.CreateApiToken("wall", "viewer", token_digest("t-wall")), actor="cli:admin")
    assert actor_for_token(service.state, "t-bridge").role == "supervisor"
    service.execute(c.RevokeApiToken("bridge"), actor="cli:admin")
    with pytest.raises(Unauthorized):
        actor_for_token(service.state, "t-bridge")
    assert actor_for_token(service.state, "t-wall").name == "wall"


def test_revoking_an_unknown_or_already_revoked_token_name_is_refused(service: Coordinator) -> None:
    with pytest.raises(NotFound) as missing:
        service.execute(c.RevokeApiToken("nobody"), actor="cli:admin")
    assert missing.value.field == "name"
    service.execute(c.CreateApiToken("once", "viewer", token_digest("t-once")), actor="cli:admin")
    service.execute(c.RevokeApiToken("once"), actor="cli:admin")
    with pytest.raises(NotFound):
        service.execute(c.RevokeApiToken("once"), actor="cli:admin")


def test_a_unit_token_revoked_then_reissued_lets_only_the_new_token_in(service: Coordinator) -> None:
    unit_id = _unit(service, "old-device")
    assert actor_for_token(service.state, "old-device").unit_id == unit_id
    service.execute(c.RevokeUnitToken(unit_id), actor="cli:admin")
    with pytest.raises(Unauthorized):
        actor_for_token(service.state, "old-device")
    service.execute(c.IssueUnitToken(unit_id, token_digest("new-device")), actor="cli:admin")
    assert actor_for_token(service.state, "new-device").unit_id == unit_id
    with pytest.raises(Unauthorized):
        actor_for_token(service.state, "old-device")


def test_revocation_survives_a_rebuild_of_the_projection(tmp_path: Path, service: Coordinator) -> None:
    unit_id = _unit(service, "device")
    service.execute(c.RevokeUnitToken(unit_id), actor="cli:admin")
    path = tmp_path / "coordinator.sqlite3"
    again = Coordinator(log=SqliteEventLog(path), tracks=SqliteTrackStore(path))
    again.load()
    with pytest.raises(Unauthorized):
        actor_for_token(again.state, "device")


def test_audit_lists_only_the_actors_events_within_the_window(service: Coordinator, clock: Clock) -> None:
    unit_id = _unit(service, "device")
    start = clock.now
    for hour in range(3):
        clock.now = start + timedelta(hours=hour)
        service.execute(
            v.create_demonstration({"name": f"Rally {hour}", "lat": 42.36, "lon": -71.06}), actor="user:alice"
        )
        service.execute(
            v.create_demonstration({"name": f"Other {hour}", "lat": 42.36, "lon": -71.06}), actor="user:bob"
        )
    body = {"kind": "injury", "triage": "minor", "lat": 42.36, "lon": -71.06}
    service.execute(v.report_incident(body), actor=f"unit:{unit_id}")

    window = list(
        audit_events(service, actor="alice", start=start + timedelta(hours=1), end=start + timedelta(hours=3))
    )
    assert [e.payload["name"] for e in window] == ["Rally 1", "Rally 2"]
    assert all(e.actor == "user:alice" for e in window)
    everything = list(audit_events(service, actor="user:alice", start=None, end=None))
    assert len(everything) == 3
    by_callsign = list(audit_events(service, actor="MED-1", start=None, end=None))
    assert [e.type for e in by_callsign] == ["IncidentReported"]


def test_actor_matching_is_exact_not_a_substring() -> None:
    assert matches_actor("user:alice", "alice", {})
    assert matches_actor("user:alice", "user:alice", {})
    assert not matches_actor("user:alice", "ali", {})
    assert not matches_actor("user:malice", "alice", {})
    assert matches_actor("unit:unit-abc123", "DE-1", {"unit-abc123": "DE-1"})
    assert not matches_actor("token:DE-1", "DE-2", {"unit-abc123": "DE-1"})


def test_retention_purges_old_position_telemetry_but_keeps_events(service: Coordinator, clock: Clock) -> None:
    unit_id = _unit(service, "device")
    service.min_fix_interval_s = 0.0
    for days_ago in (40, 31, 29, 1):
        service.record_fix(unit_id, 42.36, -71.06, 5.0, clock.now - timedelta(days=days_ago))
    service.flush_fixes()
    events_before = service.log.last_seq()
    assert service.purge_fixes(older_than_days=30) == 2
    assert service.tracks.count() == 2
    assert service.log.last_seq() == events_before
    assert service.purge_fixes(older_than_days=30) == 0


def test_a_disabled_user_is_refused_and_a_changed_password_replaces_the_old(service: Coordinator) -> None:
    from coordinator.actors import Actor, actor_for_user
    from coordinator.domain.events import StoredEvent
    from coordinator.live.hub import _revoked_by
    from coordinator.security import hash_password, verify_password

    service.execute(c.CreateUser("ann", "operator", hash_password("first-pass-1")), actor="cli:admin")
    service.execute(c.ChangePassword("ann", hash_password("second-pass-2")), actor="cli:admin")
    stored = service.state.users["ann"].secret_hash
    assert verify_password(stored, "second-pass-2") and not verify_password(stored, "first-pass-1")
    result = service.execute(c.DisableUser("ann"), actor="cli:admin")
    with pytest.raises(Unauthorized):
        actor_for_user(service.state, "ann")
    with pytest.raises(NotFound):
        service.execute(c.DisableUser("ann"), actor="cli:admin")
    (event,) = result.events
    assert _revoked_by(event, Actor("user", "ann", role="operator"))
    assert not _revoked_by(event, Actor("user", "bob", role="operator"))
    assert not _revoked_by(event, Actor("token", "ann", role="operator"))
    revoke = StoredEvent(
        99, "2026-01-01T00:00:00.000Z", "cli:admin", "UnitTokenRevoked", {"unit_id": "unit-000001"}
    )
    assert _revoked_by(revoke, Actor("unit", "MED-1", unit_id="unit-000001"))
