"""Socket.IO packets of a JSON-only server."""

from __future__ import annotations

import pytest
from socketio import packet

from coordinator.live.packets import JsonPacket


def test_a_frame_is_encoded_as_a_plain_event_without_searching_it_for_bytes():
    frame = {"positions": {f"unit-{i}": {"lat": 42.36, "lon": -71.06, "at": "t"} for i in range(3)}}
    pkt = JsonPacket(packet.EVENT, data=["frame", frame])
    assert pkt.packet_type == packet.EVENT
    assert pkt.encode().startswith('2["frame",{"positions":{"unit-0":')


def test_bytes_in_a_payload_fail_to_encode_rather_than_leave_as_attachments():
    with pytest.raises(TypeError):
        JsonPacket(packet.EVENT, data=["frame", {"raw": b"\x00"}]).encode()


def test_a_clients_binary_event_is_still_decoded_with_its_attachments():
    pkt = JsonPacket(encoded_packet='51-["photo",{"_placeholder":true,"num":0}]')
    assert pkt.packet_type == packet.BINARY_EVENT
    assert pkt.add_attachment(b"\x89PNG") is True
    assert pkt.data == ["photo", b"\x89PNG"]
