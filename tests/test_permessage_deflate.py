"""Tests for sansws.extensions.permessage_deflate (RFC 7692)."""

from __future__ import annotations

import itertools
import random
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansws.exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
)
from sansws.extensions.base import ClientExtensionFactory, Extension, ExtensionParameter
from sansws.extensions.permessage_deflate import (
    DEFAULT_COMPRESS_SETTINGS,
    DEFAULT_WINDOW_BITS,
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
    enable_client_permessage_deflate,
    enable_server_permessage_deflate,
)
from sansws.frames import Close, Frame, Opcode, apply_mask, encode_header
from sansws.protocol import CLOSED, Protocol, Side

TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
MiB = 1 << 20


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def pair(
    client_nct: bool = False,
    server_nct: bool = False,
    client_bits: int = 15,
    server_bits: int = 15,
) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """A client and a server extension that agree with each other."""
    client = PerMessageDeflate(server_nct, client_nct, server_bits, client_bits)
    server = PerMessageDeflate(client_nct, server_nct, client_bits, server_bits)
    return client, server


def fragments(opcode: Opcode, data: bytes, cuts: list[int]) -> list[Frame]:
    """Split a message into frames at the given offsets."""
    bounds = [0, *sorted(set(cuts)), len(data)]
    frames = [
        Frame(opcode if i == 0 else CONT, data[start:end], fin=False)
        for i, (start, end) in enumerate(itertools.pairwise(bounds))
    ]
    frames[-1].fin = True
    return frames


def transfer(
    sender: PerMessageDeflate, receiver: PerMessageDeflate, frames: list[Frame]
) -> tuple[list[Frame], bytes]:
    """Encode frames on one side, decode them on the other."""
    wire = [sender.encode(Frame(f.opcode, f.data, f.fin)) for f in frames]
    decoded = [receiver.decode(f, max_size=None) for f in wire]
    return wire, b"".join(f.data for f in decoded)


# Exact bytes: RFC 7692 §7.2.3 ------------------------------------------------


@pytest.mark.parametrize("direction", ["client to server", "server to client"])
def test_hello_exact_bytes_with_context_takeover(direction: str) -> None:
    client, server = pair()
    sender, receiver = (client, server) if direction == "client to server" else (server, client)
    # §7.2.3.1, then §7.2.3.2: the second "Hello" refers to the first.
    for expected in [h("f248cdc9c90700"), h("f200110000")]:
        frame = sender.encode(Frame(TEXT, b"Hello"))
        assert frame == Frame(TEXT, expected, fin=True, rsv1=True)
        assert receiver.decode(frame) == Frame(TEXT, b"Hello", fin=True, rsv1=False)


@pytest.mark.parametrize("direction", ["client to server", "server to client"])
def test_hello_exact_bytes_without_context_takeover(direction: str) -> None:
    client, server = pair(client_nct=True, server_nct=True)
    sender, receiver = (client, server) if direction == "client to server" else (server, client)
    for _ in range(3):
        frame = sender.encode(Frame(TEXT, b"Hello"))
        assert frame.data == h("f248cdc9c90700")
        assert receiver.decode(frame).data == b"Hello"


def test_decode_stored_block() -> None:
    # §7.2.3.3: "Hello" in a DEFLATE block with no compression.
    _, server = pair()
    frame = server.decode(Frame(TEXT, h("0005 00faff 48656c6c6f 00"), rsv1=True))
    assert frame == Frame(TEXT, b"Hello")


def test_decode_rfc_fragments() -> None:
    # §7.2.3.1: one compressed "Hello" cut into two frames.
    client, _ = pair()
    first = client.decode(Frame(TEXT, h("f248cd"), fin=False, rsv1=True))
    second = client.decode(Frame(CONT, h("c9c90700"), fin=True))
    # zlib holds back the last code until it has enough bits to decode it.
    assert first == Frame(TEXT, b"He", fin=False)
    assert second == Frame(CONT, b"llo", fin=True)


def test_encode_fragments_exact_bytes() -> None:
    client, server = pair()
    first = client.encode(Frame(TEXT, b"Hel", fin=False))
    second = client.encode(Frame(CONT, b"lo", fin=True))
    # Each fragment ends with a sync flush; only the final one is stripped.
    assert first == Frame(TEXT, h("f248cd01000000ffff"), fin=False, rsv1=True)
    assert second == Frame(CONT, h("cac90700"), fin=True, rsv1=False)
    assert server.decode(first) == Frame(TEXT, b"Hel", fin=False)
    assert server.decode(second) == Frame(CONT, b"lo", fin=True)


def test_two_deflate_blocks_in_one_message() -> None:
    # §7.2.3.5: "He" and "llo" in two blocks, with a sync flush between:
    # exactly what two fragments give.
    client, server = pair()
    first = client.encode(Frame(TEXT, b"He", fin=False))
    second = client.encode(Frame(CONT, b"llo"))
    assert first.data + second.data == h("f24805000000ffff cac9c90700")
    assert server.decode(Frame(TEXT, first.data + second.data, rsv1=True)).data == b"Hello"


