"""Engine.IO's heartbeat pings from one task per server instead of a task per socket and ping.

Engine.IO starts a background task for every ping of every socket: it sleeps the ping
interval, then queues the ping. At 12,000 units that is 480 greenlets created a second,
each with its own timer, about a tenth of a busy node's samples. Every socket's ping comes
the same interval after its last pong, so the sockets waiting for their next ping are
already in order of when it is due: one queue, and one task that wakes when the head is
due and sends every ping due within the next BATCH_S. The protocol does not change: a ping
goes out the ping interval after the pong (at most BATCH_S early, well inside what clients
allow), through the socket's own queue and writer, and a client that stops answering is
dropped by Engine.IO's own timeout check as before.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from engineio import packet

# Pings due this close together go out in one wake of the task.
BATCH_S = 0.1
PING = packet.Packet(packet.PING)  # never changes; each socket's writer encodes it


class Pinger:
    """The ping schedule of one Engine.IO server's sockets."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._due: deque[tuple[float, Any]] = deque()  # (monotonic time due, socket), ascending
        self._lock = threading.Lock()
        self._running = False

    def schedule(self, sock: Any) -> None:
        """Queue the socket's next ping; Engine.IO calls this on connect and on each pong."""
        # As Engine.IO: only when the previous ping was answered (or none was sent yet).
        if not sock.last_ping:
            return
        sock.last_ping = None
        with self._lock:
            self._due.append((time.monotonic() + self._engine.ping_interval, sock))
            start, self._running = not self._running, True
        if start:
            self._engine.start_background_task(self._run)

    def _run(self) -> None:
        """Send pings as they fall due; end when none is waiting (the next schedule restarts it)."""
        due = self._due
        while True:
            with self._lock:
                if not due:
                    self._running = False
                    return
                wait = due[0][0] - time.monotonic()
            if wait > 0:
                self._engine.sleep(wait)
            horizon = time.monotonic() + BATCH_S
            while due and due[0][0] <= horizon:
                _when, sock = due.popleft()
                self._ping(sock)

    def _ping(self, sock: Any) -> None:
        if sock.closing or sock.closed:
            return
        sock.last_ping = time.time()
        try:
            sock.send(PING)  # closes the socket instead if its last ping went unanswered
        except Exception:  # one socket's failure must not stop everyone's pings
            self._engine.logger.exception("ping to %s failed", sock.sid)

    def waiting(self) -> int:
        """How many sockets wait for their next ping."""
        return len(self._due)


def install(engine: Any) -> Pinger:
    """Give every socket that connects to `engine` from now on the central ping schedule.

    Engine.IO creates the socket, calls its `connect` handler, then `schedule_ping`: the
    handler is wrapped to point that socket's `schedule_ping` at the pinger.
    """
    pinger = Pinger(engine)
    stock = engine.handlers["connect"]

    def on_connect(sid: str, environ: dict[str, Any], *args: Any) -> Any:
        sock = engine.sockets.get(sid)
        if sock is not None:
            sock.schedule_ping = lambda: pinger.schedule(sock)
        return stock(sid, environ, *args)

    engine.on("connect", on_connect)
    return pinger
