"""Per-frame geofence and coverage work: 2,000 units, 200 sensitive-site fences, 50 demonstrations.

Run from the repository root: `python bench/bench_spatial.py` (`--smoke` for a tiny run).
Prints a table and, last, one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coordinator.geo.index import GeoIndex, SourceLayer
from coordinator.geo.monitor import DemonstrationArea, Monitor, UnitPoint

BOSTON = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "boston"
KINDS = ("medical_team", "deescalation_team", "field_supervisor")


def sensitive_sites(count: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """A sample of the real Boston schools, hospitals, courthouses, libraries and community centers."""
    frames = []
    for name, column in (
        ("hospitals.geojson", "Name"),
        ("courthouses.geojson", "name"),
        ("libraries.geojson", "BRANCH"),
        ("community_centers.geojson", "SITE"),
        ("public_schools/Public_Schools.shp", "SCH_NAME"),
    ):
        frame = gpd.read_file(BOSTON / name).to_crs("EPSG:4326")
        frames.append(frame.assign(name=frame[column].astype(str))[["name", "geometry"]])
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    sites = sites.iloc[rng.permutation(len(sites))[:count]].reset_index(drop=True)
    sites["category"] = "sensitive site"
    return sites


def run(units_n: int, fences_n: int, demos_n: int, frames: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    sites = sensitive_sites(fences_n, rng)
    index = GeoIndex([SourceLayer("sites", "sensitive_site", sites)])
    fences, labels = index.sensitive_fences()
    assert index.metric_crs is not None
    monitor = Monitor(index.metric_crs, sensitive_fences=fences, sensitive_labels=labels)
    lat0, lon0 = 42.33, -71.08
    demos = [
        DemonstrationArea(
            f"dem-{i:06x}",
            f"Demo {i}",
            "active",
            int(rng.integers(1, 6)),
            lat0 + rng.uniform(-0.04, 0.04),
            lon0 + rng.uniform(-0.05, 0.05),
            int(rng.integers(50, 5000)),
            None,
        )
        for i in range(demos_n)
    ]
    lats = lat0 + rng.uniform(-0.05, 0.05, units_n)
    lons = lon0 + rng.uniform(-0.06, 0.06, units_n)
    timings = []
    inside = 0
    for _ in range(frames):
        # Everyone moves a little each frame, as they would between two frames.
        lats += rng.normal(0, 0.00005, units_n)
        lons += rng.normal(0, 0.00005, units_n)
        units = [
            UnitPoint(f"unit-{i:06x}", KINDS[i % 3], bool(i % 4), float(lats[i]), float(lons[i]))
            for i in range(units_n)
        ]
        started = time.perf_counter()
        state = monitor.evaluate(units, demos)
        timings.append((time.perf_counter() - started) * 1000)
        inside = len(state.unit_fences)
    timings.sort()
    return {
        "units": units_n,
        "fences": len(fences),
        "demonstrations": demos_n,
        "frames": frames,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
        "max_ms": round(timings[-1], 2),
        "units_inside_a_fence": inside,
        "shapely": shapely.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny run that only proves the script works")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--fences", type=int, default=200)
    parser.add_argument("--demonstrations", type=int, default=50)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.smoke:
        args.units, args.fences, args.demonstrations, args.frames = 100, 20, 5, 5
    result = run(args.units, args.fences, args.demonstrations, args.frames, args.seed)
    result["machine"] = f"{platform.machine()} {platform.python_version()}"
    print("per-frame geofence + coverage work")
    for key, value in result.items():
        print(f"  {key:>22}: {value}")
    print(json.dumps({"benchmark": "spatial", **result}))


if __name__ == "__main__":
    main()
