"""Read a city's GIS layer into one clean shape: EPSG:4326 with `name`, `category`, `range_m`.

Operators import city property, municipal buildings, sensitive sites, cameras,
neighborhoods and streets so the system can tell where an incident stands against
the executive order and the state's sensitive-location rules. A layer that cannot
be trusted (unreadable, no CRS, wrong geometry, an unknown field) is refused with a
message naming the file, field or value, because a silently wrong map is worse
than no map at all.

Formats: GeoJSON, Shapefile, GeoPackage, FlatGeobuf (anything GDAL reads, in fact)
and CSV with longitude/latitude columns; a source may be an http(s) URL, read
through GDAL's /vsicurl/ so that a Shapefile's sidecar files are fetched too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

LAYER_KINDS = ("city_property", "municipal_building", "sensitive_site", "camera", "neighborhood", "streets")

WGS84 = "EPSG:4326"

_POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
_PUNCTUAL = frozenset({"Point", "MultiPoint"})
_LINEAR = frozenset({"LineString", "MultiLineString"})

# What each kind may hold; the rules it feeds (inside a park, near a school) need these shapes.
ALLOWED_GEOMETRY: dict[str, frozenset[str]] = {
    "city_property": _POLYGONAL,
    "neighborhood": _POLYGONAL,
    "municipal_building": _PUNCTUAL | _POLYGONAL,
    "sensitive_site": _PUNCTUAL | _POLYGONAL,
    "camera": frozenset({"Point"}),
    "streets": _LINEAR,
}

_NAME_CANDIDATES = ("name", "NAME", "Name")
_LON_NAMES = ("lon", "lng", "longitude", "x")
_LAT_NAMES = ("lat", "latitude", "y")
_RANGE_FIELD = "range_m"
_MULTI_BUILDERS = {0: shapely.multipoints, 1: shapely.multilinestrings, 2: shapely.multipolygons}


class LayerError(Exception):
    """A layer was refused; the message says why, naming the file, field or value."""


@dataclass(frozen=True)
class ImportedLayer:
    """A layer ready to store: EPSG:4326, columns `name`, `category`, `range_m`, `geometry`."""

    frame: geopandas.GeoDataFrame
    repaired: int
    dropped_empty: int


@dataclass(frozen=True)
class Comparison:
    """One `FIELD == value` or `FIELD != value` of a `where` filter."""

    field: str
    op: str
    value: str | float


def read_layer(
    source: str,
    *,
    kind: str,
    name_field: str | None = None,
    category: str | None = None,
    category_field: str | None = None,
    where: str | None = None,
    assume_crs: str | None = None,
    default_camera_range_m: float = 60.0,
) -> ImportedLayer:
    """Read `source` (a path or an http(s) URL) as a layer of `kind`, or raise LayerError.

    CRS: a source that declares no CRS is refused unless `assume_crs` names one. The
    exception is CSV: its longitude/latitude columns are taken as EPSG:4326 by definition
    (that is what those column names mean), unless `assume_crs` says otherwise, e.g. for
    x/y columns in state-plane feet. A source that declares a CRS other than `assume_crs`
    is refused as contradictory. Coordinates that land outside longitude/latitude range
    after reprojection are refused too: they mean the CRS is wrong.

    `where` is a small filter language, never evaluated as code: comparisons
    `FIELD == 'text'` or `FIELD != 'text'` (numbers may be unquoted), joined by `and`.
    Quoted values compare as text, numbers numerically, and a missing value matches
    neither `==` nor `!=` (as in SQL). A field name may be double-quoted.

    Invalid geometries are repaired (counted in `repaired`); parts that a repair turns
    into another dimension are dropped; empty and null geometries are dropped (counted
    in `dropped_empty`). Z values are dropped: the map and the rules are two-dimensional.
    """
    allowed = _allowed_geometry(kind)
    if category is not None and category_field is not None:
        raise LayerError("give either a constant category or a category field, not both")
    _check_positive_range(default_camera_range_m, "the default camera range")
    comparisons = parse_where(where) if where is not None else []
    assumed = _parse_crs(assume_crs) if assume_crs is not None else None
    raw = _with_crs(_read_source(source), source, assumed)
    if raw.empty:
        raise LayerError(f"{source}: the layer has no features")
    _check_fields(raw, source, [name_field, category_field, *(c.field for c in comparisons)])
    if comparisons:
        raw = _filter(raw, comparisons, source, where or "")
    return _build(
        raw,
        source=source,
        kind=kind,
        allowed=allowed,
        name_field=name_field,
        category=category,
        category_field=category_field,
        default_range_m=default_camera_range_m,
    )


def _allowed_geometry(kind: str) -> frozenset[str]:
    if kind not in ALLOWED_GEOMETRY:
        raise LayerError(f"unknown layer kind {kind!r}; kinds are: {', '.join(LAYER_KINDS)}")
    return ALLOWED_GEOMETRY[kind]


def _check_positive_range(value: float, what: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise LayerError(f"{what} must be a positive number of metres, not {value!r}")


# --- reading ---------------------------------------------------------------------------


def is_url(source: str) -> bool:
    """Whether `source` is an http(s) URL rather than a local path."""
    return urlsplit(source).scheme.lower() in ("http", "https")


def _suffix(source: str) -> str:
    # A URL's query string is not part of its file name.
    path = urlsplit(source).path if is_url(source) else source
    return Path(path).suffix.lower()


def _read_source(source: str) -> geopandas.GeoDataFrame:
    if not is_url(source) and not Path(source).exists():
        raise LayerError(f"{source}: no such file")
    gdal_path = f"/vsicurl/{source}" if is_url(source) else source
    options = _csv_open_options() if _suffix(source) == ".csv" else {}
    try:
        if _suffix(source) == ".gpkg":
            _require_single_layer(gdal_path, source)
        frame = geopandas.read_file(gdal_path, engine="pyogrio", **options)
    except (RuntimeError, OSError, ValueError) as exc:
        # pyogrio's errors are RuntimeErrors; GDAL's message says what was wrong.
        raise LayerError(f"{source}: could not read it as a GIS layer ({exc})") from exc
    if not isinstance(frame, geopandas.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise LayerError(_no_geometry_message(source, frame))
    return frame


def _csv_open_options() -> dict[str, str]:
    # GDAL matches these names case-insensitively and builds a point from them.
    return {"X_POSSIBLE_NAMES": ",".join(_LON_NAMES), "Y_POSSIBLE_NAMES": ",".join(_LAT_NAMES)}


def _require_single_layer(gdal_path: str, source: str) -> None:
    # A GeoPackage may hold many tables; silently taking the first could import the wrong one.
    names = [str(row[0]) for row in pyogrio.list_layers(gdal_path)]
    if len(names) > 1:
        listed = ", ".join(names)
        raise LayerError(f"{source}: holds {len(names)} layers ({listed}); export the one to import")


def _no_geometry_message(source: str, frame: Any) -> str:
    fields = ", ".join(str(c) for c in frame.columns) or "none"
    if _suffix(source) == ".csv":
        return (
            f"{source}: no longitude/latitude columns (looked for {'/'.join(_LON_NAMES)} and "
            f"{'/'.join(_LAT_NAMES)}); fields are: {fields}"
        )
    return f"{source}: has no geometry; fields are: {fields}"


def _parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise LayerError(f"--assume-crs {text!r} is not a coordinate reference system ({exc})") from exc


def _with_crs(frame: geopandas.GeoDataFrame, source: str, assumed: CRS | None) -> geopandas.GeoDataFrame:
    declared = frame.crs
    if declared is None:
        if assumed is not None:
            return frame.set_crs(assumed)
        if _suffix(source) == ".csv":
            return frame.set_crs(WGS84)
        raise LayerError(
            f"{source}: declares no coordinate reference system; if you know it, "
            "give it with --assume-crs (e.g. EPSG:2249)"
        )
    if assumed is not None and not CRS(declared).equals(assumed, ignore_axis_order=True):
        raise LayerError(
            f"{source}: declares {CRS(declared).to_string()} but --assume-crs says "
            f"{assumed.to_string()}; drop --assume-crs"
        )
    return frame


def _check_fields(frame: geopandas.GeoDataFrame, source: str, wanted: Iterable[str | None]) -> None:
    available = [str(c) for c in frame.columns if c != frame.geometry.name]
    for field in wanted:
        if field is not None and field not in available:
            raise LayerError(f"{source}: no field {field!r}; available fields: {', '.join(available)}")


# --- the where filter ------------------------------------------------------------------

_COMPARISON_RE = re.compile(
    r"""\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*|"[^"]+")
        \s*(?P<op>==|!=)
        \s*(?P<value>'(?:[^']|'')*'|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*""",
    re.VERBOSE,
)
_AND_RE = re.compile(r"and(?=[\s\"]|$)\s*", re.IGNORECASE)


