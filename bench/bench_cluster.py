"""Two nodes over one Redis: cross-node fix-to-dashboard latency, and Redis writes per frame.

Run from the repository root: `python bench/bench_cluster.py` (`--smoke` for a tiny run).

Starts a private redis-server (unless --redis-url is given) and two coordinator nodes on
it (gunicorn + gevent by default, `--server serve` for `coordinator serve`). Units and
dashboards alternate between the nodes; the load generator of bench/bench_fanout.py drives
the units (a `position` every 2 s each, staggered). Dashboards time every position they
receive, from `positions` messages (the cluster's one-publish-per-tick push) and from
`frame` positions, split into cross-node (the fix went to the other node) and same-node.
`INFO commandstats` before and after the measured window gives Redis calls per second by
command, to compare with fixes per second and frames per second. Prints a table and, last,
one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_fanout as fanout

from coordinator.config import Settings

ROOT = fanout.ROOT
PREFIX = "bench:"
NODES = 2
# The nodes run with the default frame interval (0.1 s): frames per second per node.
TICKS_PER_S = round(1 / Settings.frame_interval_s)
P99_TARGET_MS = 300.0
COMMANDS = ("publish", "evalsha", "xadd", "xread")


# --- processes ------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A private redis-server on a free port, without persistence."""

    workdir: Path
    port: int = field(default_factory=fanout.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        log = (self.workdir / "redis.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited early, see {log.name}")
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Node(fanout.ServerProcess):
    """One coordinator node on the shared Redis (which it finds in its environment)."""

    def pids(self) -> list[int]:
        """The process and its children (gunicorn's worker)."""
        assert self.proc is not None
        pids = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += fanout.proc_cpu_s(pid)
        return total

    def rss_mb(self) -> float:
        """RSS of the process that serves (gunicorn's worker, else the process itself)."""
        pids = self.pids()
        try:
            return round(fanout.proc_status(pids[-1]).get("VmRSS", 0) / 1024, 1)
        except OSError:
            return 0.0


def operator_token(data_dir: Path, redis_url: str) -> str:
    redis_env = {"REDIS_URL": redis_url, "COORDINATOR_REDIS_PREFIX": PREFIX}
    return fanout.coordinator_cli(
        data_dir, "token", "create", "--role", "operator", "--name", "bench", env=redis_env
    )


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {key.removeprefix("cmdstat_"): int(value["calls"]) for key, value in stats.items()}


# --- dashboards (child processes) ------------------------------------------------------


def dashboard_worker(
    *,
    url: str,
    auth: dict[str, str],
    count: int,
    local_units: list[str],
    clock: Any,
    out: Any,
    idx: int,
) -> None:
    """Dashboards on one node; latency split by whether the unit reports to this node."""
    local = set(local_units)

    async def run() -> None:
        window = {"from": math.inf}
        disconnects = 0

        def make(sio: Any) -> None:
            board: dict[str, Any] = {"recv": defaultdict(list), "cross": [], "same": [], "messages": 0}
            sio.board = board

            def record(positions: dict[str, Any]) -> None:
                now_ms = time.time() * 1000
                board["messages"] += 1
                for unit_id, fix in positions.items():
                    ms = fanout.at_ms(fix["at"])
                    board["recv"][unit_id].append(ms)
                    if ms >= window["from"]:
                        board["same" if unit_id in local else "cross"].append(now_ms - ms)

            @sio.on("positions")
            def positions(message: dict[str, Any]) -> None:
                record(message.get("positions") or {})

            @sio.on("frame")
            def frame(message: dict[str, Any]) -> None:
                if message.get("positions"):
                    record(message["positions"])

            @sio.event
            def disconnect(*_args: Any) -> None:
                nonlocal disconnects
                disconnects += 1

        started = time.monotonic()
        connected, failed = await fanout._connect_all(url, [auth] * count, make, 60.0)
        clients = [c for c in connected if c is not None]
        synced = 0
        for sio in clients:
            answer = await sio.call("sync", {}, timeout=60)
            synced += bool(answer and answer.get("ok"))
        out.put(
            ("ready", "dashboards", idx, synced, failed + len(clients) - synced, time.monotonic() - started)
        )
        _t0, measure_from, send_until = await fanout._wait_go(clock)
        window["from"] = measure_from * 1000
        await asyncio.sleep(max(0.0, send_until + fanout.DRAIN_S - time.time()))
        boards = [
            {
                "recv": dict(sio.board["recv"]),
                "cross": np.asarray(sio.board["cross"], dtype=np.float32),
                "same": np.asarray(sio.board["same"], dtype=np.float32),
                "messages": sio.board["messages"],
            }
            for sio in clients
        ]
        out.put(("result", "dashboards", idx, {"boards": boards, "disconnects": disconnects}))

    asyncio.run(run())
    out.close()
    out.join_thread()
    os._exit(0)


# --- one run --------------------------------------------------------------------------


def percentiles(lat: np.ndarray) -> dict[str, float | None]:
    if not lat.size:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None, "samples": 0}
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(lat.max()), 1),
        "samples": int(lat.size),
    }


