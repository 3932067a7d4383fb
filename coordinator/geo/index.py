"""Where a point stands: neighborhood, city property, municipal buildings, sensitive sites, cameras.

All layers are projected once to a metric CRS (the local UTM zone) and indexed
with shapely's STRtree; every distance is in metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

DEFAULT_SENSITIVE_RADIUS_M = 150.0
# A municipal building given as a point counts when the report is this close.
DEFAULT_BUILDING_RADIUS_M = 30.0


@dataclass(frozen=True)
class SourceLayer:
    """One layer to index: its name, kind and features in EPSG:4326."""

    name: str
    kind: str
    frame: gpd.GeoDataFrame


class _KindIndex:
    """The features of one kind, in metres, with a spatial index."""

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.names = frame["name"].astype(str).to_numpy()
        self.categories = frame["category"].astype(str).to_numpy()
        self.layers = frame["layer"].astype(str).to_numpy()
        self.ranges = frame["range_m"].to_numpy(dtype=float)
        self.geometries = frame.geometry.to_numpy()
        self.tree = shapely.STRtree(self.geometries)

    def containing(self, point: shapely.Point) -> np.ndarray:
        hits: np.ndarray = self.tree.query(point, predicate="intersects")
        return hits

    def within(self, point: shapely.Point, distance: float) -> tuple[np.ndarray, np.ndarray]:
        """Return indices of features within `distance` metres and their distances, nearest first."""
        hits = self.tree.query(point, predicate="dwithin", distance=distance)
        distances = shapely.distance(self.geometries[hits], point)
        order = np.argsort(distances, kind="stable")
        return hits[order], distances[order]

    def describe(self, index: int, distance: float | None = None) -> dict[str, Any]:
        place: dict[str, Any] = {
            "name": self.names[index],
            "category": self.categories[index],
            "layer": self.layers[index],
        }
        if distance is not None:
            place["distance_m"] = round(float(distance), 1)
        return place


class GeoIndex:
    """Answers "what is here" for a point, from the map layers of one moment."""

    def __init__(
        self,
        layers: Sequence[SourceLayer],
        *,
        sensitive_radius_m: float = DEFAULT_SENSITIVE_RADIUS_M,
        building_radius_m: float = DEFAULT_BUILDING_RADIUS_M,
    ) -> None:
        self.sensitive_radius_m = sensitive_radius_m
        self.building_radius_m = building_radius_m
        self.metric_crs: CRS | None = None
        self._kinds: dict[str, _KindIndex] = {}
        frames = [_normalised(layer) for layer in layers if not layer.frame.empty]
        if not frames:
            return
        combined = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
        self.metric_crs = combined.estimate_utm_crs()
        metric = combined.to_crs(self.metric_crs)
        for kind, group in metric.groupby("kind"):
            self._kinds[str(kind)] = _KindIndex(group)
        self._to_metric = Transformer.from_crs("EPSG:4326", self.metric_crs, always_xy=True)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def to_metric(self, lat: float, lon: float) -> shapely.Point:
        x, y = self._to_metric.transform(lon, lat)
        return shapely.Point(x, y)

    def enrich(self, lat: float, lon: float) -> dict[str, Any]:
        """Return the places around a point, as stored with incidents and demonstrations."""
        result: dict[str, Any] = {
            "neighborhood": None,
            "city_property": [],
            "municipal_buildings": [],
            "sensitive_sites": [],
            "cameras": [],
            "sensitive_radius_m": self.sensitive_radius_m,
        }
        if self.metric_crs is None:
            return result
        point = self.to_metric(lat, lon)
        if (hoods := self._kinds.get("neighborhood")) is not None:
            inside = hoods.containing(point)
            if inside.size:
                result["neighborhood"] = hoods.names[inside[0]]
        if (property_ := self._kinds.get("city_property")) is not None:
            result["city_property"] = [property_.describe(i) for i in property_.containing(point)]
        if (buildings := self._kinds.get("municipal_building")) is not None:
            hits, distances = buildings.within(point, self.building_radius_m)
            result["municipal_buildings"] = [
                buildings.describe(i, d) for i, d in zip(hits, distances, strict=True)
            ]
        if (sites := self._kinds.get("sensitive_site")) is not None:
            hits, distances = sites.within(point, self.sensitive_radius_m)
            result["sensitive_sites"] = [sites.describe(i, d) for i, d in zip(hits, distances, strict=True)]
        if (cameras := self._kinds.get("camera")) is not None and cameras.ranges.size:
            hits, distances = cameras.within(point, float(cameras.ranges.max()))
            result["cameras"] = [
                {**cameras.describe(i, d), "range_m": float(cameras.ranges[i])}
                for i, d in zip(hits, distances, strict=True)
                if d <= cameras.ranges[i]
            ]
        return result

    def sensitive_fences(self) -> tuple[np.ndarray, list[str]]:
        """Return the sensitive sites grown by the radius (metric polygons) and their labels."""
        sites = self._kinds.get("sensitive_site")
        if sites is None:
            return np.array([], dtype=object), []
        fences = shapely.buffer(sites.geometries, self.sensitive_radius_m)
        return fences, [f"{n} ({c})" for n, c in zip(sites.names, sites.categories, strict=True)]


def _normalised(layer: SourceLayer) -> gpd.GeoDataFrame:
    """Give every layer the same columns so they can be indexed together."""
    frame = layer.frame
    if frame.crs is not None and not CRS(frame.crs).equals(CRS("EPSG:4326")):
        frame = frame.to_crs("EPSG:4326")
    out = gpd.GeoDataFrame(
        {
            "name": frame["name"].fillna("").astype(str) if "name" in frame else "",
            "category": frame["category"].fillna(layer.kind).astype(str)
            if "category" in frame
            else layer.kind,
            "range_m": frame["range_m"].astype(float) if "range_m" in frame else 0.0,
            "layer": layer.name,
            "kind": layer.kind,
        },
        geometry=frame.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    return out[~out.geometry.is_empty & out.geometry.notna()]
