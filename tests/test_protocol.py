"""Tests for sansws.protocol: the RFC 6455 state machine, byte for byte.

Frames that a test feeds in are built by hand from their header octets, so
that a bug in the encoder cannot hide a bug in the parser. Client output is
pinned by replacing the masking key source with a fixed key; the RFC 6455
§5.7 key ``37 fa 21 3d`` is used throughout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sansws.protocol as protocol_module
from sansws.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from sansws.extensions.base import Extension
from sansws.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Close,
    Frame,
)
from sansws.protocol import (
    CLIENT,
    CLOSED,
    CLOSING,
    CONNECTING,
    OPEN,
    SEND_EOF,
    SERVER,
    Protocol,
    Side,
    State,
)

KEY = bytes.fromhex("37fa213d")
ZERO_KEY = bytes(4)


def mask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3, octet by octet."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def header(first: int, length: int, key: bytes | None) -> bytes:
    """A frame header with the shortest length form, built by hand."""
    mask_bit = 0x80 if key is not None else 0
    if length < 126:
        head = bytes([first, mask_bit | length])
    elif length < 65536:
        head = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    return head + (key if key is not None else b"")


def unmasked(first: int, payload: bytes = b"") -> bytes:
    """A frame as a server writes it."""
    return header(first, len(payload), None) + payload


def masked(first: int, payload: bytes = b"", key: bytes = KEY) -> bytes:
    """A frame as a client writes it."""
    return header(first, len(payload), key) + mask(payload, key)


def from_peer(side: Side, first: int, payload: bytes = b"") -> bytes:
    """A well-formed frame as the peer of ``side`` writes it."""
    return unmasked(first, payload) if side is CLIENT else masked(first, payload)


def to_peer(side: Side, first: int, payload: bytes = b"") -> bytes:
    """The bytes ``side`` writes for a frame, with the fixed key for a client."""
    return masked(first, payload) if side is CLIENT else unmasked(first, payload)


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode()


@pytest.fixture
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty pool sends every draw to _next_mask_key.
    monkeypatch.setattr(protocol_module, "_mask_key_pool", [])
    monkeypatch.setattr(protocol_module, "_next_mask_key", lambda: KEY)


@pytest.fixture(params=[SERVER, CLIENT], ids=["server", "client"])
def side(request: pytest.FixtureRequest, fixed_key: None) -> Side:
    side: Side = request.param
    return side


def sent(protocol: Protocol) -> bytes:
    """Everything queued for the network, joined, with no end of stream."""
    output = protocol.data_to_send()
    assert SEND_EOF not in output
    return b"".join(output)


class PassThrough(Extension):
    """A fake extension that changes nothing; tests override one method."""

    name = "x-pass-through"

    def encode(self, frame: Frame) -> Frame:
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return frame


# Construction and public attributes ----------------------------------------


def test_defaults() -> None:
    protocol = Protocol(SERVER)
    assert protocol.state is OPEN
    assert protocol.side is SERVER
    assert protocol.max_message_size == 2**20
    assert protocol.max_fragment_size is None
    assert protocol.extensions == []
    assert protocol.logger is logging.getLogger("sansws.server")
    assert Protocol(CLIENT).logger is logging.getLogger("sansws.client")
    assert protocol.id != Protocol(SERVER).id
    assert protocol.close_code is None
    assert protocol.close_reason is None
    assert protocol.parser_exc is None
    assert protocol.handshake_exc is None
    assert not protocol.close_expected()
    assert protocol.data_to_send() == []
    assert protocol.events_received() == []


def test_enums_and_sentinel() -> None:
    assert [int(s) for s in (SERVER, CLIENT)] == [0, 1]
    assert [int(s) for s in (CONNECTING, OPEN, CLOSING, CLOSED)] == [0, 1, 2, 3]
    assert State.OPEN is OPEN
    assert SEND_EOF == b""


def test_state_setter() -> None:
    protocol = Protocol(SERVER, state=CONNECTING)
    assert protocol.state is CONNECTING
    protocol.state = OPEN
    assert protocol.state is OPEN


@pytest.mark.parametrize(
    ("max_size", "message", "fragment"),
    [(10, 10, None), (None, None, None), ((10, 4), 10, 4), ((None, 4), None, 4)],
)
def test_max_size_forms(
    max_size: int | tuple[int | None, int | None] | None, message: int | None, fragment: int | None
) -> None:
    protocol = Protocol(SERVER, max_size=max_size)
    assert (protocol.max_message_size, protocol.max_fragment_size) == (message, fragment)


# Exact bytes on the wire: sending ------------------------------------------


def test_server_sends_rfc_unmasked_hello() -> None:
    server = Protocol(SERVER)
    server.send_text(b"Hello")
    assert server.data_to_send() == [bytes.fromhex("810548656c6c6f")]


def test_client_sends_rfc_masked_hello(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.send_text(b"Hello")
    assert client.data_to_send() == [bytes.fromhex("818537fa213d7f9f4d5158")]


def test_server_sends_rfc_fragmented_hello() -> None:
    server = Protocol(SERVER)
    server.send_text(b"Hel", fin=False)
    server.send_continuation(b"lo", fin=True)
    assert server.data_to_send() == [bytes.fromhex("010348656c"), bytes.fromhex("80026c6f")]


def test_server_sends_rfc_ping_and_client_rfc_pong(fixed_key: None) -> None:
    server = Protocol(SERVER)
    server.send_ping(b"Hello")
    assert server.data_to_send() == [bytes.fromhex("890548656c6c6f")]
    client = Protocol(CLIENT)
    client.send_pong(b"Hello")
    assert client.data_to_send() == [bytes.fromhex("8a8537fa213d7f9f4d5158")]


def test_server_sends_rfc_256_byte_binary() -> None:
    payload = bytes(range(256))
    server = Protocol(SERVER)
    server.send_binary(payload)
    assert sent(server) == bytes.fromhex("827e0100") + payload


def test_server_sends_rfc_64_kib_binary() -> None:
    payload = os.urandom(65536)
    server = Protocol(SERVER)
    server.send_binary(payload)
    assert sent(server) == bytes.fromhex("827f0000000000010000") + payload


@pytest.mark.parametrize(
    ("length", "length_octets"),
    [
        (0, "00"),
        (125, "7d"),
        (126, "7e007e"),
        (65535, "7effff"),
        (65536, "7f0000000000010000"),
    ],
)
def test_length_forms_on_the_wire(fixed_key: None, length: int, length_octets: str) -> None:
    payload = bytes(i % 251 for i in range(length))
    server = Protocol(SERVER)
    server.send_binary(payload)
    assert sent(server) == b"\x82" + bytes.fromhex(length_octets) + payload

    client = Protocol(CLIENT)
    client.send_binary(payload)
    octets = bytearray.fromhex(length_octets)
    octets[0] |= 0x80
    assert sent(client) == b"\x82" + bytes(octets) + KEY + mask(payload, KEY)


def test_small_frame_is_one_chunk_large_frame_keeps_payload_apart() -> None:
    server = Protocol(SERVER)
    small = b"x" * 4096
    server.send_binary(small)
    assert server.data_to_send() == [b"\x82\x7e\x10\x00" + small]
    large = b"y" * 4097
    server.send_binary(large)
    output = server.data_to_send()
    assert output == [b"\x82\x7e\x10\x01", large]
    # The server's payload is queued as is, not copied.
    assert output[1] is large


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_send_copies_mutable_input(kind: type) -> None:
    buffer = bytearray(b"abcd")
    server = Protocol(SERVER)
    server.send_binary(kind(buffer))
    buffer[0] = ord("z")
    assert server.data_to_send() == [b"\x82\x04abcd"]


def test_every_send_method_on_the_wire(side: Side) -> None:
    protocol = Protocol(side)
    protocol.send_binary(b"a", fin=False)
    protocol.send_continuation(b"b", fin=False)
    protocol.send_ping(b"p")
    protocol.send_continuation(b"c", fin=True)
    protocol.send_pong(b"q")
    protocol.send_text(b"t")
    protocol.send_close(1001, "bye")
    assert protocol.data_to_send() == [
        to_peer(side, 0x02, b"a"),
        to_peer(side, 0x00, b"b"),
        to_peer(side, 0x89, b"p"),
        to_peer(side, 0x80, b"c"),
        to_peer(side, 0x8A, b"q"),
        to_peer(side, 0x81, b"t"),
        to_peer(side, 0x88, b"\x03\xe9bye"),
    ]


def test_client_masks_with_fresh_random_keys() -> None:
    client = Protocol(CLIENT)
    client.send_binary(b"same")
    client.send_binary(b"same")
    first, second = client.data_to_send()
    assert first[1] == second[1] == 0x84
    key1, key2 = first[2:6], second[2:6]
    assert key1 != key2
    assert first[6:] == mask(b"same", key1)
    assert second[6:] == mask(b"same", key2)


def counting_urandom(calls: list[int]) -> object:
    """A fake os.urandom whose 4-byte words are all distinct."""
    counter = iter(range(2**31))

    def urandom(size: int) -> bytes:
        calls.append(size)
        # Give up the GIL like the real system call, so that threads race.
        time.sleep(0.0005)
        return b"".join(next(counter).to_bytes(4, "big") for _ in range(size // 4))

    return urandom


def test_mask_keys_come_from_urandom_one_key_per_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(protocol_module, "_mask_key_pool", [])
    monkeypatch.setattr(protocol_module.os, "urandom", counting_urandom(calls))
    # The pool is a module global: refill it through the patched source.
    protocol_module._mask_key_pool.clear()
    keys = [protocol_module._next_mask_key() for _ in range(3000)]
    assert all(len(key) == 4 for key in keys)
    assert len(set(keys)) == 3000
    assert calls == [4096, 4096, 4096]


def test_mask_keys_are_thread_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(protocol_module.os, "urandom", counting_urandom(calls))
    protocol_module._mask_key_pool.clear()
    keys: list[bytes] = []
    errors: list[BaseException] = []

    def draw() -> None:
        try:
            keys.extend(protocol_module._next_mask_key() for _ in range(3000))
        except BaseException as exc:  # pragma: no cover - reports a failure
            errors.append(exc)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    protocol_module._mask_key_pool.clear()
    assert errors == []
    assert len(keys) == 24000
    # No key was handed out twice.
    assert len(set(keys)) == 24000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_reuse_parent_keys() -> None:
    protocol_module._next_mask_key()
    assert protocol_module._mask_key_pool
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write_end, b"1" if not protocol_module._mask_key_pool else b"0")
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)


# Exact bytes on the wire: receiving ----------------------------------------


def test_server_parses_rfc_masked_hello() -> None:
    server = Protocol(SERVER)
    server.receive_data(bytes.fromhex("818537fa213d7f9f4d5158"))
    assert server.events_received() == [Frame(OP_TEXT, b"Hello")]
    assert server.data_to_send() == []


def test_client_parses_rfc_frames(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.receive_data(bytes.fromhex("810548656c6c6f"))
    client.receive_data(bytes.fromhex("010348656c") + bytes.fromhex("80026c6f"))
    client.receive_data(bytes.fromhex("890548656c6c6f"))
    assert client.events_received() == [
        Frame(OP_TEXT, b"Hello"),
        Frame(OP_TEXT, b"Hel", fin=False),
        Frame(OP_CONT, b"lo"),
        Frame(OP_PING, b"Hello"),
    ]
    # The ping is answered with a masked pong carrying the same payload.
    assert client.data_to_send() == [bytes.fromhex("8a8537fa213d7f9f4d5158")]
    payload = bytes(range(256))
    client.receive_data(bytes.fromhex("827e0100") + payload)
    big = os.urandom(65536)
    client.receive_data(bytes.fromhex("827f0000000000010000") + big)
    assert client.events_received() == [Frame(OP_BINARY, payload), Frame(OP_BINARY, big)]


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536])
def test_receive_every_length_form(side: Side, length: int) -> None:
    payload = bytes(i % 253 for i in range(length))
    protocol = Protocol(side, max_size=None)
    protocol.receive_data(from_peer(side, 0x82, payload))
    assert protocol.events_received() == [Frame(OP_BINARY, payload)]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_receive_bytes_like(kind: type) -> None:
    data = masked(0x81, b"Hi") + masked(0x82, b"partial")
    server = Protocol(SERVER)
    server.receive_data(kind(data[:10]))
    server.receive_data(kind(data[10:]))
    assert server.events_received() == [Frame(OP_TEXT, b"Hi"), Frame(OP_BINARY, b"partial")]


def test_receive_keeps_no_reference_to_caller_buffer() -> None:
    # The tail of a caller's bytearray is copied, not referenced.
    data = bytearray(masked(0x82, b"abcdef"))
    server = Protocol(SERVER)
    server.receive_data(data[:5])
    chunk = bytearray(data[5:])
    server.receive_data(chunk[:3])
    chunk[:3] = b"\x00\x00\x00"
    server.receive_data(data[8:])
    assert server.events_received() == [Frame(OP_BINARY, b"abcdef")]


def test_receive_empty_data_is_a_no_op() -> None:
    server = Protocol(SERVER)
    server.receive_data(b"")
    assert server.events_received() == []
    assert server.state is OPEN


def test_many_frames_in_one_call_and_one_byte_at_a_time() -> None:
    frames = [masked(0x81, b"one"), masked(0x82, b"\x00" * 300), masked(0x8A, b"pong")]
    expected = [Frame(OP_TEXT, b"one"), Frame(OP_BINARY, b"\x00" * 300), Frame(OP_PONG, b"pong")]
    together = Protocol(SERVER)
    together.receive_data(b"".join(frames))
    assert together.events_received() == expected
    bytewise = Protocol(SERVER)
    stream = b"".join(frames)
    events = []
    for i in range(len(stream)):
        bytewise.receive_data(stream[i : i + 1])
        events += bytewise.events_received()
    assert events == expected


def test_received_rsv_bits_and_fin_reach_the_frame() -> None:
    class Rsv(PassThrough):
        reserved_bits = 0x70

        def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
            seen.append((frame.rsv1, frame.rsv2, frame.rsv3))
            frame.rsv1 = frame.rsv2 = frame.rsv3 = False
            return frame

    seen: list[tuple[bool, bool, bool]] = []
    server = Protocol(SERVER)
    server.extensions.append(Rsv())
    server.receive_data(masked(0x42, b"a") + masked(0x20, b"b") + masked(0x90, b"c"))
    assert seen == [(True, False, False), (False, True, False), (False, False, True)]
    assert server.events_received() == [
        Frame(OP_BINARY, b"a", fin=False),
        Frame(OP_CONT, b"b", fin=False),
        Frame(OP_CONT, b"c", fin=True),
    ]


# Ping and pong ---------------------------------------------------------------


def test_ping_is_reported_and_answered(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x89, b"are you there"))
    assert protocol.events_received() == [Frame(OP_PING, b"are you there")]
    assert protocol.data_to_send() == [to_peer(side, 0x8A, b"are you there")]


def test_empty_ping_is_answered_with_empty_pong(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x89))
    assert protocol.data_to_send() == [to_peer(side, 0x8A)]


def test_pong_is_reported_not_answered(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x8A, b"x"))
    assert protocol.events_received() == [Frame(OP_PONG, b"x")]
    assert protocol.data_to_send() == []


def test_ping_inside_fragmented_message(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(
        from_peer(side, 0x01, b"ab") + from_peer(side, 0x89, b"p") + from_peer(side, 0x80, b"c")
    )
    assert protocol.events_received() == [
        Frame(OP_TEXT, b"ab", fin=False),
        Frame(OP_PING, b"p"),
        Frame(OP_CONT, b"c"),
    ]
    assert protocol.data_to_send() == [to_peer(side, 0x8A, b"p")]


def test_ping_is_not_answered_after_end_of_stream_sent() -> None:
    server = Protocol(SERVER)
    server.send_eof()
    assert server.data_to_send() == [SEND_EOF]
    server.receive_data(masked(0x89, b"x"))
    assert server.events_received() == [Frame(OP_PING, b"x")]
    assert server.data_to_send() == []


def test_ping_answered_while_closing(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.send_close(1000)
    client.data_to_send()
    client.receive_data(unmasked(0x89, b"still"))
    assert client.state is CLOSING
    assert client.data_to_send() == [masked(0x8A, b"still")]


# Closing ---------------------------------------------------------------------


def test_server_echoes_close_and_half_closes_at_once() -> None:
    server = Protocol(SERVER)
    server.receive_data(masked(0x88, close_payload(1000, "bye")))
    assert server.events_received() == [Frame(OP_CLOSE, close_payload(1000, "bye"))]
    assert server.data_to_send() == [unmasked(0x88, close_payload(1000, "bye")), SEND_EOF]
    assert server.state is CLOSING
    assert server.close_expected()
    assert server.close_code is None
    assert server.close_reason is None
    server.receive_eof()
    assert server.data_to_send() == []
    assert server.state is CLOSED
    assert not server.close_expected()
    assert server.close_code == 1000
    assert server.close_reason == "bye"
    exc = server.close_exc
    assert type(exc) is ConnectionClosedOK
    assert exc.rcvd == Close(1000, "bye")
    assert exc.sent == Close(1000, "bye")
    assert exc.rcvd_then_sent is True
    assert exc.__cause__ is None


def test_client_echoes_close_and_waits_for_server_eof(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.receive_data(unmasked(0x88, close_payload(1001, "going")))
    assert client.events_received() == [Frame(OP_CLOSE, close_payload(1001, "going"))]
    assert client.data_to_send() == [masked(0x88, close_payload(1001, "going"))]
    assert client.state is CLOSING
    assert client.close_expected()
    assert client.close_code is None
    client.receive_eof()
    assert client.data_to_send() == [SEND_EOF]
    assert client.state is CLOSED
    assert (client.close_code, client.close_reason) == (1001, "going")
    assert type(client.close_exc) is ConnectionClosedOK


def test_client_initiates_closing_handshake(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.send_close(1000, "done")
    assert client.data_to_send() == [masked(0x88, close_payload(1000, "done"))]
    assert client.state is CLOSING
    assert client.close_expected()
    client.receive_data(unmasked(0x88, close_payload(1000)))
    assert client.events_received() == [Frame(OP_CLOSE, close_payload(1000))]
    # The server closes TCP first: the client sends nothing yet.
    assert client.data_to_send() == []
    assert client.state is CLOSING
    client.receive_eof()
    assert client.data_to_send() == [SEND_EOF]
    assert client.state is CLOSED
    exc = client.close_exc
    assert type(exc) is ConnectionClosedOK
    assert (exc.sent, exc.rcvd, exc.rcvd_then_sent) == (Close(1000, "done"), Close(1000, ""), False)


def test_server_initiates_closing_handshake() -> None:
    server = Protocol(SERVER)
    server.send_close(1001)
    assert server.data_to_send() == [b"\x88\x02\x03\xe9"]
    assert server.state is CLOSING
    server.receive_data(masked(0x88, close_payload(1001)))
    assert server.data_to_send() == [SEND_EOF]
    assert server.state is CLOSING
    server.receive_eof()
    assert server.data_to_send() == []
    assert server.state is CLOSED
    assert server.close_code == 1001
    assert server.close_exc.rcvd_then_sent is False


def test_data_received_while_closing_is_reported(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.send_close(1000)
    client.receive_data(unmasked(0x81, b"late"))
    assert client.events_received() == [Frame(OP_TEXT, b"late")]


def test_empty_close_frame_means_1005(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x88))
    assert protocol.data_to_send()[0] == to_peer(side, 0x88)
    protocol.receive_eof()
    assert protocol.close_code == 1005
    assert protocol.close_reason == ""
    exc = protocol.close_exc
    assert type(exc) is ConnectionClosedOK
    assert exc.sent == exc.rcvd == Close(1005, "")


def test_send_close_without_code_sends_empty_payload(side: Side) -> None:
    protocol = Protocol(side)
    protocol.send_close()
    assert protocol.data_to_send() == [to_peer(side, 0x88)]
    assert protocol.close_sent == Close(1005, "")


@pytest.mark.parametrize(
    ("sent_code", "rcvd_code", "exc_type"),
    [
        (1000, 1000, ConnectionClosedOK),
        (1000, 1001, ConnectionClosedOK),
        (1001, 1000, ConnectionClosedOK),
        (None, 1000, ConnectionClosedOK),
        (1000, None, ConnectionClosedOK),
        (1000, 1002, ConnectionClosedError),
        (1011, 1000, ConnectionClosedError),
        (1000, 3000, ConnectionClosedError),
        (4000, 1000, ConnectionClosedError),
    ],
)
def test_close_exc_type_depends_on_both_codes(
    sent_code: int | None, rcvd_code: int | None, exc_type: type
) -> None:
    server = Protocol(SERVER)
    server.send_close(sent_code)
    server.receive_data(masked(0x88, b"" if rcvd_code is None else close_payload(rcvd_code)))
    server.receive_eof()
    assert server.state is CLOSED
    assert type(server.close_exc) is exc_type
    assert server.close_code == (1005 if rcvd_code is None else rcvd_code)


def test_eof_without_close_frame_is_1006(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_eof()
    assert protocol.data_to_send() == [SEND_EOF]
    assert protocol.events_received() == []
    assert protocol.state is CLOSED
    assert protocol.close_code == 1006
    assert protocol.close_reason == ""
    exc = protocol.close_exc
    assert type(exc) is ConnectionClosedError
    assert (exc.rcvd, exc.sent, exc.rcvd_then_sent) == (None, None, None)


def test_eof_after_sending_close_only_is_1006_error() -> None:
    server = Protocol(SERVER)
    server.send_close(1000)
    server.data_to_send()
    server.receive_eof()
    assert server.close_code == 1006
    exc = server.close_exc
    assert type(exc) is ConnectionClosedError
    assert exc.sent == Close(1000, "")


def test_eof_in_mid_frame_goes_to_closed_with_1006(side: Side) -> None:
    protocol = Protocol(side)
    frame = from_peer(side, 0x81, b"Hello")
    protocol.receive_data(frame[:4])
    protocol.receive_eof()
    assert protocol.events_received() == []
    assert protocol.state is CLOSED
    assert protocol.close_code == 1006


def test_eof_in_mid_fragmented_message_is_1006(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, b"half"))
    protocol.receive_eof()
    assert protocol.state is CLOSED
    assert protocol.close_code == 1006


def test_receive_eof_is_idempotent(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_eof()
    protocol.data_to_send()
    protocol.receive_eof()
    assert protocol.data_to_send() == []
    assert protocol.events_received() == []
    assert protocol.state is CLOSED


def test_receive_data_after_eof_raises(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_eof()
    with pytest.raises(EOFError):
        protocol.receive_data(b"\x81\x00")
    with pytest.raises(EOFError):
        protocol.receive_data(b"")


def test_input_after_close_frame_is_discarded(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x88, close_payload(1000)) + from_peer(side, 0x81, b"x"))
    assert protocol.events_received() == [Frame(OP_CLOSE, close_payload(1000))]
    protocol.data_to_send()
    # Later input is discarded too, garbage included.
    protocol.receive_data(from_peer(side, 0x81, b"y") + b"\xff" * 20)
    assert protocol.events_received() == []
    assert protocol.data_to_send() == []
    assert protocol.parser_exc is None


def test_close_frame_split_across_calls(side: Side) -> None:
    protocol = Protocol(side)
    frame = from_peer(side, 0x88, close_payload(1000, "split"))
    protocol.receive_data(frame[:3])
    assert protocol.state is OPEN
    protocol.receive_data(frame[3:])
    assert protocol.state is CLOSING


def test_close_exc_before_closed_asserts() -> None:
    server = Protocol(SERVER)
    with pytest.raises(AssertionError):
        server.close_exc  # noqa: B018
    server.send_close(1000)
    with pytest.raises(AssertionError):
        server.close_exc  # noqa: B018


def test_close_expected() -> None:
    server = Protocol(SERVER)
    assert not server.close_expected()
    server.handshake_exc = ValueError("bad handshake")
    assert server.close_expected()
    server.handshake_exc = None
    server.send_close(1000)
    assert server.close_expected()
    server.receive_eof()
    assert not server.close_expected()


def test_close_reason_of_123_bytes(side: Side) -> None:
    reason = "r" * 123
    protocol = Protocol(side)
    protocol.send_close(1000, reason)
    assert protocol.data_to_send() == [to_peer(side, 0x88, close_payload(1000, reason))]


# Failures caused by the peer -------------------------------------------------


def assert_failed(protocol: Protocol, code: int, exc_type: type[Exception]) -> None:
    """Check a connection failed by the peer: state, cause and queued bytes."""
    exc = protocol.parser_exc
    assert isinstance(exc, exc_type)
    if isinstance(exc, UnicodeDecodeError):
        # The reason leaves out the position, which depends on chunking.
        reason = f"invalid UTF-8: {exc.reason}"
    else:
        reason = str(exc)
    assert reason
    output = protocol.data_to_send()
    close = code.to_bytes(2, "big") + reason.encode()
    if protocol.side is SERVER:
        # A server sends the Close frame and half-closes at once.
        assert output == [unmasked(0x88, close), SEND_EOF]
    else:
        # A client sends the Close frame and waits for the server to close.
        assert output == [masked(0x88, close)]
    protocol.events_received()
    assert protocol.state is CLOSING
    assert protocol.close_expected()
    assert protocol.close_code is None
    assert protocol.close_sent == Close(code, reason)
    # Later input is discarded.
    protocol.receive_data(from_peer(protocol.side, 0x81, b"ignored"))
    assert protocol.events_received() == []
    assert protocol.data_to_send() == []
    protocol.receive_eof()
    assert protocol.state is CLOSED
    assert protocol.close_code == 1006
    closed = protocol.close_exc
    assert type(closed) is ConnectionClosedError
    assert closed.sent == Close(code, reason)
    assert closed.__cause__ is exc


def test_failure_bytes_are_exact_for_server() -> None:
    server = Protocol(SERVER)
    server.receive_data(b"\x81\x00")
    reason = b"unmasked frame from client"
    assert server.data_to_send() == [
        bytes([0x88, 2 + len(reason)]) + b"\x03\xea" + reason,
        SEND_EOF,
    ]


# Each header case: bytes from the peer of the side, and the message expected.
HEADER_FAILURES = [
    pytest.param(lambda s: bytes([0xC1]) + from_peer(s, 0x81)[1:], "reserved bits", id="rsv1"),
    pytest.param(lambda s: bytes([0xA1]) + from_peer(s, 0x81)[1:], "reserved bits", id="rsv2"),
    pytest.param(lambda s: bytes([0x91]) + from_peer(s, 0x81)[1:], "reserved bits", id="rsv3"),
    *[
        pytest.param(
            lambda s, op=op: from_peer(s, 0x80 | op), f"reserved opcode {op}", id=f"opcode{op}"
        )
        for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)
    ],
    pytest.param(lambda s: from_peer(s, 0x89, b"x" * 126), "control frame longer", id="ping-126"),
    pytest.param(lambda s: from_peer(s, 0x88, b"x" * 200), "control frame longer", id="close-200"),
    pytest.param(lambda s: from_peer(s, 0x09, b"x"), "fragmented control", id="ping-no-fin"),
    pytest.param(lambda s: from_peer(s, 0x0A), "fragmented control", id="pong-no-fin"),
    pytest.param(lambda s: from_peer(s, 0x00, b"x"), "unexpected continuation", id="cont"),
    pytest.param(lambda s: from_peer(s, 0x80, b"x"), "unexpected continuation", id="cont-fin"),
    pytest.param(
        lambda s: from_peer(s, 0x01, b"a") + from_peer(s, 0x81, b"b"),
        "expected a continuation",
        id="text-in-text",
    ),
    pytest.param(
        lambda s: from_peer(s, 0x02, b"a") + from_peer(s, 0x02, b"b"),
        "expected a continuation",
        id="binary-in-binary",
    ),
]


@pytest.mark.parametrize(("make", "message"), HEADER_FAILURES)
def test_header_failures(side: Side, make: object, message: str) -> None:
    protocol = Protocol(side)
    data = make(side)  # type: ignore[operator]
    protocol.receive_data(data)
    assert message in str(protocol.parser_exc)
    assert_failed(protocol, 1002, ProtocolError)


def raw_header(side: Side, first: int, length_octets: bytes) -> bytes:
    """A header with hand-picked length octets, masked as the peer of ``side`` does."""
    return bytes([first]) + (
        length_octets if side is CLIENT else bytes([length_octets[0] | 0x80]) + length_octets[1:]
    )


@pytest.mark.parametrize(
    ("length_octets", "message"),
    [
        (b"\x7e\x00\x00", "non-minimal 16-bit length"),
        (b"\x7e\x00\x7d", "non-minimal 16-bit length"),
        (b"\x7f" + (125).to_bytes(8, "big"), "non-minimal 64-bit length"),
        (b"\x7f" + (65535).to_bytes(8, "big"), "non-minimal 64-bit length"),
        (b"\x7f" + (2**63).to_bytes(8, "big"), "top bit"),
        (b"\x7f" + (2**64 - 1).to_bytes(8, "big"), "top bit"),
    ],
)
def test_length_encoding_failures_at_header_time(
    side: Side, length_octets: bytes, message: str
) -> None:
    protocol = Protocol(side, max_size=None)
    # Only the header: the payload never arrives.
    protocol.receive_data(raw_header(side, 0x82, length_octets))
    assert message in str(protocol.parser_exc)
    assert_failed(protocol, 1002, ProtocolError)


def test_minimal_lengths_are_accepted_at_the_edges(side: Side) -> None:
    protocol = Protocol(side, max_size=None)
    protocol.receive_data(raw_header(side, 0x82, b"\x7e\x00\x7e"))
    protocol.receive_data(raw_header(side, 0x82, b"\x7f" + (65536).to_bytes(8, "big"))[:2])
    assert protocol.parser_exc is None
    assert protocol.state is OPEN


def test_incomplete_extended_length_waits(side: Side) -> None:
    protocol = Protocol(side, max_size=None)
    protocol.receive_data(raw_header(side, 0x82, b"\x7e\x00"))
    protocol.receive_data(b"")
    assert protocol.state is OPEN
    protocol2 = Protocol(side, max_size=None)
    protocol2.receive_data(raw_header(side, 0x82, b"\x7f" + bytes(7)))
    assert protocol2.state is OPEN


def test_unmasked_frame_from_client_fails() -> None:
    server = Protocol(SERVER)
    server.receive_data(unmasked(0x81, b"Hello"))
    assert "unmasked frame from client" in str(server.parser_exc)
    assert_failed(server, 1002, ProtocolError)


def test_masked_frame_from_server_fails(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.receive_data(bytes.fromhex("818537fa213d7f9f4d5158"))
    assert "masked frame from server" in str(client.parser_exc)
    assert_failed(client, 1002, ProtocolError)


def test_header_checks_run_before_the_payload_arrives(side: Side) -> None:
    protocol = Protocol(side)
    # A reserved opcode announcing 100 bytes: only the header is sent.
    protocol.receive_data(from_peer(side, 0x83, b"x" * 100)[:6])
    assert protocol.state is CLOSING
    assert "reserved opcode 3" in str(protocol.parser_exc)


@pytest.mark.parametrize(
    ("payload", "code", "exc_type", "message"),
    [
        (b"\x03", 1002, ProtocolError, "1 byte"),
        (b"\x03\xed", 1002, ProtocolError, "invalid close code 1005"),
        (b"\x03\xee", 1002, ProtocolError, "invalid close code 1006"),
        (b"\x03\xe7", 1002, ProtocolError, "invalid close code 999"),
        (b"\x13\x88", 1002, ProtocolError, "invalid close code 5000"),
        (b"\x03\xe8\xff", 1007, UnicodeDecodeError, "invalid start byte"),
        (b"\x03\xe8ok\xc3", 1007, UnicodeDecodeError, "unexpected end of data"),
    ],
)
def test_invalid_close_frames(
    side: Side, payload: bytes, code: int, exc_type: type[Exception], message: str
) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x88, payload))
    assert protocol.close_rcvd is None
    assert protocol.events_received() == []
    assert message in str(protocol.parser_exc)
    assert_failed(protocol, code, exc_type)


def test_failure_while_closing_sends_no_second_close(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.send_close(1000)
    client.data_to_send()
    client.receive_data(unmasked(0x83))
    assert client.state is CLOSING
    assert isinstance(client.parser_exc, ProtocolError)
    assert client.data_to_send() == []
    assert client.close_sent == Close(1000, "")
    server = Protocol(SERVER)
    server.send_close(1000)
    server.data_to_send()
    server.receive_data(masked(0x83))
    # The server still closes TCP at once.
    assert server.data_to_send() == [SEND_EOF]


def test_long_failure_reason_is_truncated_to_fit_a_control_frame() -> None:
    class Chatty(PassThrough):
        def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
            raise ProtocolError("é" * 100)

    server = Protocol(SERVER)
    server.extensions.append(Chatty())
    server.receive_data(masked(0x82, b"x"))
    output = server.data_to_send()
    frame = output[0]
    assert frame[:2] == b"\x88\x7d"
    assert frame[2:4] == b"\x03\xea"
    # 120 bytes of "é" (60 characters), then "...".
    assert frame[4:].decode() == "é" * 60 + "..."
    assert output[1] == SEND_EOF


# max_size ------------------------------------------------------------------


def test_max_size_limits_a_frame_from_its_header(side: Side) -> None:
    protocol = Protocol(side, max_size=1000)
    frame = from_peer(side, 0x82, b"x" * 1001)
    # Only the header: 4 bytes from a server, 8 from a client.
    protocol.receive_data(frame[: 4 if side is CLIENT else 8])
    assert "exceeds 1000" in str(protocol.parser_exc)
    assert_failed(protocol, 1009, PayloadTooBig)


def test_max_size_from_a_64_bit_header(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(raw_header(side, 0x82, b"\x7f" + (2**40).to_bytes(8, "big")))
    assert_failed(protocol, 1009, PayloadTooBig)


def test_max_size_is_inclusive(side: Side) -> None:
    protocol = Protocol(side, max_size=10)
    protocol.receive_data(from_peer(side, 0x82, b"x" * 10))
    assert protocol.events_received() == [Frame(OP_BINARY, b"x" * 10)]
    protocol.receive_data(from_peer(side, 0x81, b"y" * 11))
    assert_failed(protocol, 1009, PayloadTooBig)


def test_max_size_counts_across_fragments(side: Side) -> None:
    protocol = Protocol(side, max_size=10)
    protocol.receive_data(from_peer(side, 0x02, b"x" * 6))
    protocol.receive_data(from_peer(side, 0x00, b"x" * 4))
    assert protocol.state is OPEN
    protocol.receive_data(from_peer(side, 0x80, b"x" * 1)[:2])
    assert "message of 11+ bytes exceeds 10" in str(protocol.parser_exc)
    assert_failed(protocol, 1009, PayloadTooBig)


def test_max_size_resets_between_messages(side: Side) -> None:
    protocol = Protocol(side, max_size=10)
    for _ in range(3):
        protocol.receive_data(from_peer(side, 0x02, b"x" * 5) + from_peer(side, 0x80, b"x" * 5))
    assert len(protocol.events_received()) == 6
    assert protocol.state is OPEN


def test_max_size_ignores_control_frames(side: Side) -> None:
    protocol = Protocol(side, max_size=1)
    protocol.receive_data(from_peer(side, 0x89, b"x" * 125))
    assert protocol.state is OPEN


def test_max_fragment_size(side: Side) -> None:
    protocol = Protocol(side, max_size=(None, 4))
    protocol.receive_data(from_peer(side, 0x02, b"x" * 4) * 1 + from_peer(side, 0x00, b"x" * 4))
    assert protocol.state is OPEN
    protocol.receive_data(from_peer(side, 0x80, b"x" * 5)[:2])
    assert "frame of 5 bytes exceeds 4" in str(protocol.parser_exc)
    assert_failed(protocol, 1009, PayloadTooBig)


def test_max_message_and_fragment_size(side: Side) -> None:
    protocol = Protocol(side, max_size=(6, 4))
    protocol.receive_data(from_peer(side, 0x02, b"x" * 4))
    protocol.receive_data(from_peer(side, 0x80, b"x" * 3))
    assert "message of 7+ bytes exceeds 6" in str(protocol.parser_exc)
    assert_failed(protocol, 1009, PayloadTooBig)


def test_no_max_size(side: Side) -> None:
    protocol = Protocol(side, max_size=None)
    payload = b"z" * (2**20 + 1)
    protocol.receive_data(from_peer(side, 0x82, payload))
    assert protocol.events_received() == [Frame(OP_BINARY, payload)]


# UTF-8 -----------------------------------------------------------------------


def test_invalid_utf8_in_single_frame(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x81, b"ok\xff"))
    assert protocol.events_received() == []
    assert_failed(protocol, 1007, UnicodeDecodeError)


def test_valid_utf8_single_frames(side: Side) -> None:
    protocol = Protocol(side)
    text = "ascii, café, 日本, 🎉".encode()
    protocol.receive_data(from_peer(side, 0x81, text) + from_peer(side, 0x81))
    assert protocol.events_received() == [Frame(OP_TEXT, text), Frame(OP_TEXT, b"")]


def test_invalid_utf8_fails_at_the_fragment_that_brings_it(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, b"valid"))
    assert protocol.events_received() == [Frame(OP_TEXT, b"valid", fin=False)]
    protocol.receive_data(from_peer(side, 0x00, b"bad\xfe"))
    assert protocol.events_received() == []
    assert_failed(protocol, 1007, UnicodeDecodeError)


def test_multibyte_character_split_across_fragments(side: Side) -> None:
    protocol = Protocol(side)
    emoji = "🎉".encode()
    protocol.receive_data(
        from_peer(side, 0x01, b"a" + emoji[:1])
        + from_peer(side, 0x00, emoji[1:3])
        + from_peer(side, 0x00, b"")
        + from_peer(side, 0x80, emoji[3:])
    )
    assert protocol.parser_exc is None
    assert [e.data for e in protocol.events_received()] == [b"a\xf0", b"\x9f\x8e", b"", b"\x89"]


@pytest.mark.parametrize(
    "prefix",
    [
        b"\xf4\x90",  # above U+10FFFF
        b"\xf5",  # never a lead byte
        b"\xc0",  # overlong
        b"\xe0\x80",  # overlong
        b"\xf0\x8f",  # overlong
        b"\xed\xa0",  # start of a surrogate
        b"\xed\xbf",  # start of a surrogate
    ],
)
def test_invalid_incomplete_prefix_fails_at_once(side: Side, prefix: bytes) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, b"ok" + prefix))
    assert_failed(protocol, 1007, UnicodeDecodeError)


def test_surrogate_prefix_split_across_fragments_fails_at_second(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, b"\xed"))
    assert protocol.parser_exc is None
    protocol.receive_data(from_peer(side, 0x00, b"\xa0"))
    assert_failed(protocol, 1007, UnicodeDecodeError)


@pytest.mark.parametrize(
    ("prefix", "rest"),
    [
        (b"\xed\x9f", b"\xbf"),  # U+D7FF, just below the surrogates
        (b"\xf4\x8f", b"\xbf\xbf"),  # U+10FFFF
        (b"\xe2\x82", b"\xac"),  # U+20AC
        (b"\xf0\x90\x80", b"\x80"),  # U+10000
    ],
)
def test_valid_incomplete_prefix_waits(side: Side, prefix: bytes, rest: bytes) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, prefix))
    assert protocol.state is OPEN
    protocol.receive_data(from_peer(side, 0x80, rest))
    assert protocol.state is OPEN
    assert protocol.parser_exc is None


def test_incomplete_character_at_end_of_message(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, b"a") + from_peer(side, 0x80, b"\xe2\x82"))
    assert_failed(protocol, 1007, UnicodeDecodeError)


def test_utf8_state_resets_between_messages(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x01, b"a") + from_peer(side, 0x80, b"b"))
    # A new fragmented message starts with a fresh decoder.
    protocol.receive_data(from_peer(side, 0x01, "é".encode()) + from_peer(side, 0x80, b"c"))
    assert protocol.state is OPEN
    assert len(protocol.events_received()) == 4


def test_binary_is_not_validated(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(
        from_peer(side, 0x82, b"\xff")
        + from_peer(side, 0x02, b"\xfe")
        + from_peer(side, 0x80, b"\xed\xa0")
    )
    assert protocol.state is OPEN
    assert len(protocol.events_received()) == 3


# Misuse by the local application -------------------------------------------


def test_continuation_without_fragmented_message(side: Side) -> None:
    protocol = Protocol(side)
    with pytest.raises(ProtocolError, match="unexpected continuation"):
        protocol.send_continuation(b"x", fin=True)
    assert protocol.data_to_send() == []


@pytest.mark.parametrize("method", ["send_text", "send_binary"])
def test_new_message_during_fragmented_message(side: Side, method: str) -> None:
    protocol = Protocol(side)
    protocol.send_binary(b"a", fin=False)
    protocol.data_to_send()
    with pytest.raises(ProtocolError, match="expected a continuation"):
        getattr(protocol, method)(b"b")
    assert protocol.data_to_send() == []
    # The message can still be finished.
    protocol.send_continuation(b"c", fin=True)
    protocol.send_text(b"d")
    assert protocol.data_to_send() == [to_peer(side, 0x80, b"c"), to_peer(side, 0x81, b"d")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2000, 5000])
def test_send_close_invalid_code(side: Side, code: int) -> None:
    protocol = Protocol(side)
    with pytest.raises(ProtocolError, match="invalid close code"):
        protocol.send_close(code)
    assert protocol.data_to_send() == []
    assert protocol.state is OPEN
    assert protocol.close_sent is None


def test_send_close_reason_without_code(side: Side) -> None:
    protocol = Protocol(side)
    with pytest.raises(ProtocolError, match="reason without a code"):
        protocol.send_close(reason="why")
    assert protocol.data_to_send() == []
    assert protocol.state is OPEN


def test_send_close_reason_too_long(side: Side) -> None:
    protocol = Protocol(side)
    with pytest.raises(ProtocolError, match="123 bytes"):
        protocol.send_close(1000, "x" * 124)
    assert protocol.data_to_send() == []


@pytest.mark.parametrize("state", [CONNECTING, CLOSING, CLOSED])
def test_send_data_when_not_open(side: Side, state: State) -> None:
    protocol = Protocol(side, state=state)
    for call in (
        lambda: protocol.send_text(b"x"),
        lambda: protocol.send_binary(b"x"),
        lambda: protocol.send_close(1000),
        lambda: protocol.send_close(),
    ):
        with pytest.raises(InvalidState):
            call()
    assert protocol.data_to_send() == []


def test_send_continuation_when_not_open(side: Side) -> None:
    protocol = Protocol(side)
    protocol.send_text(b"a", fin=False)
    protocol.send_close(1000)
    protocol.data_to_send()
    with pytest.raises(InvalidState):
        protocol.send_continuation(b"b", fin=True)
    assert protocol.data_to_send() == []


def test_ping_pong_allowed_while_closing(side: Side) -> None:
    protocol = Protocol(side)
    protocol.send_close(1000)
    protocol.data_to_send()
    protocol.send_ping(b"1")
    protocol.send_pong(b"2")
    assert protocol.data_to_send() == [to_peer(side, 0x89, b"1"), to_peer(side, 0x8A, b"2")]


@pytest.mark.parametrize("state", [CONNECTING, CLOSED])
def test_ping_pong_refused_when_not_open_or_closing(state: State) -> None:
    server = Protocol(SERVER, state=state)
    with pytest.raises(InvalidState):
        server.send_ping(b"")
    with pytest.raises(InvalidState):
        server.send_pong(b"")
    assert server.data_to_send() == []


def test_ping_refused_after_end_of_stream_sent() -> None:
    server = Protocol(SERVER)
    server.receive_data(masked(0x88, close_payload(1000)))
    server.data_to_send()
    assert server.state is CLOSING
    with pytest.raises(InvalidState):
        server.send_ping(b"")
    assert server.data_to_send() == []


def test_control_payload_too_long(side: Side) -> None:
    protocol = Protocol(side)
    protocol.send_ping(b"x" * 125)
    protocol.data_to_send()
    with pytest.raises(ProtocolError, match="125"):
        protocol.send_ping(b"x" * 126)
    with pytest.raises(ProtocolError, match="125"):
        protocol.send_pong(b"x" * 126)
    assert protocol.data_to_send() == []


def test_failed_send_leaves_fragmentation_state_unchanged() -> None:
    class Broken(PassThrough):
        def encode(self, frame: Frame) -> Frame:
            raise RuntimeError("encoder broke")

    server = Protocol(SERVER)
    broken = Broken()
    server.extensions.append(broken)
    with pytest.raises(RuntimeError):
        server.send_text(b"a", fin=False)
    server.extensions.remove(broken)
    # No fragmented message was started: a new one may begin.
    server.send_binary(b"b", fin=False)
    server.extensions.append(broken)
    with pytest.raises(RuntimeError):
        server.send_continuation(b"c", fin=True)
    server.extensions.remove(broken)
    # The message is still in progress: it may be finished.
    server.send_continuation(b"c", fin=True)
    assert server.data_to_send() == [b"\x02\x01b", b"\x80\x01c"]


# fail() ----------------------------------------------------------------------


def test_fail_server() -> None:
    server = Protocol(SERVER)
    server.fail(1011, "oops")
    assert server.data_to_send() == [b"\x88\x06\x03\xf3oops", SEND_EOF]
    assert server.state is CLOSING
    assert server.close_sent == Close(1011, "oops")
    assert server.parser_exc is None
    server.receive_data(masked(0x81, b"ignored"))
    assert server.events_received() == []


def test_fail_client(fixed_key: None) -> None:
    client = Protocol(CLIENT)
    client.fail(1008)
    assert client.data_to_send() == [masked(0x88, b"\x03\xf0")]
    assert client.state is CLOSING
    client.receive_eof()
    assert client.data_to_send() == [SEND_EOF]
    assert client.close_code == 1006
    assert type(client.close_exc) is ConnectionClosedError


def test_fail_with_1006_sends_no_close_frame(side: Side) -> None:
    protocol = Protocol(side)
    protocol.fail(1006, "gone")
    assert protocol.data_to_send() == ([SEND_EOF] if side is SERVER else [])
    assert protocol.state is CLOSING
    assert protocol.close_sent is None


@pytest.mark.parametrize("code", [999, 1005, 1015, 5000])
def test_fail_invalid_code(side: Side, code: int) -> None:
    protocol = Protocol(side)
    with pytest.raises(ProtocolError):
        protocol.fail(code)
    assert protocol.data_to_send() == []
    assert protocol.state is OPEN


def test_fail_while_closing_or_closed() -> None:
    server = Protocol(SERVER)
    server.send_close(1000)
    server.data_to_send()
    server.fail(1002)
    assert server.data_to_send() == [SEND_EOF]
    assert server.close_sent == Close(1000, "")
    server.fail(1002)
    assert server.data_to_send() == []
    server.receive_eof()
    server.fail(1002)
    assert server.state is CLOSED
    assert server.data_to_send() == []


# Logging ---------------------------------------------------------------------


def test_debug_logs_one_line_per_frame(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sansws.server")
    server = Protocol(SERVER)
    assert server.debug
    server.send_text(b"Hello")
    server.receive_data(masked(0x82, b"\x01\x02") + masked(0x89, b"hi"))
    frame_lines = [r.getMessage() for r in caplog.records if r.getMessage()[:2] in ("> ", "< ")]
    assert frame_lines == [
        "> TEXT 'Hello' [5 bytes]",
        "< BINARY 0102 [2 bytes]",
        "< PING 6869 [2 bytes]",
        "> PONG 6869 [2 bytes]",
    ]
    assert all(r.name == "sansws.server" and r.levelno == logging.DEBUG for r in caplog.records)


def test_debug_logs_closing_and_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sansws.client")
    client = Protocol(CLIENT)
    client.receive_data(b"\x83\x00")
    client.receive_eof()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "! failing connection with code 1002"
    assert caplog.records[0].exc_info is not None
    assert "= connection is CLOSING" in messages
    assert messages[-3:] == ["< EOF", "> EOF", "= connection is CLOSED"]


def test_no_log_records_when_debug_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sansws")
    for side in (SERVER, CLIENT):
        protocol = Protocol(side)
        assert not protocol.debug
        protocol.send_text(b"Hello")
        protocol.receive_data(from_peer(side, 0x89, b"x"))
        protocol.receive_data(b"\xff\xff")
        protocol.receive_eof()
    assert caplog.records == []


def test_custom_logger_and_adapter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="custom")
    adapter = logging.LoggerAdapter(logging.getLogger("custom"), {})
    server = Protocol(SERVER, logger=adapter)
    assert server.logger is adapter
    server.send_binary(b"")
    assert [r.getMessage() for r in caplog.records] == ["> BINARY  [0 bytes]"]


# Extensions ------------------------------------------------------------------


class Suffix(Extension):
    """A fake extension: appends its tag on encode and strips it on decode.

    It sets and consumes RSV bits like a real extension.
    """

    def __init__(self, tag: bytes, bit: int = 0x40) -> None:
        self.name = f"x-suffix-{tag.decode()}"
        self.tag = tag
        self.reserved_bits = bit
        self.max_sizes: list[int | None] = []

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode.is_control:
            return frame
        frame = Frame(frame.opcode, frame.data + self.tag, frame.fin)
        frame.rsv1 = self.reserved_bits == 0x40
        frame.rsv2 = self.reserved_bits == 0x20
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.max_sizes.append(max_size)
        if frame.opcode.is_control:
            return frame
        if not frame.data.endswith(self.tag):
            raise ProtocolError(f"missing {self.tag!r}")
        data = frame.data[: -len(self.tag)]
        if len(data) > (max_size if max_size is not None else len(data)):
            raise PayloadTooBig("decoded too big")
        return Frame(frame.opcode, data, frame.fin)


def test_extensions_encode_in_order() -> None:
    server = Protocol(SERVER)
    server.extensions += [Suffix(b"A"), Suffix(b"B", bit=0x20)]
    server.send_text(b"x")
    server.send_ping(b"p")
    # RSV2 from the last extension; B applied after A.
    assert server.data_to_send() == [b"\xa1\x03xAB", b"\x89\x01p"]


def test_extensions_decode_in_reverse_order() -> None:
    server = Protocol(SERVER)
    first, second = Suffix(b"A"), Suffix(b"B", bit=0x20)
    server.extensions += [first, second]
    # RSV1 and RSV2 are both negotiated, so legal; the decoders clear them.
    server.receive_data(masked(0xE1, b"xAB"))
    assert server.events_received() == [Frame(OP_TEXT, b"x")]
    # In the wrong order, "A" would not be found last.
    server.receive_data(masked(0xE1, b"xBA"))
    assert "missing b'B'" in str(server.parser_exc)
    assert_failed(server, 1002, ProtocolError)


def test_extensions_round_trip_between_peers() -> None:
    client, server = Protocol(CLIENT), Protocol(SERVER)
    for protocol in (client, server):
        protocol.extensions += [Suffix(b"A"), Suffix(b"B", bit=0x20)]
    client.send_text(b"hello", fin=False)
    client.send_continuation(b" world", fin=True)
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    assert server.events_received() == [
        Frame(OP_TEXT, b"hello", fin=False),
        Frame(OP_CONT, b" world"),
    ]


def test_negotiated_reserved_bit_is_legal_others_are_not() -> None:
    server = Protocol(SERVER)
    server.extensions.append(Suffix(b"A"))
    server.receive_data(masked(0xC1, b"okA"))
    assert server.events_received() == [Frame(OP_TEXT, b"ok")]
    # RSV2 is not negotiated: refused from the header.
    server.receive_data(masked(0xE1, b"noA")[:2])
    assert "reserved bits" in str(server.parser_exc)
    assert_failed(server, 1002, ProtocolError)


def test_reserved_bit_left_set_after_decoding(side: Side) -> None:
    class Lazy(PassThrough):
        reserved_bits = 0x40

    protocol = Protocol(side)
    protocol.extensions.append(Lazy())
    protocol.receive_data(from_peer(side, 0xC2, b"x"))
    assert protocol.events_received() == []
    assert "reserved bits" in str(protocol.parser_exc)
    assert_failed(protocol, 1002, ProtocolError)


class Triple(PassThrough):
    """A fake expanding extension: each data byte decodes to three."""

    reserved_bits = 0x40

    def __init__(self) -> None:
        self.max_sizes: list[int | None] = []

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.max_sizes.append(max_size)
        data = bytes(b for b in frame.data for _ in range(3))
        if max_size is not None and len(data) > max_size:
            raise PayloadTooBig(f"decoded {len(data)} bytes, room for {max_size}")
        return Frame(frame.opcode, data, frame.fin)


def test_extension_payload_too_big_fails_with_1009(side: Side) -> None:
    protocol = Protocol(side, max_size=10)
    ext = Triple()
    protocol.extensions.append(ext)
    protocol.receive_data(from_peer(side, 0x42, b"a") + from_peer(side, 0x00, b"bc"))
    assert protocol.state is OPEN
    assert [e.data for e in protocol.events_received()] == [b"aaa", b"bbbccc"]
    # The header fits (9 + 1 <= 10) but the decoded frame does not.
    protocol.receive_data(from_peer(side, 0x80, b"d"))
    # The extension is told how much room is left in the message.
    assert ext.max_sizes == [10, 7, 1]
    assert "decoded 3 bytes, room for 1" in str(protocol.parser_exc)
    assert_failed(protocol, 1009, PayloadTooBig)


def test_extension_payload_too_big_in_single_frame(side: Side) -> None:
    protocol = Protocol(side, max_size=5)
    protocol.extensions.append(Triple())
    protocol.receive_data(from_peer(side, 0xC2, b"ab"))
    assert_failed(protocol, 1009, PayloadTooBig)


def test_extension_gets_no_bound_without_max_size() -> None:
    server = Protocol(SERVER, max_size=None)
    ext = Suffix(b"A")
    server.extensions.append(ext)
    server.receive_data(masked(0xC2, b"abcA"))
    assert ext.max_sizes == [None]


def test_extension_protocol_error_fails_with_1002(side: Side) -> None:
    protocol = Protocol(side)
    protocol.extensions.append(Suffix(b"A"))
    protocol.receive_data(from_peer(side, 0xC2, b"no tag"))
    assert_failed(protocol, 1002, ProtocolError)


def test_decoded_text_is_validated(side: Side) -> None:
    protocol = Protocol(side)
    protocol.extensions.append(Suffix(b"A"))
    protocol.receive_data(from_peer(side, 0xC1, b"\xffA"))
    assert_failed(protocol, 1007, UnicodeDecodeError)


def test_extension_base_is_abstract() -> None:
    ext = Extension()
    with pytest.raises(NotImplementedError):
        ext.encode(Frame(OP_TEXT, b""))
    with pytest.raises(NotImplementedError):
        ext.decode(Frame(OP_TEXT, b""))


# Properties --------------------------------------------------------------------

SIDES = st.sampled_from([SERVER, CLIENT])


def build(first: int, payload: bytes, key: bytes | None, form: str) -> bytes:
    """A frame with a chosen length form: "min", or 16 or 64 bits forced."""
    mask_bit = 0x80 if key is not None else 0
    length = len(payload)
    if form == "16" or (form == "min" and 126 <= length < 65536):
        head = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    elif form == "64":
        head = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    else:
        head = bytes([first, mask_bit | length])
    if key is None:
        return head + payload
    return head + key + mask(payload, key)


@st.composite
def wire_frames(draw: st.DrawFn, side: Side) -> bytes:
    """One frame as the peer of ``side`` might send it, mostly well-formed.

    Each header field is sometimes wrong, so that streams reach every
    failure as well as every kind of valid frame.
    """
    opcode = draw(
        st.sampled_from([0, 1, 2, 8, 9, 10]) if draw(st.integers(0, 9)) else st.integers(0, 15)
    )
    fin = draw(st.booleans()) if opcode < 8 else draw(st.integers(0, 19)) > 0
    rsv = draw(st.sampled_from([0x40, 0x20, 0x10])) if draw(st.integers(0, 19)) == 0 else 0
    if opcode == 8:
        payload = draw(
            st.sampled_from([b"", b"\x03\xe8", b"\x03\xe9bye", b"\x0f\xa0x", b"\x03", b"\x03\xed"])
            | st.binary(max_size=4)
        )
    elif opcode == 1 and draw(st.booleans()):
        payload = draw(st.text(max_size=40)).encode()
    else:
        payload = draw(st.binary(max_size=130 if opcode >= 8 else 300))
    masked_ok = draw(st.integers(0, 19)) > 0
    key = draw(st.binary(min_size=4, max_size=4))
    use_key = (side is SERVER) == masked_ok
    form = "min" if draw(st.integers(0, 9)) else draw(st.sampled_from(["16", "64"]))
    first = (0x80 if fin else 0) | rsv | opcode
    return build(first, payload, key if use_key else None, form)


@st.composite
def streams(draw: st.DrawFn) -> tuple[Side, bytes]:
    side = draw(SIDES)
    data = b"".join(draw(st.lists(wire_frames(side), max_size=8)))
    if draw(st.integers(0, 4)) == 0:
        data += draw(st.binary(max_size=20))
    return side, data


def run(
    side: Side, chunks: list[bytes], max_size: int | tuple[int | None, int | None] | None = 2**20
) -> tuple[object, ...]:
    """Feed chunks, then the end of the stream; return everything observable."""
    protocol = Protocol(side, max_size=max_size)
    events: list[object] = []
    output: list[bytes] = []
    for chunk in chunks:
        protocol.receive_data(chunk)
        events += protocol.events_received()
        output += protocol.data_to_send()
    state_before_eof = protocol.state
    exc = protocol.parser_exc
    protocol.receive_eof()
    output += protocol.data_to_send()
    return (
        events,
        # Frame.text takes no part in ==: compare it apart.
        [getattr(event, "text", None) for event in events],
        b"".join(output),
        output.count(SEND_EOF),
        state_before_eof,
        # A UnicodeDecodeError's position is relative to the bytes validated
        # in one go, which depends on chunking; its reason does not.
        None
        if exc is None
        else (type(exc), exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)),
        protocol.close_code,
        protocol.close_reason,
        type(protocol.close_exc),
    )


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(
    sender=SIDES,
    kind=st.sampled_from(["text", "binary", "ping", "pong", "close"]),
    payload=st.binary(max_size=70000) | st.binary(max_size=125),
    text=st.text(),
    fin=st.booleans(),
    code=st.sampled_from([1000, 1001, 1011, 3000, 4999]),
)
def test_property_frame_round_trip(
    sender: Side, kind: str, payload: bytes, text: str, fin: bool, code: int
) -> None:
    source = Protocol(sender)
    sink = Protocol(CLIENT if sender is SERVER else SERVER, max_size=None)
    if kind == "text":
        expected = Frame(OP_TEXT, text.encode(), fin)
        source.send_text(text.encode(), fin)
    elif kind == "binary":
        expected = Frame(OP_BINARY, payload, fin)
        source.send_binary(payload, fin)
    elif kind == "close":
        reason = text.encode()[:100].decode(errors="ignore")
        expected = Frame(OP_CLOSE, close_payload(code, reason))
        source.send_close(code, reason)
    else:
        payload = payload[:125]
        expected = Frame(OP_PING if kind == "ping" else OP_PONG, payload)
        (source.send_ping if kind == "ping" else source.send_pong)(payload)
    for chunk in source.data_to_send():
        sink.receive_data(chunk)
    assert sink.events_received() == [expected]
    assert sink.parser_exc is None


@given(stream=streams(), cuts=st.lists(st.integers(0, 3000), max_size=12))
def test_property_chunking_does_not_matter(stream: tuple[Side, bytes], cuts: list[int]) -> None:
    side, data = stream
    with (
        mock.patch.object(protocol_module, "_mask_key_pool", []),
        mock.patch.object(protocol_module, "_next_mask_key", lambda: KEY),
    ):
        whole = run(side, [data])
        assert run(side, [data[i : i + 1] for i in range(len(data))]) == whole
        assert run(side, split(data, cuts)) == whole


@given(stream=streams(), cuts=st.lists(st.integers(0, 3000), max_size=12))
def test_property_gathering_large_payloads_does_not_matter(
    stream: tuple[Side, bytes], cuts: list[int]
) -> None:
    # With a tiny gathering threshold, most frames split across reads are
    # gathered as a list of reads: the result must not change.
    side, data = stream
    with (
        mock.patch.object(protocol_module, "_mask_key_pool", []),
        mock.patch.object(protocol_module, "_next_mask_key", lambda: KEY),
    ):
        whole = run(side, [data])
        with mock.patch.object(protocol_module, "_GATHER_LIMIT", 3):
            assert run(side, [data[i : i + 1] for i in range(len(data))]) == whole
            assert run(side, split(data, cuts)) == whole


@given(
    stream=streams() | st.tuples(SIDES, st.binary(max_size=400)),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    max_size=st.sampled_from([None, 0, 10, 2**20, (None, 5), (20, 5)]),
    more=st.binary(max_size=30),
)
def test_property_receive_never_raises(
    stream: tuple[Side, bytes],
    cuts: list[int],
    max_size: int | tuple[int | None, int | None] | None,
    more: bytes,
) -> None:
    side, data = stream
    protocol = Protocol(side, max_size=max_size)
    output: list[bytes] = []
    for chunk in [*split(data, cuts), more]:
        protocol.receive_data(chunk)
        protocol.events_received()
        output += protocol.data_to_send()
        assert protocol.close_code is None
        if protocol.parser_exc is not None:
            assert protocol.state is CLOSING
    protocol.receive_eof()
    protocol.receive_eof()
    output += protocol.data_to_send()
    assert protocol.state is CLOSED
    assert protocol.close_code is not None
    # One end of stream, last; every Close frame we sent is well-formed.
    assert output.count(SEND_EOF) == 1
    assert output[-1] == SEND_EOF
    with pytest.raises(EOFError):
        protocol.receive_data(b"\x00")


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[Side, str, list[bytes]]]:
    """Messages and pings, each from a random side; messages in fragments."""
    actions = []
    for _ in range(draw(st.integers(0, 8))):
        sender = draw(SIDES)
        kind = draw(st.sampled_from(["text", "binary", "ping"]))
        if kind == "ping":
            actions.append((sender, kind, [draw(st.binary(max_size=125))]))
            continue
        data = draw(st.text(max_size=60)).encode() if kind == "text" else draw(st.binary())
        # Cut anywhere, even inside a multi-byte character.
        cuts = draw(st.lists(st.integers(0, len(data)), max_size=4))
        actions.append((sender, kind, split(data, cuts)))
    return actions


def transfer(source: Protocol, sink: Protocol) -> None:
    for chunk in source.data_to_send():
        if chunk == SEND_EOF:
            sink.receive_eof()
        else:
            sink.receive_data(chunk)


def reassemble(events: list[object]) -> list[tuple[str, bytes]]:
    """Turn received frames back into messages, pings and pongs."""
    messages: list[tuple[str, bytes]] = []
    parts: list[bytes] = []
    kind = ""
    for event in events:
        assert isinstance(event, Frame)
        if event.opcode in (OP_PING, OP_PONG, OP_CLOSE):
            messages.append((event.opcode.name.lower(), event.data))
            continue
        if event.opcode is not OP_CONT:
            kind = "text" if event.opcode is OP_TEXT else "binary"
        parts.append(event.data)
        if event.fin:
            messages.append((kind, b"".join(parts)))
            parts = []
    return messages


@given(actions=conversations(), closer=SIDES, interleave=st.booleans())
def test_property_back_to_back(
    actions: list[tuple[Side, str, list[bytes]]], closer: Side, interleave: bool
) -> None:
    peers = {CLIENT: Protocol(CLIENT), SERVER: Protocol(SERVER)}
    received: dict[Side, list[object]] = {CLIENT: [], SERVER: []}
    expected: dict[Side, list[tuple[str, bytes]]] = {CLIENT: [], SERVER: []}
    pongs: dict[Side, list[tuple[str, bytes]]] = {CLIENT: [], SERVER: []}

    def flush() -> None:
        for side in (CLIENT, SERVER):
            other = SERVER if side is CLIENT else CLIENT
            transfer(peers[side], peers[other])
            received[other] += peers[other].events_received()
        # Pongs written in answer go back too.
        for side in (CLIENT, SERVER):
            other = SERVER if side is CLIENT else CLIENT
            transfer(peers[side], peers[other])
            received[other] += peers[other].events_received()

    for sender, kind, parts in actions:
        peer = SERVER if sender is CLIENT else CLIENT
        protocol = peers[sender]
        if kind == "ping":
            protocol.send_ping(parts[0])
            expected[peer].append(("ping", parts[0]))
            pongs[sender].append(("pong", parts[0]))
        else:
            send = protocol.send_text if kind == "text" else protocol.send_binary
            send(parts[0], fin=len(parts) == 1)
            for i, part in enumerate(parts[1:], start=2):
                protocol.send_continuation(part, fin=i == len(parts))
            expected[peer].append((kind, b"".join(parts)))
        if interleave:
            flush()
    flush()
    for side in (CLIENT, SERVER):
        got = reassemble(received[side])
        assert [m for m in got if m[0] != "pong"] == expected[side]
        assert [m for m in got if m[0] == "pong"] == pongs[side]
        assert peers[side].parser_exc is None

    # The closing handshake, then the TCP close, the server first.
    peers[closer].send_close(1000, "done")
    for _ in range(3):
        flush()
    for side in (CLIENT, SERVER):
        assert peers[side].state is CLOSED
        assert peers[side].close_code == 1000
        assert peers[side].close_reason == "done"
        assert type(peers[side].close_exc) is ConnectionClosedOK


# Text validated while a frame arrives (RFC 6455 §8.1) -----------------------


@pytest.mark.parametrize("side", [SERVER, CLIENT])
def test_invalid_utf8_fails_before_the_frame_is_complete(side: Side) -> None:
    """A text frame whose payload arrives in pieces fails at the bad piece."""
    valid = "κόσμε".encode()
    frame = from_peer(side, 0x81, valid + b"\xf4\x90\x80\x80" + b"x" * 20)
    header_size = len(frame) - len(valid) - 24
    protocol = Protocol(side)
    # The header and the valid prefix: nothing happens yet.
    protocol.receive_data(frame[: header_size + len(valid)])
    assert protocol.state is OPEN
    assert protocol.data_to_send() == []
    # Two more bytes bring an impossible sequence (above U+10FFFF): the
    # connection fails with 1007 although 22 bytes of the frame are to come.
    protocol.receive_data(frame[header_size + len(valid) : header_size + len(valid) + 2])
    assert protocol.state is CLOSING
    assert isinstance(protocol.parser_exc, UnicodeDecodeError)
    (close, *_) = protocol.data_to_send()
    assert close[0] == 0x88
    assert protocol.close_sent == Close(1007, "invalid UTF-8: invalid continuation byte")


@pytest.mark.parametrize("side", [SERVER, CLIENT])
def test_text_frame_validated_in_pieces_is_delivered_once(side: Side) -> None:
    text = ("é" * 3000 + "€" * 3000).encode()
    frame = from_peer(side, 0x81, text)
    protocol = Protocol(side)
    # Odd piece sizes split characters and the masking key's period.
    for start in range(0, len(frame), 1023):
        protocol.receive_data(frame[start : start + 1023])
    assert protocol.events_received() == [Frame(OP_TEXT, text)]
    assert protocol.data_to_send() == []
    assert protocol.parser_exc is None


def test_continuation_of_text_validated_in_pieces() -> None:
    protocol = Protocol(SERVER)
    protocol.receive_data(from_peer(SERVER, 0x01, "début ".encode()))
    frame = from_peer(SERVER, 0x80, "é".encode() * 100)
    protocol.receive_data(frame[:50])
    protocol.receive_data(frame[50:])
    assert [f.data for f in protocol.events_received()] == [
        "début ".encode(),
        "é".encode() * 100,
    ]
    assert protocol.parser_exc is None


def test_binary_frame_in_pieces_is_not_validated() -> None:
    protocol = Protocol(SERVER)
    frame = from_peer(SERVER, 0x82, b"\xff" * 100)
    protocol.receive_data(frame[:50])
    protocol.receive_data(frame[50:])
    assert protocol.events_received() == [Frame(OP_BINARY, b"\xff" * 100)]


# Failures held until the application took the messages before them ----------


@pytest.mark.parametrize("side", [SERVER, CLIENT])
def test_held_failure_lets_the_application_answer_earlier_messages(
    side: Side, fixed_key: None
) -> None:
    protocol = Protocol(side)
    protocol.hold_failures = True
    protocol.receive_data(
        from_peer(side, 0x81, b"hello") + from_peer(side, 0xA1, b"bad") + from_peer(side, 0x89)
    )
    # The message before the bad frame is delivered; the failure waits.
    assert protocol.events_received() == [Frame(OP_TEXT, b"hello")]
    assert protocol.data_to_send() == []
    assert protocol.state is OPEN
    assert protocol.failure_held
    assert not protocol.close_expected()
    # Later input is discarded, as after any failure.
    protocol.receive_data(from_peer(side, 0x81, b"more"))
    assert protocol.events_received() == []
    # The application answers; then the failure goes out after the answer.
    protocol.send_text(b"hello")
    protocol.release_failure()
    output = protocol.data_to_send()
    assert output[0] == to_peer(side, 0x81, b"hello")
    close = close_payload(1002, "reserved bits must be 0")
    assert output[1] == to_peer(side, 0x88, close)
    assert output[2:] == ([SEND_EOF] if side is SERVER else [])
    assert protocol.state is CLOSING
    assert protocol.close_expected()
    assert not protocol.failure_held
    assert isinstance(protocol.parser_exc, ProtocolError)
    # Releasing again does nothing.
    protocol.release_failure()
    assert protocol.data_to_send() == []


def test_send_close_releases_a_held_failure() -> None:
    protocol = Protocol(SERVER)
    protocol.hold_failures = True
    protocol.receive_data(from_peer(SERVER, 0x83, b""))
    protocol.send_close(1000, "bye")
    close = close_payload(1002, "reserved opcode 3")
    assert protocol.data_to_send() == [unmasked(0x88, close), SEND_EOF]
    assert protocol.close_sent == Close(1002, "reserved opcode 3")


def test_receive_eof_releases_a_held_failure(fixed_key: None) -> None:
    protocol = Protocol(CLIENT)
    protocol.hold_failures = True
    protocol.receive_data(from_peer(CLIENT, 0x81, b"\xff"))
    assert protocol.failure_held
    protocol.receive_eof()
    output = protocol.data_to_send()
    close = close_payload(1007, "invalid UTF-8: invalid start byte")
    assert output == [to_peer(CLIENT, 0x88, close), SEND_EOF]
    assert protocol.state is CLOSED
    assert protocol.close_code == 1006
    assert isinstance(protocol.close_exc, ConnectionClosedError)


def test_failure_is_not_held_once_closing() -> None:
    protocol = Protocol(SERVER)
    protocol.hold_failures = True
    protocol.send_close(1000)
    protocol.data_to_send()
    protocol.receive_data(from_peer(SERVER, 0xC1, b"x"))
    assert not protocol.failure_held
    assert protocol.data_to_send() == [SEND_EOF]
    assert isinstance(protocol.parser_exc, ProtocolError)


def test_held_failure_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.held")
    logger.setLevel(logging.DEBUG)
    protocol = Protocol(SERVER, logger=logger)
    protocol.hold_failures = True
    with caplog.at_level(logging.DEBUG, logger="test.held"):
        protocol.receive_data(from_peer(SERVER, 0x8B))
    assert "holding failure with code 1002" in caplog.text


# Frame.text: the decoded text kept for the application -------------------


def texts(protocol: Protocol) -> list[tuple[Frame, str | None]]:
    return [(event, event.text) for event in protocol.events_received()]  # type: ignore[union-attr]


def test_text_of_a_whole_message_in_one_frame(side: Side) -> None:
    protocol = Protocol(side)
    protocol.receive_data(from_peer(side, 0x81, "café".encode()) + from_peer(side, 0x82, b"\xff"))
    assert texts(protocol) == [
        (Frame(OP_TEXT, "café".encode()), "café"),
        (Frame(OP_BINARY, b"\xff"), None),
    ]


def test_text_when_the_scan_is_off(caplog: pytest.LogCaptureFixture) -> None:
    # The debug log sends every frame through the parser's loop.
    caplog.set_level(logging.DEBUG, logger="sansws.server")
    server = Protocol(SERVER)
    server.receive_data(masked(0x81, "été".encode()) + masked(0x82, b"x"))
    assert texts(server) == [
        (Frame(OP_TEXT, "été".encode()), "été"),
        (Frame(OP_BINARY, b"x"), None),
    ]


def test_text_of_fragments_with_a_character_split_between_them() -> None:
    data = "a€b".encode()  # € is e2 82 ac
    server = Protocol(SERVER)
    server.receive_data(masked(0x01, data[:2]) + masked(0x00, data[2:4]) + masked(0x80, data[4:]))
    assert [text for _, text in texts(server)] == ["a", "€", "b"]


def test_text_of_a_frame_validated_while_it_arrived() -> None:
    data = masked(0x81, "one €, two €".encode())
    server = Protocol(SERVER)
    for i in range(len(data)):
        server.receive_data(data[i : i + 1])
    assert texts(server) == [(Frame(OP_TEXT, "one €, two €".encode()), "one €, two €")]


def test_text_of_a_fragment_validated_while_it_arrived() -> None:
    data = masked(0x01, b"ab\xe2\x82") + masked(0x80, b"\xacc")
    server = Protocol(SERVER)
    for i in range(len(data)):
        server.receive_data(data[i : i + 1])
    assert [text for _, text in texts(server)] == ["ab", "€c"]


def test_text_with_an_extension() -> None:
    server = Protocol(SERVER)
    server.extensions = [PassThrough()]
    server.receive_data(masked(0x81, b"hi") + masked(0x01, b"h") + masked(0x80, b"o"))
    assert [text for _, text in texts(server)] == ["hi", "h", "o"]


def test_text_is_not_compared_or_shown() -> None:
    frame = Frame(OP_TEXT, b"hi", text="hi")
    assert frame == Frame(OP_TEXT, b"hi")
    assert "text" not in repr(frame)


@pytest.mark.parametrize("limit", [5, (None, 5), (5, None)])
def test_scan_leaves_frames_over_max_size_to_the_parser(
    limit: int | tuple[int | None, int | None],
) -> None:
    server = Protocol(SERVER, max_size=limit)
    server.receive_data(masked(0x82, b"12345") + masked(0x82, b"123456") + masked(0x82, b"1"))
    assert server.events_received() == [Frame(OP_BINARY, b"12345")]
    assert isinstance(server.parser_exc, PayloadTooBig)


def test_scan_leaves_invalid_text_to_the_parser() -> None:
    server = Protocol(SERVER)
    server.receive_data(masked(0x81, b"ok") + masked(0x81, b"\xff") + masked(0x81, b"no"))
    assert server.events_received() == [Frame(OP_TEXT, b"ok")]
    assert isinstance(server.parser_exc, UnicodeDecodeError)


def test_scan_resumes_after_a_control_frame_and_a_fragmented_message() -> None:
    data = (
        masked(0x82, b"a")
        + masked(0x89, b"p")
        + masked(0x02, b"b")
        + masked(0x80, b"c")
        + masked(0x81, b"d")
    )
    server = Protocol(SERVER)
    server.receive_data(data)
    assert server.events_received() == [
        Frame(OP_BINARY, b"a"),
        Frame(OP_PING, b"p"),
        Frame(OP_BINARY, b"b", fin=False),
        Frame(OP_CONT, b"c"),
        Frame(OP_TEXT, b"d"),
    ]


# Large payloads over several reads -------------------------------------------


LARGE = 70_000


def reads(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
@pytest.mark.parametrize("size", [1000, 16384, 65536])
def test_large_binary_payload_over_several_reads(side: Side, kind: type, size: int) -> None:
    payload = os.urandom(LARGE)
    data = from_peer(side, 0x82, payload) + from_peer(side, 0x81, b"after")
    protocol = Protocol(side)
    for chunk in reads(data, size):
        protocol.receive_data(kind(chunk))
    assert texts(protocol) == [
        (Frame(OP_BINARY, payload), None),
        (Frame(OP_TEXT, b"after"), "after"),
    ]
    assert protocol._pieces is None


def test_large_payload_starts_in_the_buffer() -> None:
    # A tail left in the buffer becomes the first piece.
    payload = os.urandom(LARGE)
    data = masked(0x82, b"a") + masked(0x82, payload)
    server = Protocol(SERVER)
    server.receive_data(data[:4])
    server.receive_data(data[4:30000])
    server.receive_data(data[30000:])
    assert server.events_received() == [Frame(OP_BINARY, b"a"), Frame(OP_BINARY, payload)]


def test_large_payload_waits_for_its_masking_key() -> None:
    payload = os.urandom(LARGE)
    data = masked(0x82, payload)
    server = Protocol(SERVER)
    server.receive_data(data[:12])
    assert server._pieces is None
    server.receive_data(data[12:])
    assert server.events_received() == [Frame(OP_BINARY, payload)]


def test_large_payload_does_not_keep_a_reference_to_a_callers_buffer() -> None:
    payload = os.urandom(LARGE)
    data = bytearray(masked(0x82, payload))
    server = Protocol(SERVER)
    first, second, third = data[:20000], data[20000:40000], data[40000:]
    server.receive_data(first)
    server.receive_data(second)
    first[:] = bytes(len(first))
    second[:] = bytes(len(second))
    server.receive_data(third)
    assert server.events_received() == [Frame(OP_BINARY, payload)]


def test_large_text_payload_over_several_reads(side: Side) -> None:
    text = "Grüße, 世界! " * 5000
    data = from_peer(side, 0x01, text.encode()) + from_peer(side, 0x80, text.encode())
    protocol = Protocol(side, max_size=None)
    for chunk in reads(data, 4099):
        protocol.receive_data(chunk)
    assert texts(protocol) == [
        (Frame(OP_TEXT, text.encode(), fin=False), text),
        (Frame(OP_CONT, text.encode()), text),
    ]


def test_large_text_payload_fails_at_the_read_with_a_bad_byte() -> None:
    payload = bytearray(b"x" * LARGE)
    payload[30000] = 0xFF
    data = masked(0x81, bytes(payload))
    server = Protocol(SERVER)
    server.receive_data(data[:20000])
    assert server.parser_exc is None
    server.receive_data(data[20000:40000])
    assert isinstance(server.parser_exc, UnicodeDecodeError)
    assert server.close_sent == Close(1007, "invalid UTF-8: invalid start byte")
    assert server._pieces is None
    server.receive_data(data[40000:])
    assert server.events_received() == []


def test_large_text_payload_fails_in_its_last_read() -> None:
    data = masked(0x81, b"x" * LARGE + b"\xff") + masked(0x81, b"next")
    server = Protocol(SERVER)
    server.receive_data(data[:30000])
    server.receive_data(data[30000:])
    assert isinstance(server.parser_exc, UnicodeDecodeError)
    assert server.events_received() == []


def test_large_text_payload_fails_in_its_first_read() -> None:
    data = masked(0x81, b"\xff" + b"x" * LARGE)
    server = Protocol(SERVER)
    server.receive_data(data[:20000])
    assert isinstance(server.parser_exc, UnicodeDecodeError)


def test_large_text_payload_ending_inside_a_character() -> None:
    data = masked(0x81, b"x" * LARGE + b"\xe2\x82")
    server = Protocol(SERVER)
    for chunk in reads(data, 30000):
        server.receive_data(chunk)
    assert server.events_received() == []
    assert isinstance(server.parser_exc, UnicodeDecodeError)


def test_large_compressed_payload_over_several_reads() -> None:
    # Compressed frames are validated once decoded, whole.
    class Inflate(PassThrough):
        reserved_bits = 0x40

        def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
            return Frame(frame.opcode, frame.data[::-1], frame.fin)

    payload = "é".encode() * (LARGE // 2)
    server = Protocol(SERVER, max_size=None)
    server.extensions = [Inflate()]
    for chunk in reads(masked(0xC1, payload[::-1]), 30000):
        server.receive_data(chunk)
    assert texts(server) == [(Frame(OP_TEXT, payload), "é" * (LARGE // 2))]


def test_input_while_gathering_is_dropped_on_failure_and_eof() -> None:
    data = masked(0x82, os.urandom(LARGE))
    server = Protocol(SERVER)
    server.receive_data(data[:30000])
    assert server._pieces is not None
    server.fail(1011)
    assert server._pieces is None
    client = Protocol(CLIENT)
    client.receive_data(unmasked(0x82, bytes(LARGE))[:30000])
    client.receive_eof()
    assert client._pieces is None
    assert client.events_received() == []


def test_failure_while_gathering_is_held() -> None:
    data = masked(0x81, b"x" * 30000 + b"\xff" + b"x" * LARGE)
    server = Protocol(SERVER)
    server.hold_failures = True
    server.receive_data(data[:20000])
    server.receive_data(data[20000:40000])
    assert server.failure_held
    assert server._pieces is None
    server.release_failure()
    assert server.close_sent is not None
    assert server.close_sent.code == 1007


# Pongs held while the I/O layer's writes are paused (RFC 6455 §5.5.3) --------


def test_held_pongs_answer_only_the_latest_ping() -> None:
    protocol = Protocol(SERVER)
    protocol.hold_pongs(True)
    for payload in (b"one", b"two", b"three"):
        protocol.receive_data(from_peer(SERVER, 0x89, payload))
    # Every Ping is reported, none answered yet.
    assert [f.data for f in protocol.events_received()] == [b"one", b"two", b"three"]
    assert protocol.data_to_send() == []
    protocol.hold_pongs(False)
    assert protocol.data_to_send() == [unmasked(0x8A, b"three")]
    # Released: Pings are answered at once again; releasing twice does nothing.
    protocol.hold_pongs(False)
    protocol.receive_data(from_peer(SERVER, 0x89, b"four"))
    assert protocol.data_to_send() == [unmasked(0x8A, b"four")]


def test_held_pong_dropped_once_the_stream_is_ended() -> None:
    protocol = Protocol(SERVER)
    protocol.hold_pongs(True)
    protocol.receive_data(from_peer(SERVER, 0x89, b"late"))
    protocol.receive_eof()
    assert protocol.data_to_send() == [SEND_EOF]
    protocol.hold_pongs(False)
    assert protocol.data_to_send() == []


def test_held_pong_sent_while_closing(fixed_key: None) -> None:
    protocol = Protocol(CLIENT)
    protocol.send_close(1000)
    protocol.data_to_send()
    protocol.hold_pongs(True)
    protocol.receive_data(from_peer(CLIENT, 0x89, b"p"))
    protocol.hold_pongs(False)
    assert protocol.data_to_send() == [masked(0x8A, b"p")]


def test_fail_applies_a_held_failure_instead() -> None:
    protocol = Protocol(SERVER)
    protocol.hold_failures = True
    protocol.receive_data(from_peer(SERVER, 0x83))
    assert protocol.failure_held
    protocol.fail(1011, "application error")
    assert not protocol.failure_held
    close = close_payload(1002, "reserved opcode 3")
    assert protocol.data_to_send() == [unmasked(0x88, close), SEND_EOF]
    assert isinstance(protocol.parser_exc, ProtocolError)


# max_size and frames that an extension decodes ---------------------------------


class Identity(Extension):
    """Claims RSV1 and passes data through: stands in for compression."""

    name = "identity"
    reserved_bits = 0x40

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        if max_size is not None and len(frame.data) > max_size:
            raise PayloadTooBig(f"decoded {len(frame.data)} bytes, room for {max_size}")
        return Frame(frame.opcode, frame.data, frame.fin)

    def encode(self, frame: Frame) -> Frame:
        return Frame(frame.opcode, frame.data, frame.fin, rsv1=frame.opcode < 8)


@pytest.mark.parametrize(
    ("wire_length", "failed_at_header"),
    [(1000, False), (1000 + (1000 >> 10) + 64, False), (1000 + (1000 >> 10) + 65, True)],
)
def test_encoded_frame_may_exceed_max_size_by_the_encoding_bound(
    wire_length: int, failed_at_header: bool
) -> None:
    """An extension's frame is bounded on the wire by max_size plus deflate's expansion."""
    protocol = Protocol(SERVER, max_size=1000)
    protocol.extensions = [Identity()]
    frame = from_peer(SERVER, 0xC2, b"x" * wire_length)
    # Only the header: a frame past the bound fails before its payload.
    protocol.receive_data(frame[:8])
    assert (protocol.state is CLOSING) is failed_at_header
    if not failed_at_header:
        protocol.receive_data(frame[8:])
        # The decoded size is what max_size bounds.
        assert (protocol.state is CLOSING) is (wire_length > 1000)
    assert isinstance(protocol.parser_exc, PayloadTooBig) is (wire_length > 1000)
