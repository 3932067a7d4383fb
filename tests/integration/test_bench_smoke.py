"""The benchmark scripts still run: each is started with --smoke and must print its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def smoke(script: str, *, timeout: float = 300) -> dict[str, Any]:
    """Run one benchmark with --smoke and return the JSON line it prints last."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def test_routing_benchmark_smoke() -> None:
    figures = smoke("bench_routing.py", timeout=120)
    assert figures["benchmark"] == "routing"
    assert (figures["targets"], figures["units"]) == (10, 100)
    assert 12_000 <= figures["nodes"] <= 15_000
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert figures["recommended_by_road"] > 0


def test_import_benchmark_smoke() -> None:
    figures = smoke("bench_import.py", timeout=120)
    assert figures["benchmark"] == "layer_import"
    assert figures["smoke"] is True
    assert [(layer["name"], layer["features"]) for layer in figures["layers"]] == [
        ("hospitals", 30),
        ("courthouses", 18),
    ]
    assert figures["total_s"] > 0


def test_spatial_benchmark_smoke() -> None:
    result = smoke("bench_spatial.py", timeout=300)
    assert result["benchmark"] == "spatial" and result["units"] == 100 and result["p95_ms"] > 0


def test_report_benchmark_smoke() -> None:
    figures = smoke("bench_report.py", timeout=300)
    assert figures["benchmark"] == "report" and figures["smoke"] is True
    assert (figures["units"], figures["incidents"], figures["assignments"]) == (20, 20, 40)
    assert figures["fixes_stored"] == figures["fixes_in_report"] == 20 * 30 * 12
    assert 0 < figures["track_points_kept"] < figures["fixes_in_report"]
    assert figures["build_s"] > 0 and figures["total_s"] >= figures["build_s"]
    assert figures["peak_rss_mb"] > 0


def test_fanout_benchmark_smoke() -> None:
    figures = smoke("bench_fanout.py", timeout=240)
    assert figures["benchmark"] == "fanout" and figures["smoke"] is True
    assert figures["design"] == {"units": 20, "dashboards": 2, "send_every_s": 2.0}
    for server in ("ours", "naive"):
        run = figures[server]
        assert run["server"] == server and run["fixes_sent"] > 0
        assert 0 <= run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
        assert run["stall_max_ms"] >= 0 and isinstance(run["stalls_over_100ms"], list)
    trips = figures["ours"]["assignments"]
    assert trips["dispatched"] > 0 and trips["reached_unit"] == trips["dispatched"]
    assert trips["acks_seen"] == trips["acks_expected"] == trips["dispatched"] * 2
    assert 0 < trips["round_trip"]["p50_ms"] <= trips["round_trip"]["p99_ms"]


def test_cluster_benchmark_smoke() -> None:
    figures = smoke("bench_cluster.py", timeout=240)
    assert figures["benchmark"] == "cluster" and figures["smoke"] is True
    assert (figures["nodes"], figures["units"], figures["dashboards"]) == (2, 20, 2)
    assert figures["fixes_sent"] > 0
    assert figures["cross"]["ratio"] > 0 and figures["cross"]["delivered"] > 0
    assert 0 <= figures["cross"]["p50_ms"] <= figures["cross"]["p99_ms"] <= figures["cross"]["max_ms"]
    assert figures["redis_calls_per_s"]["publish"] > 0


def test_dashboard_benchmark_smoke() -> None:
    figures = smoke("bench_dashboard.py", timeout=240)
    assert figures["benchmark"] == "dashboard" and figures["smoke"] is True
    assert figures["units"] == figures["units_connected"] == 50
    assert figures["units_with_position"] == 50  # every moving unit reached the page
    assert figures["messages_applied"] > 0 and figures["apply_ms"]["n"] == figures["messages_applied"]
    assert 0 <= figures["apply_ms"]["p50"] <= figures["apply_ms"]["p99"] <= figures["apply_ms"]["max"]
    assert figures["render_ms"]["n"] > 0 and figures["heap_mb_first"] > 0 and figures["dom_nodes_last"] > 0


def test_disconnect_benchmark_smoke() -> None:
    figures = smoke("bench_disconnect.py", timeout=120)
    assert figures["benchmark"] == "disconnect" and figures["smoke"] is True
    (run,) = figures["runs"]
    assert run["units"] == 100 and run["stock_s"] > 0 and run["indexed_s"] > 0
