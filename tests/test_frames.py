"""Tests for sansws.frames: opcodes, close codes, Frame, Close, header and mask kernels."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansws import frames
from sansws.exceptions import ProtocolError
from sansws.frames import (
    OK_CLOSE_CODES,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    OPCODES,
    Close,
    CloseCode,
    Frame,
    Opcode,
    apply_mask,
    encode_header,
    is_sendable_close_code,
)

RFC_KEY = bytes.fromhex("37fa213d")


def reference_mask(data: bytes, key: bytes) -> bytes:
    """Masking as RFC 6455 §5.3 states it: octet i XOR key octet i mod 4."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


# Opcodes -------------------------------------------------------------------


def test_opcode_values_follow_rfc() -> None:
    assert [int(op) for op in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)] == [
        0,
        1,
        2,
        8,
        9,
        10,
    ]


@pytest.mark.parametrize(
    ("opcode", "is_control"),
    [
        (OP_CONT, False),
        (OP_TEXT, False),
        (OP_BINARY, False),
        (OP_CLOSE, True),
        (OP_PING, True),
        (OP_PONG, True),
    ],
)
def test_opcode_is_control(opcode: Opcode, is_control: bool) -> None:
    assert opcode.is_control is is_control


def test_opcode_table_maps_every_nibble() -> None:
    assert len(OPCODES) == 16
    for value in range(16):
        if value in (0, 1, 2, 8, 9, 10):
            assert OPCODES[value] is Opcode(value)
        else:
            assert OPCODES[value] is None


# Close codes ---------------------------------------------------------------


def test_close_code_registry() -> None:
    assert CloseCode.NORMAL_CLOSURE == 1000
    assert CloseCode.NO_STATUS_RCVD == 1005
    assert CloseCode.ABNORMAL_CLOSURE == 1006
    assert CloseCode.INVALID_DATA == 1007
    assert CloseCode.MESSAGE_TOO_BIG == 1009
    assert CloseCode.TLS_HANDSHAKE == 1015
    assert 1004 not in {int(code) for code in CloseCode}
    assert set(OK_CLOSE_CODES) == {1000, 1001, 1005}


@pytest.mark.parametrize(
    ("code", "sendable"),
    [
        (0, False),
        (999, False),
        (1000, True),
        (1001, True),
        (1002, True),
        (1003, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1007, True),
        (1011, True),
        (1014, True),
        (1015, False),
        (1016, False),
        (2999, False),
        (3000, True),
        (3999, True),
        (4000, True),
        (4999, True),
        (5000, False),
        (65535, False),
    ],
)
def test_is_sendable_close_code(code: int, sendable: bool) -> None:
    assert is_sendable_close_code(code) is sendable


# Frame ---------------------------------------------------------------------


def test_frame_defaults() -> None:
    frame = Frame(OP_TEXT, b"x")
    assert (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3) == (True, False, False, False)
    assert frame == Frame(OP_TEXT, b"x", True, False, False, False)
    assert frame != Frame(OP_TEXT, b"x", False)


@pytest.mark.parametrize(
    ("frame", "text"),
    [
        (Frame(OP_TEXT, b"Hello"), "TEXT 'Hello' [5 bytes]"),
        (Frame(OP_TEXT, b"caf\xc3\xa9", fin=False), "TEXT 'café' [5 bytes] [continued]"),
        (Frame(OP_TEXT, b"\xff"), "TEXT '\ufffd' [1 bytes]"),
        (Frame(OP_BINARY, b"\x00\xff"), "BINARY 00ff [2 bytes]"),
        (Frame(OP_CONT, b"ab", fin=False), "CONT 6162 [2 bytes] [continued]"),
        (Frame(OP_PING, b""), "PING  [0 bytes]"),
        (Frame(OP_PONG, b"\x01"), "PONG 01 [1 bytes]"),
        (Frame(OP_CLOSE, b"\x03\xe8bye"), "CLOSE 1000 (OK) bye [5 bytes]"),
        (Frame(OP_CLOSE, b""), "CLOSE 1005 (no status received [internal]) [0 bytes]"),
        (Frame(OP_CLOSE, b"\x03"), "CLOSE 03 [1 bytes]"),
        (Frame(OP_CLOSE, b"\x03\xe8\xff"), "CLOSE 03e8ff [3 bytes]"),
    ],
)
def test_frame_str(frame: Frame, text: str) -> None:
    assert str(frame) == text


