"""Engine.IO's WebSocket transport under gunicorn's gevent worker, read where Engine.IO waits.

Engine.IO's own gevent transport (simple-websocket) gives every socket a reader greenlet
that parses frames with wsproto and hands each message over through an event, so a fix
costs two greenlet switches and a dozen wsproto objects before Engine.IO sees it. A node
of thousands of tablets, each sending a fix every 2 s, spends most of its core receiving.
Here the greenlet Engine.IO already waits in reads the socket and parses RFC 6455 frames
itself: one `recv` and a few slices per message.

What it speaks is what a Socket.IO server needs: text and binary messages, fragmented or
not, ping and pong, the close handshake, a size cap. No extension is accepted, so
permessage-deflate is declined: a frame for 50 wall screens is encoded once and never
compressed 50 times (a dashboard at 5,000 units takes about 250 kB/s uncompressed, little
for a city network, and tablets get small messages).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import socket
import struct
from collections.abc import Callable
from typing import Any

ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DATA_OPCODES = (OP_CONTINUATION, OP_TEXT, OP_BINARY)
CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_DATA, CLOSE_TOO_BIG = 1000, 1002, 1007, 1009
RECV_BYTES = 65536
ENGINEIO_MESSAGE = "4"  # the packet type of an Engine.IO message: what Socket.IO sends inside


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close status to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept answer to a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + ACCEPT_GUID).digest()).decode("ascii")


def valid_key(key: str) -> bool:
    """Whether a Sec-WebSocket-Key is 16 bytes in base64, as RFC 6455 requires."""
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR a client's payload with its 4-byte mask, as one big-integer operation."""
    n = len(payload)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def frame(opcode: int, payload: bytes) -> bytes:
    """A whole, unmasked frame (servers never mask)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class FrameParser:
    """Client frames out of received bytes, no I/O: `feed` bytes, then take `next()` until None."""

    def __init__(self, *, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragments_opcode = 0
        self._fragments_bytes = 0

    def feed(self, data: bytes) -> None:
        self._buffer = self._buffer + data if self._buffer else data

    def next(self) -> tuple[int, bytes] | None:
        """The next whole message or control frame as (opcode, payload); None until more bytes come.

        A fragmented message comes out once, joined, with the opcode of its first frame.
        """
        while True:
            header = self._header()
            if header is None:
                return None
            final, opcode, length, start = header
            end = start + 4 + length
            buffer = self._buffer
            if len(buffer) < end:
                return None
            payload = unmask(buffer[start + 4 : end], buffer[start : start + 4])
            self._buffer = buffer[end:]
            message = self._assemble(final, opcode, payload)
            if message is not None:
                return message

    def _header(self) -> tuple[int, int, int, int] | None:
        """(final bit, opcode, payload length, offset of the mask) of the next frame, once checked."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set without an extension")
        if not second & 0x80:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "a client's frames must be masked")
        final, opcode, length, start = first & 0x80, first & 0x0F, second & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, start = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, start = int.from_bytes(buffer[2:10], "big"), 10
        if opcode in CONTROL_OPCODES:
            if not final or length > 125:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "control frames are whole and short")
        elif opcode not in DATA_OPCODES:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        elif self._fragments_bytes + length > self.max_message_bytes:
            # Refused before the payload arrives, so a huge length buffers nothing.
            raise ProtocolError(CLOSE_TOO_BIG, "message too big")
        return final, opcode, length, start

    def _assemble(self, final: int, opcode: int, payload: bytes) -> tuple[int, bytes] | None:
        """A frame's message if it completes one; fragments wait for their last."""
        if opcode in CONTROL_OPCODES:
            return opcode, payload
        if opcode == OP_CONTINUATION:
            if not self._fragments:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "a continuation frame outside a message")
        elif self._fragments:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "a new message inside a fragmented one")
        elif final:
            return opcode, payload  # the usual case: one frame, one message
        else:
            self._fragments_opcode = opcode
        self._fragments.append(payload)
        self._fragments_bytes += len(payload)
        if not final:
            return None
        joined = b"".join(self._fragments)
        self._fragments, self._fragments_bytes = [], 0
        return self._fragments_opcode, joined


