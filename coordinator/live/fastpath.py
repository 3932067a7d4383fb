"""Position fixes from Engine.IO straight to their handler, past Socket.IO's general dispatch.

Fixes are nearly every message a node receives: at 10,000 units, 5,000 a second. The stock
path builds a packet object for each, parses its header character by character, logs, and
looks the handler up through three calls. A fix without an acknowledgement (what tablets
send while moving) always has the same header, so it is recognised by its first bytes and
handed to its handler at once. Anything else, including a fix that asks for an answer, a
namespace other than the default or a socket not connected to it, takes the stock path,
which also answers or logs exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from socketio import Server

from .packets import WireJson

# Socket.IO EVENT on the default namespace, no acknowledgement id, event "position".
UNANSWERED_FIX = '2["position",'


def install(server: Server, handler: Callable[..., Any]) -> None:
    """Route unanswered `position` events of `server` to `handler(sid, data)`."""
    stock = server._handle_eio_message  # what Socket.IO registered for Engine.IO messages
    manager = server.manager
    waiting_attachments = server._binary_packet  # a binary event's attachments come next

    def on_message(eio_sid: str, data: Any) -> None:
        if data.__class__ is str and data.startswith(UNANSWERED_FIX) and eio_sid not in waiting_attachments:
            sid = manager.sid_from_eio_sid(eio_sid, "/")
            if sid is not None and manager.is_connected(sid, "/"):
                # Malformed JSON raises here as it would in the stock packet; Engine.IO logs it.
                _event, *args = WireJson.loads(data[1:])
                handler(sid, *args)
                return
        stock(eio_sid, data)

    server.eio.on("message", on_message)