def parse_where(text: str) -> list[Comparison]:
    """Parse `FIELD == 'v' and FIELD != 3` into comparisons, or raise LayerError."""
    comparisons: list[Comparison] = []
    position = 0
    while True:
        match = _COMPARISON_RE.match(text, position)
        if match is None:
            raise LayerError(_where_error(text, position, "FIELD == 'value' or FIELD != 'value'"))
        comparisons.append(_comparison(match))
        position = match.end()
        if position == len(text):
            return comparisons
        joiner = _AND_RE.match(text, position)
        if joiner is None:
            raise LayerError(_where_error(text, position, "'and' or the end"))
        position = joiner.end()


def _comparison(match: re.Match[str]) -> Comparison:
    field = match["field"]
    if field.startswith('"'):
        field = field[1:-1]
    raw = match["value"]
    value: str | float = raw[1:-1].replace("''", "'") if raw.startswith("'") else float(raw)
    return Comparison(field, match["op"], value)


def _where_error(text: str, position: int, expected: str) -> str:
    rest = text[position:].strip() or "(end of filter)"
    return f"could not parse --where {text!r} at {rest!r}: expected {expected}"


def _filter(
    frame: geopandas.GeoDataFrame, comparisons: list[Comparison], source: str, where: str
) -> geopandas.GeoDataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for comparison in comparisons:
        keep &= _matches(frame[comparison.field], comparison)
    if not keep.any():
        raise LayerError(f"{source}: no feature matches --where {where!r}")
    return frame[keep]


