"""Map layers shown under the live picture; for now the packaged default set in `maps/`."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from .resources import asset_dir


@cache
def default_layers() -> list[dict[str, Any]]:
    """Return each packaged GeoJSON file as a named layer."""
    layers = []
    for path in sorted(asset_dir("maps").glob("*.geojson")):
        collection = json.loads(path.read_text(encoding="utf-8"))
        layers.append({"name": path.stem, "source": "packaged", "data": collection})
    return layers