def test_decode_bfinal_block_starts_a_new_stream() -> None:
    # §7.2.3.4: "Hello" in a block with BFINAL set, then a 0x00 octet.
    _, server = pair()
    for _ in range(2):
        frame = server.decode(Frame(TEXT, h("f348cdc9c9070000"), rsv1=True))
        assert frame.data == b"Hello"


def test_data_after_bfinal_in_continuations_is_ignored() -> None:
    _, server = pair()
    assert server.decode(Frame(TEXT, h("f348cdc9c90700"), fin=False, rsv1=True)).data == b"Hello"
    assert server.decode(Frame(CONT, h("00"), fin=False)).data == b""
    assert server.decode(Frame(CONT, b"\xff" * 10, fin=True)).data == b""
    # The next message starts a fresh stream.
    assert server.decode(Frame(TEXT, h("f248cdc9c90700"), rsv1=True)).data == b"Hello"


@pytest.mark.parametrize("context_takeover", [True, False])
def test_empty_message(context_takeover: bool) -> None:
    # §7.2.3.6: an empty message is the single octet 0x00.
    client, server = pair(client_nct=not context_takeover, server_nct=not context_takeover)
    for opcode in [TEXT, BINARY]:
        frame = client.encode(Frame(opcode, b""))
        assert frame == Frame(opcode, h("00"), fin=True, rsv1=True)
        assert server.decode(frame) == Frame(opcode, b"")


def test_empty_final_fragment() -> None:
    client, server = pair()
    wire, data = transfer(client, server, [Frame(BINARY, b"", fin=False), Frame(CONT, b"")])
    assert [f.data for f in wire] == [h("000000ffff"), h("00")]
    assert data == b""
    # The stream is still in step afterwards.
    assert transfer(client, server, [Frame(TEXT, b"Hello")])[1] == b"Hello"


def test_context_takeover_across_fragmented_messages() -> None:
    client, server = pair()
    transfer(client, server, fragments(TEXT, b"Hello", [3]))
    assert client.encode(Frame(TEXT, b"")).data == h("00")
    # Same bytes as §7.2.3.2: the window carried over both messages.
    frame = client.encode(Frame(TEXT, b"Hello"))
    assert frame.data == h("f200110000")


# Frames that pass through, and errors -----------------------------------------


@pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
def test_control_frames_pass_through(opcode: Opcode) -> None:
    client, _ = pair()
    # In the middle of a compressed message, too.
    client.decode(Frame(TEXT, h("f248cd"), fin=False, rsv1=True))
    frame = Frame(opcode, b"\x03\xe8ok")
    assert client.decode(frame) is frame
    assert client.encode(frame) is frame
    # RSV1 on a control frame is left for the protocol to refuse.
    odd = Frame(opcode, b"", rsv1=True)
    assert client.decode(odd) is odd
    assert client.decode(Frame(CONT, h("c9c90700"))).data == b"llo"


def test_uncompressed_message_passes_through() -> None:
    _, server = pair()
    frames = [Frame(TEXT, b"Hel", fin=False), Frame(CONT, b"l", fin=False), Frame(CONT, b"o")]
    for frame in frames:
        assert server.decode(frame, max_size=1) is frame
    assert server.decode(Frame(BINARY, b"raw")) == Frame(BINARY, b"raw")


def test_rsv1_on_continuation_frame() -> None:
    _, server = pair()
    server.decode(Frame(TEXT, h("f248cd"), fin=False, rsv1=True))
    with pytest.raises(ProtocolError, match="continuation"):
        server.decode(Frame(CONT, h("c9c90700"), rsv1=True))


def test_rsv1_on_continuation_of_uncompressed_message() -> None:
    _, server = pair()
    server.decode(Frame(TEXT, b"Hel", fin=False))
    with pytest.raises(ProtocolError, match="continuation"):
        server.decode(Frame(CONT, b"lo", rsv1=True))


def test_rsv2_and_rsv3_are_kept() -> None:
    client, server = pair()
    frame = client.encode(Frame(TEXT, b"Hello", rsv2=True, rsv3=True))
    assert (frame.rsv1, frame.rsv2, frame.rsv3) == (True, True, True)
    assert server.decode(frame) == Frame(TEXT, b"Hello", rsv2=True, rsv3=True)


def test_invalid_deflate_data() -> None:
    _, server = pair()
    # BTYPE 11 is reserved (RFC 1951 §3.2.3).
    with pytest.raises(ProtocolError, match="invalid compressed data"):
        server.decode(Frame(TEXT, b"\xff\xff\xff", rsv1=True))


def test_distance_beyond_window_is_invalid() -> None:
    client, _ = pair(server_bits=9)
    # A peer that promised a 512-byte window but refers to the message
    # before, 1000 bytes back.
    compressor = zlib.compressobj(wbits=-15)
    block = random.Random(1).randbytes(1000)
    for expect_error in [False, True]:
        data = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
        frame = Frame(BINARY, data[:-4], rsv1=True)
        if expect_error:
            with pytest.raises(ProtocolError, match="too far back"):
                client.decode(frame)
            assert client._decoder is None
        else:
            assert client.decode(frame).data == block


