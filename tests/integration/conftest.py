"""Fixtures of the integration tests that several files share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Cluster


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str) -> Iterator[Cluster]:
    """Nodes on the shared test Redis under a key prefix of their own."""
    nodes = Cluster(tmp_path, redis_url)
    yield nodes
    nodes.stop()
