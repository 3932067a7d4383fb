"""Keep the garbage collector's full passes short and rare on a serving process.

After start a node holds about 125,000 long-lived objects (libraries, map layers, the
street graph). CPython's full collection walks every one of them, about 100 ms on an idle
core and up to 250 ms on a busy one, and a gevent worker answers no socket meanwhile: in
the fan-out benchmark those pauses were most of the p99 latency. Frozen objects are skipped
by the collector; everything allocated afterwards is collected as usual.

What stays alive keeps growing while serving: every socket that connects (60 to 170
objects each), the units and their state. At 5,000 units and 50 dashboards that was some
880,000 objects, and full passes of 0.3 to 0.9 s came every 10 to 30 s under load. So the
hub freezes the survivors again every REFREEZE_S (after collecting the young generations),
and full passes only walk what is newer. Cyclic garbage that was already old when frozen is
not collected then: every RECLAIM_S the heap is unfrozen and collected in full once (one
pause of that length, instead of several a minute), which bounds what can pile up.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

# Full passes at most every 100 young-generation passes of the middle one, not 10: what
# reaches the old generation while serving is mostly alive (each open socket's greenlets,
# some 60 objects per socket), so a full pass mostly walks it for nothing, about 100 ms
# per 1,000 sockets. Cyclic garbage that got that old waits longer; the young ones
# still collect every 700 allocations.
THRESHOLDS = (700, 10, 100)
REFREEZE_S = 10.0
RECLAIM_S = 600.0


def settle() -> None:
    """Collect once, then take everything still alive out of the collector's sight."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def resettle() -> None:
    """After replacing long-lived data (new map layers): collect the old, freeze the new.

    One full pause, as before freezing, but only when layers change.
    """
    gc.unfreeze()
    settle()


class Pacer:
    """Refreezes the survivors every REFREEZE_S and reclaims in full every RECLAIM_S."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        now = clock()
        self._next_refreeze = now + REFREEZE_S
        self._next_reclaim = now + RECLAIM_S

    def tick(self) -> str | None:
        """Do what is due; return "reclaim", "refreeze" or None."""
        now = self._clock()
        if now >= self._next_reclaim:
            resettle()
            self._next_reclaim = now + RECLAIM_S
            self._next_refreeze = now + REFREEZE_S
            return "reclaim"
        if now >= self._next_refreeze:
            gc.collect(1)  # the young generations only: a few milliseconds
            gc.freeze()
            self._next_refreeze = now + REFREEZE_S
            return "refreeze"
        return None
