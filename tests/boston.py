"""Where the real Boston layers are: beside the repository, never inside it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

BOSTON = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "boston"


def boston(name: str) -> Path:
    path = BOSTON / name
    if not path.exists():
        raise FileNotFoundError(f"the shared Boston data is missing: {path}")
    return path


def named(frame: gpd.GeoDataFrame, name_column: str, category: str | None = None) -> gpd.GeoDataFrame:
    """Return a layer with the `name` and `category` columns the index expects."""
    out = gpd.GeoDataFrame(
        {"name": frame[name_column].astype(str), "category": category or ""},
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )
    return out
