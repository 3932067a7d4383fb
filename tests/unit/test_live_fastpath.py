"""Unanswered position fixes skip Socket.IO's dispatch; everything else still takes it."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from coordinator.live import fastpath
from coordinator.live.packets import JsonPacket, WireJson


@pytest.fixture
def routed() -> tuple[socketio.Server, list[tuple[str, Any]], list[tuple[str, Any]], str]:
    """A Socket.IO server with one socket on the default namespace; (server, fast calls, stock calls, sid)."""
    server = socketio.Server(async_mode="threading", serializer=JsonPacket, json=WireJson)
    fast: list[tuple[str, Any]] = []
    stock: list[tuple[str, Any]] = []
    server.on("position", lambda sid, data=None, *_: stock.append((sid, data)) or {"ok": True})
    fastpath.install(server, lambda sid, data=None, *_: fast.append((sid, data)))
    server.manager.initialize()
    sid = server.manager.connect("eio-1", "/")
    return server, fast, stock, sid


def _receive(server: socketio.Server, eio_sid: str, text: str) -> None:
    server.eio.handlers["message"](eio_sid, text)


def test_an_unanswered_fix_goes_straight_to_its_handler(routed: Any) -> None:
    server, fast, stock, sid = routed
    _receive(server, "eio-1", '2["position",{"lat":42.36,"lon":-71.06}]')
    assert fast == [(sid, {"lat": 42.36, "lon": -71.06})]
    assert stock == []


def test_a_fix_that_asks_for_an_answer_takes_the_stock_path_and_is_answered(routed: Any) -> None:
    server, fast, stock, sid = routed
    sent: list[str] = []
    server.eio.send = lambda eio_sid, data: sent.append(data)  # the answer, as encoded
    _receive(server, "eio-1", '27["position",{"lat":42.36}]')
    assert fast == []
    assert stock == [(sid, {"lat": 42.36})]
    assert sent == ['37[{"ok":true}]']


@pytest.mark.parametrize(
    "text",
    [
        '2["sync",{}]',  # another event
        '2/other,["position",{"lat":1}]',  # another namespace
        '2["positions",{"lat":1}]',  # a longer name
    ],
)
def test_other_messages_are_not_taken_for_fixes(routed: Any, text: str) -> None:
    server, fast, _stock, _sid = routed
    _receive(server, "eio-1", text)
    assert fast == []


def test_a_socket_not_connected_to_the_namespace_gets_nothing_handled(routed: Any) -> None:
    server, fast, stock, _sid = routed
    _receive(server, "eio-unknown", '2["position",{"lat":1}]')
    assert fast == [] and stock == []


def test_malformed_json_raises_as_in_the_stock_packet(routed: Any) -> None:
    server, fast, _stock, _sid = routed
    with pytest.raises(ValueError):
        _receive(server, "eio-1", '2["position",{"lat":')
    assert fast == []