def test_max_size_allows_exact_size() -> None:
    client, server = pair()
    for size in [0, 1, 5000]:
        frame = client.encode(Frame(BINARY, b"a" * size))
        assert server.decode(frame, max_size=size).data == b"a" * size


def test_max_size_exceeded() -> None:
    client, server = pair()
    frame = client.encode(Frame(BINARY, b"a" * 5001))
    with pytest.raises(PayloadTooBig):
        server.decode(frame, max_size=5000)


def test_max_size_in_a_later_fragment() -> None:
    client, server = pair()
    first = client.encode(Frame(BINARY, b"a" * 100, fin=False))
    second = client.encode(Frame(CONT, b"b" * 100))
    assert server.decode(first, max_size=150).data == b"a" * 100
    with pytest.raises(PayloadTooBig):
        server.decode(second, max_size=50)


# A stored block whose LEN covers the four bytes the receiver appends: the
# tail itself becomes data. No sane peer sends this, but the bound holds.
STORED_INTO_TAIL = h("00 0400 fbff")


def test_output_from_the_appended_tail() -> None:
    _, server = pair()
    frame = server.decode(Frame(BINARY, STORED_INTO_TAIL, rsv1=True), max_size=4)
    assert frame.data == b"\x00\x00\xff\xff"


def test_output_from_the_appended_tail_without_bound() -> None:
    _, server = pair()
    frame = server.decode(Frame(BINARY, STORED_INTO_TAIL, rsv1=True))
    assert frame.data == b"\x00\x00\xff\xff"


def test_output_from_the_appended_tail_exceeds_max_size() -> None:
    _, server = pair()
    with pytest.raises(PayloadTooBig):
        server.decode(Frame(BINARY, STORED_INTO_TAIL, rsv1=True), max_size=3)


# Decompression bomb -----------------------------------------------------------


