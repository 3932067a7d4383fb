"""Thinned unit tracks: Douglas-Peucker in metres, so a straight walk keeps two points, not hundreds.

The fixes stream in unit by unit (the track store's order), and each unit is thinned
and dropped before the next is read, so memory follows one unit's track, not the
whole operation's 2.6 million fixes.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import shapely
from pyproj import Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from ..store.protocols import Fix

# A point of a thinned track: [lat, lon, at], as in the report.
TrackPoint = list[float | str]


@cache
def _utm_transformer(lat: float, lon: float) -> Transformer:
    """WGS 84 lon/lat to the UTM zone of a point (cached per rounded point)."""
    zones = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return Transformer.from_crs("EPSG:4326", f"EPSG:{zones[0].code}", always_xy=True)


def metric_transformer(lat: float, lon: float) -> Transformer:
    # Rounded to a degree: a zone is 6 degrees wide, and the cache stays tiny.
    return _utm_transformer(float(round(lat)), float(round(lon)))


def thin(
    lats: list[float], lons: list[float], ats: list[str], *, tolerance_m: float, pins: Iterable[str] = ()
) -> list[TrackPoint]:
    """Return the points of one unit's track that Douglas-Peucker keeps, plus pinned ones.

    First and last points are always kept (Douglas-Peucker keeps a line's ends). For
    each time in `pins` the last fix at or before it is kept too: the report draws the
    line of an assignment from where the unit was when it was dispatched, and that
    fix must survive thinning.
    """
    n = len(ats)
    keep = {0, n - 1} if n else set()
    for moment in pins:
        index = bisect.bisect_right(ats, moment) - 1
        if index >= 0:
            keep.add(index)
    if n > 2 and tolerance_m > 0:
        keep.update(_douglas_peucker_indices(lats, lons, tolerance_m))
    elif n > 2:
        keep.update(range(n))
    return [[lats[i], lons[i], ats[i]] for i in sorted(keep)]


def _douglas_peucker_indices(lats: list[float], lons: list[float], tolerance_m: float) -> list[int]:
    to_metric = metric_transformer(lats[0], lons[0])
    xs, ys = to_metric.transform(np.asarray(lons), np.asarray(lats))
    coords = np.column_stack([xs, ys])
    simplified = shapely.get_coordinates(
        shapely.simplify(shapely.LineString(coords), tolerance_m, preserve_topology=False)
    )
    # The simplified vertices are a subsequence of the original ones (exact copies), so an
    # in-order match finds their indices; repeats (a unit standing still) match the first.
    positions: dict[tuple[float, float], list[int]] = {}
    for index, (x, y) in enumerate(coords.tolist()):
        positions.setdefault((x, y), []).append(index)
    found: list[int] = []
    previous = -1
    for x, y in simplified.tolist():
        candidates = positions.get((x, y), [])
        at = bisect.bisect_right(candidates, previous)
        if at < len(candidates):
            previous = candidates[at]
            found.append(previous)
    return found


@dataclass
class ThinnedTracks:
    tracks: dict[str, list[TrackPoint]] = field(default_factory=dict)
    raw_fixes: int = 0


def thin_tracks(
    fixes: Iterable[Fix],
    *,
    tolerance_m: float,
    wanted: Callable[[str], bool] | Collection[str] | None = None,
    pins: Mapping[str, list[str]] | None = None,
) -> ThinnedTracks:
    """Thin a stream of fixes ordered by unit then time; `wanted` picks the units to keep."""
    result = ThinnedTracks()
    pins = pins or {}
    keep_unit: Callable[[str], bool]
    if wanted is None:
        keep_unit = _always
    elif callable(wanted):
        keep_unit = wanted
    else:
        keep_unit = wanted.__contains__
    current: str | None = None
    lats: list[float] = []
    lons: list[float] = []
    ats: list[str] = []

    def finish() -> None:
        if current is not None and ats:
            result.tracks[current] = thin(
                lats, lons, ats, tolerance_m=tolerance_m, pins=pins.get(current, ())
            )

    for fix in fixes:
        if fix.unit_id != current:
            finish()
            current, lats, lons, ats = fix.unit_id, [], [], []
        if not keep_unit(fix.unit_id):
            continue
        result.raw_fixes += 1
        lats.append(fix.lat)
        lons.append(fix.lon)
        ats.append(fix.at)
    finish()
    return result


def _always(_unit_id: str) -> bool:
    return True
