"""Flask-SocketIO's Redis message queue, listening again within seconds of a Redis restart."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import socketio

from .rooms import IndexedRooms

log = logging.getLogger(__name__)

MAX_LISTEN_BACKOFF_S = 2.0


class RedisQueue(IndexedRooms, socketio.RedisManager):  # type: ignore[misc]  # the library is untyped
    """The stock manager, with rooms indexed per client and a listener that waits at most
    MAX_LISTEN_BACKOFF_S between attempts.

    The stock listener doubles its wait up to a minute, so after a Redis restart the
    positions other nodes send could stay frozen on this node's dashboards that long.
    """

    def _redis_listen_with_retries(self) -> Iterator[Any]:
        delay = 0.1
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if delay > 0.1:
                    log.info("Socket.IO message queue listening again")
                delay = 0.1
                yield from self.pubsub.listen()
            except Exception as exc:  # any failure of the connection: listen again after a pause
                log.warning("Socket.IO message queue unreachable (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_LISTEN_BACKOFF_S)
