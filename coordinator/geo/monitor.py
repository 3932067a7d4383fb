"""The per-frame spatial state: who is inside which fence, and where coverage is missing.

Both are states, evaluated from scratch every frame with vectorised shapely and
numpy work (no Python loop over units), not only crossings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import shapely
from pyproj import CRS, Transformer

DEFAULT_COVERAGE_MINUTES = 4.0


def footprint_radius_m(crowd_estimate: int) -> float:
    """The radius of a demonstration's area of operations when it has no drawn area."""
    return 40.0 + math.sqrt(max(crowd_estimate, 0)) * 2.0


class UnitPoint(NamedTuple):
    # A tuple, not a frozen dataclass: one is built per unit several times a second, and a
    # frozen dataclass's __init__ costs several times more.
    unit_id: str
    kind: str
    available: bool
    lat: float
    lon: float


@dataclass(frozen=True)
class DemonstrationArea:
    demonstration_id: str
    name: str
    status: str
    tension: int
    lat: float
    lon: float
    crowd_estimate: int
    area: dict[str, Any] | None


@dataclass(frozen=True)
class SpatialState:
    # unit id -> labels of the fences it is inside (absent: inside none)
    unit_fences: dict[str, list[str]]
    # demonstration id -> sensitive sites its area of operations reaches
    demonstration_fences: dict[str, list[str]]
    coverage_gaps: list[dict[str, Any]]


class Monitor:
    """Evaluates fences and coverage in one metric CRS."""

    def __init__(
        self,
        metric_crs: CRS,
        *,
        sensitive_fences: np.ndarray,
        sensitive_labels: Sequence[str],
        coverage_minutes: float = DEFAULT_COVERAGE_MINUTES,
        speed_mps: float = 6.0,
        detour_factor: float = 1.4,
    ) -> None:
        self.metric_crs = metric_crs
        self._to_metric = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
        self.sensitive_fences = sensitive_fences
        self.sensitive_labels = list(sensitive_labels)
        self.coverage_s = coverage_minutes * 60.0
        self.speed_mps = speed_mps
        self.detour_factor = detour_factor

    def _points(self, lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = self._to_metric.transform(lons, lats)
        return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

    def _areas(self, demos: Sequence[DemonstrationArea], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        circles = shapely.buffer(
            shapely.points(xs, ys), [footprint_radius_m(d.crowd_estimate) for d in demos]
        )
        areas = []
        for demo, circle in zip(demos, circles, strict=True):
            if demo.area is None:
                areas.append(circle)
                continue
            ring = np.asarray(demo.area["coordinates"][0], dtype=float)
            rx, ry = self._points(ring[:, 1], ring[:, 0])
            areas.append(shapely.make_valid(shapely.polygons(np.column_stack([rx, ry]))))
        return np.asarray(areas, dtype=object)

    def evaluate(
        self, units: Sequence[UnitPoint], demonstrations: Sequence[DemonstrationArea]
    ) -> SpatialState:
        live = [d for d in demonstrations if d.status != "ended"]
        dx, dy = self._points(np.array([d.lat for d in live]), np.array([d.lon for d in live]))
        areas = self._areas(live, dx, dy) if live else np.array([], dtype=object)
        fences = np.concatenate([self.sensitive_fences, areas]) if areas.size else self.sensitive_fences
        labels = self.sensitive_labels + [f"{d.name} (demonstration)" for d in live]

        unit_fences: dict[str, list[str]] = defaultdict(list)
        ux, uy = self._points(np.array([u.lat for u in units]), np.array([u.lon for u in units]))
        if units and len(fences):
            tree = shapely.STRtree(fences)
            point_index, fence_index = tree.query(shapely.points(ux, uy), predicate="within")
            for p, f in zip(point_index, fence_index, strict=True):
                unit_fences[units[p].unit_id].append(labels[f])

        demonstration_fences: dict[str, list[str]] = {}
        if live and len(self.sensitive_fences):
            site_tree = shapely.STRtree(self.sensitive_fences)
            area_index, site_index = site_tree.query(areas, predicate="intersects")
            touching: dict[str, list[str]] = defaultdict(list)
            for a, s in zip(area_index, site_index, strict=True):
                touching[live[a].demonstration_id].append(self.sensitive_labels[s])
            demonstration_fences = dict(touching)

        gaps = self._coverage(units, live, ux=ux, uy=uy, dx=dx, dy=dy)
        return SpatialState({k: sorted(v) for k, v in unit_fences.items()}, demonstration_fences, gaps)

    def _coverage(
        self,
        units: Sequence[UnitPoint],
        demos: Sequence[DemonstrationArea],
        *,
        ux: np.ndarray,
        uy: np.ndarray,
        dx: np.ndarray,
        dy: np.ndarray,
    ) -> list[dict[str, Any]]:
        """Every active demonstration needs a medical team, and at tension 3+ a de-escalation team."""
        active = np.array([d.status == "active" for d in demos], dtype=bool)
        if not active.any():
            return []
        kinds = np.array([u.kind for u in units])
        available = np.array([u.available for u in units], dtype=bool)
        # Straight line times the detour factor: cheap enough for every frame.
        distance = np.hypot(dx[:, None] - ux[None, :], dy[:, None] - uy[None, :]) if units else None
        gaps: list[dict[str, Any]] = []
        for need, applies in (
            ("medical_team", active),
            ("deescalation_team", active & np.array([d.tension >= 3 for d in demos], dtype=bool)),
        ):
            if not applies.any():
                continue
            mask = (kinds == need) & available if units else np.array([], dtype=bool)
            if distance is not None and mask.any():
                nearest = distance[:, mask].min(axis=1) * self.detour_factor / self.speed_mps
            else:
                nearest = np.full(len(demos), np.inf)
            for i in (int(k) for k in np.flatnonzero(applies & (nearest > self.coverage_s))):
                gaps.append(
                    {
                        "demonstration_id": demos[i].demonstration_id,
                        "name": demos[i].name,
                        "missing": need,
                        "nearest_eta_s": None if not np.isfinite(nearest[i]) else round(float(nearest[i])),
                        "within_s": self.coverage_s,
                    }
                )
        return gaps