def _matches(column: pd.Series, comparison: Comparison) -> np.ndarray:
    if isinstance(comparison.value, str):
        # Text comparison; a missing value compares as NA and so matches nothing.
        text = column.astype("string")
        result = text == comparison.value if comparison.op == "==" else text != comparison.value
        return np.asarray(result.fillna(False), dtype=bool)
    numbers = pd.to_numeric(column, errors="coerce")
    present = np.asarray(numbers.notna(), dtype=bool)
    equal = np.asarray(numbers == comparison.value, dtype=bool)
    matched: np.ndarray = present & (equal if comparison.op == "==" else ~equal)
    return matched


# --- building the clean layer ------------------------------------------------------------


def _build(
    raw: geopandas.GeoDataFrame,
    *,
    source: str,
    kind: str,
    allowed: frozenset[str],
    name_field: str | None,
    category: str | None,
    category_field: str | None,
    default_range_m: float,
) -> ImportedLayer:
    geometries = np.asarray(raw.geometry.array, dtype=object)
    _check_geometry_types(geometries, source, kind, allowed)
    geometries, repaired = _repair(geometries, allowed)
    keep = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if not keep.any():
        raise LayerError(f"{source}: every feature has an empty geometry")
    frame = geopandas.GeoDataFrame(
        {
            "name": _names(raw, name_field),
            "category": _categories(raw, kind, category, category_field),
            "range_m": _ranges(raw, source, default_range_m) if kind == "camera" else np.nan,
        },
        geometry=shapely.force_2d(geometries),
        crs=raw.crs,
    )
    frame = _to_wgs84(frame[keep].reset_index(drop=True), source)
    return ImportedLayer(frame=frame, repaired=int(repaired[keep].sum()), dropped_empty=int((~keep).sum()))


def _check_geometry_types(geometries: np.ndarray, source: str, kind: str, allowed: frozenset[str]) -> None:
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    types = pd.Series([g.geom_type for g in geometries[present]], dtype=object)
    wrong = types[~types.isin(allowed)].value_counts()
    if not wrong.empty:
        found = ", ".join(f"{count} {name}" for name, count in wrong.items())
        raise LayerError(
            f"{source}: a {kind} layer takes {' or '.join(sorted(allowed))} geometries, but it has {found}"
        )


