"""Socket.IO client managers whose disconnect costs the client's rooms, not every room."""

from __future__ import annotations

from typing import Any

import socketio


class IndexedRooms:
    """A mixin for python-socketio's managers: each client's rooms are indexed.

    The stock manager finds a leaving client's rooms by looking into every room of the
    namespace, and every client is a room of its own (each unit has one more). When
    thousands of tablets drop at once (a cell outage, the proxy restarting) the node spent
    time quadratic in its clients: 2.2 s of a core for 5,000 at once, 9.4 s for 10,000
    (bench/bench_disconnect.py; 0.02 and 0.04 s with the index). Every change to
    a room passes through `basic_enter_room` and `basic_leave_room`, which keep the index.
    """

    rooms: dict[str, dict[Any, Any]]
    callbacks: dict[str, Any]
    pending_connect: dict[str, list[str]]
    pending_disconnect: dict[str, list[str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[tuple[str, str], set[Any]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        self._rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        joined = self._rooms_of.get((namespace, sid))
        if joined is not None:
            joined.discard(room)
            if not joined:
                del self._rooms_of[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **_kwargs: Any) -> None:
        """Leave the client's rooms and forget its callbacks and pending states, as the stock one does."""
        if namespace not in self.rooms:
            return
        for room in list(self._rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]


class LocalManager(IndexedRooms, socketio.Manager):  # type: ignore[misc]  # the library is untyped
    """The manager of a single node."""
