"""Travel time over the city's street centerlines.

The street layer has no names and no one-way flags, so the network is an
undirected graph: nodes are the segment endpoints (joined when closer than a
tolerance), edges carry the travel seconds of the segment at a fixed speed.
Everything is measured in the local UTM zone, never in degrees.

Because the graph is undirected, one Dijkstra from the target gives the time
from every node to it, so ranking any number of units costs one search.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import CRS, Transformer

WGS84 = "EPSG:4326"
# shapely type ids of the geometries that are street lines.
_LINE_TYPE_IDS = (1, 2)  # LineString, LinearRing


class StreetGraph:
    """The street network of one set of centerlines, ready for travel-time queries."""

    def __init__(self, network: nx.Graph, node_xy: np.ndarray, metric_crs: CRS, speed_mps: float) -> None:
        self.network = network
        self.node_xy = node_xy
        self.metric_crs = metric_crs
        self.speed_mps = speed_mps
        self.node_count: int = network.number_of_nodes()
        self.edge_count: int = network.number_of_edges()
        self._to_metric = Transformer.from_crs(WGS84, metric_crs, always_xy=True)
        self._tree = shapely.STRtree(shapely.points(node_xy))

    @classmethod
    def from_lines(
        cls, lines: gpd.GeoDataFrame, *, speed_mps: float = 6.0, join_tolerance_m: float = 1.0
    ) -> StreetGraph:
        """Build the graph from EPSG:4326 LineStrings or MultiLineStrings (each part counts)."""
        if speed_mps <= 0:
            raise ValueError("speed_mps must be positive")
        if lines.crs is None:
            lines = lines.set_crs(WGS84)
        metric_crs = lines.estimate_utm_crs()
        parts = _line_parts(lines.to_crs(metric_crs).geometry.to_numpy())
        if len(parts) == 0:
            raise ValueError("a street graph needs at least one non-empty line")
        starts = shapely.get_coordinates(shapely.get_point(parts, 0))
        ends = shapely.get_coordinates(shapely.get_point(parts, -1))
        node_of_end, node_xy = _join_endpoints(np.vstack([starts, ends]), join_tolerance_m)
        count = len(parts)
        seconds = shapely.length(parts) / speed_mps
        network = _network(node_of_end[:count], node_of_end[count:], seconds, len(node_xy))
        return cls(network, node_xy, metric_crs, speed_mps)

    def travel_times_from(self, lat: float, lon: float, *, cutoff_s: float) -> TravelTimes:
        """Run one Dijkstra from the target; the result answers "how long from here to it"."""
        x, y = self._to_metric.transform(np.array([lon]), np.array([lat]))
        node, leg_m = self.snap(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        target_leg_s = float(leg_m[0]) / self.speed_mps
        node_seconds = np.full(self.node_count, np.nan)
        if node[0] >= 0 and target_leg_s <= cutoff_s:
            # The last leg is spent before the road trip starts counting, so the
            # search only needs to go as far as what is left of the cutoff.
            reached = nx.single_source_dijkstra_path_length(
                self.network, int(node[0]), cutoff=cutoff_s - target_leg_s, weight="weight"
            )
            nodes = np.fromiter(reached.keys(), dtype=np.intp, count=len(reached))
            node_seconds[nodes] = np.fromiter(reached.values(), dtype=float, count=len(reached))
            node_seconds += target_leg_s
        return TravelTimes(self, node_seconds, cutoff_s)

    def project(self, lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return metric x, y of EPSG:4326 points."""
        x, y = self._to_metric.transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def snap(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return each metric point's nearest node and the distance to it (-1 and NaN if none)."""
        node = np.full(len(xs), -1, dtype=np.intp)
        distance = np.full(len(xs), np.nan)
        (inputs, found), gaps = self._tree.query_nearest(
            shapely.points(xs, ys), all_matches=False, return_distance=True
        )
        node[inputs] = found
        distance[inputs] = gaps
        return node, distance


class TravelTimes:
    """The result of ONE Dijkstra from a target: seconds to reach the target from any point."""

    def __init__(self, graph: StreetGraph, node_seconds: np.ndarray, cutoff_s: float) -> None:
        self._graph = graph
        # Seconds from each node to the target, the target's own leg included; NaN if out of reach.
        self._node_seconds = node_seconds
        self.cutoff_s = cutoff_s

    def eta(self, lat: float, lon: float) -> float | None:
        """Seconds from this point to the target, None when it cannot be reached within the cutoff."""
        value = float(self.etas(np.array([lat]), np.array([lon]))[0])
        return None if np.isnan(value) else value

    def etas(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Seconds from each point to the target; NaN when not reachable within the cutoff."""
        xs, ys = self._graph.project(lats, lons)
        node, leg_m = self._graph.snap(xs, ys)
        road = np.where(node >= 0, self._node_seconds[np.maximum(node, 0)], np.nan)
        total = leg_m / self._graph.speed_mps + road
        # The cutoff bounds the whole trip, walking legs included.
        return np.where(total <= self.cutoff_s, total, np.nan)


def _line_parts(geometries: np.ndarray) -> np.ndarray:
    """Return the single lines of the layer: multi-part lines split, empties and non-lines dropped."""
    present = geometries[~shapely.is_missing(geometries)]
    parts = shapely.get_parts(present)
    keep = np.isin(shapely.get_type_id(parts), _LINE_TYPE_IDS) & ~shapely.is_empty(parts)
    return np.asarray(parts[keep])


def _join_endpoints(points: np.ndarray, tolerance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Group endpoints closer than the tolerance; return each endpoint's node and the nodes' x, y.

    A spatial join rather than a grid: two ends 0.1 m apart must meet even when a
    grid line falls between them.
    """
    tree = shapely.STRtree(shapely.points(points))
    left, right = tree.query(shapely.points(points), predicate="dwithin", distance=tolerance_m)
    labels = _components(len(points), left, right)
    _, node = np.unique(labels, return_inverse=True)
    members = np.bincount(node).astype(float)
    node_xy = np.column_stack(
        [np.bincount(node, weights=points[:, 0]), np.bincount(node, weights=points[:, 1])]
    )
    return node.astype(np.intp), node_xy / members[:, None]


def _components(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Label the connected components of the pairs (left, right) by their smallest member."""
    labels = np.arange(count)
    while True:
        # Each point takes its smallest neighbour's label, then labels jump to
        # their own label's label, which halves chain lengths every round.
        lowered = labels.copy()
        np.minimum.at(lowered, left, labels[right])
        lowered = lowered[lowered]
        if np.array_equal(lowered, labels):
            return labels
        labels = lowered


def _network(u: np.ndarray, v: np.ndarray, seconds: np.ndarray, node_count: int) -> nx.Graph:
    """Build the undirected graph; between two nodes only the quickest segment is kept."""
    real = u != v  # a loop back to the same node never shortens a trip
    low, high, seconds = np.minimum(u, v)[real], np.maximum(u, v)[real], seconds[real]
    order = np.lexsort((seconds, high, low))
    low, high, seconds = low[order], high[order], seconds[order]
    first = np.ones(len(low), dtype=bool)
    first[1:] = (low[1:] != low[:-1]) | (high[1:] != high[:-1])
    network = nx.Graph()
    network.add_nodes_from(range(node_count))
    network.add_weighted_edges_from(
        zip(low[first].tolist(), high[first].tolist(), seconds[first].tolist(), strict=True)
    )
    return network