def delivery(
    boards: list[dict[str, Any]], sent: dict[str, list[int]], unit_node: dict[str, int], lo: float, hi: float
) -> dict[str, dict[str, Any]]:
    """Delivered / superseded / missing per pair kind (cross-node, same-node), over the window."""
    counts = {
        kind: {"expected": 0, "delivered": 0, "superseded": 0, "missing": 0} for kind in ("cross", "same")
    }
    in_window = {u: [t for t in ts if lo <= t < hi] for u, ts in sent.items()}
    lost: set[tuple[str, int]] = set()
    for board in boards:
        recv = board["recv"]
        for unit_id, ts in in_window.items():
            c = counts["same" if unit_node[unit_id] == board["node"] else "cross"]
            seen = set(recv.get(unit_id, ()))
            following = sent[unit_id]
            for t in ts:
                c["expected"] += 1
                if t in seen:
                    c["delivered"] += 1
                    continue
                later = [s for s in following if s > t]
                if later and later[0] in seen:
                    c["superseded"] += 1
                else:
                    c["missing"] += 1
                    lost.add((unit_id, t))
    for c in counts.values():
        ok = c["delivered"] + c["superseded"]
        c["ratio"] = round(ok / c["expected"], 5) if c["expected"] else 0.0
    # Which fixes went missing (on any dashboard): how many, and when in the window they were sent.
    offsets = sorted(round((t - lo) / 1000, 2) for _u, t in lost)
    counts["lost"] = {"fixes": len(lost), "units": len({u for u, _t in lost}), "sent_at_s": offsets[:20]}
    return counts


