"""Settings, from flags and environment, in one place."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .geo.settings import GeoSettings
from .store.redis_streams import DEFAULT_PREFIX

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = "&copy; OpenStreetMap contributors"


class ConfigError(Exception):
    """A setting is missing or unusable; the message says which."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    secret_key: str
    # How often dashboards get a frame of coalesced fixes (events do not wait for it).
    frame_interval_s: float = 0.1
    # A fix older than this is shown as stale and not trusted for dispatch.
    stale_after_s: float = 120.0
    # An assignment still `dispatched` is sent to the unit again after this long.
    redeliver_after_s: float = 5.0
    max_payload_bytes: int = 64 * 1024
    # Engine.IO's heartbeat: a socket is pinged this often and dropped 20 s after an unanswered ping.
    ping_interval_s: float = 25.0
    tile_url: str = DEFAULT_TILE_URL
    tile_attribution: str = DEFAULT_TILE_ATTRIBUTION
    session_lifetime_s: int = 12 * 3600
    # Secure cookies need HTTPS; the demo on localhost runs without it.
    secure_cookies: bool = True
    demo: bool = False
    # Where rate-limit counters live: memory:// on one node, redis://host:port/db for several.
    rate_limit_storage: str = "memory://"
    # Position telemetry older than this many days is deleted hourly (None: keep all).
    retain_fixes_days: float | None = None
    geo: GeoSettings = field(default_factory=GeoSettings)
    # Several nodes: the shared log, tracks and Socket.IO message queue live in this Redis.
    redis_url: str | None = None
    # Every key of one operation starts with this, so operations can share a Redis.
    redis_prefix: str = DEFAULT_PREFIX
    # Names this node in the telemetry it shares; unique per process.
    node_id: str = field(default_factory=lambda: secrets.token_hex(6))
    # Reverse proxies in front that set X-Forwarded-For/-Proto; 0 trusts none (a client could forge them).
    trusted_proxies: int = 0
    # "threading" for `coordinator serve`; "gevent" under gunicorn's gevent worker.
    async_mode: str = "threading"


def read_secret_key(*, secret_key_file: str | None) -> str:
    """Return the secret key from a file or `COORDINATOR_SECRET_KEY`; refuse to guess one."""
    if secret_key_file:
        try:
            key = Path(secret_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read --secret-key-file: {exc}") from exc
    else:
        key = os.environ.get("COORDINATOR_SECRET_KEY", "").strip()
    if len(key) < 16:
        raise ConfigError(
            "a secret key of at least 16 characters is required: set COORDINATOR_SECRET_KEY "
            "or pass --secret-key-file (the demo makes its own)"
        )
    return key


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