@pytest.fixture(scope="module")
def gigabyte_of_zeros() -> bytes:
    """1 GiB of zeros as a compressed message, about 1 MiB, built 1 MiB at a time.

    After the first chunk the compressor's state repeats -- the window holds
    only zeros and each chunk ends on a sync flush -- so every later chunk
    compresses to the same bytes. Checking that once, then repeating them,
    spares three seconds of deflating zeros.
    """
    compressor = zlib.compressobj(wbits=-15)
    chunk = bytes(MiB)
    head = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    second = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    third = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert second == third
    data = head + second * 1023
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def test_decompression_bomb(gigabyte_of_zeros: bytes) -> None:
    _, server = pair()
    frame = Frame(BINARY, gigabyte_of_zeros, rsv1=True)
    assert len(frame.data) < 1.1 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooBig):
            server.decode(frame, max_size=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Inflating stopped one byte past max_size. The peak is that output,
    # held twice while zlib's output blocks are joined, plus the input zlib
    # did not consume, which it copies aside.
    assert peak < 3 * MiB + len(gigabyte_of_zeros)
    # The failed stream is dropped, with the input it held.
    assert server._decoder is None


def test_decompression_bomb_in_fragments(gigabyte_of_zeros: bytes) -> None:
    _, server = pair()
    remaining = MiB
    with pytest.raises(PayloadTooBig):
        for start in range(0, len(gigabyte_of_zeros), 4096):
            frame = Frame(
                BINARY if start == 0 else CONT,
                gigabyte_of_zeros[start : start + 4096],
                fin=False,
                rsv1=start == 0,
            )
            remaining -= len(server.decode(frame, max_size=remaining).data)
    assert remaining >= 0


# Window bits ------------------------------------------------------------------


def test_window_bits_8_compresses_within_256_bytes() -> None:
    # zlib refuses a raw 8-bit window; 9 bits never reach back more than 250
    # bytes, so an inflater with a 256-byte window follows the whole stream.
    client, server = pair(server_bits=8)
    assert server.local_max_window_bits == 8
    inflater = zlib.decompressobj(wbits=-8)
    pattern = bytes(range(200)) + b"x" * 100  # a period longer than 256
    for n in range(1, 60):
        message = (pattern * 3)[: 17 * n]
        frame = server.encode(Frame(BINARY, message))
        assert inflater.decompress(frame.data + b"\x00\x00\xff\xff") == message
        assert client.decode(frame).data == message


def test_window_bits_8_inflates() -> None:
    _, server = pair(client_bits=8)
    deflater = zlib.compressobj(wbits=-9)
    for message in [b"Hello", b"Hello", bytes(range(256)) * 2]:
        data = deflater.compress(message) + deflater.flush(zlib.Z_SYNC_FLUSH)
        assert server.decode(Frame(BINARY, data[:-4], rsv1=True)).data == message


# Construction -----------------------------------------------------------------


@pytest.mark.parametrize("bits", [7, 16, 0, -9, True, 12.0, "12", None])
def test_invalid_window_bits(bits: Any) -> None:
    with pytest.raises(ValueError, match="window_bits"):
        PerMessageDeflate(False, False, bits, 15)
    with pytest.raises(ValueError, match="window_bits"):
        PerMessageDeflate(False, False, 15, bits)


@pytest.mark.parametrize("settings_", [{"wbits": -10}, {"zdict": b"x"}, {"level": 1, "x": 2}])
def test_invalid_compress_settings(settings_: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="compress_settings"):
        PerMessageDeflate(False, False, 15, 15, settings_)


def test_compress_settings() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    assert ext.compress_settings == DEFAULT_COMPRESS_SETTINGS == {"memLevel": 5}
    ext = PerMessageDeflate(False, False, 15, 15, {"level": 0})
    assert ext.compress_settings == {"memLevel": 5, "level": 0}
    # Level 0 stores: "Hello" in a stored block, as in §7.2.3.3.
    assert ext.encode(Frame(TEXT, b"Hello")).data == h("0005 00faff 48656c6c6f 00")


def test_extension_attributes() -> None:
    ext = PerMessageDeflate(True, False, 10, 11)
    assert isinstance(ext, Extension)
    assert ext.name == "permessage-deflate"
    assert ext.reserved_bits == 0x40
    assert repr(ext) == (
        "PerMessageDeflate(remote_no_context_takeover=True, local_no_context_takeover=False, "
        "remote_max_window_bits=10, local_max_window_bits=11)"
    )


def test_no_context_takeover_drops_zlib_state() -> None:
    client, server = pair(client_nct=True, server_nct=False)
    frame = client.encode(Frame(TEXT, b"Hello", fin=False))
    assert client._encoder is not None
    frame2 = client.encode(Frame(CONT, b"!"))
    assert client._encoder is None
    server.decode(frame)
    assert server._decoder is not None
    server.decode(frame2)
    assert server._decoder is None
    # With context takeover, the state stays.
    server.encode(Frame(TEXT, b"Hello"))
    assert server._encoder is not None


# Negotiation: the client's offer ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "params"),
    [
        ({}, [("client_max_window_bits", None)]),
        ({"client_max_window_bits": None}, []),
        ({"client_max_window_bits": False}, []),
        ({"client_max_window_bits": 10}, [("client_max_window_bits", "10")]),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 8,
                "client_max_window_bits": 15,
            },
            [
                ("server_no_context_takeover", None),
                ("client_no_context_takeover", None),
                ("server_max_window_bits", "8"),
                ("client_max_window_bits", "15"),
            ],
        ),
    ],
)
def test_client_request_params(kwargs: dict[str, Any], params: list[ExtensionParameter]) -> None:
    factory = ClientPerMessageDeflateFactory(**kwargs)
    assert factory.name == "permessage-deflate"
    assert factory.get_request_params() == params


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_max_window_bits": 7},
        {"server_max_window_bits": 16},
        {"client_max_window_bits": 16},
        {"client_max_window_bits": 7},
    ],
)
def test_client_factory_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="window_bits"):
        ClientPerMessageDeflateFactory(**kwargs)


# Negotiation: the client reads the answer --------------------------------------


def ext_state(ext: PerMessageDeflate) -> tuple[bool, bool, int, int]:
    return (
        ext.remote_no_context_takeover,
        ext.local_no_context_takeover,
        ext.remote_max_window_bits,
        ext.local_max_window_bits,
    )


@pytest.mark.parametrize(
    ("kwargs", "response", "expected"),
    [
        ({}, [], (False, False, 15, 15)),
        ({"client_max_window_bits": None}, [], (False, False, 15, 15)),
        # Erratum 4982: an unsolicited server_no_context_takeover is fine.
        ({}, [("server_no_context_takeover", None)], (True, False, 15, 15)),
        ({}, [("client_no_context_takeover", None)], (False, True, 15, 15)),
        ({"client_no_context_takeover": True}, [], (False, True, 15, 15)),
        (
            {"server_no_context_takeover": True},
            [("server_no_context_takeover", None)],
            (True, False, 15, 15),
        ),
        ({}, [("server_max_window_bits", "9")], (False, False, 9, 15)),
        (
            {"server_max_window_bits": 10},
            [("server_max_window_bits", "10")],
            (False, False, 10, 15),
        ),
        (
            {"server_max_window_bits": 10},
            [("server_max_window_bits", "8")],
            (False, False, 8, 15),
        ),
        ({}, [("client_max_window_bits", "8")], (False, False, 15, 8)),
        ({"client_max_window_bits": 10}, [], (False, False, 15, 10)),
        (
            {"client_max_window_bits": 10},
            [("client_max_window_bits", "10")],
            (False, False, 15, 10),
        ),
        (
            {"client_max_window_bits": 10},
            [("client_max_window_bits", "9")],
            (False, False, 15, 9),
        ),
        (
            {},
            [
                ("server_no_context_takeover", None),
                ("client_no_context_takeover", None),
                ("server_max_window_bits", "12"),
                ("client_max_window_bits", "13"),
            ],
            (True, True, 12, 13),
        ),
    ],
)
def test_client_accepts_response(
    kwargs: dict[str, Any],
    response: list[ExtensionParameter],
    expected: tuple[bool, bool, int, int],
) -> None:
    factory = ClientPerMessageDeflateFactory(**kwargs)
    ext = factory.process_response_params(response, [])
    assert ext_state(ext) == expected


