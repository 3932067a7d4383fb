"""The fan-out benchmark's rule for a ramp step: one clear run decides, a marginal one is repeated."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_fanout.py"


@pytest.fixture(scope="module")
def fanout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fanout_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def window(p99: float | None, *, ok: bool | None = None, delivery: float = 1.0) -> dict[str, Any]:
    held = ok if ok is not None else p99 is not None and p99 <= 1000
    return {"p99_ms": p99, "sustainable": held, "delivery_ratio": delivery}


def decide(fanout: ModuleType, windows: list[dict[str, Any]]) -> tuple[bool, list[float | None]]:
    """Run `Bench.step` on windows given in advance; return its answer and the p99s it used."""
    queue = list(windows)
    fake = SimpleNamespace(run=lambda kind, n, duration: dict(queue.pop(0)))
    held, runs = fanout.Bench.step(fake, "naive", 2000, 20.0)
    assert [run["try"] for run in runs] == list(range(1, len(runs) + 1))
    return held, [run["p99_ms"] for run in runs]


@pytest.mark.parametrize(
    ("windows", "held", "used"),
    [
        # Far under or far over the limit: one window is enough.
        ([window(120.0)], True, [120.0]),
        ([window(4000.0)], False, [4000.0]),
        ([window(None, ok=False)], False, [None]),
        ([window(300.0, ok=False, delivery=0.5)], False, [300.0]),
        # Near the limit: again until one answer has two of three.
        ([window(900.0), window(700.0)], True, [900.0, 700.0]),
        ([window(1200.0), window(1500.0)], False, [1200.0, 1500.0]),
        ([window(900.0), window(1300.0), window(800.0)], True, [900.0, 1300.0, 800.0]),
        ([window(1100.0), window(400.0), window(1900.0)], False, [1100.0, 400.0, 1900.0]),
    ],
)
def test_a_step_is_decided_by_one_clear_window_or_the_majority_of_three(
    fanout: ModuleType, windows: list[dict[str, Any]], held: bool, used: list[float | None]
) -> None:
    assert decide(fanout, windows) == (held, used)


def test_the_margin_is_a_factor_of_the_limit_either_side(fanout: ModuleType) -> None:
    limit = fanout.P99_LIMIT_MS
    assert fanout.clear(window(limit / fanout.MARGIN))
    assert not fanout.clear(window(limit / fanout.MARGIN + 1))
    assert not fanout.clear(window(limit * fanout.MARGIN, ok=False))
    assert fanout.clear(window(limit * fanout.MARGIN + 1, ok=False))