def test_frame_str_truncates_previews() -> None:
    assert str(Frame(OP_TEXT, b"a" * 100)) == f"TEXT {'a' * 60!r} [100 bytes]"
    assert str(Frame(OP_BINARY, bytes(100))) == f"BINARY {'00' * 30} [100 bytes]"


# Close ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("close", "text"),
    [
        (Close(1000, ""), "1000 (OK)"),
        (Close(1001, "bye"), "1001 (going away) bye"),
        (Close(3000, ""), "3000 (registered)"),
        (Close(4000, "x"), "4000 (private use) x"),
        (Close(2000, ""), "2000 (unknown)"),
        (Close(5000, ""), "5000 (unknown)"),
    ],
)
def test_close_str(close: Close, text: str) -> None:
    assert str(close) == text


def test_close_parse_empty_payload_is_1005() -> None:
    assert Close.parse(b"") == Close(1005, "")


def test_close_parse_code_and_reason() -> None:
    assert Close.parse(b"\x03\xe8") == Close(1000, "")
    assert Close.parse(b"\x0f\xa0caf\xc3\xa9") == Close(4000, "café")


def test_close_parse_one_byte_payload() -> None:
    with pytest.raises(ProtocolError, match="1 byte"):
        Close.parse(b"\x03")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2999, 5000])
def test_close_parse_unsendable_code(code: int) -> None:
    with pytest.raises(ProtocolError, match=f"invalid close code {code}"):
        Close.parse(code.to_bytes(2, "big"))


def test_close_parse_invalid_utf8_reason() -> None:
    with pytest.raises(UnicodeDecodeError):
        Close.parse(b"\x03\xe8\xc3")


def test_close_serialize() -> None:
    assert Close(1000, "").serialize() == b"\x03\xe8"
    assert Close(1002, "bad").serialize() == b"\x03\xeabad"
    assert Close(4999, "é").serialize() == b"\x13\x87\xc3\xa9"


def test_close_check_reason_length() -> None:
    Close(1000, "x" * 123).check()
    with pytest.raises(ProtocolError, match="123 bytes"):
        Close(1000, "x" * 124).check()
    # The limit is on the encoded length, not on the number of characters.
    with pytest.raises(ProtocolError, match="123 bytes"):
        Close(1000, "é" * 62).check()


@pytest.mark.parametrize("code", [999, 1005, 1006, 5000])
def test_close_check_and_serialize_refuse_unsendable_code(code: int) -> None:
    with pytest.raises(ProtocolError, match="invalid close code"):
        Close(code, "").check()
    with pytest.raises(ProtocolError, match="invalid close code"):
        Close(code, "").serialize()


@given(
    code=st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014])
    | st.integers(3000, 4999),
    reason=st.text(max_size=30),
)
def test_close_round_trip(code: int, reason: str) -> None:
    assert Close.parse(Close(code, reason).serialize()) == Close(code, reason)


# encode_header -------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "unmasked"),
    [
        (0, "8200"),
        (5, "8205"),
        (125, "827d"),
        (126, "827e007e"),
        (256, "827e0100"),
        (65535, "827effff"),
        (65536, "827f0000000000010000"),
        (2**32, "827f0000000100000000"),
    ],
)
def test_encode_header_length_forms(length: int, unmasked: str) -> None:
    assert encode_header(0x82, length, None) == bytes.fromhex(unmasked)
    masked = bytearray.fromhex(unmasked)
    masked[1] |= 0x80
    assert encode_header(0x82, length, RFC_KEY) == bytes(masked) + RFC_KEY


def test_encode_header_keeps_first_byte() -> None:
    # FIN clear, RSV1-3 set, opcode CONT.
    assert encode_header(0x70, 3, None) == b"\x70\x03"
    assert encode_header(0x89, 5, None) == b"\x89\x05"


