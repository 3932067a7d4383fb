"""Travel times over the street graph and the ranking of units by ETA.

Small hand-made networks check exact figures; the real Boston centerlines check
scale and compare the ranking with a brute-force reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

from coordinator.geo.recommend import (
    DEFAULT_DETOUR_FACTOR,
    DEFAULT_SPEED_MPS,
    Candidate,
    Recommendation,
    rank,
    utm_crs,
)
from coordinator.geo.routing import StreetGraph

STREETS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "boston" / "street_segments.geojson"
)
UTM19N = CRS.from_epsg(32619)  # Boston's UTM zone: the hand-made networks are drawn in it
ORIGIN = (330_000.0, 4_690_000.0)  # a point in Boston, in UTM 19N metres
GEOD = Geod(ellps="WGS84")
TO_LATLON = Transformer.from_crs(UTM19N, "EPSG:4326", always_xy=True)
SPEED = 6.0
CUTOFF_S = 3600.0


# --- hand-made networks -------------------------------------------------------


def latlon(x: float, y: float) -> tuple[float, float]:
    """Return (lat, lon) of a point given in metres from ORIGIN."""
    lon, lat = TO_LATLON.transform(ORIGIN[0] + x, ORIGIN[1] + y)
    return float(lat), float(lon)


def segment(*points: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(ORIGIN[0] + x, ORIGIN[1] + y) for x, y in points])


def layer(geometries: Sequence[shapely.Geometry]) -> gpd.GeoDataFrame:
    """An EPSG:4326 street layer from lines drawn in UTM 19N metres."""
    return gpd.GeoDataFrame(geometry=list(geometries), crs=UTM19N).to_crs("EPSG:4326")


def grid_lines() -> list[shapely.Geometry]:
    """A 3 x 3 grid of nodes 100 m apart, plus a separate 100 m piece far to the east.

    The vertical streets come as one MultiLineString, so each of its parts must count.
    """
    horizontal = [segment((x, y), (x + 100, y)) for y in (0, 100, 200) for x in (0, 100)]
    vertical = shapely.MultiLineString(
        [segment((x, y), (x, y + 100)).coords for x in (0, 100, 200) for y in (0, 100)]
    )
    island = segment((1000, 0), (1100, 0))
    return [*horizontal, vertical, island]


@pytest.fixture(scope="module")
def grid() -> StreetGraph:
    return StreetGraph.from_lines(layer(grid_lines()), speed_mps=SPEED)


def test_grid_graph_has_one_node_per_corner_and_one_edge_per_block(grid: StreetGraph) -> None:
    assert grid.metric_crs == UTM19N
    assert grid.node_count == 9 + 2
    assert grid.edge_count == 12 + 1


def test_eta_between_nodes_is_the_shortest_road_time(grid: StreetGraph) -> None:
    times = grid.travel_times_from(*latlon(0, 0), cutoff_s=CUTOFF_S)
    assert times.eta(*latlon(0, 0)) == pytest.approx(0.0, abs=1e-6)
    assert times.eta(*latlon(100, 0)) == pytest.approx(100 / SPEED, abs=1e-6)
    assert times.eta(*latlon(200, 200)) == pytest.approx(400 / SPEED, abs=1e-6)


def test_eta_adds_the_straight_legs_to_and_from_the_nearest_nodes(grid: StreetGraph) -> None:
    # The target stands 30 m south of the corner (0, 0).
    times = grid.travel_times_from(*latlon(0, -30), cutoff_s=CUTOFF_S)
    # 30 m east of the far corner, and 30 m east of the centre node.
    assert times.eta(*latlon(230, 200)) == pytest.approx((30 + 400 + 30) / SPEED, abs=1e-6)
    assert times.eta(*latlon(130, 100)) == pytest.approx((30 + 200 + 30) / SPEED, abs=1e-6)


def test_etas_is_the_vectorised_eta_with_nan_when_unreachable(grid: StreetGraph) -> None:
    times = grid.travel_times_from(*latlon(0, 0), cutoff_s=CUTOFF_S)
    points = [latlon(230, 200), latlon(1040, 10), latlon(100, 100), latlon(60, 0)]
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    etas = times.etas(lats, lons)
    assert etas.shape == (4,)
    assert etas[0] == pytest.approx((400 + 30) / SPEED, abs=1e-6)
    assert np.isnan(etas[1])  # snaps to the separate piece: no road leads there
    assert etas[2] == pytest.approx(200 / SPEED, abs=1e-6)
    assert etas[3] == pytest.approx((40 + 100) / SPEED, abs=1e-6)  # (100, 0) is the nearer node
    assert times.eta(*latlon(1040, 10)) is None
    for k, point in enumerate(points):
        single = times.eta(*point)
        assert (single is None and np.isnan(etas[k])) or single == pytest.approx(etas[k], abs=1e-9)


def test_the_separate_piece_is_reachable_from_itself_only(grid: StreetGraph) -> None:
    times = grid.travel_times_from(*latlon(1000, 0), cutoff_s=CUTOFF_S)
    assert times.eta(*latlon(1100, 0)) == pytest.approx(100 / SPEED, abs=1e-6)
    assert times.eta(*latlon(0, 0)) is None


def test_cutoff_bounds_the_whole_trip_legs_included(grid: StreetGraph) -> None:
    target = latlon(0, -30)
    corner_eta = (30 + 400) / SPEED  # 71.67 s
    beyond_eta = (30 + 400 + 30) / SPEED  # 76.67 s: from 30 m past the far corner
    assert grid.travel_times_from(*target, cutoff_s=corner_eta - 0.01).eta(*latlon(200, 200)) is None
    within = grid.travel_times_from(*target, cutoff_s=corner_eta + 0.01)
    assert within.eta(*latlon(200, 200)) == pytest.approx(corner_eta, abs=1e-6)
    # The far corner is reached in time, but the last 30 m on foot are not.
    assert within.eta(*latlon(200, 230)) is None
    assert grid.travel_times_from(*target, cutoff_s=beyond_eta + 0.01).eta(
        *latlon(200, 230)
    ) == pytest.approx(beyond_eta, abs=1e-6)
    # A target whose own leg is longer than the cutoff is out of everyone's reach.
    assert grid.travel_times_from(*target, cutoff_s=4.0).eta(*target) is None


def test_times_scale_with_speed() -> None:
    slow = StreetGraph.from_lines(layer(grid_lines()), speed_mps=SPEED / 2)
    times = slow.travel_times_from(*latlon(0, -30), cutoff_s=CUTOFF_S)
    assert slow.speed_mps == SPEED / 2
    assert times.eta(*latlon(230, 200)) == pytest.approx(2 * (30 + 400 + 30) / SPEED, abs=1e-6)


def test_endpoints_within_the_tolerance_join_even_across_a_grid_line() -> None:
    # The two inner ends are 0.1 m apart but round to different whole metres.
    lines = layer([segment((0, 0), (100.45, 0)), segment((100.55, 0), (200, 0))])
    joined = StreetGraph.from_lines(lines, join_tolerance_m=1.0)
    assert (joined.node_count, joined.edge_count) == (3, 2)
    times = joined.travel_times_from(*latlon(0, 0), cutoff_s=CUTOFF_S)
    assert times.eta(*latlon(200, 0)) == pytest.approx((100.45 + 99.45) / 6.0, abs=1e-6)
    apart = StreetGraph.from_lines(lines, join_tolerance_m=0.05)
    assert (apart.node_count, apart.edge_count) == (4, 2)


def test_parallel_streets_keep_the_shortest() -> None:
    lines = layer([segment((0, 0), (50, 50), (100, 0)), segment((0, 0), (100, 0))])
    graph = StreetGraph.from_lines(lines)
    assert (graph.node_count, graph.edge_count) == (2, 1)
    times = graph.travel_times_from(*latlon(0, 0), cutoff_s=CUTOFF_S)
    assert times.eta(*latlon(100, 0)) == pytest.approx(100 / 6.0, abs=1e-6)


def test_a_layer_without_lines_is_refused() -> None:
    empty = gpd.GeoDataFrame(geometry=[shapely.Point(-71.06, 42.36)], crs="EPSG:4326")
    with pytest.raises(ValueError, match="at least one"):
        StreetGraph.from_lines(empty)


# --- rank on hand-made figures -------------------------------------------------


def unit(name: str, lat: float, lon: float, skills: tuple[str, ...] = ()) -> Candidate:
    return Candidate(name, name.upper(), "medical_team", skills, lat, lon)


def east_of(lat: float, lon: float, metres: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, metres)
    return lat2, lon2


def test_rank_on_roads_and_falls_back_to_the_straight_line_when_unreachable(grid: StreetGraph) -> None:
    target = latlon(0, -30)
    near = unit("near", *latlon(230, 200))
    island = unit("island", *latlon(1040, 10))
    ranking = rank(*target, [island, near], graph=grid)
    assert [r.unit_id for r in ranking] == ["near", "island"]
    assert ranking[0].method == "road"
    assert ranking[0].eta_s == pytest.approx((30 + 400 + 30) / SPEED, abs=1e-6)
    assert ranking[1].method == "straight_line"
    assert ranking[1].eta_s == pytest.approx(
        ranking[1].distance_m * DEFAULT_DETOUR_FACTOR / DEFAULT_SPEED_MPS, rel=1e-12
    )
    assert ranking[1].distance_m == pytest.approx(float(np.hypot(1040, 40)), abs=1e-3)


def test_rank_speed_overrides_the_graph_build_speed(grid: StreetGraph) -> None:
    ranking = rank(*latlon(0, -30), [unit("near", *latlon(230, 200))], graph=grid, speed_mps=3.0)
    assert ranking[0].eta_s == pytest.approx((30 + 400 + 30) / 3.0, abs=1e-6)


def test_rank_a_cutoff_too_short_for_the_road_falls_back(grid: StreetGraph) -> None:
    ranking = rank(*latlon(0, -30), [unit("near", *latlon(230, 200))], graph=grid, cutoff_s=60.0)
    assert ranking[0].method == "straight_line"


def test_rank_without_a_graph_uses_the_straight_line_with_detour() -> None:
    target = (42.3551, -71.0662)  # Boston Common
    city_hall = unit("hall", 42.3603, -71.0580)
    ranking = rank(*target, [city_hall], graph=None, speed_mps=5.0, detour_factor=1.3)
    (only,) = ranking
    assert only.method == "straight_line"
    assert only.eta_s == pytest.approx(only.distance_m * 1.3 / 5.0, rel=1e-12)


def test_distance_is_in_metres() -> None:
    target = (42.3551, -71.0662)
    far = unit("far", 42.3001, -71.1203)  # about 7.5 km to the south-west
    _, _, geodesic = GEOD.inv(target[1], target[0], far.lon, far.lat)
    (only,) = rank(*target, [far], graph=None)
    assert only.distance_m == pytest.approx(geodesic, rel=0.005)


def test_skills_reorder_within_the_bonus_and_never_hide_a_unit() -> None:
    target = (42.3551, -71.0662)
    metres_per_second = DEFAULT_SPEED_MPS / DEFAULT_DETOUR_FACTOR
    plain = unit("plain", *east_of(*target, 100 * metres_per_second))  # ~100 s
    speaker = unit("speaker", *east_of(*target, 180 * metres_per_second), ("lang:es", "emt:basic"))
    distant = unit("distant", *east_of(*target, 300 * metres_per_second), ("lang:es",))
    everyone = [distant, speaker, plain]
    unordered = rank(*target, everyone, graph=None, limit=5)
    assert [r.unit_id for r in unordered] == ["plain", "speaker", "distant"]
    preferred = rank(*target, everyone, graph=None, wanted_skills={"lang:es"}, limit=5)
    # speaker: 180 - 120 = 60 < 100; distant: 300 - 120 = 180 > 100.
    assert [r.unit_id for r in preferred] == ["speaker", "plain", "distant"]
    assert preferred[0].skill_matches == ("lang:es",)
    assert preferred[1].skill_matches == ()
    # The bonus orders; the ETA stays the real one.
    assert preferred[0].eta_s == pytest.approx(180, rel=0.005)
    assert [r.unit_id for r in rank(*target, everyone, graph=None, wanted_skills={"lang:es"}, limit=2)] == [
        "speaker",
        "plain",
    ]


def test_ties_go_to_the_nearer_unit() -> None:
    target = (42.3551, -71.0662)
    near = unit("near", *east_of(*target, 500))
    far = unit("far", *east_of(*target, 800), ("crisis_intervention",))
    plain = {r.unit_id: r.eta_s for r in rank(*target, [far, near], graph=None)}
    # The two ETAs are within a factor of two, so this subtraction, and taking
    # it off the far unit's ETA again, are exact: a true tie.
    bonus = plain["far"] - plain["near"]
    assert plain["far"] - bonus == plain["near"]
    ranking = rank(
        *target, [far, near], graph=None, wanted_skills={"crisis_intervention"}, skill_bonus_s=bonus
    )
    assert [r.unit_id for r in ranking] == ["near", "far"]


def test_no_candidates_no_recommendations(grid: StreetGraph) -> None:
    assert rank(42.3551, -71.0662, [], graph=None) == []
    assert rank(*latlon(0, 0), [], graph=grid) == []


def test_shortlist_keeps_only_the_nearest_in_a_straight_line() -> None:
    target = (42.3551, -71.0662)
    units = [unit(f"u{k}", *east_of(*target, 100.0 * (k + 1))) for k in range(6)]
    ranking = rank(*target, units, graph=None, shortlist=2, limit=6)
    assert [r.unit_id for r in ranking] == ["u0", "u1"]


# --- the real Boston network ---------------------------------------------------


@dataclass(frozen=True)
class Boston:
    graph: StreetGraph
    streets_metric: np.ndarray  # the street lines in the graph's metric CRS


@pytest.fixture(scope="module")
def boston() -> Boston:
    if not STREETS.exists():
        raise FileNotFoundError(f"the shared Boston data is missing: {STREETS}")
    streets = gpd.read_file(STREETS, engine="pyogrio")
    graph = StreetGraph.from_lines(streets)
    return Boston(graph, streets.to_crs(graph.metric_crs).geometry.to_numpy())


def points_near_streets(
    city: Boston, count: int, rng: np.random.Generator, jitter_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Random (lats, lons) on random streets (longer streets likelier), moved up to jitter_m off them."""
    lengths = shapely.length(city.streets_metric)
    picked = rng.choice(len(lengths), size=count, p=lengths / lengths.sum())
    on_street = shapely.line_interpolate_point(
        city.streets_metric[picked], rng.random(count), normalized=True
    )
    xy = shapely.get_coordinates(on_street) + rng.uniform(-jitter_m, jitter_m, size=(count, 2))
    back = Transformer.from_crs(city.graph.metric_crs, "EPSG:4326", always_xy=True)
    lons, lats = back.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lats), np.asarray(lons)


