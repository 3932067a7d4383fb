"""Spatial settings, importable without loading the geo libraries."""

from __future__ import annotations

from dataclasses import dataclass

# A crew moving through a city with crowds, by vehicle or on foot.
SPEED_MPS = 6.0
# Roads are longer than the straight line; a typical urban ratio.
DETOUR_FACTOR = 1.4


@dataclass(frozen=True)
class GeoSettings:
    # Sensitive sites within this distance of a report are listed (state law's locations).
    sensitive_radius_m: float = 150.0
    # Every active demonstration needs a medical team (and at tension 3+ a
    # de-escalation team) that can reach it within this many minutes.
    coverage_minutes: float = 4.0
    speed_mps: float = SPEED_MPS
    detour_factor: float = DETOUR_FACTOR
