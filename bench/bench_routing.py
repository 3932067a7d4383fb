"""One recommendation over the real Boston streets: straight-line shortlist plus one Dijkstra.

Run from the repository root: `python bench/bench_routing.py` (`--smoke` for a tiny run).
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
import networkx as nx
import numpy as np
import shapely
from pyproj import Transformer

from coordinator.geo.recommend import Candidate, rank
from coordinator.geo.routing import StreetGraph

STREETS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "boston" / "street_segments.geojson"
)
SKILLS = ("lang:es", "lang:ht", "emt:paramedic", "crisis_intervention")


def positions_on_streets(
    streets_metric: np.ndarray, graph: StreetGraph, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random (lats, lons) on the network, longer streets likelier, up to 20 m off the centerline."""
    lengths = shapely.length(streets_metric)
    picked = rng.choice(len(lengths), size=count, p=lengths / lengths.sum())
    points = shapely.line_interpolate_point(streets_metric[picked], rng.random(count), normalized=True)
    xy = shapely.get_coordinates(points) + rng.uniform(-20.0, 20.0, size=(count, 2))
    back = Transformer.from_crs(graph.metric_crs, "EPSG:4326", always_xy=True)
    lons, lats = back.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lats), np.asarray(lons)


def candidates(lats: np.ndarray, lons: np.ndarray, rng: np.random.Generator) -> list[Candidate]:
    """Available units, about one in four with one wanted-looking skill."""
    units = []
    for k in range(len(lats)):
        skills = (SKILLS[int(rng.integers(len(SKILLS)))],) if rng.random() < 0.25 else ()
        units.append(
            Candidate(f"unit-{k:06x}", f"M-{k}", "medical_team", skills, float(lats[k]), float(lons[k]))
        )
    return units


def percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[int(share * (len(sorted_ms) - 1))]


def run(targets_n: int, units_n: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    streets = gpd.read_file(STREETS, engine="pyogrio")
    started = time.perf_counter()
    graph = StreetGraph.from_lines(streets)
    build_ms = (time.perf_counter() - started) * 1000
    streets_metric = streets.to_crs(graph.metric_crs).geometry.to_numpy()
    units = candidates(*positions_on_streets(streets_metric, graph, units_n, rng), rng)
    target_lats, target_lons = positions_on_streets(streets_metric, graph, targets_n, rng)
    rank(float(target_lats[0]), float(target_lons[0]), units, graph=graph)  # warm the caches once
    timings = []
    road = 0
    for lat, lon in zip(target_lats.tolist(), target_lons.tolist(), strict=True):
        started = time.perf_counter()
        best = rank(lat, lon, units, graph=graph, wanted_skills={"lang:es", "emt:paramedic"})
        timings.append((time.perf_counter() - started) * 1000)
        road += sum(r.method == "road" for r in best)
    timings.sort()
    largest = max(nx.connected_components(graph.network), key=len)
    return {
        "segments": len(streets),
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "largest_component_share": round(len(largest) / graph.node_count, 4),
        "build_ms": round(build_ms, 1),
        "targets": targets_n,
        "units": units_n,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "max_ms": round(timings[-1], 2),
        "recommended_by_road": road,
        "networkx": nx.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny run that only proves the script works")
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.smoke:
        args.targets, args.units = 10, 100
    result = run(args.targets, args.units, args.seed)
    result["machine"] = f"{platform.machine()} {platform.python_version()}"
    print("one recommendation: straight-line shortlist + one Dijkstra over the Boston streets")
    for key, value in result.items():
        print(f"  {key:>24}: {value}")
    print(json.dumps({"benchmark": "routing", **result}))


if __name__ == "__main__":
    main()