@pytest.mark.parametrize(("offered", "answered"), [(9, 15), (10, 11), (12, 15), (12, 12), (12, 9)])
def test_client_keeps_offered_window_when_answer_is_larger(offered: int, answered: int) -> None:
    # RFC 7692 §7.1.2.2 wants an answer <= the offer; a larger one (Autobahn
    # 13.4.x answers 15 to every offer) is tolerated by keeping our own limit.
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=offered)
    ext = factory.process_response_params([("client_max_window_bits", str(answered))], [])
    assert ext_state(ext)[3] == min(offered, answered)


@pytest.mark.parametrize(
    ("kwargs", "response", "error"),
    [
        ({"server_no_context_takeover": True}, [], "server_no_context_takeover"),
        ({"server_max_window_bits": 10}, [], "server_max_window_bits"),
        ({"server_max_window_bits": 10}, [("server_max_window_bits", "11")], "exceeds"),
        ({"client_max_window_bits": None}, [("client_max_window_bits", "10")], "unsolicited"),
    ],
)
def test_client_refuses_response(
    kwargs: dict[str, Any], response: list[ExtensionParameter], error: str
) -> None:
    factory = ClientPerMessageDeflateFactory(**kwargs)
    with pytest.raises(NegotiationError, match=error):
        factory.process_response_params(response, [])


INVALID_PARAMS: list[tuple[list[ExtensionParameter], type[NegotiationError]]] = [
    ([("server_no_context_takeover", None)] * 2, DuplicateParameter),
    ([("client_no_context_takeover", None)] * 2, DuplicateParameter),
    ([("server_max_window_bits", "10"), ("server_max_window_bits", "11")], DuplicateParameter),
    ([("client_max_window_bits", "10"), ("client_max_window_bits", "10")], DuplicateParameter),
    ([("unknown", None)], InvalidParameterName),
    ([("Server_No_Context_Takeover", None)], InvalidParameterName),
    ([("server_no_context_takeover", "")], InvalidParameterValue),
    ([("server_no_context_takeover", "true")], InvalidParameterValue),
    ([("client_no_context_takeover", "1")], InvalidParameterValue),
    ([("server_max_window_bits", None)], InvalidParameterValue),
    ([("server_max_window_bits", "7")], InvalidParameterValue),
    ([("server_max_window_bits", "16")], InvalidParameterValue),
    ([("server_max_window_bits", "08")], InvalidParameterValue),
    ([("server_max_window_bits", "+9")], InvalidParameterValue),
    ([("server_max_window_bits", " 9")], InvalidParameterValue),
    ([("server_max_window_bits", "ten")], InvalidParameterValue),
    ([("server_max_window_bits", "")], InvalidParameterValue),
    ([("client_max_window_bits", "7")], InvalidParameterValue),
    ([("client_max_window_bits", "16")], InvalidParameterValue),
    ([("client_max_window_bits", "12.0")], InvalidParameterValue),
]


@pytest.mark.parametrize(("params", "error"), INVALID_PARAMS)
def test_client_refuses_invalid_response(
    params: list[ExtensionParameter], error: type[NegotiationError]
) -> None:
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    with pytest.raises(error):
        factory.process_response_params(params, [])


def test_client_refuses_client_max_window_bits_without_value() -> None:
    # §7.1.2.2: in a response, the parameter has a value.
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    with pytest.raises(InvalidParameterValue):
        factory.process_response_params([("client_max_window_bits", None)], [])


def test_client_refuses_second_permessage_deflate() -> None:
    factory = ClientPerMessageDeflateFactory()
    with pytest.raises(NegotiationError, match="already"):
        factory.process_response_params([], [PerMessageDeflate(False, False, 15, 15)])


def test_client_accepts_after_other_extension() -> None:
    class Other(Extension):
        name = "x-other"

    factory = ClientPerMessageDeflateFactory(compress_settings={"level": 1})
    ext = factory.process_response_params([], [Other()])
    assert ext.compress_settings == {"memLevel": 5, "level": 1}


