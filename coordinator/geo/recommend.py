"""Rank candidate units by how soon they can reach a target.

Two steps keep this cheap at city scale: a vectorised straight-line distance to
every candidate picks a shortlist, then one Dijkstra from the target over the
street graph gives every shortlisted unit its road ETA. Wanted skills are a
preference: they move a unit up by a fixed number of seconds, never filter it out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import floor

import numpy as np
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from .routing import WGS84, StreetGraph

# A crew moving through a city with crowds, by vehicle or on foot: about 22 km/h.
DEFAULT_SPEED_MPS = 6.0
# Streets are longer than the straight line; 1.4 is a typical urban road-to-crow-flight ratio.
DEFAULT_DETOUR_FACTOR = 1.4

ROAD = "road"
STRAIGHT_LINE = "straight_line"


@dataclass(frozen=True)
class Candidate:
    """A unit the caller already found suitable: available, of the right kind, with a fresh position."""

    unit_id: str
    callsign: str
    kind: str
    skills: tuple[str, ...]
    lat: float
    lon: float


@dataclass(frozen=True)
class Recommendation:
    unit_id: str
    callsign: str
    eta_s: float  # the real ETA; the skill bonus only orders
    distance_m: float  # straight line to the target
    method: str  # "road" or "straight_line"
    skill_matches: tuple[str, ...]


def rank(
    target_lat: float,
    target_lon: float,
    candidates: Sequence[Candidate],
    *,
    graph: StreetGraph | None,
    wanted_skills: Collection[str] = (),
    shortlist: int = 10,
    limit: int = 3,
    speed_mps: float = DEFAULT_SPEED_MPS,
    detour_factor: float = DEFAULT_DETOUR_FACTOR,
    skill_bonus_s: float = 120.0,
    cutoff_s: float = 3600.0,
) -> list[Recommendation]:
    """Return up to `limit` candidates, soonest first (a wanted skill counts `skill_bonus_s` seconds)."""
    if shortlist < 1:
        raise ValueError("shortlist must be at least 1")
    if speed_mps <= 0:
        raise ValueError("speed_mps must be positive")
    if not candidates or limit < 1:
        return []
    distances = _straight_line_m(target_lat, target_lon, candidates, graph)
    nearest = [int(i) for i in np.argsort(distances, kind="stable")[:shortlist]]
    shortlisted = [candidates[i] for i in nearest]
    fallback = distances[nearest] * detour_factor / speed_mps
    road = np.full(len(nearest), np.nan)
    if graph is not None:
        road = _road_etas(graph, target_lat, target_lon, shortlisted, speed_mps=speed_mps, cutoff_s=cutoff_s)
    wanted = frozenset(wanted_skills)
    found = [
        _recommendation(unit, float(road[k]), float(fallback[k]), float(distances[nearest[k]]), wanted)
        for k, unit in enumerate(shortlisted)
    ]
    found.sort(key=lambda r: (r.eta_s - (skill_bonus_s if r.skill_matches else 0.0), r.distance_m, r.unit_id))
    return found[:limit]


def _recommendation(
    unit: Candidate, road_s: float, fallback_s: float, distance_m: float, wanted: frozenset[str]
) -> Recommendation:
    """The unit's entry: its road ETA when there is one, else the straight-line estimate."""
    by_road = not np.isnan(road_s)
    return Recommendation(
        unit_id=unit.unit_id,
        callsign=unit.callsign,
        eta_s=road_s if by_road else fallback_s,
        distance_m=distance_m,
        method=ROAD if by_road else STRAIGHT_LINE,
        skill_matches=tuple(skill for skill in unit.skills if skill in wanted),
    )


def _straight_line_m(
    lat: float, lon: float, candidates: Sequence[Candidate], graph: StreetGraph | None
) -> np.ndarray:
    """Metres from the target to every candidate, in one projection call."""
    crs = graph.metric_crs if graph is not None else utm_crs(lat, lon)
    lats = np.array([lat, *(c.lat for c in candidates)], dtype=float)
    lons = np.array([lon, *(c.lon for c in candidates)], dtype=float)
    xs, ys = _to_metric(crs).transform(lons, lats)
    xs, ys = np.asarray(xs), np.asarray(ys)
    return np.asarray(np.hypot(xs[1:] - xs[0], ys[1:] - ys[0]), dtype=float)


def _road_etas(
    graph: StreetGraph,
    lat: float,
    lon: float,
    shortlisted: Sequence[Candidate],
    *,
    speed_mps: float,
    cutoff_s: float,
) -> np.ndarray:
    """Road ETAs at `speed_mps` from one Dijkstra; NaN where out of reach within the cutoff.

    The graph's seconds are at its own build speed; every part of a trip scales
    with 1 / speed, so a different speed here is a plain rescale.
    """
    scale = graph.speed_mps / speed_mps
    times = graph.travel_times_from(lat, lon, cutoff_s=cutoff_s / scale)
    lats = np.array([c.lat for c in shortlisted], dtype=float)
    lons = np.array([c.lon for c in shortlisted], dtype=float)
    return np.asarray(times.etas(lats, lons) * scale, dtype=float)


def utm_crs(lat: float, lon: float) -> CRS:
    """The WGS 84 UTM zone of a point."""
    # The query costs tens of milliseconds, and zone borders fall on whole
    # degrees, so the answer for a one-degree cell is remembered.
    # UTM covers 80 S to 84 N; the antimeridian (lon 180) belongs to the cell just west of it.
    lat_cell = min(max(floor(lat), -80), 83)
    lon_cell = min(max(floor(lon), -180), 179)
    return _utm_crs_of_cell(lat_cell, lon_cell)


@lru_cache(maxsize=64)
def _utm_crs_of_cell(lat_cell: int, lon_cell: int) -> CRS:
    # The cell's centre never sits on a zone border, so exactly one zone answers.
    centre_lat, centre_lon = lat_cell + 0.5, lon_cell + 0.5
    zones = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(centre_lon, centre_lat, centre_lon, centre_lat),
    )
    if not zones:
        raise ValueError(f"no UTM zone for lat {centre_lat}, lon {centre_lon}")
    return CRS.from_epsg(int(zones[0].code))


@lru_cache(maxsize=16)
def _to_metric(crs: CRS) -> Transformer:
    # Building a transformer is cheap but not free; pyproj transformers are
    # safe to share between threads (pyproj >= 3.1).
    return Transformer.from_crs(WGS84, crs, always_xy=True)
