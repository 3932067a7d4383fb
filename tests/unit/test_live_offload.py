"""The live loop's chores: their blocking work in a native thread while greenlets run on."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import gevent
import pytest

from coordinator.app import create_app
from coordinator.config import Settings
from coordinator.live import offload
from coordinator.live.hub import LiveHub
from coordinator.service import Coordinator


def test_work_runs_in_another_native_thread_while_greenlets_keep_running() -> None:
    run = offload.runner_for("gevent")
    ticks: list[float] = []
    block: list[float] = []

    def ticker() -> None:
        while len(ticks) < 100:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    def blocking() -> int:
        block.append(time.monotonic())
        time.sleep(0.3)  # not patched here: a real block, as a SQLite fsync is
        block.append(time.monotonic())
        return threading.get_native_id()

    greenlet = gevent.spawn(ticker)
    gevent.sleep(0)
    assert run(blocking) != threading.get_native_id()
    greenlet.kill()
    # The ticker went on while the other thread was blocked (about 30 ticks of 10 ms).
    assert len([t for t in ticks if block[0] < t < block[1]]) >= 3


def test_the_works_exception_is_raised_to_the_caller() -> None:
    run = offload.runner_for("gevent")

    def failing() -> None:
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        run(failing)
    assert run(lambda: 7) == 7  # the thread outlives a failed work


def test_threading_mode_runs_the_work_where_it_is_called() -> None:
    run = offload.runner_for("threading")
    assert run(threading.get_native_id) == threading.get_native_id()


def _hub(tmp_path: Path, async_mode: str) -> tuple[LiveHub, Coordinator]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="k" * 32, async_mode=async_mode))
    return app.extensions["coordinator.hub"], app.extensions["coordinator"]


def test_chores_write_sqlite_fixes_in_a_native_thread_under_gevent(tmp_path: Path) -> None:
    hub, service = _hub(tmp_path, "gevent")
    writers: list[int] = []
    write = service.tracks.write_fixes

    def recording_write(fixes):  # type: ignore[no-untyped-def]
        writers.append(threading.get_native_id())
        write(fixes)

    service.tracks.write_fixes = recording_write  # type: ignore[method-assign]
    for i in range(5):
        service.record_fix(f"u{i}", 42.36, -71.06, 5.0, datetime.now(UTC))
    hub.run_chores()
    assert service.tracks.count() == 5
    assert writers and threading.get_native_id() not in writers


def test_a_failing_geofence_pass_does_not_hold_fixes_back(tmp_path: Path) -> None:
    hub, service = _hub(tmp_path, "threading")

    def broken() -> None:
        raise RuntimeError("bad geometry")

    hub.evaluate_spatial = broken  # type: ignore[method-assign]
    service.record_fix("u1", 42.36, -71.06, 5.0, datetime.now(UTC))
    hub.run_chores()  # logs the failure, does not raise
    assert service.tracks.count() == 1


def test_healthz_tells_how_many_fixes_wait_for_the_next_write(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key="k" * 32))
    hub: LiveHub = app.extensions["coordinator.hub"]
    service: Coordinator = app.extensions["coordinator"]
    for i in range(3):
        service.record_fix(f"u{i}", 42.36, -71.06, 5.0, datetime.now(UTC))
    client = app.test_client()
    assert client.get("/healthz").text.split() == ["ok", f"seq={service.state.seq}", "fixes_waiting=3"]
    hub.run_chores()
    assert client.get("/healthz").text.split()[-1] == "fixes_waiting=0"


def test_a_flush_waits_for_the_batch_another_task_is_writing(tmp_path: Path) -> None:
    # A graceful stop's flush must not return (and the process exit) mid-write of the chores'.
    _, service = _hub(tmp_path, "threading")
    writing, release = threading.Event(), threading.Event()
    write = service.tracks.write_fixes

    def slow_write(fixes):  # type: ignore[no-untyped-def]
        writing.set()
        release.wait(timeout=10)
        write(fixes)

    service.tracks.write_fixes = slow_write  # type: ignore[method-assign]
    for i in range(3):
        service.record_fix(f"u{i}", 42.36, -71.06, 5.0, datetime.now(UTC))
    chores = threading.Thread(target=service.flush_fixes)
    chores.start()
    assert writing.wait(timeout=10)
    stopping = threading.Thread(target=service.flush_fixes)  # nothing buffered of its own
    stopping.start()
    stopping.join(timeout=0.3)
    assert stopping.is_alive()  # still waiting for the batch in flight
    release.set()
    stopping.join(timeout=10)
    chores.join(timeout=10)
    assert service.tracks.count() == 3