# Negotiation: the server answers -----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "offer", "answer", "expected"),
    [
        ({}, [], [], (False, False, 15, 15)),
        (
            {},
            [("server_no_context_takeover", None)],
            [("server_no_context_takeover", None)],
            (False, True, 15, 15),
        ),
        (
            {"server_no_context_takeover": True},
            [],
            [("server_no_context_takeover", None)],
            (False, True, 15, 15),
        ),
        (
            {},
            [("client_no_context_takeover", None)],
            [("client_no_context_takeover", None)],
            (True, False, 15, 15),
        ),
        (
            {"client_no_context_takeover": True},
            [],
            [("client_no_context_takeover", None)],
            (True, False, 15, 15),
        ),
        (
            {},
            [("server_max_window_bits", "10")],
            [("server_max_window_bits", "10")],
            (False, False, 15, 10),
        ),
        (
            {"server_max_window_bits": 12},
            [],
            [("server_max_window_bits", "12")],
            (False, False, 15, 12),
        ),
        (
            {"server_max_window_bits": 12},
            [("server_max_window_bits", "10")],
            [("server_max_window_bits", "10")],
            (False, False, 15, 10),
        ),
        (
            {"server_max_window_bits": 9},
            [("server_max_window_bits", "10")],
            [("server_max_window_bits", "9")],
            (False, False, 15, 9),
        ),
        ({}, [("client_max_window_bits", None)], [], (False, False, 15, 15)),
        ({}, [("client_max_window_bits", "10")], [], (False, False, 10, 15)),
        ({"client_max_window_bits": 12}, [], [], (False, False, 15, 15)),
        (
            {"client_max_window_bits": 12},
            [("client_max_window_bits", None)],
            [("client_max_window_bits", "12")],
            (False, False, 12, 15),
        ),
        (
            {"client_max_window_bits": 12},
            [("client_max_window_bits", "10")],
            [("client_max_window_bits", "10")],
            (False, False, 10, 15),
        ),
        (
            {"client_max_window_bits": 9},
            [("client_max_window_bits", "10")],
            [("client_max_window_bits", "9")],
            (False, False, 9, 15),
        ),
        (
            {"client_max_window_bits": 9, "require_client_max_window_bits": True},
            [("client_max_window_bits", None)],
            [("client_max_window_bits", "9")],
            (False, False, 9, 15),
        ),
        (
            {},
            [
                ("client_max_window_bits", None),
                ("server_max_window_bits", "11"),
                ("client_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ],
            [
                ("server_no_context_takeover", None),
                ("client_no_context_takeover", None),
                ("server_max_window_bits", "11"),
            ],
            (True, True, 15, 11),
        ),
    ],
)
def test_server_answers(
    kwargs: dict[str, Any],
    offer: list[ExtensionParameter],
    answer: list[ExtensionParameter],
    expected: tuple[bool, bool, int, int],
) -> None:
    factory = ServerPerMessageDeflateFactory(**kwargs)
    assert factory.name == "permessage-deflate"
    params, ext = factory.process_request_params(offer, [])
    assert params == answer
    assert ext_state(ext) == expected


@pytest.mark.parametrize(("params", "error"), INVALID_PARAMS)
def test_server_refuses_invalid_offer(
    params: list[ExtensionParameter], error: type[NegotiationError]
) -> None:
    factory = ServerPerMessageDeflateFactory()
    with pytest.raises(error):
        factory.process_request_params(params, [])


def test_server_requires_client_max_window_bits() -> None:
    factory = ServerPerMessageDeflateFactory(
        client_max_window_bits=10, require_client_max_window_bits=True
    )
    with pytest.raises(NegotiationError, match="client_max_window_bits"):
        factory.process_request_params([], [])


def test_server_refuses_second_permessage_deflate() -> None:
    factory = ServerPerMessageDeflateFactory()
    with pytest.raises(NegotiationError, match="already"):
        factory.process_request_params([], [PerMessageDeflate(False, False, 15, 15)])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_max_window_bits": 7},
        {"server_max_window_bits": 16},
        {"client_max_window_bits": 16},
        {"client_max_window_bits": True},
        {"require_client_max_window_bits": True},
    ],
)
def test_server_factory_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="window_bits"):
        ServerPerMessageDeflateFactory(**kwargs)


# Negotiation: both sides together ----------------------------------------------

CLIENT_CONFIGS = [
    {
        "server_no_context_takeover": snct,
        "client_no_context_takeover": cnct,
        "server_max_window_bits": sbits,
        "client_max_window_bits": cbits,
    }
    for snct, cnct, sbits, cbits in itertools.product(
        [False, True], [False, True], [None, 10], [None, True, 11]
    )
]
SERVER_CONFIGS = [
    {
        "server_no_context_takeover": snct,
        "client_no_context_takeover": cnct,
        "server_max_window_bits": sbits,
        "client_max_window_bits": cbits,
    }
    for snct, cnct, sbits, cbits in itertools.product(
        [False, True], [False, True], [None, 8, 12], [None, 9, 13]
    )
]


def smallest(*bits: Any) -> int:
    return min([b for b in bits if isinstance(b, int) and b is not True] or [15])


