"""The coordinator: live operations for a city's emergency operations center."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings, **kwargs: Any) -> Flask:
    """Build the Flask app (imported lazily so `import coordinator` stays cheap)."""
    from .app import create_app as _create_app

    return _create_app(settings, **kwargs)
