"""The benchmark scripts still run: each is started with --smoke and must print its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_routing_benchmark_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_routing.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "routing"
    assert (figures["targets"], figures["units"]) == (10, 100)
    assert 12_000 <= figures["nodes"] <= 15_000
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert figures["recommended_by_road"] > 0


def test_import_benchmark_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_import.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "layer_import"
    assert figures["smoke"] is True
    assert [(layer["name"], layer["features"]) for layer in figures["layers"]] == [
        ("hospitals", 30),
        ("courthouses", 18),
    ]
    assert figures["total_s"] > 0


def test_spatial_benchmark_smoke() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_spatial.py", "--smoke"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "spatial" and result["units"] == 100 and result["p95_ms"] > 0


def test_report_benchmark_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_report.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "report" and figures["smoke"] is True
    assert (figures["units"], figures["incidents"], figures["assignments"]) == (20, 20, 40)
    assert figures["fixes_stored"] == figures["fixes_in_report"] == 20 * 30 * 12
    assert 0 < figures["track_points_kept"] < figures["fixes_in_report"]
    assert figures["build_s"] > 0 and figures["total_s"] >= figures["build_s"]
    assert figures["peak_rss_mb"] > 0
