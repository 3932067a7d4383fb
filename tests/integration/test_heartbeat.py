"""Heartbeat pings reach every socket from the node's one ping task, in both server modes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, Server, cli

from .support import create_unit
from .test_websocket import OP_TEXT, RawSocket

INTERVAL_S = 1.0


@pytest.fixture(params=["gunicorn", "serve"])
def node(request: pytest.FixtureRequest, data_dir: Path, operator_token: str) -> Iterator[Server]:
    srv = Server(data_dir, gunicorn=request.param == "gunicorn", extra_args=("--ping-interval", "1")).start()
    yield srv
    srv.stop()


def _next_text(ws: RawSocket) -> str:
    opcode, payload = ws.frame()
    assert opcode == OP_TEXT, (opcode, payload)
    return payload.decode()


def test_each_socket_is_pinged_the_interval_after_its_pong(node: Server, operator_token: str) -> None:
    unit = create_unit(Api(node.url, operator_token), "MED-7")
    socks = [RawSocket(node.port) for _ in range(3)]
    for ws in socks:
        opened = _next_text(ws)
        assert opened.startswith("0{")
        assert json.loads(opened[1:])["pingInterval"] >= INTERVAL_S * 1000  # what the client is told
        ws.text("40" + json.dumps({"token": unit["token"]}))
        assert _next_text(ws).startswith("40{")
    ponged: dict[int, float] = {}
    for _round in range(3):
        for i, ws in enumerate(socks):
            assert _next_text(ws) == "2"  # the ping, and nothing queued before it
            if i in ponged:
                # Never sooner than the interval less the task's batching, never much later.
                assert INTERVAL_S - 0.15 <= time.monotonic() - ponged[i] <= INTERVAL_S + 1.5
            ws.text("3")
            ponged[i] = time.monotonic()
    for ws in socks:
        ws.close()


def test_a_ping_interval_out_of_range_is_refused_naming_the_flag(data_dir: Path) -> None:
    run = cli(data_dir, "serve", "--ping-interval", "0", env={"COORDINATOR_SECRET_KEY": "k" * 32})
    assert run.returncode == 2
    assert "--ping-interval must be 1 to 300 seconds, got 0" in run.stderr