@pytest.mark.parametrize("server_config", SERVER_CONFIGS)
@pytest.mark.parametrize("client_config", CLIENT_CONFIGS)
def test_client_and_server_agree(
    client_config: dict[str, Any], server_config: dict[str, Any]
) -> None:
    client_factory = ClientPerMessageDeflateFactory(**client_config)
    server_factory = ServerPerMessageDeflateFactory(**server_config)
    answer, server = server_factory.process_request_params(client_factory.get_request_params(), [])
    client = client_factory.process_response_params(answer, [])

    assert client.local_no_context_takeover == server.remote_no_context_takeover
    assert client.remote_no_context_takeover == server.local_no_context_takeover
    assert client.local_max_window_bits == server.remote_max_window_bits
    assert client.remote_max_window_bits == server.local_max_window_bits

    assert server.local_no_context_takeover == (
        client_config["server_no_context_takeover"] or server_config["server_no_context_takeover"]
    )
    assert client.local_no_context_takeover == (
        client_config["client_no_context_takeover"] or server_config["client_no_context_takeover"]
    )
    assert server.local_max_window_bits == smallest(
        client_config["server_max_window_bits"], server_config["server_max_window_bits"]
    )
    client_offer = client_config["client_max_window_bits"]
    assert client.local_max_window_bits == smallest(
        client_offer, server_config["client_max_window_bits"] if client_offer else None
    )

    message = b"Hello, permessage-deflate! " * 20
    for sender, receiver in [(client, server), (server, client)] * 2:
        assert transfer(sender, receiver, [Frame(TEXT, message)])[1] == message
        assert transfer(sender, receiver, fragments(BINARY, message, [7, 300]))[1] == message


def test_enable_client_permessage_deflate() -> None:
    extensions: list[ClientExtensionFactory] | None
    for extensions in [None, []]:
        (factory,) = enable_client_permessage_deflate(extensions)
        assert isinstance(factory, ClientPerMessageDeflateFactory)
        assert factory.client_max_window_bits == DEFAULT_WINDOW_BITS == 12
        assert factory.server_max_window_bits is None
        assert factory.get_request_params() == [("client_max_window_bits", "12")]
    mine = ClientPerMessageDeflateFactory(client_no_context_takeover=True)
    given_list = [mine]
    assert enable_client_permessage_deflate(given_list) == [mine]
    assert enable_client_permessage_deflate(given_list) is not given_list


def test_enable_server_permessage_deflate() -> None:
    for extensions in [None, ()]:
        (factory,) = enable_server_permessage_deflate(extensions)
        assert isinstance(factory, ServerPerMessageDeflateFactory)
        answer, ext = factory.process_request_params([("client_max_window_bits", None)], [])
        assert answer == [("server_max_window_bits", "12"), ("client_max_window_bits", "12")]
        assert ext_state(ext) == (False, False, 12, 12)
        assert ext.compress_settings == {"memLevel": 5}
    mine = ServerPerMessageDeflateFactory()
    assert enable_server_permessage_deflate([mine]) == [mine]


def test_enabled_defaults_agree() -> None:
    (client_factory,) = enable_client_permessage_deflate(None)
    (server_factory,) = enable_server_permessage_deflate(None)
    answer, server = server_factory.process_request_params(client_factory.get_request_params(), [])
    client = client_factory.process_response_params(answer, [])
    assert isinstance(client, PerMessageDeflate)
    assert isinstance(server, PerMessageDeflate)
    assert ext_state(client) == (False, False, 12, 12)
    assert ext_state(server) == (False, False, 12, 12)


# Round trips ------------------------------------------------------------------


@st.composite
def messages(draw: st.DrawFn) -> list[list[Frame]]:
    result = []
    for _ in range(draw(st.integers(1, 6))):
        data = draw(st.binary(max_size=600) | st.text("abc xyz", max_size=3000).map(str.encode))
        cuts = draw(st.lists(st.integers(0, len(data)), max_size=4))
        result.append(fragments(draw(st.sampled_from([TEXT, BINARY])), data, cuts))
    return result


@pytest.mark.parametrize(
    ("client_nct", "server_nct"), list(itertools.product([False, True], repeat=2))
)
@settings(max_examples=25, deadline=None)
@given(
    conversation=messages(),
    client_bits=st.integers(8, 15),
    server_bits=st.integers(8, 15),
)
def test_round_trip(
    client_nct: bool,
    server_nct: bool,
    conversation: list[list[Frame]],
    client_bits: int,
    server_bits: int,
) -> None:
    client, server = pair(client_nct, server_nct, client_bits, server_bits)
    for i, frames in enumerate(conversation):
        sender, receiver = (client, server) if i % 2 else (server, client)
        message = b"".join(f.data for f in frames)
        wire, data = transfer(sender, receiver, frames)
        assert data == message
        assert [f.rsv1 for f in wire] == [True] + [False] * (len(frames) - 1)
        # The peer's stream is plain DEFLATE: zlib alone can follow a
        # one-message stream.
        if (sender is client and client_nct) or (sender is server and server_nct):
            inflater = zlib.decompressobj(wbits=-15)
            payload = b"".join(f.data for f in wire) + b"\x00\x00\xff\xff"
            assert inflater.decompress(payload) == message


# Through the protocol ---------------------------------------------------------


def connected(
    client_nct: bool = False, server_nct: bool = False, max_size: int = MiB
) -> tuple[Protocol, Protocol]:
    client = Protocol(Side.CLIENT, max_size=max_size)
    server = Protocol(Side.SERVER, max_size=max_size)
    client.extensions = [PerMessageDeflate(server_nct, client_nct, 15, 15)]
    server.extensions = [PerMessageDeflate(client_nct, server_nct, 15, 15)]
    return client, server