def _repair(geometries: np.ndarray, allowed: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """Make invalid geometries valid; return the geometries and which ones were repaired."""
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    invalid = present & ~shapely.is_valid(geometries)
    fixed = geometries.copy()
    for index in np.flatnonzero(invalid):
        original = geometries[index]
        fixed[index] = _allowed_parts(shapely.make_valid(original), allowed, shapely.get_dimensions(original))
    return fixed, invalid


def _allowed_parts(geometry: Any, allowed: frozenset[str], dimension: int) -> Any:
    """Keep the parts of a repaired geometry that the kind allows, in the original dimension.

    A repair may return a GeometryCollection (a polygon plus a stray line); the line is
    not property, so only the polygons stay. Returns None when nothing is left.
    """
    if geometry.geom_type in allowed and shapely.get_dimensions(geometry) == dimension:
        return geometry
    # make_valid nests at most one level (a collection of multi-parts), so two passes flatten it.
    parts = shapely.get_parts(shapely.get_parts(geometry))
    kept = [p for p in parts if shapely.get_dimensions(p) == dimension and p.geom_type in allowed]
    if not kept:
        return None
    result = kept[0] if len(kept) == 1 else _MULTI_BUILDERS[dimension](kept)
    return result if result.geom_type in allowed else None


def _names(raw: geopandas.GeoDataFrame, name_field: str | None) -> list[str]:
    field = name_field or next((c for c in _NAME_CANDIDATES if c in raw.columns), None)
    if field is None:
        return [""] * len(raw)
    return [_text(value, "") for value in raw[field]]


def _categories(
    raw: geopandas.GeoDataFrame, kind: str, category: str | None, category_field: str | None
) -> list[str]:
    if category_field is not None:
        return [_text(value, kind) for value in raw[category_field]]
    return [category or kind] * len(raw)


def _text(value: Any, default: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return default
    return str(value).strip() or default


def _ranges(raw: geopandas.GeoDataFrame, source: str, default: float) -> np.ndarray:
    field = next((c for c in raw.columns if str(c).lower() == _RANGE_FIELD), None)
    if field is None:
        return np.full(len(raw), default, dtype=float)
    column = raw[field]
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    # A blank cell (null, or "" in a CSV) means "use the default"; anything else must be a range.
    given = np.asarray(column.astype("string").str.strip().fillna("") != "", dtype=bool)
    bad = given & ~(np.isfinite(numbers) & (numbers > 0))
    if bad.any():
        value = column[bad].iloc[0]
        value = value.item() if isinstance(value, np.generic) else value  # show -1.0, not np.float64(-1.0)
        raise LayerError(f"{source}: field {field!r} must be a positive number of metres, not {value!r}")
    return np.where(given, numbers, default)


def _to_wgs84(frame: geopandas.GeoDataFrame, source: str) -> geopandas.GeoDataFrame:
    source_crs = CRS(frame.crs)
    if source_crs.equals(CRS(WGS84), ignore_axis_order=True):
        # OGC:CRS84 (GeoJSON's own) differs from EPSG:4326 only in axis order: relabel, do not move.
        frame = frame.set_crs(WGS84, allow_override=True)
    else:
        frame = frame.to_crs(WGS84)
    _check_lonlat_range(frame, source, source_crs)
    return frame


def _check_lonlat_range(frame: geopandas.GeoDataFrame, source: str, source_crs: CRS) -> None:
    bounds = shapely.bounds(np.asarray(frame.geometry.array, dtype=object))
    lon_ok = np.isfinite(bounds[:, [0, 2]]) & (np.abs(bounds[:, [0, 2]]) <= 180)
    lat_ok = np.isfinite(bounds[:, [1, 3]]) & (np.abs(bounds[:, [1, 3]]) <= 90)
    outside = ~(lon_ok.all(axis=1) & lat_ok.all(axis=1))
    if outside.any():
        raise LayerError(
            f"{source}: {int(outside.sum())} features fall outside longitude/latitude range in "
            f"{source_crs.to_string()}; the declared or assumed CRS is probably wrong"
        )
