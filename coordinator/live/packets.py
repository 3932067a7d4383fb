"""Socket.IO packets for a server whose messages are JSON only, and the JSON they use."""

from __future__ import annotations

from typing import Any

import orjson
from engineio import json as stock_json  # the standard module, reading no integer of over 100 digits
from socketio.packet import Packet


class WireJson:
    """The `json` module of the Socket.IO and Engine.IO packets: orjson, with the standard library's answers.

    Every position fix is decoded and every frame encoded here; the standard module took
    about a tenth of the node's core for it at 10,000 units (its decoder is rebuilt for each
    message, since Engine.IO passes it an option). What orjson refuses and the standard
    library reads (NaN, lone surrogates) is read as before, so validation still answers
    with the field that is wrong. Written text reads back the same, in UTF-8 rather than
    with escapes, but for NaN and infinities, which go out as null (the standard `NaN` is
    not JSON); an integer beyond 64 bits would fail to encode (none is ever sent).
    """

    @staticmethod
    def loads(text: str | bytes, **_options: Any) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return stock_json.loads(text)

    @staticmethod
    def dumps(obj: Any, **options: Any) -> str:
        if options.keys() - {"separators"}:
            text: str = stock_json.dumps(obj, **options)  # an option orjson lacks: the standard library
            return text
        # orjson writes compact JSON, as the only option the packets pass asks for.
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


class JsonPacket(Packet):  # type: ignore[misc]  # the library is untyped
    """The stock packet without its search for bytes.

    Before sending, the stock packet walks every value of a message, without stopping early,
    to find bytes to send as attachments: for a frame of 500 positions some 2,500 calls, and
    a snapshot of 10,000 units held the node for over 50 ms. Nothing here sends bytes; a
    payload with bytes in it fails to encode instead of leaving as attachments. Binary
    messages from clients are still decoded as before.
    """

    uses_binary_events = False
    json = WireJson