def unmask(wire: bytes) -> tuple[int, bytes]:
    """Return the first byte and the unmasked payload of a short client frame."""
    assert wire[1] & 0x80
    length = wire[1] & 0x7F
    assert length < 126
    return wire[0], apply_mask(wire[6 : 6 + length], wire[2:6])


def test_protocol_server_to_client_exact_bytes() -> None:
    client, server = connected()
    # §7.2.3.1 and §7.2.3.2, with their frame headers: FIN, RSV1, text.
    for expected in [h("c107 f248cdc9c90700"), h("c105 f200110000")]:
        server.send_text(b"Hello")
        wire = b"".join(server.data_to_send())
        assert wire == expected
        client.receive_data(wire)
        assert client.events_received() == [Frame(TEXT, b"Hello")]


def test_protocol_client_to_server_exact_bytes() -> None:
    client, server = connected()
    for expected in [h("f248cdc9c90700"), h("f200110000")]:
        client.send_text(b"Hello")
        wire = b"".join(client.data_to_send())
        assert unmask(wire) == (0xC1, expected)
        server.receive_data(wire)
        assert server.events_received() == [Frame(TEXT, b"Hello")]


def test_protocol_fragmented_and_no_context_takeover() -> None:
    client, server = connected(client_nct=True, server_nct=True)
    server.send_text(b"Hel", fin=False)
    server.send_continuation(b"lo", fin=True)
    server.send_ping(b"ping")
    server.send_binary(b"Hello")
    wire = b"".join(server.data_to_send())
    assert wire == h("4109 f248cd01000000ffff 8004 cac90700 8904") + b"ping" + h(
        "c207 f248cdc9c90700"
    )
    client.receive_data(wire)
    assert client.events_received() == [
        Frame(TEXT, b"Hel", fin=False),
        Frame(CONT, b"lo"),
        Frame(Opcode.PING, b"ping"),
        Frame(BINARY, b"Hello"),
    ]


def test_protocol_rsv1_on_continuation_fails_with_1002() -> None:
    client, _ = connected()
    client.receive_data(h("4103 f248cd") + h("c004 c9c90700"))
    assert isinstance(client.parser_exc, ProtocolError)
    close = b"".join(client.data_to_send())
    assert close[0] == 0x88
    assert Close.parse(unmask(close)[1]).code == 1002


def test_protocol_decompression_bomb_fails_with_1009() -> None:
    client, server = connected(max_size=MiB)
    compressor = zlib.compressobj(wbits=-15)
    chunk = bytes(MiB)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64))
    bomb += compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
    key = b"\x01\x02\x03\x04"
    server.receive_data(encode_header(0xC2, len(bomb), key) + apply_mask(bomb, key))
    assert isinstance(server.parser_exc, PayloadTooBig)
    assert server.events_received() == []
    output = b"".join(server.data_to_send())
    assert output[0] == 0x88
    assert output[2:4] == h("03f1")
    client.receive_data(output)
    client.receive_eof()
    assert client.state is CLOSED
    assert client.close_code == 1009


# Against another implementation -----------------------------------------------


@pytest.mark.parametrize(
    ("client_nct", "server_nct"), list(itertools.product([False, True], repeat=2))
)
def test_interoperates_with_websockets(client_nct: bool, server_nct: bool) -> None:
    wpd = pytest.importorskip("websockets.extensions.permessage_deflate")
    wframes = pytest.importorskip("websockets.frames")

    # Our client against their server, and their client against our server.
    ours_c = ClientPerMessageDeflateFactory(client_nct, server_nct, None, 12)
    answer, theirs_s = wpd.ServerPerMessageDeflateFactory(
        server_max_window_bits=11, client_max_window_bits=10
    ).process_request_params(ours_c.get_request_params(), [])
    ours_client = ours_c.process_response_params(answer, [])
    theirs_c = wpd.ClientPerMessageDeflateFactory(client_nct, server_nct)
    answer, ours_server = enable_server_permessage_deflate(None)[0].process_request_params(
        theirs_c.get_request_params(), []
    )
    theirs_client = theirs_c.process_response_params(answer, [])

    rnd = random.Random(5)
    for ours, theirs in [(ours_client, theirs_s), (ours_server, theirs_client)]:
        for _ in range(20):
            message = bytes(rnd.choice(b"abcdef ") for _ in range(rnd.randrange(0, 3000)))
            for frame in fragments(BINARY, message, [len(message) // 3]):
                sent = ours.encode(frame)
                got = theirs.decode(
                    wframes.Frame(
                        wframes.Opcode(int(sent.opcode)), sent.data, fin=sent.fin, rsv1=sent.rsv1
                    )
                )
                assert got.data == frame.data
            back = theirs.encode(wframes.Frame(wframes.Opcode.BINARY, message))
            assert ours.decode(Frame(BINARY, back.data, rsv1=back.rsv1)).data == message
