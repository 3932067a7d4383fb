"""Thousands of clients dropping at once: the Socket.IO manager's work, stock against indexed rooms.

Run from the repository root: `python bench/bench_disconnect.py` (`--smoke` for a tiny run).

N clients connect to python-socketio's manager as a node's do: each in its own room (the
library's), each unit in `unit:<id>`, the dashboards in `dashboards`. Then all of them
disconnect, as when a district's cell network fails or the proxy restarts, and the time the
manager takes is measured, for the stock `socketio.Manager` and the coordinator's
`LocalManager` (coordinator/live/rooms.py). Sockets are left out: this is the part that
grew with the square of the clients. Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import socketio

from coordinator.live.rooms import LocalManager

NAMESPACE = "/"
DASHBOARDS = 50


def connected(manager_class: type, clients: int) -> tuple[Any, list[str]]:
    """A manager holding `clients` units and DASHBOARDS dashboards, in their rooms."""
    manager = manager_class()
    socketio.Server(client_manager=manager, async_mode="threading")
    sids = []
    for i in range(clients + DASHBOARDS):
        sid = manager.connect(f"eio-{i}", NAMESPACE)
        manager.enter_room(sid, NAMESPACE, "dashboards" if i >= clients else f"unit:{i}")
        sids.append(sid)
    return manager, sids


def drop_all(manager: Any, sids: list[str]) -> float:
    """Seconds to disconnect every client, as the server does for each."""
    started = time.perf_counter()
    for sid in sids:
        manager.pre_disconnect(sid, NAMESPACE)
        manager.disconnect(sid, NAMESPACE)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run that only proves the script works")
    parser.add_argument("--clients", default="1000,2500,5000,10000", help="unit counts, comma-separated")
    args = parser.parse_args()
    counts = [100] if args.smoke else [int(n) for n in args.clients.split(",")]
    rows = []
    for n in counts:
        stock_manager, stock_sids = connected(socketio.Manager, n)
        stock_s = drop_all(stock_manager, stock_sids)
        ours_manager, our_sids = connected(LocalManager, n)
        ours_s = drop_all(ours_manager, our_sids)
        assert stock_manager.rooms == ours_manager.rooms == {}
        rows.append(
            {
                "units": n,
                "stock_s": round(stock_s, 3),
                "indexed_s": round(ours_s, 4),
                "ratio": round(stock_s / ours_s, 1) if ours_s else None,
            }
        )
        print(f"  {n:6} units: stock {stock_s:8.3f} s, indexed {ours_s:7.4f} s", flush=True)
    print(
        json.dumps(
            {
                "benchmark": "disconnect",
                "smoke": args.smoke,
                "dashboards": DASHBOARDS,
                "runs": rows,
                "machine": f"{platform.machine()} {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
