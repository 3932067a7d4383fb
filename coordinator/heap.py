"""Keep the garbage collector's full passes short on a serving process.

After start a node holds about 125,000 long-lived objects (libraries, map layers, the
street graph). CPython's full collection walks every one of them, about 100 ms on an idle
core and up to 250 ms on a busy one, and a gevent worker answers no socket meanwhile: in
the fan-out benchmark those pauses were most of the p99 latency. Frozen objects are skipped
by the collector; everything allocated afterwards is collected as usual.
"""

from __future__ import annotations

import gc

# Full passes at most every 100 young-generation passes of the middle one, not 10: what
# reaches the old generation while serving is mostly alive (each open socket's greenlets,
# some 60 objects per socket), so a full pass mostly walks it for nothing, about 100 ms
# per 1,000 sockets. Cyclic garbage that got that old waits longer; the young ones
# still collect every 700 allocations.
THRESHOLDS = (700, 10, 100)


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