def run_cluster(
    *,
    server: str,
    nodes: list[Node],
    units: list[tuple[str, str]],
    dashboards: int,
    operator: str,
    redis_client: redis.Redis,
    redis_pid: int | None,
    warmup_s: float,
    duration_s: float,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    clock = fanout.Clock(ctx.Event(), ctx.Array("d", 3))
    unit_node = {uid: i % NODES for i, (uid, _tok) in enumerate(units)}
    per_node_units = [units[n::NODES] for n in range(NODES)]
    procs = []
    boards_node: dict[int, int] = {}  # dashboard worker idx -> node
    idx = 0
    n_dash_workers = 0
    for n, node in enumerate(nodes):
        count = len(range(n, dashboards, NODES))
        workers = math.ceil(count / fanout.DASHBOARDS_PER_WORKER)
        for w in range(workers):
            p = ctx.Process(
                target=dashboard_worker,
                kwargs={
                    "url": node.url,
                    "auth": {"token": operator},
                    "count": len(range(w, count, workers)),
                    "local_units": [uid for uid, _tok in per_node_units[n]],
                    "clock": clock,
                    "out": out,
                    "idx": idx,
                },
            )
            p.start()
            procs.append(p)
            boards_node[idx] = n
            idx += 1
            n_dash_workers += 1
    dash_ready = fanout._collect(out, "ready", n_dash_workers, time.monotonic() + 120)
    connect_started = time.monotonic()
    n_unit_workers = 0
    for n, node in enumerate(nodes):
        mine = per_node_units[n]
        workers = math.ceil(len(mine) / fanout.UNITS_PER_WORKER)
        per = math.ceil(len(mine) / workers) if workers else 0
        for w in range(workers):
            p = ctx.Process(
                target=fanout.unit_worker,
                kwargs={
                    "url": node.url,
                    "units": mine[w * per : (w + 1) * per],
                    "first": w * per,
                    "total": len(mine),
                    "clock": clock,
                    "out": out,
                    "idx": 1000 + n * 100 + w,
                },
            )
            p.start()
            procs.append(p)
            n_unit_workers += 1
    unit_ready = fanout._collect(out, "ready", n_unit_workers, time.monotonic() + 180)
    connect_s = time.monotonic() - connect_started
    t0 = time.time() + 1.0
    clock.times[:] = [t0, t0 + warmup_s, t0 + warmup_s + duration_s]
    clock.go.set()
    time.sleep(max(0.0, t0 + warmup_s - time.time()))
    cpu0 = [node.cpu_s() for node in nodes]
    redis_cpu0 = fanout.proc_cpu_s(redis_pid) if redis_pid else 0.0
    calls0 = command_calls(redis_client)
    started = time.monotonic()
    time.sleep(max(0.0, t0 + warmup_s + duration_s - time.time()))
    calls1 = command_calls(redis_client)
    elapsed = time.monotonic() - started
    cpu1 = [node.cpu_s() for node in nodes]
    redis_cpu1 = fanout.proc_cpu_s(redis_pid) if redis_pid else 0.0
    rss = [node.rss_mb() for node in nodes]
    results = fanout._collect(out, "result", len(procs), time.monotonic() + fanout.DRAIN_S + 120)
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
            p.join(timeout=5)

    sent: dict[str, list[int]] = {}
    boards: list[dict[str, Any]] = []
    send_errors = disconnects = 0
    for _tag, role, widx, data in results:
        disconnects += data["disconnects"]
        if role == "units":
            sent.update(data["sent"])
            send_errors += data["errors"]
        else:
            for board in data["boards"]:
                board["node"] = boards_node[widx]
                boards.append(board)
    lo, hi = (t0 + warmup_s) * 1000, (t0 + warmup_s + duration_s) * 1000
    fixes_sent = sum(1 for ts in sent.values() for t in ts if lo <= t < hi)
    counts = delivery(boards, sent, unit_node, lo, hi)
    empty = np.zeros(0, dtype=np.float32)
    cross = np.concatenate([b["cross"] for b in boards]) if boards else empty
    same = np.concatenate([b["same"] for b in boards]) if boards else empty

    per_s = {cmd: round((calls1.get(cmd, 0) - calls0.get(cmd, 0)) / elapsed, 1) for cmd in COMMANDS}
    # `info` itself is one call per sample; leave those two out of the total.
    total = sum(calls1.values()) - sum(calls0.values()) - 1
    per_s["total"] = round(total / elapsed, 1)
    every = {cmd: calls1[cmd] - calls0.get(cmd, 0) for cmd in calls1}
    every["info"] = every.get("info", 0) - 1
    all_per_s = {
        cmd: round(n / elapsed, 1) for cmd, n in sorted(every.items(), key=lambda kv: -kv[1]) if n > 0
    }
    fixes_per_s = round(fixes_sent / duration_s, 1)
    frames_per_s = NODES * TICKS_PER_S
    writes_per_s = per_s["publish"] + per_s["evalsha"]
    return {
        "server": server,
        "nodes": NODES,
        "units": len(units),
        "dashboards": dashboards,
        "units_connected": sum(r[3] for r in unit_ready),
        "dashboards_connected": sum(r[3] for r in dash_ready),
        "connect_failures": sum(r[4] for r in unit_ready + dash_ready),
        "disconnects": disconnects,
        "connect_s": round(connect_s, 1),
        "duration_s": duration_s,
        "fixes_sent": fixes_sent,
        "send_errors": send_errors,
        "fixes_per_s": fixes_per_s,
        "messages_per_dashboard": round(float(np.mean([b["messages"] for b in boards])), 1)
        if boards
        else 0.0,
        "cross": {**percentiles(cross), **counts["cross"]},
        "same": {**percentiles(same), **counts["same"]},
        "lost_fixes": counts["lost"],
        "redis_calls_per_s": per_s,
        "redis_all_calls_per_s": all_per_s,
        "frames_per_s": frames_per_s,
        "publish_evalsha_per_s": round(writes_per_s, 1),
        "publish_evalsha_per_frame": round(writes_per_s / frames_per_s, 2),
        "fixes_per_publish": round(fixes_per_s / per_s["publish"], 1) if per_s["publish"] else None,
        "node_cpu_pct": [round(100 * (b - a) / duration_s, 1) for a, b in zip(cpu0, cpu1, strict=True)],
        "node_rss_mb": rss,
        "redis_cpu_pct": round(100 * (redis_cpu1 - redis_cpu0) / duration_s, 1) if redis_pid else None,
    }


# --- driver ---------------------------------------------------------------------------


def report(f: dict[str, Any]) -> str:
    c, s, r = f["cross"], f["same"], f["redis_calls_per_s"]
    lines = [
        f"server {f['server']}, {f['nodes']} nodes, U={f['units']} ({f['units_connected']} connected), "
        f"D={f['dashboards']} ({f['dashboards_connected']} connected), {f['duration_s']:g} s measured, "
        f"connect failures {f['connect_failures']}, disconnects {f['disconnects']}",
        "",
        f"{'pairs':>6} {'expected':>9} {'deliv':>8} {'supers':>7} {'missing':>8} {'ratio':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}",
    ]
    for name, x in (("cross", c), ("same", s)):
        lines.append(
            f"{name:>6} {x['expected']:>9} {x['delivered']:>8} {x['superseded']:>7} {x['missing']:>8} "
            f"{x['ratio']:>8} {x['p50_ms']!s:>7} {x['p99_ms']!s:>7} {x['max_ms']!s:>7}"
        )
    lines += [
        "",
        f"fixes missing on some dashboard: {f['lost_fixes']}",
        f"fixes sent/s {f['fixes_per_s']}, frames/s {f['frames_per_s']} ({f['nodes']} nodes x {TICKS_PER_S})",
        "redis calls/s: " + ", ".join(f"{k} {v}" for k, v in r.items()),
        "  by command: " + ", ".join(f"{k} {v}" for k, v in f["redis_all_calls_per_s"].items()),
        f"publish+evalsha/s {f['publish_evalsha_per_s']} = {f['publish_evalsha_per_frame']} per frame; "
        f"fixes per publish {f['fixes_per_publish']}",
        f"node CPU % {f['node_cpu_pct']}, node RSS MB {f['node_rss_mb']}, redis CPU % {f['redis_cpu_pct']}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="U=20, D=2, 5 s measured")
    parser.add_argument("--server", choices=("serve", "gunicorn"), default="gunicorn")
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--redis-url", help="use this Redis instead of starting a private one")
    args = parser.parse_args()
    if args.smoke:
        args.units, args.dashboards, args.duration, args.warmup = 20, 2, 5.0, 2.0
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        work = Path(tmp)
        redis_server = None if args.redis_url else RedisServer(work / "redis").start()
        nodes: list[Node] = []
        try:
            url = args.redis_url or redis_server.url  # type: ignore[union-attr]
            client = redis.Redis.from_url(url)
            if args.redis_url:  # a shared Redis: start from a clean prefix
                for key in client.scan_iter(f"{PREFIX}*"):
                    client.delete(key)
            operator = operator_token(work / "admin", url)
            for n in range(NODES):
                env = {"REDIS_URL": url, "COORDINATOR_REDIS_PREFIX": PREFIX}
                node = Node("ours", work / f"node{n}" / "data", server=args.server, env=env)
                nodes.append(node.start())
            started = time.monotonic()
            units: list[tuple[str, str]] = []
            fanout.ensure_units(nodes[0].url, operator, args.units, units)
            print(f"{len(units)} units registered ({time.monotonic() - started:.1f} s)", flush=True)
            figures = run_cluster(
                server=args.server,
                nodes=nodes,
                units=units,
                dashboards=args.dashboards,
                operator=operator,
                redis_client=client,
                redis_pid=redis_server.proc.pid if redis_server and redis_server.proc else None,
                warmup_s=args.warmup,
                duration_s=args.duration,
            )
        finally:
            for node in nodes:
                node.stop()
            if redis_server is not None:
                redis_server.stop()
    print()
    print(report(figures))
    cross = figures["cross"]
    targets = {
        "cross_p99_le_300ms": cross["p99_ms"] is not None and cross["p99_ms"] <= P99_TARGET_MS,
        "publish_evalsha_per_frame_le_2": figures["publish_evalsha_per_frame"] <= 2.0,
    }
    print(f"targets: {targets}")
    print(
        json.dumps(
            {
                "benchmark": "cluster",
                "smoke": args.smoke,
                **figures,
                "targets": targets,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
