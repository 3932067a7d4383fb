"""RFC 6455 frames as the gevent transport parses and writes them, without a socket."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.live.websocket import (
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    FrameParser,
    ProtocolError,
    accept_key,
    frame,
    unmask,
    valid_key,
)


def client_frame(opcode: int, payload: bytes, *, final: bool = True, mask: bytes | None = None) -> bytes:
    """A frame as a client sends it: masked, with the shortest length encoding."""
    mask = os.urandom(4) if mask is None else mask
    n = len(payload)
    first = (0x80 if final else 0) | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def messages(data: bytes, *, chunk: int, max_bytes: int = 1 << 20) -> list[tuple[int, bytes]]:
    parser = FrameParser(max_message_bytes=max_bytes)
    out: list[tuple[int, bytes]] = []
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
        while (item := parser.next()) is not None:
            out.append(item)
    return out


def test_accept_key_is_the_one_of_rfc_6455():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_key_must_be_16_bytes_of_base64():
    assert valid_key("dGhlIHNhbXBsZSBub25jZQ==")
    assert not valid_key("dGhlIHNhbXBsZQ==")  # 10 bytes
    assert not valid_key("not base64 at all!")
    assert not valid_key("")
    assert not valid_key("dGhlIHNhbXBsZSBub25jZQ==\u00e9")


def test_unmask_is_its_own_inverse_and_matches_the_bytewise_xor():
    payload, mask = os.urandom(1001), os.urandom(4)
    expected = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert unmask(payload, mask) == expected
    assert unmask(expected, mask) == payload
    assert unmask(b"", mask) == b""


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_every_length_encoding_reads_back(size):
    payload = os.urandom(size)
    assert messages(client_frame(OP_BINARY, payload), chunk=1 << 20) == [(OP_BINARY, payload)]
    # The server's own frames use the same encodings, unmasked.
    head = frame(OP_BINARY, payload)[: len(frame(OP_BINARY, payload)) - size]
    assert len(head) == (2 if size < 126 else 4 if size < 65536 else 10)


def test_a_message_split_at_every_byte_comes_out_once_and_whole():
    data = client_frame(OP_TEXT, b'42["position",{"lat":42.35}]')
    assert messages(data, chunk=1) == [(OP_TEXT, b'42["position",{"lat":42.35}]')]


def test_fragments_are_joined_and_a_ping_between_them_is_answered_first():
    data = (
        client_frame(OP_TEXT, b"hel", final=False)
        + client_frame(OP_PING, b"p")
        + client_frame(OP_CONTINUATION, b"lo ", final=False)
        + client_frame(OP_CONTINUATION, b"world")
    )
    assert messages(data, chunk=3) == [(OP_PING, b"p"), (OP_TEXT, b"hello world")]


@given(
    st.lists(st.tuples(st.sampled_from([OP_TEXT, OP_BINARY]), st.binary(max_size=300)), max_size=8),
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=1, max_value=4),
)
def test_any_messages_in_any_fragments_and_chunks_read_back_in_order(sent, chunk, pieces):
    data = b""
    for opcode, payload in sent:
        step = max(1, len(payload) // pieces)
        parts = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for i, part in enumerate(parts):
            data += client_frame(opcode if i == 0 else OP_CONTINUATION, part, final=i == len(parts) - 1)
    assert messages(data, chunk=chunk) == sent


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (bytes((0x81, 0x02)) + b"hi", CLOSE_PROTOCOL_ERROR),  # not masked
        (bytes((0xC1, 0x80)) + b"\0\0\0\0", CLOSE_PROTOCOL_ERROR),  # RSV1 without deflate
        (client_frame(0x3, b"x"), CLOSE_PROTOCOL_ERROR),  # reserved opcode
        (client_frame(OP_CONTINUATION, b"x"), CLOSE_PROTOCOL_ERROR),  # nothing to continue
        (client_frame(OP_TEXT, b"a", final=False) + client_frame(OP_TEXT, b"b"), CLOSE_PROTOCOL_ERROR),
        (client_frame(OP_PING, b"x", final=False), CLOSE_PROTOCOL_ERROR),  # fragmented control
        (client_frame(OP_CLOSE, b"x" * 126), CLOSE_PROTOCOL_ERROR),  # control over 125 bytes
    ],
)
def test_protocol_violations_are_refused_with_their_close_code(data, code):
    with pytest.raises(ProtocolError) as refused:
        messages(data, chunk=len(data))
    assert refused.value.code == code


def test_an_oversized_message_is_refused_from_its_header_before_the_payload_arrives():
    header = struct.pack("!BBQ", 0x82, 0x80 | 127, 10**9) + os.urandom(4)
    parser = FrameParser(max_message_bytes=1000)
    parser.feed(header)
    with pytest.raises(ProtocolError) as refused:
        parser.next()
    assert refused.value.code == CLOSE_TOO_BIG


def test_fragments_count_together_against_the_size_cap():
    data = client_frame(OP_BINARY, b"x" * 600, final=False) + client_frame(OP_CONTINUATION, b"y" * 600)
    with pytest.raises(ProtocolError) as refused:
        messages(data, chunk=len(data), max_bytes=1000)
    assert refused.value.code == CLOSE_TOO_BIG
