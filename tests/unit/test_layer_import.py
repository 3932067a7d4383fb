"""Layer import, the layer store and `coordinator layers`, on the city's real GIS layers.

The Boston layers are read-only and live beside the repository; every other format
(GeoPackage, FlatGeobuf, CSV, another CRS, broken files) is derived from them in tmp_path.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import pandas as pd
import pytest
import shapely

from coordinator.geo import store as store_module
from coordinator.geo.importer import LAYER_KINDS, ImportedLayer, LayerError, parse_where, read_layer
from coordinator.geo.store import LAYER_NAME_RE, LayerInfo, LayerStore

REPO = Path(__file__).resolve().parents[2]
BOSTON = REPO.parent / "shared" / "data" / "boston"
HOSPITALS = BOSTON / "hospitals.geojson"
OPEN_SPACE = BOSTON / "open_space.geojson"
SCHOOLS = BOSTON / "public_schools" / "Public_Schools.shp"
STREETS = BOSTON / "street_segments.geojson"
NEIGHBORHOODS = BOSTON / "neighborhoods.geojson"
CITY_OWNED = "OWNERSHIP == 'City of Boston'"
COLUMNS = ["name", "category", "range_m", "geometry"]


def read_original(path: Path) -> geopandas.GeoDataFrame:
    return geopandas.read_file(path, engine="pyogrio")


def assert_clean_layer(layer: ImportedLayer, count: int) -> None:
    frame = layer.frame
    assert list(frame.columns) == COLUMNS
    assert len(frame) == count
    assert frame.crs.to_epsg() == 4326
    assert all(isinstance(name, str) for name in frame["name"])


@pytest.fixture(scope="module")
def hospitals() -> geopandas.GeoDataFrame:
    return read_original(HOSPITALS)


@pytest.fixture(scope="module")
def city_parks() -> ImportedLayer:
    return read_layer(str(OPEN_SPACE), kind="city_property", name_field="SITE_NAME", where=CITY_OWNED)


# --- formats -----------------------------------------------------------------------------


def test_geojson_reads_names_count_and_crs(hospitals: geopandas.GeoDataFrame) -> None:
    layer = read_layer(str(HOSPITALS), kind="sensitive_site", category="hospital")
    assert_clean_layer(layer, 30)
    assert list(layer.frame["name"]) == [str(n).strip() for n in hospitals["Name"]]
    assert set(layer.frame["category"]) == {"hospital"}
    assert layer.frame["range_m"].isna().all()  # not a camera layer
    assert (layer.repaired, layer.dropped_empty) == (0, 0)


def test_real_shapefile_reads() -> None:
    layer = read_layer(str(SCHOOLS), kind="sensitive_site", name_field="SCH_NAME", category="school")
    assert_clean_layer(layer, 131)
    assert "Guild Elementary" in set(layer.frame["name"])
    assert (layer.frame["name"] != "").all()


@pytest.mark.parametrize(("driver", "suffix"), [("GPKG", ".gpkg"), ("FlatGeobuf", ".fgb")])
def test_geopackage_and_flatgeobuf_read(tmp_path: Path, driver: str, suffix: str) -> None:
    original = read_original(BOSTON / "libraries.geojson")
    path = tmp_path / f"libraries{suffix}"
    original.to_file(path, driver=driver, engine="pyogrio")
    layer = read_layer(str(path), kind="municipal_building", name_field="BRANCH")
    assert_clean_layer(layer, 26)
    # FlatGeobuf's spatial index reorders features, so compare as sets of names.
    assert sorted(layer.frame["name"]) == sorted(str(n).strip() for n in original["BRANCH"])
    assert set(layer.frame["category"]) == {"municipal_building"}


@pytest.mark.parametrize(
    ("lon", "lat"), [("LON", "Lat"), ("lng", "latitude"), ("Longitude", "LAT"), ("x", "y")]
)
def test_csv_with_lon_lat_columns(
    tmp_path: Path, hospitals: geopandas.GeoDataFrame, lon: str, lat: str
) -> None:
    path = tmp_path / "hospitals.csv"
    table = pd.DataFrame({"Name": hospitals["Name"], lon: hospitals.geometry.x, lat: hospitals.geometry.y})
    table.to_csv(path, index=False)
    layer = read_layer(str(path), kind="sensitive_site", name_field="Name")
    assert_clean_layer(layer, 30)
    assert list(layer.frame["name"]) == [str(n).strip() for n in hospitals["Name"]]
    np.testing.assert_allclose(layer.frame.geometry.x, hospitals.geometry.x, atol=1e-9)
    np.testing.assert_allclose(layer.frame.geometry.y, hospitals.geometry.y, atol=1e-9)


def test_csv_without_coordinate_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("Name,Address\nA,1 Main St\n", encoding="utf-8")
    with pytest.raises(LayerError, match=r"no longitude/latitude columns.*Name, Address"):
        read_layer(str(path), kind="camera")


def test_csv_in_state_plane_needs_assume_crs(tmp_path: Path, hospitals: geopandas.GeoDataFrame) -> None:
    projected = hospitals.to_crs("EPSG:26986")
    path = tmp_path / "projected.csv"
    table = pd.DataFrame({"Name": hospitals["Name"], "x": projected.geometry.x, "y": projected.geometry.y})
    table.to_csv(path, index=False)
    # Metres read as degrees land far outside the globe, and that is refused, not mapped.
    with pytest.raises(LayerError, match="outside longitude/latitude range"):
        read_layer(str(path), kind="sensitive_site")
    layer = read_layer(str(path), kind="sensitive_site", assume_crs="EPSG:26986")
    np.testing.assert_allclose(layer.frame.geometry.x, hospitals.geometry.x, atol=1e-6)
    np.testing.assert_allclose(layer.frame.geometry.y, hospitals.geometry.y, atol=1e-6)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def boston_url() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(BOSTON))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_sources_read(boston_url: str) -> None:
    hospitals = read_layer(boston_url + "hospitals.geojson", kind="sensitive_site")
    assert_clean_layer(hospitals, 30)
    assert "Arbour Hospital" in set(hospitals.frame["name"])
    # A Shapefile over HTTP needs its sidecar files fetched too.
    schools = read_layer(
        boston_url + "public_schools/Public_Schools.shp", kind="sensitive_site", name_field="SCH_NAME"
    )
    assert_clean_layer(schools, 131)


def test_missing_url_is_refused(boston_url: str) -> None:
    with pytest.raises(LayerError, match=r"nothere\.geojson: could not read"):
        read_layer(boston_url + "nothere.geojson", kind="sensitive_site")


# --- where, CRS --------------------------------------------------------------------------


def test_where_keeps_exactly_the_city_owned_open_space(city_parks: ImportedLayer) -> None:
    assert_clean_layer(city_parks, 468)
    assert "Boston Common" in set(city_parks.frame["name"])
    assert set(city_parks.frame.geom_type) <= {"Polygon", "MultiPolygon"}
    assert city_parks.frame.geometry.is_valid.all()


def test_where_numbers_and_and() -> None:
    everything = read_original(OPEN_SPACE)
    expected = ((everything["OWNERSHIP"] == "City of Boston") & (everything["ACRES"] > 0)).sum()
    layer = read_layer(str(OPEN_SPACE), kind="city_property", where=f"{CITY_OWNED} AND ACRES != 0")
    zero_acres = ((everything["OWNERSHIP"] == "City of Boston") & (everything["ACRES"] == 0)).sum()
    assert len(layer.frame) == 468 - zero_acres == expected


def test_parse_where_grammar() -> None:
    parsed = parse_where("\"SITE NAME\" == 'O''Brien Park' and ACRES != 2.5 and n == -3")
    assert [(c.field, c.op, c.value) for c in parsed] == [
        ("SITE NAME", "==", "O'Brien Park"),
        ("ACRES", "!=", 2.5),
        ("n", "==", -3.0),
    ]


def test_other_crs_is_reprojected_to_wgs84(tmp_path: Path, hospitals: geopandas.GeoDataFrame) -> None:
    path = tmp_path / "hospitals_26986.gpkg"
    hospitals.to_crs("EPSG:26986").to_file(path, driver="GPKG", engine="pyogrio")
    layer = read_layer(str(path), kind="sensitive_site")
    assert layer.frame.crs.to_epsg() == 4326
    np.testing.assert_allclose(layer.frame.geometry.x, hospitals.geometry.x, rtol=0, atol=1e-6)
    np.testing.assert_allclose(layer.frame.geometry.y, hospitals.geometry.y, rtol=0, atol=1e-6)


def test_polygons_in_another_crs_come_back_in_place(tmp_path: Path) -> None:
    original = read_original(NEIGHBORHOODS)
    path = tmp_path / "neighborhoods_26986.fgb"
    original.to_crs("EPSG:26986").to_file(path, driver="FlatGeobuf", engine="pyogrio")
    layer = read_layer(str(path), kind="neighborhood")
    np.testing.assert_allclose(layer.frame.total_bounds, original.total_bounds, rtol=0, atol=1e-6)


# --- refusals ----------------------------------------------------------------------------


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"nope\.geojson: no such file"):
        read_layer(str(tmp_path / "nope.geojson"), kind="sensitive_site")


def test_truncated_geojson_is_refused(tmp_path: Path) -> None:
    text = HOSPITALS.read_text(encoding="utf-8")
    path = tmp_path / "truncated.geojson"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(LayerError, match=r"truncated\.geojson: could not read"):
        read_layer(str(path), kind="sensitive_site")


@pytest.fixture
def schools_without_crs(tmp_path: Path) -> Path:
    for part in SCHOOLS.parent.iterdir():
        if part.suffix != ".prj":
            (tmp_path / part.name).write_bytes(part.read_bytes())
    return tmp_path / SCHOOLS.name


def test_no_crs_is_refused_unless_assumed(schools_without_crs: Path) -> None:
    with pytest.raises(LayerError, match=r"declares no coordinate reference system.*--assume-crs"):
        read_layer(str(schools_without_crs), kind="sensitive_site")
    layer = read_layer(str(schools_without_crs), kind="sensitive_site", assume_crs="EPSG:4326")
    assert_clean_layer(layer, 131)


@pytest.mark.parametrize("bad", ["EPSG:999999", "not a crs", ""])
def test_bad_assume_crs_is_refused(schools_without_crs: Path, bad: str) -> None:
    with pytest.raises(LayerError, match="assume-crs"):
        read_layer(str(schools_without_crs), kind="sensitive_site", assume_crs=bad)


def test_assume_crs_contradicting_the_file_is_refused() -> None:
    with pytest.raises(LayerError, match="declares EPSG:4326 but --assume-crs says EPSG:2249"):
        read_layer(str(SCHOOLS), kind="sensitive_site", assume_crs="EPSG:2249")


def test_where_matching_nothing_is_refused() -> None:
    with pytest.raises(LayerError, match="no feature matches"):
        read_layer(str(OPEN_SPACE), kind="city_property", where="OWNERSHIP == 'Atlantis'")


def test_missing_name_field_lists_the_fields() -> None:
    with pytest.raises(LayerError, match=r"no field 'SCHOOL'; available fields: .*SCH_NAME"):
        read_layer(str(SCHOOLS), kind="sensitive_site", name_field="SCHOOL")


def test_missing_category_and_where_fields_are_refused() -> None:
    with pytest.raises(LayerError, match=r"no field 'KIND'; available fields: .*TypeLong"):
        read_layer(str(OPEN_SPACE), kind="city_property", category_field="KIND")
    with pytest.raises(LayerError, match=r"no field 'OWNER'; available fields: .*OWNERSHIP"):
        read_layer(str(OPEN_SPACE), kind="city_property", where="OWNER == 'City of Boston'")


@pytest.mark.parametrize(
    ("where", "unparsed"),
    [
        ("OWNERSHIP = 'City of Boston'", "OWNERSHIP = 'City of Boston'"),
        (f"{CITY_OWNED} or ACRES == 1", "or ACRES == 1"),
        ("__import__('os').system('true')", "__import__('os').system('true')"),
        ("OWNERSHIP == City", "OWNERSHIP == City"),
        (f"{CITY_OWNED} and", "(end of filter)"),
        ("ACRES > 3", "ACRES > 3"),
        ("", "(end of filter)"),
    ],
)
def test_unparseable_where_is_refused(where: str, unparsed: str) -> None:
    with pytest.raises(LayerError, match="could not parse") as refused:
        parse_where(where)
    assert repr(unparsed) in str(refused.value)


def test_unparseable_where_refused_by_read_layer() -> None:
    with pytest.raises(LayerError, match="could not parse --where"):
        read_layer(str(OPEN_SPACE), kind="city_property", where="OWNERSHIP like 'City%'")


@pytest.mark.parametrize(
    ("path", "kind", "found"),
    [
        (STREETS, "city_property", "19055 LineString"),
        (HOSPITALS, "neighborhood", "30 Point"),
        (NEIGHBORHOODS, "camera", "Polygon"),
        (OPEN_SPACE, "streets", "Polygon"),
    ],
)
def test_wrong_geometry_for_the_kind_is_refused(path: Path, kind: str, found: str) -> None:
    with pytest.raises(LayerError, match=f"a {kind} layer takes .* but it has .*{found}"):
        read_layer(str(path), kind=kind)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(LayerError, match="unknown layer kind 'parking'; kinds are: city_property"):
        read_layer(str(HOSPITALS), kind="parking")


def test_category_and_category_field_together_are_refused() -> None:
    with pytest.raises(LayerError, match="not both"):
        read_layer(str(HOSPITALS), kind="sensitive_site", category="hospital", category_field="Name")


# --- geometry repair, fields -------------------------------------------------------------


def write_polygons(path: Path, rows: list[tuple[str, Any]]) -> None:
    geometries = [shapely.from_wkt(wkt) if wkt else None for _, wkt in rows]
    frame = geopandas.GeoDataFrame({"name": [n for n, _ in rows]}, geometry=geometries, crs="EPSG:4326")
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")


def test_bow_tie_is_repaired_and_empty_geometries_dropped(tmp_path: Path) -> None:
    path = tmp_path / "lots.geojson"
    square = "POLYGON ((-71.06 42.35, -71.05 42.35, -71.05 42.36, -71.06 42.36, -71.06 42.35))"
    bow_tie = "POLYGON ((-71.06 42.35, -71.05 42.36, -71.05 42.35, -71.06 42.36, -71.06 42.35))"
    write_polygons(path, [("square", square), ("bow tie", bow_tie), ("nothing", None)])
    layer = read_layer(str(path), kind="city_property")
    assert (layer.repaired, layer.dropped_empty) == (1, 1)
    assert list(layer.frame["name"]) == ["square", "bow tie"]
    tie = layer.frame.geometry.iloc[1]
    assert tie.is_valid
    assert tie.geom_type == "MultiPolygon"
    assert len(tie.geoms) == 2
    assert tie.area == pytest.approx(shapely.from_wkt(square).area / 2)


def test_repair_keeps_only_allowed_parts(tmp_path: Path) -> None:
    path = tmp_path / "spiky.geojson"
    # make_valid turns the spike into a stray line beside the square: a GeometryCollection.
    spike = (
        "POLYGON ((-71.06 42.35, -71.05 42.35, -71.05 42.36, -71.06 42.36, -71.06 42.35,"
        " -71.06 42.34, -71.06 42.35))"
    )
    collapsed = "POLYGON ((-71.06 42.35, -71.05 42.35, -71.04 42.35, -71.06 42.35))"
    write_polygons(path, [("spike", spike), ("flat", collapsed)])
    layer = read_layer(str(path), kind="city_property")
    assert list(layer.frame["name"]) == ["spike"]
    assert layer.frame.geometry.iloc[0].geom_type == "Polygon"
    # The polygon that collapses to a line has nothing left to keep: it is dropped.
    assert (layer.repaired, layer.dropped_empty) == (1, 1)


def test_default_name_and_category_field(tmp_path: Path) -> None:
    courthouses = read_layer(
        str(BOSTON / "courthouses.geojson"), kind="sensitive_site", category_field="court_type"
    )
    assert_clean_layer(courthouses, 18)
    assert (courthouses.frame["name"] != "").all()  # from the field called `name`
    assert set(courthouses.frame["category"]) == set(
        read_original(BOSTON / "courthouses.geojson")["court_type"]
    )
    streets = read_layer(str(STREETS), kind="streets")
    assert set(streets.frame["name"]) == {""}  # no name field at all


def test_camera_ranges(tmp_path: Path, hospitals: geopandas.GeoDataFrame) -> None:
    cameras = hospitals[["Name", "geometry"]].head(3).copy()
    plain = tmp_path / "cameras.geojson"
    cameras.to_file(plain, driver="GeoJSON", engine="pyogrio")
    assert list(read_layer(str(plain), kind="camera").frame["range_m"]) == [60.0] * 3
    assert (
        list(read_layer(str(plain), kind="camera", default_camera_range_m=25).frame["range_m"]) == [25.0] * 3
    )
    cameras["RANGE_M"] = [30.0, None, 90.5]
    ranged = tmp_path / "ranged.geojson"
    cameras.to_file(ranged, driver="GeoJSON", engine="pyogrio")
    assert list(read_layer(str(ranged), kind="camera").frame["range_m"]) == [30.0, 60.0, 90.5]
    cameras["RANGE_M"] = [30.0, -1.0, 90.5]
    cameras.to_file(ranged, driver="GeoJSON", engine="pyogrio")
    with pytest.raises(LayerError, match=r"'RANGE_M' must be a positive number of metres, not -1\.0$"):
        read_layer(str(ranged), kind="camera")


def test_all_real_layers_import() -> None:
    sensitive = {
        "schools": (SCHOOLS, "SCH_NAME", 131),
        "hospitals": (HOSPITALS, "Name", 30),
        "courthouses": (BOSTON / "courthouses.geojson", "name", 18),
        "libraries": (BOSTON / "libraries.geojson", "BRANCH", 26),
        "community-centers": (BOSTON / "community_centers.geojson", "SITE", 37),
    }
    for category, (path, field, count) in sensitive.items():
        layer = read_layer(str(path), kind="sensitive_site", name_field=field, category=category)
        assert_clean_layer(layer, count)
        assert (layer.frame["name"] != "").all(), category
    assert_clean_layer(read_layer(str(NEIGHBORHOODS), kind="neighborhood"), 26)
    streets = read_layer(str(STREETS), kind="streets")
    assert_clean_layer(streets, 19_055)
    assert set(streets.frame.geom_type) <= {"LineString", "MultiLineString"}


# --- the store ---------------------------------------------------------------------------


def hospital_layer() -> ImportedLayer:
    return read_layer(str(HOSPITALS), kind="sensitive_site", category="hospital")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_store_round_trip(tmp_path: Path, city_parks: ImportedLayer) -> None:
    store = LayerStore(tmp_path)
    assert store.list() == []
    assert not (tmp_path / "layers").exists()  # created on the first save, not before
    info = store.save("city-parks", city_parks, kind="city_property", source=str(OPEN_SPACE))
    assert isinstance(info, LayerInfo)
    assert (info.name, info.kind, info.features, info.repaired) == ("city-parks", "city_property", 468, 2)
    assert info.imported_at.endswith("Z")
    assert info.bounds == pytest.approx(tuple(city_parks.frame.total_bounds))
    assert LayerStore(tmp_path).list() == [info]  # another instance (or process) sees it
    assert store.info("city-parks") == info

    loaded = store.load("city-parks")
    assert list(loaded.columns) == COLUMNS
    assert loaded.crs.to_epsg() == 4326
    assert list(loaded["name"]) == list(city_parks.frame["name"])
    assert loaded["range_m"].isna().all()
    # RFC 7946 rewinds rings and keeps 7 decimals: the same shapes, within a centimetre.
    distances = shapely.hausdorff_distance(loaded.geometry.array, city_parks.frame.geometry.array)
    assert float(np.max(distances)) < 1e-6

    document = json.loads(store.geojson_path("city-parks").read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection"
    assert "crs" not in document  # RFC 7946: WGS 84 by definition
    assert len(document["features"]) == 468

    store.remove("city-parks")
    assert store.list() == []
    assert [p.name for p in (tmp_path / "layers").glob("*.geojson")] == []
    with pytest.raises(LayerError, match="no layer named 'city-parks'"):
        store.load("city-parks")


def test_camera_ranges_survive_the_store(tmp_path: Path) -> None:
    cameras = read_layer(str(HOSPITALS), kind="camera", default_camera_range_m=45.5)
    store = LayerStore(tmp_path)
    store.save("cameras", cameras, kind="camera", source="test")
    assert list(store.load("cameras")["range_m"]) == [45.5] * 30


def test_version_changes_on_every_write(tmp_path: Path) -> None:
    store = LayerStore(tmp_path)
    seen = [store.version()]
    store.save("hospitals", hospital_layer(), kind="sensitive_site", source="a")
    seen.append(store.version())
    assert store.version() == seen[-1]  # reading changes nothing
    store.save("hospitals", hospital_layer(), kind="sensitive_site", source="b")
    seen.append(store.version())
    store.remove("hospitals")
    seen.append(LayerStore(tmp_path).version())
    assert len(set(seen)) == 4


def test_reimport_under_the_same_name_replaces(tmp_path: Path, city_parks: ImportedLayer) -> None:
    store = LayerStore(tmp_path)
    store.save("sites", hospital_layer(), kind="sensitive_site", source="hospitals")
    first_file = store.geojson_path("sites")
    store.save("sites", city_parks, kind="city_property", source="parks")
    assert [(i.name, i.kind, i.features, i.source) for i in store.list()] == [
        ("sites", "city_property", 468, "parks")
    ]
    assert len(store.load("sites")) == 468
    assert not first_file.exists()
    assert len(list((tmp_path / "layers").glob("*.geojson"))) == 1


def test_failed_write_leaves_the_stored_layers_as_they_were(
    tmp_path: Path, city_parks: ImportedLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LayerStore(tmp_path)
    before = store.save("city-parks", city_parks, kind="city_property", source="parks")
    version = store.version()
    files = snapshot(tmp_path / "layers")

    def half_then_fail(frame: geopandas.GeoDataFrame, path: Path, **_: Any) -> None:
        path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "_write_geojson", half_then_fail)
    with pytest.raises(LayerError, match="No space left on device"):
        store.save("city-parks", hospital_layer(), kind="sensitive_site", source="hospitals")
    assert snapshot(tmp_path / "layers") == files
    assert store.list() == [before]
    assert store.version() == version
    assert len(LayerStore(tmp_path).load("city-parks")) == 468


def test_failed_manifest_write_leaves_the_stored_layers_as_they_were(
    tmp_path: Path, city_parks: ImportedLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LayerStore(tmp_path)
    before = store.save("city-parks", city_parks, kind="city_property", source="parks")
    files = snapshot(tmp_path / "layers")

    def interrupted(path: Path, document: dict[str, Any]) -> None:
        raise KeyboardInterrupt  # the operator pressed Ctrl-C just before the commit

    monkeypatch.setattr(store_module, "_write_json_atomic", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.save("city-parks", hospital_layer(), kind="sensitive_site", source="hospitals")
    assert snapshot(tmp_path / "layers") == files
    assert store.list() == [before]
    assert len(store.load("city-parks")) == 468


def test_leftovers_of_a_killed_import_are_tidied_by_the_next_write(tmp_path: Path) -> None:
    store = LayerStore(tmp_path)
    store.save("hospitals", hospital_layer(), kind="sensitive_site", source="a")
    leftover = tmp_path / "layers" / ".parks.0123456789ab.geojson.tmp"
    leftover.write_text("{", encoding="utf-8")
    assert [i.name for i in store.list()] == ["hospitals"]
    store.save("more", hospital_layer(), kind="sensitive_site", source="b")
    assert not leftover.exists()


BAD_NAMES = ["", "Parks", "../parks", "a" * 65, "-parks", "city parks", "parks\n", "parks.v2"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_layer_names_are_refused(tmp_path: Path, bad: str) -> None:
    store = LayerStore(tmp_path)
    with pytest.raises(LayerError, match="bad layer name"):
        store.save(bad, hospital_layer(), kind="sensitive_site", source="x")
    assert not (tmp_path / "layers").exists() or store.list() == []


def test_layer_name_pattern_and_unknowns(tmp_path: Path) -> None:
    assert LAYER_NAME_RE.fullmatch("a" * 64)
    assert LAYER_NAME_RE.fullmatch("0-city_parks")
    store = LayerStore(tmp_path)
    with pytest.raises(LayerError, match="no layer named 'ghost'"):
        store.remove("ghost")
    with pytest.raises(LayerError, match="unknown layer kind"):
        store.save("x", hospital_layer(), kind="parking", source="x")
    assert set(LAYER_KINDS) >= {"city_property", "sensitive_site", "streets"}


# --- the command line --------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coordinator.cli", "layers", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )


def test_cli_import_list_remove(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    imported = cli(
        "import", str(OPEN_SPACE), "--kind", "city_property", "--name", "city-parks",
        "--name-field", "SITE_NAME", "--where", CITY_OWNED, "--data-dir", data,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == (
        "imported layer city-parks: kind city_property, 468 features, 2 repaired, 0 dropped (empty geometry)"
    )
    schools = cli("import", str(SCHOOLS), "--kind", "sensitive_site", "--name", "schools",
                  "--name-field", "SCH_NAME", "--category", "school", "--data-dir", data)  # fmt: skip
    assert schools.returncode == 0, schools.stderr

    listed = cli("list", "--data-dir", data)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["city-parks", "city_property", "468 features"],
        ["schools", "sensitive_site", "131 features"],
    ]
    assert str(OPEN_SPACE) in lines[0]

    removed = cli("remove", "schools", "--data-dir", data)
    assert removed.returncode == 0, removed.stderr
    assert [line.split("\t")[0] for line in cli("list", "--data-dir", data).stdout.splitlines()] == [
        "city-parks"
    ]


def test_cli_refusals_exit_2(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    wrong = cli("import", str(STREETS), "--kind", "city_property", "--name", "streets", "--data-dir", data)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("error: ")
    assert "a city_property layer takes" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    bad_name = cli(
        "import", str(HOSPITALS), "--kind", "sensitive_site", "--name", "Bad Name", "--data-dir", data
    )
    assert bad_name.returncode == 2
    assert "bad layer name 'Bad Name'" in bad_name.stderr
    unknown = cli("remove", "ghost", "--data-dir", data)
    assert unknown.returncode == 2
    assert "error: no layer named 'ghost'" in unknown.stderr
    assert not (tmp_path / "data" / "layers").exists()  # nothing written by any refusal


def test_concurrent_saves_keep_both_layers(tmp_path: Path) -> None:
    layer = hospital_layer()
    errors: list[BaseException] = []

    def save(name: str) -> None:
        try:
            for _ in range(3):
                LayerStore(tmp_path).save(name, layer, kind="sensitive_site", source=name)
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    store = LayerStore(tmp_path)
    assert [info.name for info in store.list()] == ["first", "second"]
    assert len(list((tmp_path / "layers").glob("*.geojson"))) == 2


def test_building_the_cli_parser_does_not_import_geopandas() -> None:
    probe = "import sys, coordinator.cli as c; c._parser(); print('geopandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "False"


def test_empty_layer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(LayerError, match=r"empty\.geojson: the layer has no features"):
        read_layer(str(path), kind="sensitive_site")