class GeventWebSocket:
    """The `websocket` class of Engine.IO's async driver: `__call__` upgrades, then `wait`/`send`.

    Engine.IO calls `wait` from the socket's request greenlet and `send` from its writer
    greenlet; pongs and close answers are sent from the former, so sends share a lock.
    """

    def __init__(self, handler: Callable[[GeventWebSocket], Any], server: Any) -> None:
        from gevent.lock import Semaphore

        self.app = handler
        self.connected = False
        # Not named `_sock`: Engine.IO would give it a timeout, and gevent then arms a timer
        # for every `recv`, thousands a second. A silent peer is dropped by Engine.IO's own
        # ping check instead, which calls `close`; only sends time out, after as long.
        self._conn: socket.socket | None = None
        self._send_timeout_s = float(server.ping_interval + server.ping_timeout)
        self._parser = FrameParser(max_message_bytes=int(server.max_http_buffer_size))
        self._drained = False  # whether the last read took every byte there was
        self._send_lock = Semaphore()
        self._server = server
        self._eio_sid: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        if sock is None:
            raise RuntimeError("this WebSocket transport runs under gunicorn's gevent worker")
        key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
        if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13" or not valid_key(key):
            body = b"a WebSocket handshake needs Sec-WebSocket-Version 13 and a 16-byte Sec-WebSocket-Key"
            sock.sendall(
                b"HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            raise StopIteration  # gunicorn: the response is written; it closes the connection
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode("ascii") + b"\r\n\r\n"
        )
        sock.settimeout(None)
        self._conn = sock
        self.connected = True
        # The Engine.IO socket whose handler this is: its messages go straight to the server's
        # message handler (`wait`).
        self._eio_sid = getattr(getattr(self.app, "__self__", None), "sid", None)
        try:
            self.app(self)
        finally:
            self.connected = False
        # As with simple-websocket under gunicorn: the connection was ours; gunicorn closes it.
        raise StopIteration

    def wait(self) -> str | bytes | None:
        """The next message from the client, or None once the connection is over."""
        sock, parser = self._conn, self._parser
        while self.connected and sock is not None:
            try:
                item = parser.next()
            except ProtocolError as exc:
                self._close_with(exc.code, exc.reason)
                return None
            if item is None:
                if not self._fill(sock):
                    return None
                continue
            opcode, payload = item
            if opcode == OP_TEXT:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    self._close_with(CLOSE_INVALID_DATA, "text must be UTF-8")
                    return None
                if text[:1] == ENGINEIO_MESSAGE and self._eio_sid is not None:
                    self._deliver(text[1:])
                    continue
                return text
            if opcode == OP_BINARY:
                return payload
            if opcode == OP_PING:
                self._send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                if len(payload) == 1:
                    self._close_with(CLOSE_PROTOCOL_ERROR, "a close status is two bytes")
                else:
                    self._send_close(payload[:2])  # echo the client's status, as RFC 6455 suggests
                return None
        return None

    def _fill(self, sock: socket.socket) -> bool:
        """Read more bytes into the parser; False once the connection is over."""
        try:
            if self._drained:
                self._await_bytes(sock)
            data = sock.recv(RECV_BYTES)
        except OSError:  # reset, or shut down by `close`
            data = b""
        if not data:
            self.connected = False
            return False
        # Tablets send a message at a time: a read that did not fill the buffer took it all.
        self._drained = len(data) < RECV_BYTES
        self._parser.feed(data)
        return True

    @staticmethod
    def _await_bytes(sock: Any) -> None:
        """Wait until the socket is readable, so the `recv` after it succeeds at once.

        gevent's `recv` tries first and waits on failure: after a read that took everything,
        that try fails nearly always, a system call and an exception per message.
        """
        event = sock._read_event
        if event is None:  # closed meanwhile
            raise OSError("the socket is closed")
        sock._wait(event)

    def _deliver(self, data: str) -> None:
        """An Engine.IO MESSAGE, handed to the server's message handler as Engine.IO would.

        For a message, Engine.IO's socket builds a packet object, logs it at INFO and calls
        the handler through a closure that logs what it raises; at 12,000 units that was
        about 6 % of the node's samples. Everything else (pings, pongs, close, binary) still
        goes to Engine.IO through `wait`'s return.
        """
        handler = self._server.handlers.get("message")
        if handler is None:
            return
        try:
            handler(self._eio_sid, data)
        except Exception:
            self._server.logger.exception("message handler error")

    def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self._send(OP_TEXT, message.encode("utf-8"))
        else:
            self._send(OP_BINARY, bytes(message))

    def close(self) -> None:
        """Close from our side; shutting the socket down makes the reader's `recv` return at once."""
        if not self.connected:
            return
        self._send_close(struct.pack("!H", CLOSE_NORMAL))
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)

    def _close_with(self, code: int, reason: str) -> None:
        self._send_close(struct.pack("!H", code) + reason.encode("utf-8")[:120])

    def _send_close(self, payload: bytes) -> None:
        with contextlib.suppress(OSError):
            self._send(OP_CLOSE, payload)
        self.connected = False

    def _send(self, opcode: int, payload: bytes) -> None:
        sock = self._conn
        if not self.connected or sock is None:
            raise OSError("the WebSocket is closed")
        data = frame(opcode, payload)
        with self._send_lock:
            # A `recv` that starts meanwhile waits as long at most: a peer silent that long
            # has missed a ping and is being dropped anyway.
            sock.settimeout(self._send_timeout_s)
            try:
                sock.sendall(data)
            finally:
                sock.settimeout(None)


def install(engine: Any) -> None:
    """Make an Engine.IO server in gevent mode upgrade its sockets with `GeventWebSocket`.

    Engine.IO picks its WebSocket class from its async driver's table; the table is the
    server's own copy, so other servers in the process keep theirs.
    """
    engine._async = {**engine._async, "websocket": GeventWebSocket}
