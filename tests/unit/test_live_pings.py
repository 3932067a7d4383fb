"""One task sends every socket's heartbeat pings, as Engine.IO's task per ping did."""

from __future__ import annotations

import queue
import time
from typing import Any

import engineio
import pytest
from engineio import packet
from engineio.socket import Socket

from coordinator.live import pings

INTERVAL_S = 0.3


@pytest.fixture
def engine() -> engineio.Server:
    server = engineio.Server(async_mode="threading", ping_interval=INTERVAL_S, ping_timeout=5)
    server.on("connect", lambda sid, environ: CONNECTS.append(sid))
    CONNECTS.clear()
    return server


CONNECTS: list[str] = []  # what the stock connect handler saw


def _connect(engine: engineio.Server, sid: str) -> Socket:
    """What Engine.IO's own connect does: a socket, its connect handler, its first ping scheduled."""
    sock = Socket(engine, sid)
    engine.sockets[sid] = sock
    engine.handlers["connect"](sid, {})
    sock.schedule_ping()
    return sock


def _sent(sock: Socket, timeout: float) -> list[Any]:
    """The packets queued for the socket's writer within `timeout`."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(sock.queue.get(timeout=max(deadline - time.monotonic(), 0.001)))
        except queue.Empty:
            break
    return got


def test_each_socket_is_pinged_once_per_interval_after_its_pong(engine: engineio.Server) -> None:
    pings.install(engine)
    socks = [_connect(engine, f"s{i}") for i in range(3)]
    assert CONNECTS == ["s0", "s1", "s2"]  # the wrapped stock handler still runs
    started = time.monotonic()
    first = [_sent(s, INTERVAL_S + 0.5) for s in socks]
    assert all([p.packet_type for p in got] == [packet.PING] for got in first)
    assert time.monotonic() - started >= INTERVAL_S - pings.BATCH_S
    assert all(s.last_ping for s in socks)  # waiting for the pong
    # No pong, no second ping: the socket is left to Engine.IO's timeout check.
    assert _sent(socks[0], INTERVAL_S + 0.3) == []
    socks[1].receive(packet.Packet(packet.PONG))
    assert [p.packet_type for p in _sent(socks[1], INTERVAL_S + 0.5)] == [packet.PING]


def test_a_closed_socket_gets_no_ping_and_the_task_ends_when_none_waits(engine: engineio.Server) -> None:
    pinger = pings.install(engine)
    sock = _connect(engine, "gone")
    sock.closed = True
    assert _sent(sock, INTERVAL_S + 0.3) == []
    assert pinger.waiting() == 0
    # The task has ended; the next socket starts it again.
    live = _connect(engine, "back")
    assert [p.packet_type for p in _sent(live, INTERVAL_S + 0.5)] == [packet.PING]


def test_scheduling_twice_before_the_pong_queues_one_ping(engine: engineio.Server) -> None:
    pinger = pings.install(engine)
    sock = _connect(engine, "s")
    sock.schedule_ping()  # last_ping is cleared by the first: Engine.IO's own rule
    assert pinger.waiting() == 1
    assert [p.packet_type for p in _sent(sock, INTERVAL_S + 0.5)] == [packet.PING]


def test_a_socket_whose_send_fails_does_not_stop_the_others(engine: engineio.Server) -> None:
    pings.install(engine)
    broken = _connect(engine, "broken")
    healthy = _connect(engine, "healthy")

    def fail(_pkt: Any) -> None:
        raise OSError("gone")

    broken.send = fail
    assert [p.packet_type for p in _sent(healthy, INTERVAL_S + 0.5)] == [packet.PING]
