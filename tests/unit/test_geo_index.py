"""Enrichment and the per-frame spatial state, on the real Boston layers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from coordinator.domain.compliance import (
    RULE_CITY_PROPERTY,
    RULE_MUNICIPAL_BUILDING,
    RULE_SENSITIVE_SITE,
    compliance_places,
    needs_footage,
)
from coordinator.geo.index import GeoIndex, SourceLayer
from coordinator.geo.monitor import DemonstrationArea, Monitor, UnitPoint, footprint_radius_m
from coordinator.live import offload
from tests.boston import boston, named

BOSTON_COMMON = (42.3551, -71.0662)
CITY_HALL = (42.3603, -71.0580)
MGH = (42.3626, -71.0686)  # Massachusetts General Hospital's main campus
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def layers() -> list[SourceLayer]:
    open_space = gpd.read_file(boston("open_space.geojson"))
    city_owned = open_space[open_space["OWNERSHIP"] == "City of Boston"]
    hospitals = gpd.read_file(boston("hospitals.geojson"))
    libraries = gpd.read_file(boston("libraries.geojson"))
    hoods = gpd.read_file(boston("neighborhoods.geojson"))
    cameras = gpd.GeoDataFrame(
        {"name": ["Plaza camera", "Far camera"], "category": ["camera", "camera"], "range_m": [80.0, 40.0]},
        geometry=[shapely.Point(CITY_HALL[1] + 0.0005, CITY_HALL[0]), shapely.Point(-71.0500, 42.3500)],
        crs="EPSG:4326",
    )
    return [
        SourceLayer("open-space", "city_property", named(city_owned, "SITE_NAME", "park")),
        SourceLayer("hospitals", "sensitive_site", named(hospitals, "Name", "hospital")),
        SourceLayer("libraries", "municipal_building", named(libraries, "BRANCH", "library")),
        SourceLayer("neighborhoods", "neighborhood", named(hoods, "Name")),
        SourceLayer("cameras", "camera", cameras),
    ]


@pytest.fixture(scope="module")
def index(layers: list[SourceLayer]) -> GeoIndex:
    return GeoIndex(layers)


def test_a_point_in_boston_common_is_on_city_property_in_its_neighborhood(index: GeoIndex) -> None:
    places = index.enrich(*BOSTON_COMMON)
    assert [p["name"] for p in places["city_property"]] == ["Boston Common"]
    assert places["city_property"][0]["layer"] == "open-space"
    assert places["neighborhood"] in {"Beacon Hill", "Downtown"}


def test_sensitive_sites_are_listed_within_the_radius_with_metric_distances(index: GeoIndex) -> None:
    places = index.enrich(*MGH)
    names = [p["name"] for p in places["sensitive_sites"]]
    assert names and all(p["distance_m"] <= 150 for p in places["sensitive_sites"])
    assert [p["distance_m"] for p in places["sensitive_sites"]] == sorted(
        p["distance_m"] for p in places["sensitive_sites"]
    )
    hospitals = gpd.read_file(boston("hospitals.geojson"))
    first = hospitals[hospitals["Name"] == names[0]].geometry.iloc[0]
    _, _, geodesic = GEOD.inv(MGH[1], MGH[0], first.x, first.y)
    # The UTM distance agrees with the geodesic one to within half a percent (never degrees).
    assert places["sensitive_sites"][0]["distance_m"] == pytest.approx(geodesic, rel=0.005, abs=0.2)


def test_nothing_sensitive_is_listed_far_from_every_site(index: GeoIndex) -> None:
    places = index.enrich(*BOSTON_COMMON)
    assert places["sensitive_sites"] == []


def test_cameras_cover_a_point_only_within_their_own_range(index: GeoIndex) -> None:
    near = index.enrich(*CITY_HALL)
    assert [c["name"] for c in near["cameras"]] == ["Plaza camera"]
    assert near["cameras"][0]["distance_m"] <= near["cameras"][0]["range_m"] == 80.0
    assert index.enrich(*BOSTON_COMMON)["cameras"] == []


def test_a_library_point_counts_as_a_municipal_building_when_close(index: GeoIndex) -> None:
    libraries = gpd.read_file(boston("libraries.geojson"))
    site = libraries.geometry.iloc[0]
    places = index.enrich(site.y, site.x)
    assert libraries["BRANCH"].iloc[0] in [p["name"] for p in places["municipal_buildings"]]


def test_an_index_without_layers_enriches_to_empty_lists() -> None:
    places = GeoIndex([]).enrich(*CITY_HALL)
    assert places["city_property"] == places["sensitive_sites"] == places["cameras"] == []
    assert places["neighborhood"] is None


def test_federal_activity_on_city_property_names_the_place_and_rule(index: GeoIndex) -> None:
    places = compliance_places("federal_activity", index.enrich(*BOSTON_COMMON))
    assert [(p["name"], p["place_type"], p["rule"]) for p in places] == [
        ("Boston Common", "city_property", RULE_CITY_PROPERTY)
    ]
    near_hospital = compliance_places("federal_activity", index.enrich(*MGH))
    assert near_hospital and {p["rule"] for p in near_hospital} == {RULE_SENSITIVE_SITE}


def test_only_federal_activity_and_warrantless_entry_raise_alerts(index: GeoIndex) -> None:
    enrichment = index.enrich(*BOSTON_COMMON)
    assert compliance_places("injury", enrichment) == []
    assert compliance_places("escalation", enrichment) == []
    libraries = gpd.read_file(boston("libraries.geojson"))
    site = libraries.geometry.iloc[0]
    entry = compliance_places("warrantless_entry", index.enrich(site.y, site.x))
    assert entry and {p["rule"] for p in entry} == {RULE_MUNICIPAL_BUILDING}


def test_footage_is_requested_only_for_force_or_damage_with_federal_agents() -> None:
    assert needs_footage("use_of_force", True) and needs_footage("property_damage", True)
    assert not needs_footage("use_of_force", False)
    assert not needs_footage("injury", True)


# --- the per-frame monitor -------------------------------------------------------


@pytest.fixture(scope="module")
def monitor(index: GeoIndex) -> Monitor:
    fences, labels = index.sensitive_fences()
    assert index.metric_crs is not None
    return Monitor(index.metric_crs, sensitive_fences=fences, sensitive_labels=labels, coverage_minutes=4)


def _rally(tension: int = 3, status: str = "active", crowd: int = 2000) -> DemonstrationArea:
    return DemonstrationArea("dem-000001", "Rally", status, tension, CITY_HALL[0], CITY_HALL[1], crowd, None)


def test_units_inside_a_hospital_buffer_or_a_demonstration_area_are_in_those_fences(monitor: Monitor) -> None:
    units = [
        UnitPoint("unit-000001", "medical_team", True, *MGH),
        UnitPoint("unit-000002", "deescalation_team", True, CITY_HALL[0] + 0.0002, CITY_HALL[1]),
        UnitPoint("unit-000003", "field_supervisor", True, 42.3400, -71.0900),
    ]
    state = monitor.evaluate(units, [_rally()])
    assert any("hospital" in label for label in state.unit_fences["unit-000001"])
    assert state.unit_fences["unit-000002"] == ["Rally (demonstration)"]
    assert "unit-000003" not in state.unit_fences
    # The live loop runs the pass in a native thread under gevent: the same answer there.
    in_thread = offload.runner_for("gevent")(lambda: monitor.evaluate(units, [_rally()]))
    assert in_thread == state


def test_a_demonstration_area_reaching_a_sensitive_site_is_reported(monitor: Monitor) -> None:
    near_mgh = DemonstrationArea("dem-000002", "Vigil", "active", 1, MGH[0], MGH[1] + 0.002, 400, None)
    state = monitor.evaluate([], [near_mgh, _rally()])
    assert any("Mass General" in label for label in state.demonstration_fences["dem-000002"])
    assert "dem-000001" not in state.demonstration_fences


def test_a_drawn_area_replaces_the_default_footprint(monitor: Monitor) -> None:
    lat, lon = CITY_HALL
    square = {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - 0.01, lat - 0.01],
                [lon + 0.01, lat - 0.01],
                [lon + 0.01, lat + 0.01],
                [lon - 0.01, lat + 0.01],
                [lon - 0.01, lat - 0.01],
            ]
        ],
    }
    big = DemonstrationArea("dem-000003", "March", "active", 1, lat, lon, 10, square)
    far_inside = UnitPoint("unit-000004", "medical_team", True, lat + 0.008, lon + 0.008)
    assert monitor.evaluate([far_inside], [big]).unit_fences["unit-000004"] == ["March (demonstration)"]


def test_coverage_gap_opens_without_a_close_medical_team_and_clears_when_one_arrives(
    monitor: Monitor,
) -> None:
    far = UnitPoint("unit-000005", "medical_team", True, 42.3000, -71.1200)  # several km away
    deesc = UnitPoint("unit-000006", "deescalation_team", True, *CITY_HALL)
    gaps = monitor.evaluate([far, deesc], [_rally(tension=3)]).coverage_gaps
    assert [g["missing"] for g in gaps] == ["medical_team"]
    assert gaps[0]["nearest_eta_s"] > 240
    close = UnitPoint("unit-000007", "medical_team", True, CITY_HALL[0] + 0.001, CITY_HALL[1])
    assert monitor.evaluate([far, deesc, close], [_rally(tension=3)]).coverage_gaps == []


def test_busy_units_do_not_cover_and_calm_demonstrations_need_no_deescalation_team(monitor: Monitor) -> None:
    busy = UnitPoint("unit-000008", "medical_team", False, *CITY_HALL)
    gaps = monitor.evaluate([busy], [_rally(tension=2)]).coverage_gaps
    assert [g["missing"] for g in gaps] == ["medical_team"]
    assert gaps[0]["nearest_eta_s"] is None
    tense = monitor.evaluate([busy], [_rally(tension=4)]).coverage_gaps
    assert sorted(g["missing"] for g in tense) == ["deescalation_team", "medical_team"]
    assert monitor.evaluate([busy], [_rally(status="planned")]).coverage_gaps == []


def test_the_footprint_grows_with_the_crowd() -> None:
    radii = [footprint_radius_m(n) for n in (0, 100, 2500, 10000)]
    assert radii == sorted(radii) and radii[0] == 40.0 and np.isclose(radii[2], 140.0)
