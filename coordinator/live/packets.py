"""Socket.IO packets for a server whose messages are JSON only."""

from __future__ import annotations

from socketio.packet import Packet


class JsonPacket(Packet):  # type: ignore[misc]  # the library is untyped
    """The stock packet without its search for bytes.

    Before sending, the stock packet walks every value of a message, without stopping early,
    to find bytes to send as attachments: for a frame of 500 positions some 2,500 calls, and
    a snapshot of 10,000 units held the node for over 50 ms. Nothing here sends bytes; a
    payload with bytes in it fails to encode instead of leaving as attachments. Binary
    messages from clients are still decoded as before.
    """

    uses_binary_events = False