def test_boston_graph_is_plausible(boston: Boston) -> None:
    graph = boston.graph
    assert graph.metric_crs == UTM19N
    assert 12_000 <= graph.node_count <= 15_000
    assert graph.node_count <= graph.edge_count <= 19_055
    largest = max(nx.connected_components(graph.network), key=len)
    assert len(largest) >= 0.95 * graph.node_count


@dataclass(frozen=True)
class Reference:
    unit_id: str
    eta_s: float
    distance_m: float
    method: str


def reference_ranking(
    city: Boston, target: tuple[float, float], units: Sequence[Candidate]
) -> list[Reference]:
    """Every unit on its own: nearest node by brute force, one shortest path, two straight legs."""
    graph = city.graph
    to_metric = Transformer.from_crs("EPSG:4326", graph.metric_crs, always_xy=True)

    def metric(lat: float, lon: float) -> np.ndarray:
        return np.array(to_metric.transform(lon, lat))

    def nearest_node(point: np.ndarray) -> tuple[int, float]:
        gaps = np.hypot(*(graph.node_xy - point).T)
        node = int(np.argmin(gaps))
        return node, float(gaps[node])

    target_xy = metric(*target)
    target_node, target_leg = nearest_node(target_xy)
    found = []
    for candidate in units:
        unit_xy = metric(candidate.lat, candidate.lon)
        straight = float(np.hypot(*(unit_xy - target_xy)))
        unit_node, unit_leg = nearest_node(unit_xy)
        try:
            road = nx.shortest_path_length(graph.network, unit_node, target_node, weight="weight")
            eta = (unit_leg + target_leg) / SPEED + road
        except nx.NetworkXNoPath:
            eta = np.inf
        if eta <= CUTOFF_S:
            found.append(Reference(candidate.unit_id, eta, straight, "road"))
        else:
            found.append(
                Reference(
                    candidate.unit_id, straight * DEFAULT_DETOUR_FACTOR / SPEED, straight, "straight_line"
                )
            )
    return sorted(found, key=lambda r: (r.eta_s, r.distance_m))


