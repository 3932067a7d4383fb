"""Socket.IO packets of a JSON-only server."""

from __future__ import annotations

import json
import math

import pytest
from socketio import packet

from coordinator.live.packets import JsonPacket, WireJson


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


def test_wire_json_reads_what_the_standard_library_reads():
    text = '["position",{"lat":42.36,"lon":-71.06}]'
    assert WireJson.loads(text) == ["position", {"lat": 42.36, "lon": -71.06}]
    assert WireJson.loads(b'{"a":[1,null,true]}') == {"a": [1, None, True]}
    # orjson refuses these; the standard library reads them, so validation names the field.
    assert math.isnan(WireJson.loads('{"lat":NaN}')["lat"])
    assert WireJson.loads('"\\ud800"') == "\ud800"


def test_wire_json_refuses_malformed_text_and_huge_integers_it_cannot_read_fast():
    with pytest.raises(ValueError):
        WireJson.loads('["position",')
    with pytest.raises(ValueError, match="too large"):
        WireJson.loads("[NaN," + "1" * 200 + "]")


def test_wire_json_writes_compact_json_with_nan_as_null_and_keys_as_text():
    compact = WireJson.dumps({"a": [1, 2.5, None], 3: "x"}, separators=(",", ":"))
    assert compact == '{"a":[1,2.5,null],"3":"x"}'
    assert json.loads(WireJson.dumps({"lat": float("nan")})) == {"lat": None}
    assert WireJson.dumps({"a": 1}, indent=1) == json.dumps({"a": 1}, indent=1)


def test_the_packets_use_wire_json():
    assert JsonPacket.json is WireJson
    pkt = JsonPacket(encoded_packet='2["position",{"lat":42.36}]')
    assert pkt.data == ["position", {"lat": 42.36}]
