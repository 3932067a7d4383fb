"""Run the live loop's blocking chores in a native thread, so sockets keep being served.

Under gevent every greenlet shares one OS thread: a SQLite commit (its fsync), the
geofence pass or a retention purge stops every socket of the node while it runs, and at
10,000 units each takes tens of milliseconds. In a native thread they hold the GIL only
for their Python parts (handed back every switch interval) and run their C parts (SQLite,
GEOS, numpy, PROJ) beside the loop, on another core when there is one.

Only work that touches no gevent socket may go there: SQLite and pure computation, not
Redis (its client's sockets belong to the loop). In threading mode every handler already
has a thread of its own, and the work runs where it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Runner(Protocol):
    def __call__(self, work: Callable[[], T]) -> T: ...


def run_here(work: Callable[[], T]) -> T:
    return work()


class NativeThread:
    """One native thread for chores, so they run in order and one at a time."""

    def __init__(self) -> None:
        self._pool: Any = None  # made at first use, in the process and hub that serve

    def __call__(self, work: Callable[[], T]) -> T:
        if self._pool is None:
            from gevent.threadpool import ThreadPool

            self._pool = ThreadPool(1)
        # Blocks only the calling greenlet. The work's exception is carried back and raised
        # here, where the loop handles it (the pool would also print it as a crash).
        outcome: tuple[bool, Any] = self._pool.apply(_outcome, (work,))
        ok, value = outcome
        if not ok:
            raise value
        result: T = value
        return result


def _outcome(work: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, work()
    except Exception as exc:
        return False, exc


def runner_for(async_mode: str) -> Runner:
    """The runner of chores for a Socket.IO async mode."""
    if async_mode == "gevent":
        return NativeThread()
    return run_here
