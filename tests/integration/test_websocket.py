"""The WebSocket transport of a production node (gunicorn + gevent), spoken to byte by byte.

Real clients (python-socketio, websocket-client, Chromium) run against it elsewhere; here a
raw socket checks what they never do: fragments, pings, bad frames, the close handshake.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from coordinator.live.websocket import (
    CLOSE_INVALID_DATA,
    CLOSE_NORMAL,
    CLOSE_TOO_BIG,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    accept_key,
)
from tests.conftest import Api, Server, cli, make_token
from tests.unit.test_websocket_frames import client_frame

from .support import create_unit, now_iso, poll


@pytest.fixture
def node(data_dir: Path, operator_token: str) -> Iterator[Server]:
    srv = Server(data_dir, gunicorn=True).start()
    yield srv
    srv.stop()


@pytest.fixture
def node_api(node: Server, operator_token: str) -> Api:
    return Api(node.url, operator_token)


class RawSocket:
    """A WebSocket client written frame by frame over a plain TCP socket."""

    def __init__(self, port: int, *, version: str = "13") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
            ).encode()
        )
        self.status, self.headers = self._response_head()

    def _response_head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            assert data, "closed before the handshake answer"
            self.buffer += data
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}

    def send(self, opcode: int, payload: bytes, *, final: bool = True) -> None:
        self.sock.sendall(client_frame(opcode, payload, final=final))

    def text(self, message: str) -> None:
        self.send(OP_TEXT, message.encode())

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("closed")
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def frame(self) -> tuple[int, bytes]:
        first, second = self._exactly(2)
        assert not second & 0x80, "a server's frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exactly(8))[0]
        return first & 0x0F, self._exactly(length)

    def message(self) -> str:
        """The next text message, answering Engine.IO's pings on the way."""
        while True:
            opcode, payload = self.frame()
            assert opcode == OP_TEXT, (opcode, payload)
            text = payload.decode()
            if text == "2":
                self.text("3")
                continue
            return text

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def opened(node: Server, token: str) -> RawSocket:
    ws = RawSocket(node.port)
    assert ws.status == 101
    assert ws.headers["sec-websocket-accept"] == accept_key(ws.key)
    assert "sec-websocket-extensions" not in ws.headers  # no permessage-deflate
    assert ws.message().startswith("0{")  # Engine.IO open
    ws.text("40" + json.dumps({"token": token}))
    assert ws.message().startswith("40{")  # Socket.IO connected
    return ws


def test_a_fragmented_fix_between_pings_is_applied_and_pings_get_their_pongs(node: Server, node_api: Api):
    unit = create_unit(node_api, "MED-9")
    ws = opened(node, unit["token"])
    fix = json.dumps(["position", {"lat": 42.3601, "lon": -71.0589, "accuracy_m": 5.0, "at": now_iso()}])
    message = ("42" + fix).encode()
    ws.send(OP_PING, b"are you there")
    assert ws.frame() == (OP_PONG, b"are you there")
    ws.send(OP_TEXT, message[:7], final=False)
    ws.send(OP_PING, b"mid-message")
    ws.send(OP_CONTINUATION, message[7:20], final=False)
    ws.send(OP_CONTINUATION, message[20:])
    assert ws.frame() == (OP_PONG, b"mid-message")

    def located() -> dict[str, float] | None:
        position: dict[str, float] | None = node_api.get(f"/api/units/{unit['id']}").json().get("position")
        return position

    assert poll(located)["lat"] == pytest.approx(42.3601)
    ws.close()


def test_a_message_that_fails_in_its_handler_is_dropped_and_the_socket_reads_on(node: Server, node_api: Api):
    unit = create_unit(node_api, "MED-8")
    ws = opened(node, unit["token"])
    ws.text('42["position",{"lat":')  # malformed: the handler raises, the node logs it
    ws.text("42" + json.dumps(["position", {"lat": 42.3602, "lon": -71.0589, "at": now_iso()}]))
    ws.text("421" + json.dumps(["position", {"lat": 42.3603, "lon": -71.0589, "at": now_iso()}]))
    assert ws.message().startswith('431[{"ok":true,"result":{"lat":42.3603')  # answered as asked

    def latitude() -> float | None:
        position = node_api.get(f"/api/units/{unit['id']}").json().get("position")
        return None if position is None else float(position["lat"])

    assert poll(lambda: latitude() == pytest.approx(42.3603))
    ws.close()


def test_the_close_handshake_is_answered_with_the_clients_status(node: Server, node_api: Api):
    ws = opened(node, make_token(node.data_dir, "viewer", "wall"))
    ws.send(OP_CLOSE, struct.pack("!H", CLOSE_NORMAL) + b"bye")
    opcode, payload = ws.frame()
    assert (opcode, payload) == (OP_CLOSE, struct.pack("!H", CLOSE_NORMAL))
    assert ws.closed_by_server()


@pytest.mark.parametrize(
    ("opcode", "payload", "code"),
    [
        (OP_TEXT, b"42\xff\xfe", CLOSE_INVALID_DATA),  # not UTF-8
        (OP_BINARY, b"x" * (64 * 1024 + 1), CLOSE_TOO_BIG),  # over the node's payload limit
    ],
)
def test_a_bad_message_closes_the_socket_with_its_status_and_the_node_serves_on(
    node: Server, node_api: Api, opcode: int, payload: bytes, code: int
):
    ws = opened(node, make_token(node.data_dir, "viewer", "wall"))
    ws.send(opcode, payload)
    while True:  # a ping may come first
        got, body = ws.frame()
        if got == OP_CLOSE:
            break
    assert struct.unpack("!H", body[:2])[0] == code
    assert ws.closed_by_server()
    assert node_api.get("/api/state").status_code == 200


def test_a_handshake_without_version_13_is_refused_with_400(node: Server):
    ws = RawSocket(node.port, version="8")
    assert ws.status == 400
    assert ws.headers["sec-websocket-version"] == "13"
    ws.close()


def test_a_client_that_starts_with_long_polling_upgrades_to_this_transport(node: Server, node_api: Api):
    client = socketio.Client(reconnection=False)
    token = make_token(node.data_dir, "viewer", "wall")
    client.connect(node.url, transports=["polling", "websocket"], auth={"token": token}, wait_timeout=5)
    try:
        poll(lambda: client.transport() == "websocket")
        assert client.call("sync", {}, timeout=5)["ok"] is True
    finally:
        client.disconnect()


def test_a_revoked_credential_is_told_and_the_node_closes_the_websocket_with_a_close_frame(node: Server):
    ws = opened(node, make_token(node.data_dir, "viewer", "wall"))
    assert cli(node.data_dir, "token", "revoke", "wall").returncode == 0
    assert ws.message() == "41"  # Socket.IO: disconnected from the namespace
    ws.text("1")  # a client then closes the Engine.IO session, and the node its WebSocket
    opcode, body = ws.frame()
    assert (opcode, body) == (OP_CLOSE, struct.pack("!H", CLOSE_NORMAL))
    assert ws.closed_by_server()