def test_rfc6455_section_5_7_examples() -> None:
    hello = b"Hello"
    # A single-frame unmasked text message.
    assert encode_header(0x81, 5, None) + hello == bytes.fromhex("810548656c6c6f")
    # A single-frame masked text message.
    assert encode_header(0x81, 5, RFC_KEY) + apply_mask(hello, RFC_KEY) == bytes.fromhex(
        "818537fa213d7f9f4d5158"
    )
    # A fragmented unmasked text message.
    assert encode_header(0x01, 3, None) + b"Hel" == bytes.fromhex("010348656c")
    assert encode_header(0x80, 2, None) + b"lo" == bytes.fromhex("80026c6f")
    # Unmasked Ping request and masked Ping response.
    assert encode_header(0x89, 5, None) + hello == bytes.fromhex("890548656c6c6f")
    assert encode_header(0x8A, 5, RFC_KEY) + apply_mask(hello, RFC_KEY) == bytes.fromhex(
        "8a8537fa213d7f9f4d5158"
    )
    # 256 bytes binary message in a single unmasked frame.
    assert encode_header(0x82, 256, None) == bytes.fromhex("827e0100")
    # 64KiB binary message in a single unmasked frame.
    assert encode_header(0x82, 65536, None) == bytes.fromhex("827f0000000000010000")


# apply_mask ----------------------------------------------------------------

Mask = Callable[[bytes | bytearray | memoryview, bytes], bytes]

# The pure kernel always; the one in use too, compiled when it was built.
KERNELS = [pytest.param(frames._apply_mask_python, id="python")]
if frames.apply_mask is not frames._apply_mask_python:
    KERNELS.append(pytest.param(frames.apply_mask, id="in-use"))


@pytest.fixture(params=KERNELS)
def kernel(request: pytest.FixtureRequest) -> Mask:
    function: Mask = request.param
    return function


def test_load_apply_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANSWS_NO_SPEEDUPS", "1")
    assert frames._load_apply_mask() is frames._apply_mask_python
    monkeypatch.delenv("SANSWS_NO_SPEEDUPS")
    try:
        from sansws._speedups import apply_mask as compiled
    except ImportError:  # pragma: no cover - depends on the build
        compiled = frames._apply_mask_python
    assert frames._load_apply_mask() is compiled


def test_apply_mask_rfc_example(kernel: Mask) -> None:
    assert kernel(b"Hello", RFC_KEY) == bytes.fromhex("7f9f4d5158")
    assert kernel(bytes.fromhex("7f9f4d5158"), RFC_KEY) == b"Hello"


def test_apply_mask_empty(kernel: Mask) -> None:
    assert kernel(b"", RFC_KEY) == b""


@pytest.mark.parametrize("length", [*range(1, 18), 4095, 4096, 4097, 65536])
def test_apply_mask_every_alignment(kernel: Mask, length: int) -> None:
    data = bytes(i % 251 + 1 for i in range(length))
    assert kernel(data, RFC_KEY) == reference_mask(data, RFC_KEY)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_apply_mask_accepts_bytes_like(kernel: Mask, kind: type) -> None:
    data = b"\x00\x01\x02\x03\x04\x05"
    result = kernel(kind(data), RFC_KEY)
    assert type(result) is bytes
    assert result == reference_mask(data, RFC_KEY)


def test_apply_mask_keeps_leading_and_trailing_zero_bytes(kernel: Mask) -> None:
    # A big-integer XOR must not drop zero bytes at either end.
    key = b"\x01\x02\x03\x04"
    data = key * 3 + key[:2]
    assert kernel(data, key) == bytes(14)


@given(data=st.binary(max_size=300), key=st.binary(min_size=4, max_size=4))
def test_apply_mask_matches_rfc_definition(data: bytes, key: bytes) -> None:
    for kernel in (frames._apply_mask_python, frames.apply_mask):
        masked = kernel(data, key)
        assert masked == reference_mask(data, key)
        assert kernel(masked, key) == data


# Frame.text ------------------------------------------------------------------


def test_frame_fields_are_the_ones_the_scan_kernels_set() -> None:
    # scan_frames builds frames without __init__: a new field must be set there.
    assert Frame.__slots__ == ("opcode", "data", "fin", "rsv1", "rsv2", "rsv3", "text")


def test_frame_text_is_keyword_only_and_not_compared() -> None:
    frame = Frame(OP_TEXT, b"hi", text="hi")
    assert frame.text == "hi"
    assert Frame(OP_TEXT, b"hi").text is None
    assert frame == Frame(OP_TEXT, b"hi")
    assert repr(frame) == repr(Frame(OP_TEXT, b"hi"))
    with pytest.raises(TypeError):
        Frame(OP_TEXT, b"hi", True, False, False, False, "hi")  # type: ignore[misc]


