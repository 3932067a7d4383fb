"""The `coordinator` command: serve, demo, user, token, unit and layers."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from .admin_cli import add_admin_commands, read_password
from .config import ConfigError, Settings, env_float, read_secret_key
from .domain import commands as c
from .domain import validation as v
from .domain.errors import DomainError
from .domain.model import ROLES, UNIT_KINDS
from .geo.layer_commands import add_layer_commands
from .reports.command import add_report_command
from .security import hash_password, new_token, token_digest
from .service import Coordinator
from .storage import open_service, redis_from_env
from .store.redis_streams import DEFAULT_PREFIX

DEFAULT_DATA_DIR = "coordinator-data"
CLI_ACTOR = "cli:" + (os.environ.get("USER") or "admin")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        result: int = args.run(args)
        return result
    except (ConfigError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coordinator", description="Live operations for an emergency operations center."
    )
    sub = parser.add_subparsers(title="commands")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--data-dir",
            default=os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR),
            help="where the event log lives (created if absent)",
        )
        return p

    serve = command(
        "serve", "Run one node: on the embedded SQLite default, or one of several over --redis-url."
    )
    _server_options(serve, default_port=8080)
    serve.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or None,
        help="share the log, tracks and live push with other nodes through this Redis "
        "(default: $REDIS_URL; unset: SQLite in --data-dir)",
    )
    serve.add_argument(
        "--redis-prefix",
        default=os.environ.get("COORDINATOR_REDIS_PREFIX") or DEFAULT_PREFIX,
        help=f"prefix of this operation's Redis keys (default {DEFAULT_PREFIX!r})",
    )
    serve.add_argument("--secret-key-file", help="file holding the session secret key")
    serve.add_argument(
        "--retain-fixes-days",
        type=float,
        default=None,
        help="delete position telemetry older than this many days, hourly (events stay)",
    )
    serve.set_defaults(run=_serve)

    demo = command("demo", "Run the server with a live Boston scenario and print a login.")
    _server_options(demo, default_port=8080)
    demo.set_defaults(run=_demo)

    user = sub.add_parser("user", help="Manage web logins.").add_subparsers(title="user commands")
    add = user.add_parser("add", help="Create a login for the web pages.")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of a prompt",
    )
    add.add_argument("--data-dir", default=os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR))
    add.set_defaults(run=_user_add)

    token = sub.add_parser("token", help="Manage API tokens.").add_subparsers(title="token commands")
    create = token.add_parser("create", help="Create an API token; it is the last line printed.")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True)
    create.add_argument("--data-dir", default=os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR))
    create.set_defaults(run=_token_create)

    unit = sub.add_parser("unit", help="Manage field units.").add_subparsers(title="unit commands")
    unit_add = unit.add_parser("add", help="Register a unit; its device token is the last line.")
    unit_add.add_argument("callsign")
    unit_add.add_argument("--kind", required=True, choices=UNIT_KINDS)
    unit_add.add_argument("--skill", action="append", default=[], help="e.g. lang:es (repeatable)")
    unit_add.add_argument("--data-dir", default=os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR))
    unit_add.set_defaults(run=_unit_add)

    add_layer_commands(sub, os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR))
    add_admin_commands(
        sub,
        tokens=token,
        users=user,
        units=unit,
        data_dir_default=os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR),
        offline_service=_offline_service,
        actor=CLI_ACTOR,
    )
    add_report_command(
        sub,
        data_dir_default=os.environ.get("COORDINATOR_DATA_DIR", DEFAULT_DATA_DIR),
        offline_service=_offline_service,
    )
    return parser


def _server_options(p: argparse.ArgumentParser, *, default_port: int) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=default_port)
    p.add_argument(
        "--frame-interval",
        type=float,
        default=env_float("COORDINATOR_FRAME_INTERVAL", 0.1),
        help="seconds between dashboard frames of positions (default 0.1)",
    )
    p.add_argument(
        "--stale-after",
        type=float,
        default=env_float("COORDINATOR_STALE_AFTER", 120.0),
        help="seconds after which a unit's last fix counts as stale (default 120)",
    )
    p.add_argument(
        "--ping-interval",
        type=float,
        default=env_float("COORDINATOR_PING_INTERVAL", 25.0),
        help="seconds between heartbeat pings to each socket; one silent 20 s past a ping is "
        "dropped (default 25)",
    )
    p.add_argument(
        "--tile-url",
        default=os.environ.get("COORDINATOR_TILE_URL"),
        help="base map tile URL template; 'none' for no base map",
    )
    p.add_argument(
        "--rate-limit-storage",
        default=os.environ.get("COORDINATOR_RATE_LIMIT_STORAGE") or None,
        help="where rate-limit counters live: memory:// or redis://host:port/db "
        "(default: the --redis-url Redis when set, else memory://)",
    )
    p.add_argument(
        "--session-lifetime",
        type=float,
        default=env_float("COORDINATOR_SESSION_LIFETIME", 12 * 3600),
        help="seconds a dashboard sign-in lasts (default 12 hours)",
    )
    p.add_argument(
        "--trusted-proxies",
        type=int,
        default=int(env_float("COORDINATOR_TRUSTED_PROXIES", 0)),
        help="how many reverse proxies in front set X-Forwarded-For/-Proto (default 0: none trusted)",
    )
    p.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="allow the session cookie over plain HTTP (behind no TLS proxy)",
    )


def _offline_service(data_dir: str) -> Coordinator:
    """Open the operation's store for one command: Redis when REDIS_URL is set, else SQLite."""
    redis_url, prefix = redis_from_env()
    return open_service(Path(data_dir), redis_url=redis_url, redis_prefix=prefix)


