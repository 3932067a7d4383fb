"""A lean Socket.IO client for the load generator: the wire protocol by hand over aiohttp.

python-socketio's client decodes and dispatches every message while the load runs. On a
machine where the generator shares the cores with the server under test, that CPU is taken
from the server, and the benchmark measures the generator. This client speaks the same
protocol to the same server (Engine.IO 4 over its WebSocket transport, Socket.IO 5 on the
default namespace: connect with auth, events, calls with an acknowledgement, the server's
pings) but keeps every event it receives as the raw text with its receive time, to be
decoded after the run (`decode`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

# Engine.IO packet types (the first character of a message) and Socket.IO's inside MESSAGE.
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE = "0", "1", "2", "3", "4"
SIO_CONNECT, SIO_DISCONNECT, SIO_EVENT, SIO_ACK, SIO_CONNECT_ERROR = "0", "1", "2", "3", "4"
COMPACT = (",", ":")


class ConnectError(Exception):
    """The server refused the connection (Socket.IO CONNECT_ERROR) or closed it."""


class LeanClient:
    """One Socket.IO connection. `received` holds (receive time in epoch ms, raw text) of events."""

    def __init__(self, session: aiohttp.ClientSession, *, keep: bool = True) -> None:
        self.session = session
        self.keep = keep  # units ignore what they are sent; dashboards keep it
        self.received: list[tuple[float, str]] = []
        self.on_close: Callable[[], None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0

    async def connect(self, url: str, auth: dict[str, Any], timeout_s: float) -> None:
        ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        ws = await self.session.ws_connect(
            ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=5.0), max_msg_size=0
        )
        try:
            async with asyncio.timeout(timeout_s):
                opened = await ws.receive_str()
                if not opened.startswith(EIO_OPEN):
                    raise ConnectError(f"expected the Engine.IO open packet, got {opened[:40]!r}")
                await ws.send_str(EIO_MESSAGE + SIO_CONNECT + json.dumps(auth, separators=COMPACT))
                while True:
                    answer = await ws.receive_str()
                    if answer.startswith(EIO_MESSAGE + SIO_CONNECT):
                        break
                    if answer.startswith(EIO_MESSAGE + SIO_CONNECT_ERROR):
                        raise ConnectError(answer[2:])
                    if answer == EIO_PING:
                        await ws.send_str(EIO_PONG)
        except BaseException:
            await ws.close()
            raise
        self._ws = ws
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        ws, received, keep = self._ws, self.received, self.keep
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            text: str = message.data
            if text.startswith("42"):
                if keep:
                    received.append((time.time() * 1000, text))
            elif text == EIO_PING:
                await ws.send_str(EIO_PONG)
            elif text.startswith("43"):
                self._answer(text[2:])
            elif text.startswith(EIO_CLOSE) or text.startswith(EIO_MESSAGE + SIO_DISCONNECT):
                break
        for future in self._acks.values():
            if not future.done():
                future.set_exception(ConnectError("closed before the answer"))
        if self.on_close is not None:
            self.on_close()

    def _answer(self, body: str) -> None:
        split = body.index("[")
        future = self._acks.pop(int(body[:split]), None)
        if future is not None and not future.done():
            args = json.loads(body[split:])
            future.set_result(args[0] if args else None)

    async def emit(self, event: str, data: Any) -> None:
        assert self._ws is not None
        await self._ws.send_str("42" + json.dumps([event, data], separators=COMPACT))

    async def call(self, event: str, data: Any, timeout_s: float) -> Any:
        assert self._ws is not None
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[self._next_id] = future
        await self._ws.send_str(f"42{self._next_id}" + json.dumps([event, data], separators=COMPACT))
        return await asyncio.wait_for(future, timeout_s)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def decode(text: str) -> tuple[str, Any]:
    """A received event's name and its first argument."""
    args = json.loads(text[2:])
    return args[0], args[1] if len(args) > 1 else None


def session() -> aiohttp.ClientSession:
    """One HTTP session for a worker's connections, with no cap on them."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
