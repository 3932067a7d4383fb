"""The live loop's own pacing: geofences and coverage never take more than their share."""

from __future__ import annotations

from pathlib import Path

from coordinator.app import create_app
from coordinator.config import Settings
from coordinator.live.hub import HOUSEKEEPING_S, SPATIAL_SHARE, LiveHub


def test_spatial_work_runs_less_often_once_it_would_outgrow_its_share(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key="k" * 32))
    hub: LiveHub = app.extensions["coordinator.hub"]
    clock = [1000.0]
    costs = iter([0.01, 0.08, 0.01])  # seconds each evaluation takes
    runs: list[float] = []

    def evaluate() -> None:
        runs.append(clock[0])
        clock[0] += next(costs)

    hub._clock = lambda: clock[0]
    hub.evaluate_spatial = evaluate  # type: ignore[method-assign]

    hub.spatial_when_due(1000.0)  # cheap: due again after the usual interval
    hub.spatial_when_due(1000.0 + HOUSEKEEPING_S - 0.01)
    assert runs == [1000.0]
    clock[0] = 1000.0 + HOUSEKEEPING_S
    hub.spatial_when_due(clock[0])  # takes 80 ms: next only after 80 ms / SPATIAL_SHARE
    assert len(runs) == 2
    started = runs[1]
    hub.spatial_when_due(started + 0.08 / SPATIAL_SHARE - 0.01)
    assert len(runs) == 2
    clock[0] = started + 0.08 / SPATIAL_SHARE + 0.001
    hub.spatial_when_due(clock[0])
    assert len(runs) == 3  # cheap again: back to the usual interval
