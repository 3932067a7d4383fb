"""The core loop in real pages against a production node: gunicorn, gevent and its WebSocket transport.

Chromium offers permessage-deflate and sends its frames as browsers do; the node declines
the extension and must still carry the whole dispatch flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server

from .test_dispatch_flow import (
    test_incident_logged_on_map_is_assigned_and_acknowledged_from_the_tablet as dispatch_flow,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(data_dir: Path, operator_token: str) -> Iterator[Server]:
    """The pages' server, here as in production."""
    srv = Server(data_dir, gunicorn=True).start()
    yield srv
    srv.stop()


test_the_dispatch_flow_runs_on_a_gunicorn_node = dispatch_flow
