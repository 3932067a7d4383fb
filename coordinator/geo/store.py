"""Imported map layers on disk: one GeoJSON file per layer and one manifest that names them.

Layout, under `data_dir/layers/`:

- `manifest.json` lists every layer (kind, feature count, source, time, bounds) and the
  file that holds it, plus a revision that counts every change.
- `<name>.<random>.geojson` holds a layer as RFC 7946 GeoJSON in EPSG:4326; the
  dashboard serves it as-is.

The manifest is the commit point. A save writes the new GeoJSON under a fresh file
name, then atomically replaces the manifest to point at it, then deletes the old file.
An import that fails or is killed before the manifest is replaced leaves the stored
layers exactly as they were (at most an orphan file, removed by the next write), and
since every file appears through `os.replace`, a reader in another process never sees
half of one. Writers take an exclusive lock so two imports at once cannot lose each
other's manifest entries; readers take none.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas
import pandas as pd
import pyogrio
from pyproj import CRS

from ..domain.timefmt import now_utc
from .importer import LAYER_KINDS, WGS84, ImportedLayer, LayerError

LAYER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

_MANIFEST = "manifest.json"
_LOCK = ".lock"
_FORMAT = 1
_COLUMNS = ["name", "category", "range_m", "geometry"]
_LOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class LayerInfo:
    """What the manifest says about one stored layer."""

    name: str
    kind: str
    features: int
    source: str
    imported_at: str
    repaired: int
    bounds: tuple[float, float, float, float]


def check_layer_name(name: str) -> str:
    """Return `name` if it is a valid layer name (it becomes a file name), else raise LayerError."""
    if not LAYER_NAME_RE.fullmatch(name):
        raise LayerError(
            f"bad layer name {name!r}: use 1 to 64 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


class LayerStore:
    """The layers under `data_dir / "layers"`; the folder is created on the first save."""

    def __init__(self, data_dir: Path) -> None:
        self._dir = Path(data_dir) / "layers"

    # --- writing ---------------------------------------------------------------------

    def save(self, name: str, layer: ImportedLayer, *, kind: str, source: str) -> LayerInfo:
        """Store `layer` as `name`, replacing a layer of the same name; all or nothing."""
        check_layer_name(name)
        if kind not in LAYER_KINDS:
            raise LayerError(f"unknown layer kind {kind!r}; kinds are: {', '.join(LAYER_KINDS)}")
        frame = _storable(layer.frame, name)
        info = LayerInfo(
            name=name,
            kind=kind,
            features=len(frame),
            source=source,
            imported_at=_timestamp(),
            repaired=layer.repaired,
            bounds=_bounds(frame),
        )
        with self._locked():
            manifest = self._read_manifest()
            file_name = f"{name}.{secrets.token_hex(6)}.geojson"
            self._write_layer_file(frame, file_name)
            try:
                self._commit(manifest, {name: {**_entry(info), "file": file_name}})
            except BaseException:
                # Only a file the manifest never came to name may go; if the commit landed
                # and a later step failed, the new file is the layer now.
                if not self._references(file_name):
                    (self._dir / file_name).unlink(missing_ok=True)
                raise
            self._delete_unreferenced()
        return info

    def remove(self, name: str) -> None:
        """Remove the layer `name`; LayerError if there is none."""
        self._entry(name)  # refuse an unknown name without creating the folder
        with self._locked():
            manifest = self._read_manifest()
            if name not in manifest["layers"]:
                raise LayerError(self._unknown(name, manifest))
            self._commit(manifest, {name: None})
            self._delete_unreferenced()

    def _write_layer_file(self, frame: geopandas.GeoDataFrame, file_name: str) -> None:
        temporary = self._dir / f".{file_name}.tmp"
        try:
            _write_geojson(frame, temporary, title=file_name.split(".", maxsplit=1)[0])
            _fsync_file(temporary)
            os.replace(temporary, self._dir / file_name)
        except BaseException as exc:
            temporary.unlink(missing_ok=True)
            if isinstance(exc, OSError | RuntimeError):
                raise LayerError(f"could not store layer file {file_name}: {exc}") from exc
            raise

    def _commit(self, manifest: dict[str, Any], changes: dict[str, dict[str, Any] | None]) -> None:
        """Write the manifest with `changes` applied (None removes); this is the commit point."""
        layers = dict(manifest["layers"])
        for name, entry in changes.items():
            if entry is None:
                layers.pop(name, None)
            else:
                layers[name] = entry
        updated = {
            "format": _FORMAT,
            "store_id": manifest["store_id"] or secrets.token_hex(8),
            "revision": int(manifest["revision"]) + 1,
            "layers": dict(sorted(layers.items())),
        }
        try:
            _write_json_atomic(self._dir / _MANIFEST, updated)
        except OSError as exc:
            raise LayerError(f"could not write the layer manifest: {exc}") from exc
        _fsync_dir(self._dir)

    def _delete_unreferenced(self) -> None:
        # Under the lock no one else is writing, so anything the manifest does not name is
        # an old version or the leftover of an interrupted import.
        referenced = {entry["file"] for entry in self._read_manifest()["layers"].values()}
        for path in self._dir.iterdir():
            leftover = path.name.endswith(".tmp") or path.suffix == ".geojson"
            if leftover and path.name not in referenced:
                path.unlink(missing_ok=True)

    def _references(self, file_name: str) -> bool:
        try:
            layers = self._read_manifest()["layers"].values()
        except LayerError:
            return True  # cannot tell, so keep the file; the next write tidies up
        return any(entry["file"] == file_name for entry in layers)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            handle = open(self._dir / _LOCK, "a")  # noqa: SIM115 - held for the whole block
        except OSError as exc:
            raise LayerError(f"cannot write layers in {self._dir}: {exc}") from exc
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- reading ---------------------------------------------------------------------

    def list(self) -> builtins.list[LayerInfo]:
        """Every stored layer, by name."""
        layers = self._read_manifest()["layers"]
        return [_info(name, entry) for name, entry in sorted(layers.items())]

    def info(self, name: str) -> LayerInfo:
        """What the manifest says about `name`; LayerError if there is no such layer."""
        return _info(name, self._entry(name))

    def geojson_path(self, name: str) -> Path:
        """The stored GeoJSON of `name` (RFC 7946, EPSG:4326). It changes when the layer is replaced."""
        return self._dir / str(self._entry(name)["file"])

    def load(self, name: str) -> geopandas.GeoDataFrame:
        """The layer `name` as a GeoDataFrame in EPSG:4326 with name, category, range_m, geometry."""
        for attempt in range(_LOAD_ATTEMPTS):
            path = self.geojson_path(name)
            try:
                return _read_stored(path)
            except (FileNotFoundError, pyogrio.errors.DataSourceError):
                # Another process replaced the layer between our manifest read and the open;
                # the manifest now names the new file.
                if path.exists() or attempt == _LOAD_ATTEMPTS - 1:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def version(self) -> str:
        """A token that changes whenever a layer is saved or removed; one small file read."""
        manifest = self._read_manifest()
        return f"{manifest['store_id'] or 'none'}-{manifest['revision']}"

    def _entry(self, name: str) -> dict[str, Any]:
        manifest = self._read_manifest()
        entry = manifest["layers"].get(name)
        if entry is None:
            raise LayerError(self._unknown(name, manifest))
        return dict(entry)

    def _unknown(self, name: str, manifest: dict[str, Any]) -> str:
        stored = ", ".join(sorted(manifest["layers"])) or "none"
        return f"no layer named {name!r}; stored layers: {stored}"

    def _read_manifest(self) -> dict[str, Any]:
        path = self._dir / _MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"format": _FORMAT, "store_id": None, "revision": 0, "layers": {}}
        try:
            manifest: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LayerError(f"the layer manifest {path} is damaged: {exc}") from exc
        if manifest.get("format") != _FORMAT:
            raise LayerError(f"the layer manifest {path} has unknown format {manifest.get('format')!r}")
        return manifest


# --- helpers ---------------------------------------------------------------------------


def _storable(frame: geopandas.GeoDataFrame, name: str) -> geopandas.GeoDataFrame:
    if list(frame.columns) != _COLUMNS:
        raise LayerError(f"layer {name!r} must have columns {_COLUMNS}, not {list(frame.columns)}")
    if frame.empty:
        raise LayerError(f"layer {name!r} has no features")
    if frame.crs is None or not CRS(frame.crs).equals(CRS(WGS84), ignore_axis_order=True):
        raise LayerError(f"layer {name!r} must be in {WGS84}, not {frame.crs}")
    return frame


def _timestamp() -> str:
    return now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def _bounds(frame: geopandas.GeoDataFrame) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return (minx, miny, maxx, maxy)


def _entry(info: LayerInfo) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "features": info.features,
        "source": info.source,
        "imported_at": info.imported_at,
        "repaired": info.repaired,
        "bounds": list(info.bounds),
    }


def _info(name: str, entry: dict[str, Any]) -> LayerInfo:
    minx, miny, maxx, maxy = (float(v) for v in entry["bounds"])
    return LayerInfo(
        name=name,
        kind=str(entry["kind"]),
        features=int(entry["features"]),
        source=str(entry["source"]),
        imported_at=str(entry["imported_at"]),
        repaired=int(entry["repaired"]),
        bounds=(minx, miny, maxx, maxy),
    )


def _write_geojson(frame: geopandas.GeoDataFrame, path: Path, *, title: str) -> None:
    """Write `frame` as RFC 7946 GeoJSON (EPSG:4326, right-hand winding, 7 decimals ~ 1 cm)."""
    pyogrio.write_dataframe(frame, str(path), layer=title, driver="GeoJSON", layer_options={"RFC7946": "YES"})


def _read_stored(path: Path) -> geopandas.GeoDataFrame:
    frame = geopandas.read_file(path, engine="pyogrio")
    # A column whose values are all null (range_m outside cameras, or all-empty names) comes
    # back untyped from GeoJSON; give every column its declared type again.
    frame["name"] = frame["name"].fillna("").astype(str)
    frame["category"] = frame["category"].fillna("").astype(str)
    frame["range_m"] = pd.to_numeric(frame["range_m"], errors="coerce").astype(float)
    return frame[_COLUMNS].set_crs(WGS84, allow_override=True)


def _write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    # Makes the renames themselves durable, not only the bytes of the files.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