# encode_frame, apply_mask_pieces, scan_frames: both kernels ------------------


def kernels(name: str) -> list[object]:
    """The pure kernel always; the one in use too, compiled when it was built."""
    pure = getattr(frames, f"_{name}_python")
    params = [pytest.param(pure, id="python")]
    if getattr(frames, name) is not pure:
        params.append(pytest.param(getattr(frames, name), id="in-use"))
    return params


def test_load_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "apply_mask", frames._apply_mask_python)
    assert frames._load_kernels() == (
        frames._encode_frame_python,
        frames._scan_frames_python,
        frames._apply_mask_pieces_python,
        frames._check_utf8_python,
    )
    speedups = pytest.importorskip("sansws._speedups")
    monkeypatch.setattr(frames, "apply_mask", speedups.apply_mask)
    assert frames._load_kernels() == (
        speedups.encode_frame,
        speedups.scan_frames,
        speedups.apply_mask_pieces,
        speedups.check_utf8,
    )


@pytest.mark.parametrize("encode", kernels("encode_frame"))
@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536])
@pytest.mark.parametrize("key", [None, RFC_KEY])
def test_encode_frame(encode: Callable[..., bytes], length: int, key: bytes | None) -> None:
    data = bytes(i % 251 for i in range(length))
    expected = encode_header(0x82, length, key)
    expected += data if key is None else reference_mask(data, key)
    assert encode(0x82, data, key) == expected
    assert encode(0x82, memoryview(data), key) == expected


@pytest.mark.parametrize("unmask", kernels("apply_mask_pieces"))
@pytest.mark.parametrize("cuts", [[], [0], [1], [3, 5], [1, 2, 3, 4, 5, 6, 7], [6, 99]])
def test_apply_mask_pieces(unmask: Callable[..., bytes], cuts: list[int]) -> None:
    data = bytes(range(1, 100))
    points = [0, *cuts, len(data)]
    pieces = [memoryview(data)[a:b] for a, b in itertools.pairwise(points)]
    assert unmask(pieces, RFC_KEY) == reference_mask(data, RFC_KEY)


Scan = Callable[[bytes | bytearray | memoryview, int, bool, int, list[Frame]], int]


def frame_bytes(first: int, payload: bytes, key: bytes | None, form: str = "min") -> bytes:
    mask_bit = 0x80 if key is not None else 0
    length = len(payload)
    if form == "16" or (form == "min" and 126 <= length < 65536):
        head = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    elif form == "64" or (form == "min" and length >= 65536):
        head = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    else:
        head = bytes([first, mask_bit | length])
    if key is None:
        return head + payload
    return head + key + reference_mask(payload, key)


@pytest.fixture(params=kernels("scan_frames"))
def scan(request: pytest.FixtureRequest) -> Scan:
    function: Scan = request.param
    return function


@pytest.mark.parametrize("key", [None, RFC_KEY])
@pytest.mark.parametrize("length", [0, 5, 125, 126, 300, 65535, 65536])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_scan_takes_whole_messages(scan: Scan, key: bytes | None, length: int, kind: type) -> None:
    payload = bytes(i % 95 + 32 for i in range(length))
    data = b"xyz" + frame_bytes(0x82, payload, key) + frame_bytes(0x81, payload, key)
    events: list[Frame] = []
    assert scan(kind(data), 3, key is not None, -1, events) == len(data)
    assert events == [Frame(OP_BINARY, payload), Frame(OP_TEXT, payload)]
    assert [type(frame.opcode) for frame in events] == [Opcode, Opcode]
    assert [frame.text for frame in events] == [None, payload.decode()]


