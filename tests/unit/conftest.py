"""Fixtures of the unit tests: the storage contract runs on SQLite and on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .backends import Backend


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    db_path = tmp_path / "data" / "coordinator.sqlite3"
    if request.param == "sqlite":
        store = Backend("sqlite", db_path)
    else:
        redis_url = request.getfixturevalue("redis_url")
        store = Backend("redis", db_path, redis_url, prefix=f"test-{uuid.uuid4().hex[:12]}:")
    yield store
    store.close()