def _user_add(args: argparse.Namespace) -> int:
    name = v.account_name(args.name)
    password = read_password(prompt=f"Password for {name}: ", from_stdin=args.password_stdin)
    service = _offline_service(args.data_dir)
    service.execute(c.CreateUser(name, args.role, hash_password(password)), actor=CLI_ACTOR)
    print(f"user {name} created with role {args.role}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    name = v.account_name(args.name)
    token = new_token()
    service = _offline_service(args.data_dir)
    service.execute(c.CreateApiToken(name, args.role, token_digest(token)), actor=CLI_ACTOR)
    print(f"API token '{name}' with role {args.role}; it is shown only now:")
    print(token)
    return 0


def _unit_add(args: argparse.Namespace) -> int:
    token = new_token()
    command = v.register_unit(
        {"callsign": args.callsign, "kind": args.kind, "skills": args.skill},
        token_sha256=token_digest(token),
    )
    service = _offline_service(args.data_dir)
    result = service.execute(command, actor=CLI_ACTOR)
    print(f"unit {result.body['id']} ({args.callsign}); device token, shown only now:")
    print(token)
    return 0


def _settings(args: argparse.Namespace, *, secret_key: str, demo: bool) -> Settings:
    extra: dict[str, Any] = {}
    if args.tile_url:
        extra["tile_url"] = "" if args.tile_url == "none" else args.tile_url
    redis_url = getattr(args, "redis_url", None)
    if redis_url:
        extra["redis_url"] = redis_url
        extra["redis_prefix"] = args.redis_prefix
    if not 1 <= args.ping_interval <= 300:
        raise ConfigError(f"--ping-interval must be 1 to 300 seconds, got {args.ping_interval:g}")
    return Settings(
        data_dir=Path(args.data_dir),
        secret_key=secret_key,
        frame_interval_s=args.frame_interval,
        stale_after_s=args.stale_after,
        ping_interval_s=args.ping_interval,
        secure_cookies=not (args.insecure_cookies or demo),
        demo=demo,
        retain_fixes_days=getattr(args, "retain_fixes_days", None),
        session_lifetime_s=int(args.session_lifetime),
        trusted_proxies=max(0, args.trusted_proxies),
        rate_limit_storage=args.rate_limit_storage or redis_url or "memory://",
        **extra,
    )


def _serve(args: argparse.Namespace) -> int:
    _run_server(_serve_settings(args), args.host, args.port)
    return 0


def _serve_settings(args: argparse.Namespace) -> Settings:
    return _settings(args, secret_key=read_secret_key(secret_key_file=args.secret_key_file), demo=False)


def serve_settings(argv: list[str]) -> Settings:
    """Return the settings `coordinator serve` would run with, given its options."""
    args = _parser().parse_args(["serve", *argv])
    return _serve_settings(args)


def _demo(args: argparse.Namespace) -> int:
    from .demo import prepare_demo, start_simulator

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "demo-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        key_file.chmod(0o600)
    settings = _settings(args, secret_key=key_file.read_text(encoding="utf-8").strip(), demo=True)
    login = prepare_demo(settings)
    url = f"http://{'localhost' if args.host in ('127.0.0.1', '0.0.0.0') else args.host}:{args.port}/"
    print(f"Coordinator demo running at {url}", flush=True)
    print(f"Sign in as '{login[0]}' with password '{login[1]}'", flush=True)
    print(f"Field tablet: {url}field (device tokens in {data_dir / 'demo-units.txt'})", flush=True)
    _run_server(settings, args.host, args.port, on_start=start_simulator)
    return 0


def _run_server(settings: Settings, host: str, port: int, on_start: Any = None) -> None:
    from .app import create_app, socketio_of, start_live

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings)
    hub = start_live(app)
    if on_start is not None:
        on_start(app)

    def stop(signum: int, _frame: Any) -> None:
        # Write buffered fixes before leaving; events are on disk already.
        hub.stop()
        app.extensions["coordinator"].flush_fixes()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"serving on http://{host}:{port}/ (data in {settings.data_dir})", flush=True)
    socketio_of(app).run(
        app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False
    )


if __name__ == "__main__":
    raise SystemExit(main())
