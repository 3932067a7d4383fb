"""Response-time figures of an after-action report: targets, percentiles and the grouped rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..domain.model import ASSIGNMENT_KINDS, INCIDENT_KINDS

MEASURES = ("incident_to_dispatch", "dispatch_to_ack", "dispatch_to_on_scene")
# Rows are listed for every kind of the vocabularies, so a report always has the same
# shape and a kind that never happened shows as count 0 rather than being missing.
GROUPS: dict[str, tuple[str, ...]] = {"assignment_kind": ASSIGNMENT_KINDS, "incident_kind": INCIDENT_KINDS}


@dataclass(frozen=True)
class ResponseTargets:
    """Target seconds per measure; `by_assignment_kind` overrides them for one kind of assignment.

    Example: ResponseTargets(by_assignment_kind={"medical_aid": {"dispatch_to_on_scene": 300}}).
    Overrides apply to the `assignment_kind` rows only: an incident kind has no single
    assignment kind, so its rows use the defaults.
    """

    incident_to_dispatch: float = 120.0
    dispatch_to_ack: float = 60.0
    dispatch_to_on_scene: float = 480.0
    by_assignment_kind: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def target(self, measure: str, assignment_kind: str | None = None) -> float:
        if measure not in MEASURES:
            raise ValueError(f"unknown measure {measure!r}")
        override = self.by_assignment_kind.get(assignment_kind or "", {})
        return float(override.get(measure, getattr(self, measure)))


DEFAULT_TARGETS = ResponseTargets()


def percentile(values: Iterable[float], q: float) -> float | None:
    """Return the q-th percentile (0-100) with linear interpolation, None for no values.

    This is the one definition every report figure uses: numpy's default ("linear"),
    i.e. the value at rank (n - 1) * q / 100 interpolated between its neighbours,
    the same as Excel's PERCENTILE.INC. The median is percentile(values, 50).
    """
    data = np.fromiter(values, dtype=float)
    if data.size == 0:
        return None
    return float(np.percentile(data, q))


# (group, key, measure) -> seconds observed
Samples = dict[tuple[str, str, str], list[float]]


def add_sample(samples: Samples, group: str, key: str, measure: str, seconds: float) -> None:
    samples.setdefault((group, key, measure), []).append(seconds)


def response_rows(samples: Samples, targets: ResponseTargets) -> list[dict[str, Any]]:
    """One row per group, kind and measure, in vocabulary order."""
    rows: list[dict[str, Any]] = []
    for group, keys in GROUPS.items():
        for measure in MEASURES:
            for key in keys:
                values = samples.get((group, key, measure), [])
                target = targets.target(measure, key if group == "assignment_kind" else None)
                p90 = percentile(values, 90)
                rows.append(
                    {
                        "group": group,
                        "key": key,
                        "measure": measure,
                        "count": len(values),
                        "median_s": percentile(values, 50),
                        "p90_s": p90,
                        "target_s": target,
                        "met": None if p90 is None else p90 <= target,
                    }
                )
    return rows