@pytest.mark.parametrize(
    ("stop", "cut"),
    [
        pytest.param(b"\x82", True, id="one byte"),
        pytest.param(frame_bytes(0x02, b"a", RFC_KEY), False, id="fragment"),
        pytest.param(frame_bytes(0x80, b"a", RFC_KEY), False, id="continuation"),
        pytest.param(frame_bytes(0x89, b"a", RFC_KEY), False, id="ping"),
        pytest.param(frame_bytes(0x83, b"a", RFC_KEY), False, id="reserved opcode"),
        pytest.param(frame_bytes(0xC1, b"a", RFC_KEY), False, id="rsv1"),
        pytest.param(frame_bytes(0x82, b"a", None), False, id="unmasked"),
        pytest.param(frame_bytes(0x82, b"a", RFC_KEY, "16"), False, id="non-minimal 16"),
        pytest.param(frame_bytes(0x82, b"a" * 200, RFC_KEY, "64"), False, id="non-minimal 64"),
        pytest.param(
            b"\x82\xff" + (1 << 63).to_bytes(8, "big") + RFC_KEY, True, id="64-bit top bit"
        ),
        pytest.param(frame_bytes(0x82, b"a" * 200, RFC_KEY)[:3], True, id="16-bit header cut"),
        pytest.param(frame_bytes(0x82, b"a" * 70000, RFC_KEY)[:9], True, id="64-bit header cut"),
        pytest.param(frame_bytes(0x82, b"a" * 70000, RFC_KEY)[:12], True, id="key cut"),
        pytest.param(frame_bytes(0x82, b"a" * 9, RFC_KEY)[:-1], True, id="payload cut"),
        pytest.param(frame_bytes(0x82, b"a" * 11, RFC_KEY), False, id="over the limit"),
        pytest.param(frame_bytes(0x81, b"\xff", RFC_KEY), False, id="invalid text"),
    ],
)
def test_scan_stops_at_a_frame_for_the_parser(scan: Scan, stop: bytes, cut: bool) -> None:
    data = frame_bytes(0x82, b"ok", RFC_KEY) + stop
    if not cut:
        # What follows the frame is not taken either.
        data += frame_bytes(0x82, b"ok", RFC_KEY)
    events: list[Frame] = []
    assert scan(data, 0, True, 10, events) == 8
    assert events == [Frame(OP_BINARY, b"ok")]


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(frame_bytes(0x82, b"a", RFC_KEY), id="masked"),
        pytest.param(frame_bytes(0x82, b"a" * 200, None)[:-1], id="payload cut"),
    ],
)
def test_scan_stops_at_a_frame_for_the_parser_unmasked(scan: Scan, stop: bytes) -> None:
    events: list[Frame] = []
    assert scan(frame_bytes(0x82, b"ok", None) + stop, 0, False, -1, events) == 4
    assert events == [Frame(OP_BINARY, b"ok")]


CheckUTF8 = Callable[[bytes, bytes | bytearray | memoryview], bytes]


@pytest.fixture(params=kernels("check_utf8"))
def check(request: pytest.FixtureRequest) -> CheckUTF8:
    function: CheckUTF8 = request.param
    return function


@pytest.mark.parametrize(
    ("pending", "data", "rest"),
    [
        (b"", b"", b""),
        (b"", b"plain ASCII text, long enough for words", b""),
        (b"", "café 東京 🙂".encode(), b""),
        (b"", b"ab\xe2\x82", b"\xe2\x82"),
        (b"\xe2", b"\x82", b"\xe2\x82"),
        (b"\xe2\x82", b"\xacz", b""),
        (b"\xf0\x9f", b"\x99\x82", b""),
        (b"", b"\xf4\x8f\xbf", b"\xf4\x8f\xbf"),
        (b"", b"\xed\x9f", b"\xed\x9f"),
    ],
)
def test_check_utf8(check: CheckUTF8, pending: bytes, data: bytes, rest: bytes) -> None:
    assert check(pending, data) == rest
    assert check(pending, memoryview(data)) == rest


@pytest.mark.parametrize(
    ("pending", "data", "reason"),
    [
        (b"", b"\xff", "invalid start byte"),
        (b"", b"abcdefghij\x80", "invalid start byte"),
        (b"", b"\xc0\x80", "invalid start byte"),
        (b"", b"\xe0\x80", "invalid continuation byte"),
        (b"", b"\xed\xa0", "invalid continuation byte"),
        (b"\xed", b"\xa0", "invalid continuation byte"),
        (b"\xf0", b"\x8f", "invalid continuation byte"),
        (b"\xf4\x8f", b"\xc0", "invalid continuation byte"),
        (b"", b"\xf5", "invalid start byte"),
        (b"", b"\xe2\x82a", "invalid continuation byte"),
    ],
)
def test_check_utf8_refuses(check: CheckUTF8, pending: bytes, data: bytes, reason: str) -> None:
    with pytest.raises(UnicodeDecodeError) as info:
        check(pending, data)
    assert info.value.reason == reason