def test_ranking_equals_a_brute_force_reference_on_boston(boston: Boston) -> None:
    rng = np.random.default_rng(20240611)
    target_lats, target_lons = points_near_streets(boston, 20, rng, jitter_m=40.0)
    unit_lats, unit_lons = points_near_streets(boston, 30, rng, jitter_m=40.0)
    units = [unit(f"u{k:02d}", float(unit_lats[k]), float(unit_lons[k])) for k in range(30)]
    shortlist_holds = 0
    methods: set[str] = set()
    for lat, lon in zip(target_lats.tolist(), target_lons.tolist(), strict=True):
        expected = reference_ranking(boston, (lat, lon), units)
        everyone = rank(lat, lon, units, graph=boston.graph, shortlist=len(units), limit=len(units))
        assert_same(everyone, expected)
        methods.update(r.method for r in everyone)
        # With the default shortlist the best three are right whenever the
        # straight line put them among the ten nearest.
        nearest_ten = {r.unit_id for r in sorted(expected, key=lambda r: r.distance_m)[:10]}
        if {r.unit_id for r in expected[:3]} <= nearest_ten:
            shortlist_holds += 1
            assert_same(rank(lat, lon, units, graph=boston.graph), expected[:3])
    print(f"default shortlist held the reference top 3 for {shortlist_holds} of 20 targets")
    assert shortlist_holds >= 15, f"only {shortlist_holds} of 20 targets"
    # This seed has one trip beyond the cutoff, so the fallback is compared too.
    assert methods == {"road", "straight_line"}


def assert_same(got: Sequence[Recommendation], expected: Sequence[Reference]) -> None:
    assert [r.unit_id for r in got] == [r.unit_id for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.method == theirs.method
        assert mine.eta_s == pytest.approx(theirs.eta_s, abs=1e-6)
        assert mine.distance_m == pytest.approx(theirs.distance_m, abs=1e-6)


@pytest.mark.parametrize(
    ("lat", "lon"), [(0.0, 180.0), (-90.0, -180.0), (90.0, 179.99), (84.5, 0.0), (-85.0, 10.0)]
)
def test_a_utm_zone_is_found_at_the_edges_of_the_map(lat: float, lon: float) -> None:
    assert utm_crs(lat, lon).utm_zone is not None
