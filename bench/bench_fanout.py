"""Fix-to-dashboard latency under load: the coordinator's coalesced frames against a naive broadcast.

Run from the repository root: `python bench/bench_fanout.py` (`--smoke` for a tiny run).

A load generator of Socket.IO clients in separate processes: U units, each sending
`position` {lat, lon, accuracy_m, at} every 2 s (staggered), where `at` is the ISO time of
sending with milliseconds, and D dashboards that `sync` and then time every position they
receive (latency = receive time - fix `at`, same machine clock). Units and dashboards are
bench/lean_client.py: the Socket.IO protocol over a real WebSocket, with what a dashboard
receives kept raw and decoded after the run, because on a shared machine the generator's
CPU is the server's loss (with python-socketio's client, 5,000 units and 50 dashboards
took all of the second core and more; this one takes about a third of a core). The same generator drives
the coordinator (one `frame` per tick) and bench/naive_server.py (one emit per fix to every
dashboard), both under gunicorn with one gevent worker (`--server serve`: both on Werkzeug
threads). Design load U=1000, D=50 first, then each server up a ramp of U until p99 > 1 s,
delivery < 95 % or clients cannot connect (down it by halving when the design load already
fails), then two bisections between the last load held and the first that failed. A step
whose p99 lies between half the limit and twice it is run again, up to three times, and the
majority decides (`--send-every S` changes the 2 s, for a load in fixes per second past
what one process can hold in sockets). Prints a table and, last, one JSON line with the
figures.

A sent fix counts as delivered to a dashboard when that dashboard saw it, as superseded when
it did not but saw the unit's next fix (coalesced within one frame), else as missing. The
coordinator's `/healthz` is read every 2 s of the measured window: the most fixes it held
for its telemetry write is the "waiting" column. An idle probe process wakes every 10 ms
through the window: the "stall" column is how late it woke at worst, the machine's own
pauses, which no server can hide.

Under the design load on the coordinator, R extra crews (default 20) answer dispatches: every
0.5 s the operator dispatches the next crew to a new incident; its tablet answers `received`
and an `acknowledged` action at once; the round trip is the time from the dispatch request
to the acknowledgement arriving on each dashboard (p99 target: 250 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-fanout-secret-0123456789abcdef"
SEND_EVERY_S = 2.0
DRAIN_S = 3.0
UNITS_PER_WORKER = 1000
DASHBOARDS_PER_WORKER = 25
CONNECT_CONCURRENCY = 25
LAT0, LON0 = 42.355, -71.065
P99_LIMIT_MS = 1000.0
DELIVERY_LIMIT = 0.95
# Bisections between the highest load held and the lowest that failed, going down the ramp.
REFINE_STEPS = 2
# A ramp step whose p99 lies within this factor of the limit, either side, is run again, up to
# three times, and the majority decides: near its limit a server's p99 swings from window to
# window, and one bad or lucky window should not set the figure.
MARGIN = 2.0
TRIES = 3


# --- helpers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso_ms_now() -> tuple[str, int]:
    """The ISO time of now with milliseconds, and the same instant in epoch milliseconds."""
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return now.isoformat(timespec="milliseconds"), round(now.timestamp() * 1000)


def at_ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB and the thread count, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


@dataclass
class ServerProcess:
    """A server child process on a free port; the benchmark reads its CPU and memory."""

    kind: str  # "ours" or "naive"
    data_dir: Path
    # Ours as `coordinator serve` (Werkzeug, a thread per socket) or as in production:
    # gunicorn with one gevent worker (one process either way).
    server: str = "serve"
    # More environment for the server, e.g. REDIS_URL and COORDINATOR_REDIS_PREFIX for a node of several.
    env: dict[str, str] = field(default_factory=dict)
    # More `coordinator serve` options for ours, e.g. ["--frame-interval", "0.1"].
    serve_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "COORDINATOR_SECRET_KEY": SECRET, **self.env}
        # Both servers run on the same stack, so the comparison is of the fan-out alone.
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:coordinator.gunicorn_conf"]
        gunicorn += ["--graceful-timeout", "3", "-b", f"127.0.0.1:{self.port}"]
        if self.kind == "ours" and self.server == "gunicorn":
            cmd = [*gunicorn, "coordinator.wsgi:create()"]
            env["COORDINATOR_DATA_DIR"] = str(self.data_dir)
            env["COORDINATOR_SERVE_ARGS"] = " ".join(
                ["--insecure-cookies", "--tile-url", "none", *self.serve_args]
            )
        elif self.kind == "ours":
            cmd = [sys.executable, "-m", "coordinator.cli", "serve", "--port", str(self.port)]
            cmd += ["--data-dir", str(self.data_dir), "--insecure-cookies", "--tile-url", "none"]
            cmd += self.serve_args
        elif self.server == "gunicorn":
            cmd = [*gunicorn, "--chdir", str(ROOT / "bench"), "naive_server:app"]
            env["NAIVE_ASYNC_MODE"] = "gevent"
        else:
            cmd = [sys.executable, str(ROOT / "bench" / "naive_server.py"), "--port", str(self.port)]
        log = (self.data_dir.parent / f"{self.kind}-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited early, see {log.name}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server did not start")

    @property
    def serving_pid(self) -> int:
        """The process that serves: gunicorn's worker, else the server process itself."""
        assert self.proc is not None
        if self.server != "gunicorn":
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0]) if children else self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def coordinator_cli(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> str:
    """Run the `coordinator` command line (with more environment, e.g. a Redis); return its last line."""
    done = subprocess.run(
        [sys.executable, "-m", "coordinator.cli", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COORDINATOR_SECRET_KEY": SECRET, **(env or {})},
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1]


def ensure_units(url: str, token: str, wanted: int, units: list[tuple[str, str]]) -> None:
    """Register units through the API until `units` holds `wanted` (id, device token) pairs."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def create(i: int) -> tuple[str, str]:
        answer = session.post(
            f"{url}/api/units", json={"callsign": f"BENCH-{i}", "kind": "medical_team"}, timeout=30
        )
        answer.raise_for_status()
        body = answer.json()
        return str(body["id"]), str(body["token"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        units.extend(pool.map(create, range(len(units), wanted)))


def register_crews(url: str, token: str, count: int) -> list[tuple[str, str]]:
    """Register the crews of the round-trip measurement (not among the U units)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    crews = []
    for i in range(count):
        body = {"callsign": f"CREW-{i}", "kind": "medical_team"}
        answer = session.post(f"{url}/api/units", json=body, timeout=30)
        answer.raise_for_status()
        crews.append((str(answer.json()["id"]), str(answer.json()["token"])))
    return crews


# --- the load generator (child processes) ----------------------------------------------


@dataclass
class Clock:
    """Shared between the parent and its workers: when to start, measure and stop."""

    go: Any  # mp.Event
    times: Any  # mp.Array("d", [t0, measure_from, send_until])


async def _gated(auths: list[dict[str, str]], connect: Any) -> tuple[list[Any], int]:
    """Run `connect(auth)` for each auth, a few at a time; the list keeps None where one failed."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    failed = 0

    async def one(auth: dict[str, str]) -> Any:
        nonlocal failed
        async with gate:
            try:
                return await connect(auth)
            except Exception:
                failed += 1
                return None

    clients = await asyncio.gather(*(one(a) for a in auths))
    return list(clients), failed


async def _connect_all(
    url: str, auths: list[dict[str, str]], make: Any, timeout_s: float
) -> tuple[list[Any], int]:
    """python-socketio clients, one per auth, each set up by `make` before it connects."""
    import socketio

    async def connect(auth: dict[str, str]) -> Any:
        sio = socketio.AsyncClient(reconnection=False)
        make(sio)
        await sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=timeout_s)
        return sio

    return await _gated(auths, connect)


async def _connect_lean(
    url: str, auths: list[dict[str, str]], *, keep: bool, timeout_s: float, on_close: Any
) -> tuple[Any, list[Any], int]:
    """Lean clients, one per auth, on one HTTP session (returned, for closing)."""
    import lean_client

    http = lean_client.session()

    async def connect(auth: dict[str, str]) -> Any:
        client = lean_client.LeanClient(http, keep=keep)
        client.on_close = on_close
        await client.connect(url, auth, timeout_s)
        return client

    clients, failed = await _gated(auths, connect)
    return http, clients, failed


async def _wait_go(clock: Clock) -> tuple[float, float, float]:
    # The generator must not stall its own clients: no garbage-collector passes during the
    # load (a worker lives for one run; what it holds is freed when it exits).
    gc.collect()
    gc.freeze()
    gc.disable()
    while not clock.go.is_set():
        await asyncio.sleep(0.05)
    t0, measure_from, send_until = clock.times[:]
    return t0, measure_from, send_until


def unit_worker(
    *,
    url: str,
    units: list[tuple[str, str]],
    first: int,
    total: int,
    clock: Clock,
    out: Any,
    idx: int,
    every_s: float = SEND_EVERY_S,
) -> None:
    async def run() -> None:
        disconnects = 0

        def closed() -> None:
            nonlocal disconnects
            disconnects += 1

        started = time.monotonic()
        auths = [{"token": token} for _uid, token in units]
        http, clients, failed = await _connect_lean(url, auths, keep=False, timeout_s=60.0, on_close=closed)
        out.put(("ready", "units", idx, len(clients) - failed, failed, time.monotonic() - started))
        t0, _measure_from, send_until = await _wait_go(clock)
        rng = random.Random(idx)
        # One loop sends every unit's fix when it is due (staggered over the 2 s by the
        # unit's place among all units): cheaper than a sleeping task per unit.
        slots = [
            [client, uid, t0 + every_s * (first + i) / total, []]
            for i, ((uid, _tok), client) in enumerate(zip(units, clients, strict=True))
            if client is not None
        ]
        where = {
            uid: [LAT0 + rng.uniform(-0.02, 0.02), LON0 + rng.uniform(-0.02, 0.02)]
            for _c, uid, _d, _s in slots
        }
        errors = 0
        cycle, done = 0, not slots
        while not done:
            for client, uid, offset, times in slots:
                due = offset + cycle * every_s
                if due >= send_until:
                    done = True
                    break
                delay = due - time.time()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                at = where[uid]
                at[0] += rng.uniform(-1e-4, 1e-4)
                at[1] += rng.uniform(-1e-4, 1e-4)
                text, ms = iso_ms_now()
                try:
                    await client.emit("position", {"lat": at[0], "lon": at[1], "accuracy_m": 8.0, "at": text})
                    times.append(ms)
                except Exception:
                    errors += 1
            cycle += 1
        sent = {uid: times for _c, uid, _d, times in slots}
        out.put(("result", "units", idx, {"sent": sent, "errors": errors, "disconnects": disconnects}))
        for client in clients:
            if client is not None:
                client.on_close = None
                await client.close()
        await http.close()

    asyncio.run(run())
    out.close()
    out.join_thread()
    os._exit(0)


def stall_probe(*, clock: Clock, out: Any, idx: int) -> None:
    """An idle process waking every 10 ms through the measured window, noting how late it woke.

    On two cores the load's own runnable processes delay it by milliseconds; a wake-up
    hundreds of ms late means the machine itself stalled (another tenant, the host), and a
    server's p99 in that window says little about the server.
    """
    while not clock.go.is_set():
        time.sleep(0.05)
    _t0, measure_from, until = clock.times[:]
    time.sleep(max(0.0, measure_from - time.time()))
    worst, late = 0.0, []
    while time.time() < until:
        before = time.monotonic()
        time.sleep(0.01)
        lag = time.monotonic() - before - 0.01
        worst = max(worst, lag)
        if lag > 0.1:
            late.append(round(lag * 1000))
    out.put(("result", "probe", idx, {"worst_ms": round(worst * 1000, 1), "late_ms": late}))
    out.close()
    out.join_thread()


def dashboard_worker(
    *, url: str, auth: dict[str, str], count: int, naive: bool, clock: Clock, out: Any, idx: int
) -> None:
    async def run() -> None:
        disconnects = 0

        def closed() -> None:
            nonlocal disconnects
            disconnects += 1

        started = time.monotonic()
        # Each client keeps what it receives, raw, with the receive time; it is decoded and
        # timed after the load, so the generator takes less CPU from the server.
        http, connected, failed = await _connect_lean(
            url, [auth] * count, keep=True, timeout_s=60.0, on_close=closed
        )
        clients = [c for c in connected if c is not None]
        synced = 0
        for client in clients:
            answer = await client.call("sync", {}, timeout_s=60)
            synced += bool(answer and answer.get("ok"))
        out.put(
            ("ready", "dashboards", idx, synced, failed + len(clients) - synced, time.monotonic() - started)
        )
        _t0, measure_from, send_until = await _wait_go(clock)
        await asyncio.sleep(max(0.0, send_until + DRAIN_S - time.time()))
        for client in clients:
            client.on_close = None
            await client.close()
        await http.close()
        results = [timings(client.received, measure_from * 1000, naive=naive) for client in clients]
        out.put(("result", "dashboards", idx, {"boards": results, "disconnects": disconnects}))

    asyncio.run(run())
    out.close()
    out.join_thread()
    os._exit(0)


def timings(received: list[tuple[float, str]], measure_from_ms: float, *, naive: bool) -> dict[str, Any]:
    """A dashboard's received fixes per unit (their `at` in ms), latencies in the window, acks."""
    from lean_client import decode

    recv: dict[str, list[int]] = defaultdict(list)
    lat: list[float] = []
    # Ours only: the part before the frame was built (the fix's `at` to the frame's `at`).
    in_server: list[float] = []
    acks: dict[str, float] = {}
    parsed: dict[str, int] = {}
    for now_ms, text in received:
        event, message = decode(text)
        if naive and event == "position":
            built_ms, positions = None, {message["unit_id"]: message}
        elif not naive and event == "frame":
            built_ms, positions = at_ms(message["at"]), message["positions"]
            for item in message["events"]:
                if item["type"] == "AssignmentAcknowledged":
                    acks.setdefault(item["payload"]["id"], now_ms)
        else:
            continue
        for unit_id, fix in positions.items():
            fix_at = fix["at"]
            ms = parsed.get(fix_at)
            if ms is None:
                ms = parsed[fix_at] = at_ms(fix_at)
            recv[unit_id].append(ms)
            if ms >= measure_from_ms:
                lat.append(now_ms - ms)
                if built_ms is not None:
                    in_server.append(built_ms - ms)
    return {
        "recv": dict(recv),
        "lat": np.asarray(lat, dtype=np.float32),
        "in_server": np.asarray(in_server, dtype=np.float32),
        "messages": len(received),
        "acks": acks,
    }


def responder_worker(*, url: str, units: list[tuple[str, str]], clock: Clock, out: Any, idx: int) -> None:
    """Crews that answer every dispatch at once: `received`, then an `acknowledged` action."""

    async def run() -> None:
        received: dict[str, float] = {}

        def make(sio: Any) -> None:
            @sio.on("assignment")
            async def assignment(message: dict[str, Any]) -> None:
                now_ms = time.time() * 1000
                current = message["assignment"]
                if current["status"] != "dispatched" or current["id"] in received:
                    return
                received[current["id"]] = now_ms
                await sio.emit("received", {"assignment_id": current["id"]})
                data = {"assignment_id": current["id"], "status": "acknowledged"}
                await sio.emit(
                    "action", {"key": f"ack-{current['id']}", "type": "assignment_status", "data": data}
                )

        clients, failed = await _connect_all(url, [{"token": token} for _uid, token in units], make, 60.0)
        for sio in clients:
            if sio is not None:
                await sio.call("sync", {}, timeout=60)
        out.put(("ready", "responders", idx, len(clients) - failed, failed, 0.0))
        _t0, _measure_from, send_until = await _wait_go(clock)
        await asyncio.sleep(max(0.0, send_until + DRAIN_S - time.time()))
        out.put(("result", "responders", idx, {"received": received, "disconnects": 0}))

    asyncio.run(run())
    out.close()
    out.join_thread()
    os._exit(0)


def dispatcher(
    *, url: str, token: str, responders: list[tuple[str, str]], start: float, until: float, every_s: float
) -> dict[str, float]:
    """Dispatch the responders in turn, one every `every_s`; return each assignment's dispatch time (ms).

    Before a crew is sent again, its previous assignment is cancelled (not timed).
    """
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    dispatched: dict[str, float] = {}
    previous: dict[str, str] = {}
    time.sleep(max(0.0, start - time.time()))
    n = 0
    while time.time() < until:
        unit_id = responders[n % len(responders)][0]
        if unit_id in previous:
            session.post(f"{url}/api/assignments/{previous[unit_id]}/status", json={"status": "cancelled"})
        body = {"kind": "injury", "triage": "delayed", "lat": LAT0, "lon": LON0}
        incident = session.post(f"{url}/api/incidents", json=body, timeout=30).json()
        sent_ms = time.time() * 1000
        answer = session.post(
            f"{url}/api/assignments",
            json={"unit_id": unit_id, "kind": "medical_aid", "incident_id": incident["id"]},
            timeout=30,
        )
        if answer.status_code == 201:
            dispatched[answer.json()["id"]] = sent_ms
            previous[unit_id] = answer.json()["id"]
        n += 1
        time.sleep(max(0.0, start + n * every_s - time.time()))
    return dispatched


def round_trips(dispatched: dict[str, float], results: list[Any]) -> dict[str, Any]:
    """Dispatch -> the crew's tablet, and dispatch -> its acknowledgement on every dashboard."""
    received: dict[str, float] = {}
    acks: list[dict[str, float]] = []
    for _tag, role, _idx, data in results:
        if role == "responders":
            received.update(data["received"])
        elif role == "dashboards":
            acks.extend(board["acks"] for board in data["boards"])
    to_unit = np.asarray([received[a] - t for a, t in dispatched.items() if a in received])
    trips = np.asarray([board[a] - t for a, t in dispatched.items() for board in acks if a in board])
    expected = len(dispatched) * len(acks)

    def stats(values: np.ndarray) -> dict[str, float | None]:
        if not values.size:
            return {"p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            "p50_ms": round(float(np.percentile(values, 50)), 1),
            "p99_ms": round(float(np.percentile(values, 99)), 1),
            "max_ms": round(float(values.max()), 1),
        }

    return {
        "dispatched": len(dispatched),
        "reached_unit": int(to_unit.size),
        "acks_seen": int(trips.size),
        "acks_expected": expected,
        "dispatch_to_unit": stats(to_unit),
        "round_trip": stats(trips),
    }


# --- one run ------------------------------------------------------------------------


def _collect(out: Any, kind: str, expected: int, deadline: float) -> list[tuple[Any, ...]]:
    got = []
    while len(got) < expected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            message = out.get(timeout=remaining)
        except Exception:
            break
        if message[0] == kind:
            got.append(message)
    return got


def run_load(
    *,
    kind: str,
    url: str,
    pid: int,
    units: list[tuple[str, str]],
    dashboards: int,
    dash_auth: dict[str, str],
    warmup_s: float,
    duration_s: float,
    responders: list[tuple[str, str]] | None = None,
    dispatch_every_s: float = 0.5,
    send_every_s: float = SEND_EVERY_S,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    clock = Clock(ctx.Event(), ctx.Array("d", 3))
    procs = []
    n_dash_workers = math.ceil(dashboards / DASHBOARDS_PER_WORKER)
    for i in range(n_dash_workers):
        count = len(range(i, dashboards, n_dash_workers))
        p = ctx.Process(
            target=dashboard_worker,
            kwargs={
                "url": url,
                "auth": dash_auth,
                "count": count,
                "naive": kind == "naive",
                "clock": clock,
                "out": out,
                "idx": i,
            },
        )
        p.start()
        procs.append(p)
    dash_ready = _collect(out, "ready", n_dash_workers, time.monotonic() + 120)
    n_unit_workers = math.ceil(len(units) / UNITS_PER_WORKER)
    per = math.ceil(len(units) / n_unit_workers)
    connect_started = time.monotonic()
    for i in range(n_unit_workers):
        chunk = units[i * per : (i + 1) * per]
        p = ctx.Process(
            target=unit_worker,
            kwargs={
                "url": url,
                "units": chunk,
                "first": i * per,
                "total": len(units),
                "clock": clock,
                "out": out,
                "idx": i,
                "every_s": send_every_s,
            },
        )
        p.start()
        procs.append(p)
    unit_ready = _collect(out, "ready", n_unit_workers, time.monotonic() + 180)
    connect_s = time.monotonic() - connect_started
    probe = ctx.Process(target=stall_probe, kwargs={"clock": clock, "out": out, "idx": 0})
    probe.start()
    procs.append(probe)
    if responders:
        p = ctx.Process(
            target=responder_worker,
            kwargs={"url": url, "units": responders, "clock": clock, "out": out, "idx": 0},
        )
        p.start()
        procs.append(p)
        _collect(out, "ready", 1, time.monotonic() + 120)
    t0 = time.time() + 1.0
    clock.times[:] = [t0, t0 + warmup_s, t0 + warmup_s + duration_s]
    clock.go.set()
    time.sleep(max(0.0, t0 + warmup_s - time.time()))
    cpu0 = proc_cpu_s(pid)
    # The load generator's own CPU (its clients, not the dispatcher): on a machine it shares
    # with the server, whatever it takes the server cannot have.
    gen0 = sum(proc_cpu_s(p.pid) for p in procs if p.pid is not None)
    waiting: list[int] = []
    sampler = None
    if kind == "ours":
        sampler = threading.Thread(
            target=_sample_fixes_waiting, args=(url, t0 + warmup_s + duration_s, waiting), daemon=True
        )
        sampler.start()
    dispatched: dict[str, float] = {}
    if responders:
        dispatched = dispatcher(
            url=url,
            token=dash_auth["token"],
            responders=responders,
            start=t0 + warmup_s,
            until=t0 + warmup_s + duration_s - 1.0,
            every_s=dispatch_every_s,
        )
    time.sleep(max(0.0, t0 + warmup_s + duration_s - time.time()))
    cpu1 = proc_cpu_s(pid)
    if sampler is not None:
        sampler.join(timeout=10)
    gen1 = sum(proc_cpu_s(p.pid) for p in procs if p.pid is not None)
    status = proc_status(pid)
    results = _collect(out, "result", len(procs), time.monotonic() + DRAIN_S + 120)
    # The probe's answer is the machine's, not a client's: kept apart from the clients' results.
    probes = [data for _tag, role, _idx, data in results if role == "probe"]
    results = [result for result in results if result[1] != "probe"]
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
            p.join(timeout=5)
    measure_from_ms, until_ms = (t0 + warmup_s) * 1000, (t0 + warmup_s + duration_s) * 1000
    figures = summarize(
        kind=kind,
        n_units=len(units),
        n_dash=dashboards,
        dash_ready=dash_ready,
        unit_ready=unit_ready,
        results=results,
        measure_from_ms=measure_from_ms,
        until_ms=until_ms,
        duration_s=duration_s,
        cpu_s=cpu1 - cpu0,
        generator_cpu_s=gen1 - gen0,
        status=status,
        connect_s=connect_s,
    )
    if probes:  # one probe per window
        figures["stall_max_ms"] = probes[0]["worst_ms"]
        figures["stalls_over_100ms"] = probes[0]["late_ms"]
    if waiting:
        # Fixes received and not yet written: a telemetry write that falls behind shows here.
        figures["fixes_waiting_max"] = max(waiting)
    if responders:
        figures["assignments"] = round_trips(dispatched, results)
    return figures


def _sample_fixes_waiting(url: str, until: float, out: list[int]) -> None:
    """Read the node's count of fixes waiting for the telemetry write, every 2 s until `until`."""
    session = requests.Session()
    while time.time() < until - 0.5:
        try:
            text = session.get(f"{url}/healthz", timeout=5).text
            out.append(int(text.split("fixes_waiting=")[1].split()[0]))
        except (requests.RequestException, IndexError, ValueError):
            pass  # a slow or odd answer is not a figure
        time.sleep(max(0.0, min(2.0, until - 0.5 - time.time())))


def summarize(
    *,
    kind: str,
    n_units: int,
    n_dash: int,
    dash_ready: list[Any],
    unit_ready: list[Any],
    results: list[Any],
    measure_from_ms: float,
    until_ms: float,
    duration_s: float,
    cpu_s: float,
    generator_cpu_s: float,
    status: dict[str, int],
    connect_s: float,
) -> dict[str, Any]:
    sent: dict[str, list[int]] = {}
    boards: list[dict[str, Any]] = []
    send_errors = disconnects = 0
    for _tag, role, _idx, data in results:
        disconnects += data["disconnects"]
        if role == "units":
            sent.update(data["sent"])
            send_errors += data["errors"]
        elif role == "dashboards":
            boards.extend(data["boards"])
    in_window = {u: [t for t in ts if measure_from_ms <= t < until_ms] for u, ts in sent.items()}
    fixes_sent = sum(len(ts) for ts in in_window.values())
    delivered = superseded = missing = 0
    per_board_ratio = []
    entries = []
    for board in boards:
        recv = board["recv"]
        ok_board = 0
        entries.append(sum(1 for ts in recv.values() for t in ts if t >= measure_from_ms))
        for unit_id, ts in in_window.items():
            seen = set(recv.get(unit_id, ()))
            following = sent[unit_id]
            for t in ts:
                if t in seen:
                    delivered += 1
                    ok_board += 1
                    continue
                later = [s for s in following if s > t]
                if later and later[0] in seen:
                    superseded += 1
                    ok_board += 1
                else:
                    missing += 1
        per_board_ratio.append(ok_board / fixes_sent if fixes_sent else 0.0)
    lat = np.concatenate([b["lat"] for b in boards]) if boards else np.zeros(0, dtype=np.float32)
    in_server = np.concatenate([b["in_server"] for b in boards]) if boards else np.zeros(0, dtype=np.float32)
    units_connected = sum(r[3] for r in unit_ready)
    dash_connected = sum(r[3] for r in dash_ready)
    connect_failures = sum(r[4] for r in unit_ready + dash_ready)
    expected = fixes_sent * n_dash
    ratio = (delivered + superseded) / expected if expected else 0.0
    figures: dict[str, Any] = {
        "server": kind,
        "units": n_units,
        "dashboards": n_dash,
        "units_connected": units_connected,
        "dashboards_connected": dash_connected,
        "connect_failures": connect_failures,
        "disconnects": disconnects,
        "connect_s": round(connect_s, 1),
        "duration_s": duration_s,
        "fixes_sent": fixes_sent,
        "fixes_per_s": round(fixes_sent / duration_s, 1),
        "send_errors": send_errors,
        "entries_per_dashboard": round(float(np.mean(entries)), 1) if entries else 0.0,
        "messages_per_dashboard": round(float(np.mean([b["messages"] for b in boards])), 1)
        if boards
        else 0.0,
        "delivered": delivered,
        "superseded": superseded,
        "missing": missing,
        "delivery_ratio": round(ratio, 5),
        "worst_dashboard_ratio": round(min(per_board_ratio), 5) if per_board_ratio else 0.0,
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 1) if lat.size else None,
        "max_ms": round(float(lat.max()), 1) if lat.size else None,
        # Split of the latency: fix sent -> frame built, and frame built -> dashboard.
        "to_frame_p50_ms": round(float(np.percentile(in_server, 50)), 1) if in_server.size else None,
        "to_frame_p99_ms": round(float(np.percentile(in_server, 99)), 1) if in_server.size else None,
        "frame_to_dashboard_p99_ms": round(float(np.percentile(lat - in_server, 99)), 1)
        if in_server.size == lat.size and lat.size
        else None,
        "server_cpu_pct": round(100 * cpu_s / duration_s, 1),
        "generator_cpu_pct": round(100 * generator_cpu_s / duration_s, 1),
        "server_rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
        "server_peak_rss_mb": round(status.get("VmHWM", 0) / 1024, 1),
        "server_threads": status.get("Threads", 0),
    }
    reasons = []
    if units_connected < n_units or dash_connected < n_dash or connect_failures or disconnects:
        reasons.append("clients could not connect or were dropped")
    if figures["p99_ms"] is None or figures["p99_ms"] > P99_LIMIT_MS:
        reasons.append("p99 > 1 s")
    if ratio < DELIVERY_LIMIT or (per_board_ratio and min(per_board_ratio) < DELIVERY_LIMIT):
        reasons.append("delivery < 95 %")
    figures["sustainable"] = not reasons
    figures["why_not"] = "; ".join(reasons)
    return figures


# --- driver -------------------------------------------------------------------------


class Bench:
    def __init__(
        self,
        workdir: Path,
        dashboards: int,
        warmup_s: float,
        responders: int = 0,
        server: str = "serve",
        *,
        serve_args: list[str] | None = None,
        naive_websocket: str = "engineio",
        send_every_s: float = SEND_EVERY_S,
    ) -> None:
        self.workdir = workdir
        self.send_every_s = send_every_s
        self.naive_env = {"NAIVE_WEBSOCKET": naive_websocket}
        self.server = server
        self.serve_args = serve_args or []
        self.dashboards = dashboards
        self.warmup_s = warmup_s
        # Extra crews, beside the U units, that answer dispatches (the assignment round trip).
        self.n_responders = responders
        self.responders: list[tuple[str, str]] = []
        self.ours_dir = workdir / "ours" / "data"
        self.ours_dir.parent.mkdir(parents=True)
        (workdir / "naive" / "data").mkdir(parents=True)
        self.operator = coordinator_cli(
            self.ours_dir, "token", "create", "--role", "operator", "--name", "bench"
        )
        self.units: list[tuple[str, str]] = []

    def run(self, kind: str, n_units: int, duration_s: float) -> dict[str, Any]:
        data_dir = self.ours_dir if kind == "ours" else self.workdir / "naive" / "data"
        serve_args = self.serve_args if kind == "ours" else []
        env = self.naive_env if kind == "naive" else {}
        server = ServerProcess(kind, data_dir, server=self.server, serve_args=serve_args, env=env)
        server.start()
        try:
            assert server.proc is not None
            if kind == "ours":
                started = time.monotonic()
                ensure_units(server.url, self.operator, n_units, self.units)
                print(
                    f"  {len(self.units)} units registered ({time.monotonic() - started:.1f} s)", flush=True
                )
                units, auth = self.units[:n_units], {"token": self.operator}
                if self.n_responders and not self.responders:
                    self.responders = register_crews(server.url, self.operator, self.n_responders)
            else:
                units, auth = [(f"u{i}", f"u{i}") for i in range(n_units)], {"token": "dashboard"}
            figures = run_load(
                kind=kind,
                url=server.url,
                pid=server.serving_pid,
                units=units,
                dashboards=self.dashboards,
                dash_auth=auth,
                warmup_s=self.warmup_s,
                duration_s=duration_s,
                responders=self.responders if kind == "ours" else None,
                send_every_s=self.send_every_s,
            )
        finally:
            server.stop()
        print(
            f"  {kind:5} U={n_units:5}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
            f"delivery {figures['delivery_ratio']:.4f}, cpu {figures['server_cpu_pct']} % "
            f"(generator {figures['generator_cpu_pct']} %), "
            + (f"fixes waiting <= {figures['fixes_waiting_max']}, " if "fixes_waiting_max" in figures else "")
            + f"machine stall <= {figures.get('stall_max_ms')} ms, "
            + f"{'ok' if figures['sustainable'] else 'NOT sustainable: ' + figures['why_not']}",
            flush=True,
        )
        return figures

    def step(self, kind: str, n_units: int, duration_s: float) -> tuple[bool, list[dict[str, Any]]]:
        """Whether `kind` holds `n_units`: one run when it is clear, else the majority of three."""
        runs: list[dict[str, Any]] = []
        votes = {True: 0, False: 0}
        while True:
            figures = self.run(kind, n_units, duration_s)
            figures["try"] = len(runs) + 1
            runs.append(figures)
            votes[figures["sustainable"]] += 1
            if (len(runs) == 1 and clear(figures)) or 2 * max(votes.values()) > TRIES:
                return votes[True] > votes[False], runs
            print(f"  {kind} U={n_units}: near the limit, run again", flush=True)


def clear(figures: dict[str, Any]) -> bool:
    """A run far enough from the limit that another window would not change the answer."""
    p99 = figures["p99_ms"]
    if figures["sustainable"]:
        return bool(p99 <= P99_LIMIT_MS / MARGIN)
    return p99 is None or p99 > P99_LIMIT_MS * MARGIN or figures["delivery_ratio"] < DELIVERY_LIMIT - 0.05


def ramp(
    bench: Bench, *, kind: str, design: dict[str, Any], levels: list[int], duration_s: float, deadline: float
) -> tuple[int, list[dict[str, Any]]]:
    """Highest sustainable U: up the ramp from the design load, or down it when that already fails.

    Either way the gap between the last load held and the first that failed is then narrowed
    twice: a coarse ramp alone could understate a server by up to a step, and the ratio with it.
    Each step of the ramp and of the narrowing is decided by `Bench.step`.
    """
    runs: list[dict[str, Any]] = []
    best, failed = 0, design["units"]
    if design["sustainable"]:
        best, failed = design["units"], 0
        for n in (lvl for lvl in levels if lvl > design["units"]):
            if time.monotonic() > deadline:
                print(f"  {kind}: out of time before U={n}", flush=True)
                break
            held, more = bench.step(kind, n, duration_s)
            runs.extend(more)
            if not held:
                failed = n
                break
            best = n
    else:
        n = design["units"] // 2
        while n >= 100 and time.monotonic() < deadline:
            held, more = bench.step(kind, n, duration_s)
            runs.extend(more)
            if held:
                best = n
                break
            failed, n = n, n // 2
    for _ in range(REFINE_STEPS):
        n = (best + failed) // 2 // 25 * 25
        if not best or not failed or n in (best, failed) or time.monotonic() > deadline:
            break
        held, more = bench.step(kind, n, duration_s)
        runs.extend(more)
        if held:
            best = n
        else:
            failed = n
    return best, runs


COLUMNS = [
    ("server", "server", 6),
    ("units", "U", 5),
    ("dashboards", "D", 3),
    ("units_connected", "U ok", 5),
    ("fixes_sent", "sent", 7),
    ("fixes_per_s", "fix/s", 6),
    ("entries_per_dashboard", "per dash", 8),
    ("delivered", "deliv", 8),
    ("superseded", "supers", 6),
    ("missing", "missing", 7),
    ("delivery_ratio", "ratio", 7),
    ("p50_ms", "p50 ms", 7),
    ("p99_ms", "p99 ms", 8),
    ("max_ms", "max ms", 8),
    ("server_cpu_pct", "cpu %", 6),
    ("generator_cpu_pct", "gen %", 6),
    ("server_rss_mb", "RSS MB", 7),
    ("fixes_waiting_max", "waiting", 7),
    ("stall_max_ms", "stall", 6),
    ("sustainable", "ok", 5),
    ("try", "try", 3),
]


def table(runs: list[dict[str, Any]]) -> str:
    head = " ".join(f"{title:>{width}}" for _key, title, width in COLUMNS)
    lines = [head, "-" * len(head)]
    for run in runs:
        lines.append(" ".join(f"{run.get(key, '')!s:>{width}}" for key, _title, width in COLUMNS))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="U=20, D=2, 5 s, each server once")
    parser.add_argument("--units", type=int, default=1000, help="design load: units")
    parser.add_argument("--dashboards", type=int, default=50, help="design load: dashboards")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds at design load")
    parser.add_argument("--ramp-duration", type=float, default=20.0, help="measured seconds per ramp step")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--server",
        choices=("serve", "gunicorn"),
        default="gunicorn",
        help="how both servers run (one process each)",
    )
    parser.add_argument("--only", choices=("ours", "naive"), help="run one server, not both")
    parser.add_argument("--frame-interval", type=float, help="ours: seconds between frames")
    parser.add_argument(
        "--responders", type=int, default=20, help="crews answering a dispatch every 0.5 s (0: none)"
    )
    parser.add_argument(
        "--naive-websocket",
        choices=("engineio", "coordinator"),
        default="engineio",
        help="the naive server's WebSocket transport under gunicorn: Engine.IO's (as shipped) or ours",
    )
    parser.add_argument("--ramp", default="2000,3000,5000", help="unit counts above the design load")
    parser.add_argument(
        "--send-every",
        type=float,
        default=SEND_EVERY_S,
        help="seconds between a unit's fixes (a load in fixes per second past the open-file limit)",
    )
    parser.add_argument(
        "--budget", type=float, default=540.0, help="no new ramp step after this many seconds"
    )
    args = parser.parse_args()
    if args.smoke:
        args.units, args.dashboards, args.duration, args.warmup, args.ramp = 20, 2, 5.0, 2.0, ""
        args.responders = 2
    deadline = time.monotonic() + args.budget
    levels = [int(x) for x in args.ramp.split(",") if x.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        serve_args = [] if args.frame_interval is None else ["--frame-interval", str(args.frame_interval)]
        bench = Bench(
            Path(tmp),
            args.dashboards,
            args.warmup,
            args.responders,
            args.server,
            serve_args=serve_args,
            naive_websocket=args.naive_websocket,
            send_every_s=args.send_every,
        )
        print(
            f"design load: U={args.units}, D={args.dashboards}, a fix every {args.send_every:g} s, "
            f"{args.duration:g} s measured",
            flush=True,
        )
        kinds = [args.only] if args.only else ["ours", "naive"]
        design = {kind: bench.run(kind, args.units, args.duration) for kind in kinds}
        runs = list(design.values())
        best = {kind: design[kind]["units"] if design[kind]["sustainable"] else 0 for kind in design}
        if levels:
            # Ours gets the first half of the budget when both run.
            half = deadline - (deadline - time.monotonic()) / 2 if len(kinds) == 2 else deadline
            for kind in kinds:
                until = half if kind == "ours" else deadline
                best[kind], more = ramp(
                    bench,
                    kind=kind,
                    design=design[kind],
                    levels=levels,
                    duration_s=args.ramp_duration,
                    deadline=until,
                )
                runs.extend(more)
    print()
    print(table(runs))
    ours = design.get("ours")
    ratio = best["ours"] / best["naive"] if best.get("ours") and best.get("naive") else None
    targets: dict[str, bool] = {}
    if ours is not None:
        targets["design_p99_le_250ms"] = ours["p99_ms"] is not None and ours["p99_ms"] <= 250
        targets["design_all_delivered_or_superseded"] = ours["missing"] == 0 and ours["fixes_sent"] > 0
        targets["sustainable_ge_5x_design"] = best["ours"] >= 5 * args.units
        trips = ours.get("assignments")
        if trips:
            p99 = trips["round_trip"]["p99_ms"]
            targets["round_trip_p99_le_250ms"] = p99 is not None and p99 <= 250
            print(f"assignment round trip at the design load: {trips}")
    if len(kinds) == 2:
        targets["ratio_ge_10"] = ratio is not None and ratio >= 10
    print(
        f"\nhighest sustainable U (D={args.dashboards}): {best}, "
        f"ratio {'n/a' if ratio is None else f'{ratio:.1f}'}; targets: {targets}"
    )
    print(
        json.dumps(
            {
                "benchmark": "fanout",
                "smoke": args.smoke,
                "design": {
                    "units": args.units,
                    "dashboards": args.dashboards,
                    "send_every_s": args.send_every,
                },
                "naive_websocket": args.naive_websocket,
                "ours": design.get("ours"),
                "naive": design.get("naive"),
                "runs": runs,
                "sustainable_units": best,
                "ratio": ratio,
                "targets": targets,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
