"""Where the packaged web assets and default map layers are.

In a wheel they sit inside the package (`coordinator/static`, ...); in a source
checkout they are the top-level folders beside it.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """Return the folder `static`, `templates` or `maps`, installed or in a checkout."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"packaged folder '{name}' is missing; reinstall the package")
