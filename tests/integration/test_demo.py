"""`coordinator demo` shows a living Boston operation within a minute (here, sped up)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str, str, Path]]:
    port = free_port()
    data_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "coordinator.cli", "demo", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COORDINATOR_DEMO_SPEEDUP": "12"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("serving on" in line for line in lines):
        lines.append(proc.stdout.readline())
    output = "".join(lines)
    url = re.search(r"running at (http://\S+)", output)
    login = re.search(r"Sign in as '(\S+)' with password '(\S+)'", output)
    assert url and login, output
    while time.monotonic() < deadline:  # the banner comes just before the port is bound
        try:
            if requests.get(url.group(1) + "healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield url.group(1), login.group(1), login.group(2), data_dir
    proc.terminate()
    proc.wait(timeout=10)


def _session(url: str, name: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(url + "login", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    answer = session.post(
        url + "login", data={"username": name, "password": password, "csrf": csrf.group(1)}, timeout=10
    )
    assert answer.ok and answer.url.rstrip("/") == url.rstrip("/")
    return session


def test_demo_prints_a_login_and_plays_the_boston_scenario(demo: tuple[str, str, str, Path]) -> None:
    url, name, password, data_dir = demo
    session = _session(url, name, password)
    first = session.get(url + "api/state", timeout=10).json()
    names = {d["name"] for d in first["demonstrations"]}
    assert any("City Hall Plaza" in n for n in names) and any("Boston Common" in n for n in names)
    assert len(first["units"]) == 12
    assert {u["kind"] for u in first["units"]} == {"medical_team", "deescalation_team", "field_supervisor"}
    tokens = (data_dir / "demo-units.txt").read_text().split()
    assert len(tokens) == 36  # callsign, id and device token per unit

    # Sped up twelvefold: tension rises, an injury is reported and federal agents appear.
    deadline = time.monotonic() + 20
    state = first
    while time.monotonic() < deadline:
        state = session.get(url + "api/state", timeout=10).json()
        kinds = {i["kind"] for i in state["incidents"]}
        if {"injury", "federal_activity"} <= kinds:
            break
        time.sleep(0.5)
    assert {i["kind"] for i in state["incidents"]} >= {"injury", "federal_activity"}
    rally = next(d for d in state["demonstrations"] if "City Hall" in d["name"])
    assert rally["tension"] >= 3 and rally["federal_presence"] is True

    # Units move by themselves.
    moved = [
        u["id"]
        for u in state["units"]
        for v in first["units"]
        if u["id"] == v["id"] and u["position"] != v["position"]
    ]
    assert len(moved) >= 10


def test_demo_crews_answer_an_assignment_by_themselves(demo: tuple[str, str, str, Path]) -> None:
    url, name, password, _ = demo
    session = _session(url, name, password)
    page = session.get(url, timeout=10).text
    csrf = re.search(r'"csrf": "([^"]+)"', page)
    assert csrf
    state = session.get(url + "api/state", timeout=10).json()
    unit = next(u for u in state["units"] if u["callsign"] == "DE-2")
    demo_id = next(d["id"] for d in state["demonstrations"] if "Boston Common" in d["name"])
    created = session.post(
        url + "api/assignments",
        json={"unit_id": unit["id"], "kind": "deescalation", "demonstration_id": demo_id},
        headers={"X-CSRF-Token": csrf.group(1)},
        timeout=10,
    )
    assert created.status_code == 201
    deadline = time.monotonic() + 15
    status = "dispatched"
    while time.monotonic() < deadline and status not in ("en_route", "on_scene"):
        status = session.get(url + f"api/assignments/{created.json()['id']}", timeout=10).json()["status"]
        time.sleep(0.3)
    assert status in ("en_route", "on_scene")
