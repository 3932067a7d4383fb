"""The map layers a running node works with, rebuilt when the stored layers change.

Building the street graph takes a second or two, so a rebuild happens off the
request path and the finished index and graph replace the old ones at once.
Packaged default layers (`maps/`) stand in for any kind the operator has not
imported, so the demo has places to show with no import.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..resources import asset_dir
from .index import GeoIndex, SourceLayer
from .monitor import Monitor
from .routing import StreetGraph
from .settings import GeoSettings
from .store import LayerStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeoSnapshot:
    """Everything built from one version of the layers."""

    version: str
    index: GeoIndex
    graph: StreetGraph | None
    monitor: Monitor | None
    layers: list[dict[str, Any]]
    defaults: dict[str, gpd.GeoDataFrame]


def default_layers() -> dict[str, gpd.GeoDataFrame]:
    """Return the packaged default places, one frame per kind."""
    frames: dict[str, gpd.GeoDataFrame] = {}
    for path in sorted(asset_dir("maps").glob("*.geojson")):
        frame = gpd.read_file(path, engine="pyogrio")
        for kind, group in frame.groupby("kind"):
            part = group[["name", "category", "geometry"]].copy()
            previous = frames.get(str(kind))
            frames[str(kind)] = part if previous is None else pd.concat([previous, part])
    return frames


class GeoService:
    def __init__(self, data_dir: Path, settings: GeoSettings | None = None) -> None:
        self.settings = settings or GeoSettings()
        self.store = LayerStore(data_dir)
        self._building = threading.Lock()
        self.snapshot = self._build("", {})  # empty until the first load

    # --- building -------------------------------------------------------------

    def load(self) -> bool:
        """Rebuild from the stored layers if they changed; return whether it did."""
        if not self._building.acquire(blocking=False):
            return False  # a rebuild is already under way
        try:
            version = self.store.version()
            if version == self.snapshot.version and self.snapshot.version:
                return False
            self.snapshot = self._build(version, default_layers())
            return True
        finally:
            self._building.release()

    def _build(self, version: str, defaults: dict[str, gpd.GeoDataFrame]) -> GeoSnapshot:
        sources: list[SourceLayer] = []
        listing: list[dict[str, Any]] = []
        imported_kinds: set[str] = set()
        for info in self.store.list() if version else []:
            frame = self.store.load(info.name)
            sources.append(SourceLayer(info.name, info.kind, frame))
            imported_kinds.add(info.kind)
            listing.append(
                {
                    "name": info.name,
                    "kind": info.kind,
                    "features": info.features,
                    "source": info.source,
                    "imported_at": info.imported_at,
                    "packaged": False,
                    "url": f"/api/layers/{info.name}.geojson",
                }
            )
        used_defaults: dict[str, gpd.GeoDataFrame] = {}
        for kind, frame in defaults.items():
            if kind in imported_kinds:
                continue
            name = f"default-{kind}".replace("_", "-")
            used_defaults[name] = frame
            sources.append(SourceLayer(name, kind, frame))
            listing.append(
                {
                    "name": name,
                    "kind": kind,
                    "features": len(frame),
                    "source": "packaged",
                    "imported_at": None,
                    "packaged": True,
                    "url": f"/api/layers/{name}.geojson",
                }
            )
        index = GeoIndex(
            [s for s in sources if s.kind != "streets"], sensitive_radius_m=self.settings.sensitive_radius_m
        )
        streets = [s.frame for s in sources if s.kind == "streets"]
        graph = None
        if streets:
            lines = gpd.GeoDataFrame(pd.concat(streets, ignore_index=True), crs="EPSG:4326")
            try:
                graph = StreetGraph.from_lines(lines, speed_mps=self.settings.speed_mps)
            except ValueError:
                # No usable lines: ETAs fall back to the straight line, the rest still works.
                log.exception("the streets layer gave no street graph")
        metric = index.metric_crs or (graph.metric_crs if graph else None)
        monitor = None
        if metric is not None:
            fences, labels = index.sensitive_fences()
            monitor = Monitor(
                metric,
                sensitive_fences=fences,
                sensitive_labels=labels,
                coverage_minutes=self.settings.coverage_minutes,
                speed_mps=self.settings.speed_mps,
                detour_factor=self.settings.detour_factor,
            )
        if version:
            log.info(
                "map layers loaded: %s; street graph: %s",
                ", ".join(f"{entry['name']} ({entry['kind']})" for entry in listing) or "none",
                f"{graph.node_count} nodes" if graph else "none",
            )
        return GeoSnapshot(version, index, graph, monitor, listing, used_defaults)

    # --- answers ----------------------------------------------------------------

    def enrich(self, lat: float, lon: float) -> dict[str, Any]:
        return self.snapshot.index.enrich(lat, lon)

    def layers(self) -> list[dict[str, Any]]:
        return list(self.snapshot.layers)

    def layer_geojson(self, name: str) -> str | Path | None:
        """Return a stored layer's GeoJSON file, or a packaged one's text; None if unknown."""
        snapshot = self.snapshot
        if name in snapshot.defaults:
            return json.dumps(json.loads(snapshot.defaults[name].to_json(drop_id=True)))
        if any(entry["name"] == name and not entry["packaged"] for entry in snapshot.layers):
            return self.store.geojson_path(name)
        return None
