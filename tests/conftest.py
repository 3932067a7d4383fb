"""Shared fixtures: a real server process on a free port, with its data directory and a token."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

SECRET = "test-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a server or CLI under test: SQLite unless a test names a Redis."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "COORDINATOR_REDIS_PREFIX")}
    return {**env, "COORDINATOR_SECRET_KEY": SECRET, **extra}


def cli(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `coordinator` command line against a data directory (and a Redis in `env`)."""
    return subprocess.run(
        [sys.executable, "-m", "coordinator.cli", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=child_env(**(env or {})),
        timeout=60,
    )


def make_token(
    data_dir: Path, role: str = "operator", name: str = "tester", env: dict[str, str] | None = None
) -> str:
    result = cli(data_dir, "token", "create", "--role", role, "--name", name, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    """A `coordinator serve` process; restartable on the same data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    # Plain HTTP in tests needs a cookie without the Secure flag.
    insecure_cookies: bool = True
    # Extra environment, e.g. REDIS_URL and a key prefix for a node of several.
    env: dict[str, str] = field(default_factory=dict)
    # Run as in production: gunicorn with one gevent worker, instead of `coordinator serve`.
    gunicorn: bool = False
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.log_path = self.data_dir.parent / f"server-{self.port}-{time.monotonic_ns()}.log"
        log = self.log_path.open("wb")
        options = [*(["--insecure-cookies"] if self.insecure_cookies else []), "--tile-url", "none"]
        options += self.extra_args
        if self.gunicorn:
            command = [
                *(sys.executable, "-m", "gunicorn", "-c", "python:coordinator.gunicorn_conf"),
                *("--graceful-timeout", "3"),
                *("-b", f"127.0.0.1:{self.port}", "coordinator.wsgi:create()"),
            ]
            env = {"COORDINATOR_DATA_DIR": str(self.data_dir), "COORDINATOR_SERVE_ARGS": shlex.join(options)}
        else:
            command = [sys.executable, "-m", "coordinator.cli", "serve", "--port", str(self.port)]
            command += ["--data-dir", str(self.data_dir), *options]
            env = {}
        self.proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=child_env(**env, **self.env)
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # gunicorn accepts before its worker is up
                time.sleep(0.1)
        self.stop()  # never leave a half-started server behind
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Api:
    """A small JSON client with a bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.base + path, json=json, timeout=10, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.patch(self.base + path, json=json, timeout=10, **kw)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def operator_token(data_dir: Path) -> str:
    return make_token(data_dir, "operator", "ops")


@pytest.fixture
def server(data_dir: Path, operator_token: str) -> Iterator[Server]:
    srv = Server(data_dir).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server: Server, operator_token: str) -> Api:
    return Api(server.url, operator_token)


@dataclass
class RedisServer:
    """A private redis-server on a free port; restartable on the same port and files."""

    workdir: Path
    durable: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        # Durable: AOF with an fsync before every reply, as the docs advise for the event log.
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *persistence,
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: Redis gets no chance to write anything more."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL when set, else a private redis-server on a free port."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()
