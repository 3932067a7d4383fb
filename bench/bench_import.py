"""Benchmark: import the city's real GIS layers through `read_layer` and `LayerStore.save`.

Run from the repository root:

    .venv/bin/python bench/bench_import.py            # every Boston layer
    .venv/bin/python bench/bench_import.py --smoke    # two small layers, for CI
    .venv/bin/python bench/bench_import.py --data /path/to/boston

Prints a table (read, save and total seconds per layer) and then one JSON line, the
last line of output, for tools to collect. Layers go into a temporary data directory
that is deleted afterwards. No timing is asserted: machines differ.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from coordinator.geo.importer import read_layer
from coordinator.geo.store import LayerStore

REPO = Path(__file__).resolve().parents[1]
# The data lives beside the repository, never inside it (see tests/unit/test_layer_import.py).
DEFAULT_DATA = REPO.parent / "shared" / "data" / "boston"


@dataclass(frozen=True)
class Job:
    """One layer to import: where it is, what it is, and how to read it."""

    name: str
    path: str
    kind: str
    options: dict[str, str]


JOBS = [
    Job(
        "city-parks",
        "open_space.geojson",
        "city_property",
        {"name_field": "SITE_NAME", "where": "OWNERSHIP == 'City of Boston'"},
    ),
    Job(
        "schools",
        "public_schools/Public_Schools.shp",
        "sensitive_site",
        {"name_field": "SCH_NAME", "category": "school"},
    ),
    Job("hospitals", "hospitals.geojson", "sensitive_site", {"name_field": "Name", "category": "hospital"}),
    Job(
        "courthouses",
        "courthouses.geojson",
        "sensitive_site",
        {"name_field": "name", "category": "courthouse"},
    ),
    Job("libraries", "libraries.geojson", "sensitive_site", {"name_field": "BRANCH", "category": "library"}),
    Job(
        "community-centers",
        "community_centers.geojson",
        "sensitive_site",
        {"name_field": "SITE", "category": "community_center"},
    ),
    Job("neighborhoods", "neighborhoods.geojson", "neighborhood", {"name_field": "Name"}),
    Job("streets", "street_segments.geojson", "streets", {}),
]
SMOKE_JOBS = ("hospitals", "courthouses")


@dataclass(frozen=True)
class Timing:
    """How one layer went."""

    name: str
    kind: str
    features: int
    repaired: int
    read_s: float
    save_s: float

    @property
    def total_s(self) -> float:
        return self.read_s + self.save_s


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    jobs = [job for job in JOBS if not args.smoke or job.name in SMOKE_JOBS]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as data_dir:
        timings = [_run(job, Path(args.data), Path(data_dir)) for job in jobs]
    total = time.perf_counter() - started
    _print_table(timings, total)
    print(json.dumps(_summary(timings, total, smoke=args.smoke)), flush=True)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time importing the Boston GIS layers.")
    parser.add_argument("--smoke", action="store_true", help="import only two small layers")
    parser.add_argument(
        "--data", default=str(DEFAULT_DATA), help=f"the layers' folder (default {DEFAULT_DATA})"
    )
    return parser.parse_args(argv)


def _run(job: Job, data: Path, data_dir: Path) -> Timing:
    source = str(data / job.path)
    started = time.perf_counter()
    layer = read_layer(source, kind=job.kind, **job.options)
    read_done = time.perf_counter()
    info = LayerStore(data_dir).save(job.name, layer, kind=job.kind, source=source)
    saved = time.perf_counter()
    return Timing(job.name, job.kind, info.features, info.repaired, read_done - started, saved - read_done)


def _print_table(timings: list[Timing], total: float) -> None:
    heads = ("layer", "kind", "features", "repaired", "read s", "save s", "total s")
    print(
        f"{heads[0]:<18} {heads[1]:<15} {heads[2]:>8} {heads[3]:>8} {heads[4]:>7} {heads[5]:>7} {heads[6]:>7}"
    )
    for t in timings:
        print(
            f"{t.name:<18} {t.kind:<15} {t.features:>8} {t.repaired:>8} "
            f"{t.read_s:>7.3f} {t.save_s:>7.3f} {t.total_s:>7.3f}"
        )
    features = sum(t.features for t in timings)
    print(f"{'all':<18} {'':<15} {features:>8} {'':>8} {'':>7} {'':>7} {total:>7.3f}")


def _summary(timings: list[Timing], total: float, *, smoke: bool) -> dict[str, Any]:
    return {
        "benchmark": "layer_import",
        "smoke": smoke,
        "layers": [_rounded({**asdict(t), "total_s": t.total_s}) for t in timings],
        "features": sum(t.features for t in timings),
        "total_s": round(total, 4),
    }


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in figures.items()}


if __name__ == "__main__":
    raise SystemExit(main())
