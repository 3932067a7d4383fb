"""Credential and audit commands: `token revoke`, `unit revoke`, `unit token`, `audit`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from .domain import commands as c
from .domain import validation as v
from .domain.errors import ValidationError
from .domain.events import StoredEvent
from .domain.timefmt import parse_iso
from .security import hash_password, new_token, token_digest
from .service import Coordinator

OfflineService = Callable[[str], Coordinator]


def add_admin_commands(
    sub: Any,
    *,
    tokens: Any,
    units: Any,
    users: Any,
    data_dir_default: str,
    offline_service: OfflineService,
    actor: str,
) -> None:
    """Attach the commands: `tokens` and `units` are the sub-parsers of `token` and `unit`."""

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", default=data_dir_default)
        return p

    revoke = with_data_dir(tokens.add_parser("revoke", help="Revoke every API token with this name."))
    revoke.add_argument("name")
    revoke.set_defaults(run=lambda a: _token_revoke(a, offline_service, actor))

    disable = with_data_dir(users.add_parser("disable", help="Disable a login; its sessions end at once."))
    disable.add_argument("name")
    disable.set_defaults(run=lambda a: _user_disable(a, offline_service, actor))
    password = with_data_dir(users.add_parser("password", help="Set a new password for a login."))
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read it from standard input")
    password.set_defaults(run=lambda a: _user_password(a, offline_service, actor))

    unit_revoke = with_data_dir(units.add_parser("revoke", help="Revoke a unit's device tokens."))
    unit_revoke.add_argument("unit_id")
    unit_revoke.set_defaults(run=lambda a: _unit_revoke(a, offline_service, actor))
    reissue = with_data_dir(
        units.add_parser("token", help="Issue a new device token for a unit (last line).")
    )
    reissue.add_argument("unit_id")
    reissue.set_defaults(run=lambda a: _unit_token(a, offline_service, actor))

    retention = with_data_dir(
        sub.add_parser("retention", help="Delete position telemetry older than N days (events stay).")
    )
    retention.add_argument("--days", type=float, required=True)
    retention.set_defaults(run=lambda a: _retention(a, offline_service))

    audit = with_data_dir(sub.add_parser("audit", help="List what an account did, from the event log."))
    audit.add_argument(
        "--actor", required=True, help="e.g. alice, user:alice, token:cad-bridge, a unit callsign"
    )
    audit.add_argument("--from", dest="start", help="ISO 8601 time (inclusive)")
    audit.add_argument("--to", dest="end", help="ISO 8601 time (exclusive)")
    audit.add_argument("--json", action="store_true", help="one JSON event per line")
    audit.set_defaults(run=lambda a: _audit(a, offline_service))


def _user_disable(args: argparse.Namespace, offline: OfflineService, actor: str) -> int:
    name = v.account_name(args.name)
    offline(args.data_dir).execute(c.DisableUser(name), actor=actor)
    print(f"user {name} disabled; signed-in sessions end within a second")
    return 0


MIN_PASSWORD = 8


def read_password(*, prompt: str, from_stdin: bool) -> str:
    """Read a password from standard input or a prompt that does not echo; refuse a short one."""
    secret = sys.stdin.readline().rstrip("\n") if from_stdin else getpass.getpass(prompt)
    if len(secret) < MIN_PASSWORD:
        raise ValidationError(f"the password needs at least {MIN_PASSWORD} characters", field="password")
    return secret


def _user_password(args: argparse.Namespace, offline: OfflineService, actor: str) -> int:
    name = v.account_name(args.name)
    secret = read_password(prompt=f"New password for {name}: ", from_stdin=args.password_stdin)
    offline(args.data_dir).execute(c.ChangePassword(name, hash_password(secret)), actor=actor)
    print(f"password of {name} changed")
    return 0


def _token_revoke(args: argparse.Namespace, offline: OfflineService, actor: str) -> int:
    name = v.account_name(args.name)
    offline(args.data_dir).execute(c.RevokeApiToken(name), actor=actor)
    print(f"API token '{name}' revoked; its connections are closed within a second")
    return 0


def _unit_revoke(args: argparse.Namespace, offline: OfflineService, actor: str) -> int:
    unit_id = v.entity_id(args.unit_id, "unit_id")
    offline(args.data_dir).execute(c.RevokeUnitToken(unit_id), actor=actor)
    print(f"device tokens of {unit_id} revoked; its tablet is disconnected within a second")
    return 0


def _unit_token(args: argparse.Namespace, offline: OfflineService, actor: str) -> int:
    unit_id = v.entity_id(args.unit_id, "unit_id")
    token = new_token()
    offline(args.data_dir).execute(c.IssueUnitToken(unit_id, token_digest(token)), actor=actor)
    print(f"new device token for {unit_id}; shown only now:")
    print(token)
    return 0


def _retention(args: argparse.Namespace, offline: OfflineService) -> int:
    if args.days <= 0:
        raise ValidationError("--days must be more than 0", field="days")
    removed = offline(args.data_dir).purge_fixes(older_than_days=args.days)
    print(f"{removed} position fix(es) older than {args.days:g} days deleted; events are kept")
    return 0


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value if any(ch in value[10:] for ch in "Z+-") else value + "Z")
    except ValueError:
        raise ValidationError(f"--{name} must be an ISO 8601 time", field=name) from None


def matches_actor(label: str, wanted: str, callsigns: dict[str, str]) -> bool:
    """Match `user:alice` by `user:alice` or `alice`; a unit also by its callsign."""
    kind, _, name = label.partition(":")
    return wanted in (label, name) or (kind == "unit" and callsigns.get(name) == wanted)


def audit_events(
    service: Coordinator, *, actor: str, start: datetime | None, end: datetime | None
) -> Iterator[StoredEvent]:
    """Yield the events an actor appended within [start, end), in log order."""
    callsigns = {u.id: u.callsign for u in service.state.units.values()}
    cursor = 0
    while batch := service.log.read_after(cursor, limit=5000):
        for event in batch:
            at = parse_iso(event.at)
            if (start and at < start) or (end and at >= end):
                continue
            if matches_actor(event.actor, actor, callsigns):
                yield event
        cursor = batch[-1].seq


def _audit(args: argparse.Namespace, offline: OfflineService) -> int:
    service = offline(args.data_dir)
    start, end = _time(args.start, "from"), _time(args.end, "to")
    count = 0
    for event in audit_events(service, actor=args.actor, start=start, end=end):
        count += 1
        view = event.public()
        if args.json:
            print(json.dumps(view, sort_keys=True))
        else:
            payload = json.dumps(view["payload"])
            print(f"{view['seq']:>7}  {view['at']}  {view['actor']:<28} {view['type']:<26} {payload}")
    if not args.json:
        print(f"{count} event(s)")
    return 0
