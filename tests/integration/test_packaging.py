"""What ships: the package with its pages, scripts and layers, and a compose file Docker accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _build_wheel(out: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("coordinator-*.whl")
    return wheel


def test_wheel_contains_templates_static_files_and_default_layers(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "coordinator/templates/dashboard.html",
        "coordinator/templates/field.html",
        "coordinator/templates/login.html",
        "coordinator/static/dashboard.js",
        "coordinator/static/field.js",
        "coordinator/static/vendor/leaflet/leaflet.js",
        "coordinator/static/vendor/socket.io/socket.io.min.js",
        "coordinator/maps/boston-places.geojson",
        "coordinator/reports/heat.js",
        "coordinator/reports/report.css",
        "coordinator/cli.py",
    ):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "coordinator = coordinator.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_package_finds_its_assets_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "wheel")
    venv = tmp_path / "venv"
    # System site packages give Flask and friends without a download; the wheel itself is new.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import coordinator.resources as r; "
        "print(r.asset_dir('templates')); "
        "print(sorted(p.name for p in r.asset_dir('maps').glob('*.geojson')))"
    )
    out = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    assert "site-packages" in out[0] and out[0].endswith("coordinator/templates")
    assert "boston-places.geojson" in out[1]


def _compose_command() -> list[str]:
    """Docker Compose v2 (`docker compose`) where it exists, else the v1 `docker-compose`."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        return [docker, "compose"]
    found = shutil.which("docker-compose")
    assert found, "docker-compose is needed to check the compose file (scripts/test installs it)"
    return [found]


def test_compose_file_describes_redis_two_nodes_and_a_sticky_proxy() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**os.environ, "COORDINATOR_SECRET_KEY": "compose-check-0123456789abcdef"},
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = result.stdout
    for service in ("redis:", "node1:", "node2:", "proxy:"):
        assert service in config
    assert "appendonly" in config
    # Every socket is a file descriptor: nodes and proxy get room for their 20,000 connections.
    assert config.count("nofile") == 3
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert "ip_hash" in nginx and "Upgrade" in nginx
