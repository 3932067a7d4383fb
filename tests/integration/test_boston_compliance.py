"""Issue acceptance on the real Boston layers, imported with the product's own importer.

Open space owned by the city as city property; schools, hospitals, courthouses, libraries
and community centers as sensitive sites; neighborhoods; street segments as streets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.boston import boston
from tests.conftest import Api, Server, cli

BOSTON_COMMON = (42.3551, -71.0662)
CITY_HALL = (42.3603, -71.0580)

IMPORTS = [
    (
        "open_space.geojson",
        "city_property",
        "open-space",
        [
            "--name-field",
            "SITE_NAME",
            "--category-field",
            "TypeLong",
            "--where",
            "OWNERSHIP == 'City of Boston'",
        ],
    ),
    (
        "public_schools/Public_Schools.shp",
        "sensitive_site",
        "schools",
        ["--name-field", "SCH_NAME", "--category", "school"],
    ),
    ("hospitals.geojson", "sensitive_site", "hospitals", ["--name-field", "Name", "--category", "hospital"]),
    (
        "courthouses.geojson",
        "sensitive_site",
        "courthouses",
        ["--name-field", "name", "--category", "courthouse"],
    ),
    ("libraries.geojson", "sensitive_site", "libraries", ["--name-field", "BRANCH", "--category", "library"]),
    (
        "community_centers.geojson",
        "sensitive_site",
        "community-centers",
        ["--name-field", "SITE", "--category", "community center"],
    ),
    ("neighborhoods.geojson", "neighborhood", "neighborhoods", ["--name-field", "Name"]),
    ("street_segments.geojson", "streets", "streets", []),
]


@pytest.fixture(scope="module")
def boston_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Api]]:
    root = tmp_path_factory.mktemp("boston")
    data_dir = root / "data"
    # No city camera layer is published; the city would import its own list, as this CSV.
    cameras = root / "cameras.csv"
    cameras.write_text(
        "name,lon,lat,range_m\nCity Hall Plaza north,-71.0581,42.3607,90\nFaneuil Hall,-71.0560,42.3600,60\n"
    )
    result = cli(data_dir, "layers", "import", str(cameras), "--kind", "camera", "--name", "cameras")
    assert result.returncode == 0, result.stderr
    for file, kind, name, extra in IMPORTS:
        result = cli(data_dir, "layers", "import", str(boston(file)), "--kind", kind, "--name", name, *extra)
        assert result.returncode == 0, result.stderr
    token_result = cli(data_dir, "token", "create", "--role", "operator", "--name", "boston")
    server = Server(data_dir).start()
    yield server, Api(server.url, token_result.stdout.strip().splitlines()[-1])
    server.stop()


def test_federal_activity_inside_boston_common_raises_an_alert_naming_it(
    boston_server: tuple[Server, Api],
) -> None:
    _, api = boston_server
    incident = api.post(
        "/api/incidents",
        json={
            "kind": "federal_activity",
            "lat": BOSTON_COMMON[0],
            "lon": BOSTON_COMMON[1],
            "note": "vans staging",
        },
    ).json()
    assert [p["name"] for p in incident["enrichment"]["city_property"]] == ["Boston Common"]
    alerts = api.get("/api/alerts").json()["compliance"]
    (alert,) = [a for a in alerts if a["incident_id"] == incident["id"]]
    assert alert["places"][0]["name"] == "Boston Common"
    assert "city property" in alert["places"][0]["rule"]
    logged = [e for e in api.get("/api/events").json()["events"] if e["type"] == "ComplianceAlertRaised"]
    assert logged and logged[-1]["payload"]["incident_id"] == incident["id"]


def test_an_injury_near_city_hall_gets_medical_teams_ranked_by_road_eta(
    boston_server: tuple[Server, Api],
) -> None:
    _, api = boston_server
    spots = {"MED-A": (42.3612, -71.0570), "MED-B": (42.3540, -71.0600), "MED-C": (42.3500, -71.0750)}
    for callsign, (lat, lon) in spots.items():
        unit = api.post("/api/units", json={"callsign": callsign, "kind": "medical_team"}).json()
        assert api.post(f"/api/units/{unit['id']}/position", json={"lat": lat, "lon": lon}).status_code == 202
    deesc = api.post("/api/units", json={"callsign": "DE-A", "kind": "deescalation_team"}).json()
    api.post(f"/api/units/{deesc['id']}/position", json={"lat": CITY_HALL[0], "lon": CITY_HALL[1]})
    injury = api.post(
        "/api/incidents",
        json={"kind": "injury", "triage": "immediate", "lat": CITY_HALL[0], "lon": CITY_HALL[1]},
    ).json()
    answer = api.get(f"/api/incidents/{injury['id']}/recommendations").json()
    assert answer["routing"] == "road" and answer["unit_kind"] == "medical_team"
    ranked = answer["recommendations"]
    assert [r["callsign"] for r in ranked] == ["MED-A", "MED-B", "MED-C"]
    assert all(r["method"] == "road" for r in ranked)
    etas = [r["eta_s"] for r in ranked]
    assert etas == sorted(etas) and etas[0] > 0
    # Road ETAs are longer than the straight line at the assumed speed.
    assert all(r["eta_s"] * 6.0 >= r["distance_m"] * 0.99 for r in ranked)


def test_stale_units_are_left_out_of_the_ranking(boston_server: tuple[Server, Api]) -> None:
    _, api = boston_server
    unit = api.post("/api/units", json={"callsign": "MED-OLD", "kind": "medical_team"}).json()
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    api.post(f"/api/units/{unit['id']}/position", json={"lat": CITY_HALL[0], "lon": CITY_HALL[1], "at": old})
    injury = api.post(
        "/api/incidents", json={"kind": "injury", "triage": "minor", "lat": CITY_HALL[0], "lon": CITY_HALL[1]}
    ).json()
    ranked = api.get(f"/api/incidents/{injury['id']}/recommendations").json()["recommendations"]
    assert "MED-OLD" not in [r["callsign"] for r in ranked]


def test_layers_are_listed_and_served_as_geojson(boston_server: tuple[Server, Api]) -> None:
    _, api = boston_server
    listing = {entry["name"]: entry for entry in api.get("/api/layers").json()["layers"]}
    assert listing["open-space"]["features"] == 468 and listing["streets"]["features"] == 19055
    data = api.get(listing["hospitals"]["url"]).json()
    assert data["type"] == "FeatureCollection" and len(data["features"]) == listing["hospitals"]["features"]


def test_force_by_federal_agents_requests_footage_for_the_cameras_in_range(
    boston_server: tuple[Server, Api],
) -> None:
    _, api = boston_server
    incident = api.post(
        "/api/incidents",
        json={"kind": "use_of_force", "federal_involved": True, "lat": CITY_HALL[0], "lon": CITY_HALL[1]},
    ).json()
    requests_ = [
        r for r in api.get("/api/alerts").json()["footage_requests"] if r["incident_id"] == incident["id"]
    ]
    assert len(requests_) == 1
    window = requests_[0]
    assert [c["name"] for c in window["cameras"]] == ["City Hall Plaza north"]
    assert window["window_start"] < incident["reported_at"] < window["window_end"]
    plain = api.post(
        "/api/incidents", json={"kind": "use_of_force", "lat": CITY_HALL[0], "lon": CITY_HALL[1]}
    ).json()
    assert all(r["incident_id"] != plain["id"] for r in api.get("/api/alerts").json()["footage_requests"])
