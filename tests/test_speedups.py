"""The compiled kernels compute exactly what the pure-Python ones compute."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sansws.protocol as protocol_module
from sansws import frames
from sansws.frames import Frame

speedups = pytest.importorskip("sansws._speedups")
# Done at import unless SANSWS_NO_SPEEDUPS is set; these tests use it anyway.
speedups.register_frame(Frame, frames.OP_TEXT, frames.OP_BINARY)


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 §5.3, byte by byte: octet i XOR mask octet i MOD 4."""
    return bytes(octet ^ mask[i % 4] for i, octet in enumerate(data))


def test_compiled_kernel_is_in_use_unless_disabled() -> None:
    names = ["apply_mask", "apply_mask_pieces", "encode_frame", "scan_frames"]
    if os.environ.get("SANSWS_NO_SPEEDUPS"):
        for name in names:
            assert getattr(frames, name) is getattr(frames, f"_{name}_python")
    else:
        for name in names:
            assert getattr(frames, name) is getattr(speedups, name)


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 125, 126, 65535, 65536])
def test_mask_every_tail_length(length: int) -> None:
    data = os.urandom(length)
    key = os.urandom(4)
    expected = reference_mask(data, key)
    assert speedups.apply_mask(data, key) == expected
    assert frames._apply_mask_python(data, key) == expected


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_kernels_agree(data: bytes, key: bytes) -> None:
    assert speedups.apply_mask(data, key) == frames._apply_mask_python(data, key)


def test_mask_is_an_involution_on_large_buffers() -> None:
    data = os.urandom(1 << 20)
    key = b"\x01\x02\x03\x04"
    masked = speedups.apply_mask(data, key)
    assert masked != data
    assert speedups.apply_mask(masked, key) == data


def test_buffer_protocol_inputs() -> None:
    key = b"\xaa\xbb\xcc\xdd"
    data = bytearray(b"some payload bytes")
    expected = reference_mask(bytes(data), key)
    assert speedups.apply_mask(data, key) == expected
    assert speedups.apply_mask(memoryview(data)[0:], key) == expected
    assert speedups.apply_mask(memoryview(b"xx" + bytes(data))[2:], key) == expected


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"data", b"abc")
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        speedups.apply_mask("text", b"abcd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data", 1234)  # type: ignore[arg-type]


# encode_frame, apply_mask_pieces -------------------------------------------


@given(
    st.integers(0, 255),
    st.binary(max_size=300) | st.sampled_from([bytes(125), bytes(126), bytes(65535), bytes(65536)]),
    st.none() | st.binary(min_size=4, max_size=4),
)
def test_encode_frame_agrees(first: int, data: bytes, key: bytes | None) -> None:
    assert speedups.encode_frame(first, data, key) == frames._encode_frame_python(first, data, key)


def test_encode_frame_bad_arguments() -> None:
    with pytest.raises(TypeError):
        speedups.encode_frame(0x82, b"")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="range"):
        speedups.encode_frame(256, b"", None)
    with pytest.raises(ValueError, match="range"):
        speedups.encode_frame(-1, b"", None)
    with pytest.raises(TypeError):
        speedups.encode_frame("x", b"", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.encode_frame(0x82, "text", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.encode_frame(0x82, b"", 1234)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.encode_frame(0x82, b"", b"abc")


@given(st.binary(max_size=300), st.lists(st.integers(0, 300)), st.binary(min_size=4, max_size=4))
def test_apply_mask_pieces_agrees(data: bytes, cuts: list[int], key: bytes) -> None:
    points = sorted({0, len(data), *(min(cut, len(data)) for cut in cuts)})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    expected = reference_mask(data, key)
    assert speedups.apply_mask_pieces(pieces, key) == expected
    assert frames._apply_mask_pieces_python(pieces, key) == expected


def test_apply_mask_pieces_on_large_pieces() -> None:
    data = os.urandom(300_000)
    pieces = [memoryview(data)[:65537], bytearray(data[65537:200_001]), data[200_001:]]
    assert speedups.apply_mask_pieces(pieces, b"abcd") == speedups.apply_mask(data, b"abcd")


def test_apply_mask_pieces_bad_arguments() -> None:
    with pytest.raises(TypeError):
        speedups.apply_mask_pieces([b""])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="sequence"):
        speedups.apply_mask_pieces(1, b"abcd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.apply_mask_pieces([b""], 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask_pieces([b""], b"abc")
    with pytest.raises(TypeError):
        speedups.apply_mask_pieces(["text"], b"abcd")  # type: ignore[list-item]


# scan_frames ----------------------------------------------------------------


@st.composite
def scan_inputs(draw: st.DrawFn) -> tuple[bytes, int, bool, int]:
    """Frames as a peer might send them, mostly whole messages, sometimes not."""
    masked = draw(st.booleans())
    data = draw(st.binary(max_size=3))
    for _ in range(draw(st.integers(0, 6))):
        first = draw(st.sampled_from([0x81, 0x82]) | st.integers(0, 255))
        if first & 0x0F == 1 and draw(st.booleans()):
            payload = draw(st.text(max_size=40)).encode()
        else:
            payload = draw(st.binary(max_size=300) | st.sampled_from([bytes(126), bytes(65536)]))
        key = draw(st.binary(min_size=4, max_size=4))
        use_key = masked if draw(st.integers(0, 9)) else not masked
        length = len(payload)
        form = draw(st.sampled_from(["min"] * 8 + ["16", "64"]))
        if length >= 65536:
            form = "min"
        mask_bit = 0x80 if use_key else 0
        if form == "16" or (form == "min" and 126 <= length < 65536):
            head = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
        elif form == "64" or (form == "min" and length >= 65536):
            head = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
        else:
            head = bytes([first, mask_bit | length])
        data += head + (key + reference_mask(payload, key) if use_key else payload)
    data = data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
    pos = draw(st.integers(0, len(data)))
    limit = draw(st.sampled_from([-1, 0, 10, 125, 2**20]))
    return data, pos, masked, limit


@given(scan_inputs())
def test_scan_frames_agrees(case: tuple[bytes, int, bool, int]) -> None:
    data, pos, masked, limit = case
    for kind in (bytes, bytearray, memoryview):
        compiled: list[Frame] = []
        pure: list[Frame] = []
        assert speedups.scan_frames(kind(data), pos, masked, limit, compiled) == (
            frames._scan_frames_python(kind(data), pos, masked, limit, pure)
        )
        assert compiled == pure
        assert [(type(f.opcode), type(f.data), f.text) for f in compiled] == [
            (type(f.opcode), type(f.data), f.text) for f in pure
        ]


@given(scan_inputs(), st.lists(st.integers(0, 2000), max_size=6))
def test_protocol_gives_the_same_results_with_either_kernel(
    case: tuple[bytes, int, bool, int], cuts: list[int]
) -> None:
    data, _, masked, _ = case
    side = protocol_module.SERVER if masked else protocol_module.CLIENT
    points = sorted({0, len(data), *(min(cut, len(data)) for cut in cuts)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]

    def run() -> object:
        protocol = protocol_module.Protocol(side, max_size=1000)
        events: list[object] = []
        for chunk in chunks:
            protocol.receive_data(chunk)
        events = protocol.events_received()
        return (
            events,
            [getattr(event, "text", None) for event in events],
            protocol.data_to_send(),
            protocol.state,
            repr(protocol.parser_exc),
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol_module, "_mask_key_pool", [])
        patch.setattr(protocol_module, "_next_mask_key", lambda: b"abcd")
        patch.setattr(protocol_module, "scan_frames", speedups.scan_frames)
        with_compiled = run()
        patch.setattr(protocol_module, "scan_frames", frames._scan_frames_python)
        assert run() == with_compiled


def test_scan_frames_bad_arguments() -> None:
    events: list[Frame] = []
    with pytest.raises(TypeError):
        speedups.scan_frames(b"", 0, True, -1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        speedups.scan_frames(b"", "0", True, -1, events)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.scan_frames(b"", 0, True, "-1", events)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list"):
        speedups.scan_frames(b"", 0, True, -1, ())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.scan_frames("text", 0, True, -1, events)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="range"):
        speedups.scan_frames(b"", 1, True, -1, events)
    with pytest.raises(ValueError, match="range"):
        speedups.scan_frames(b"", -1, True, -1, events)

    class Bad:
        def __bool__(self) -> bool:
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        speedups.scan_frames(b"", 0, Bad(), -1, events)  # type: ignore[arg-type]


def test_register_frame_checks_the_class() -> None:
    with pytest.raises(TypeError):
        speedups.register_frame(Frame, 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="Frame class"):
        speedups.register_frame(1, 1, 2)  # type: ignore[arg-type]

    class WithDict:
        pass

    with pytest.raises(TypeError, match="__slots__"):
        speedups.register_frame(WithDict, 1, 2)  # type: ignore[arg-type]

    class MissingSlot:
        __slots__ = ("data", "opcode")

    with pytest.raises(AttributeError):
        speedups.register_frame(MissingSlot, 1, 2)  # type: ignore[arg-type]

    class NotASlot:
        __slots__ = ("data", "fin", "opcode", "rsv1", "rsv2", "rsv3")
        text = None

    with pytest.raises(TypeError, match="text is not a writable slot"):
        speedups.register_frame(NotASlot, 1, 2)  # type: ignore[arg-type]
    # The failures left the registered class in place.
    events: list[Frame] = []
    speedups.scan_frames(b"\x82\x00", 0, False, -1, events)
    assert events == [Frame(frames.OP_BINARY, b"")]


# check_utf8 -------------------------------------------------------------------


def utf8_outcome(function: object, text: bytes, cuts: list[int]) -> object:
    """Feed ``text`` in pieces; return the pending bytes or the error's reason."""
    points = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    pending = b""
    try:
        for a, b in itertools.pairwise(points):
            pending = function(pending, text[a:b])  # type: ignore[operator]
    except UnicodeDecodeError as exc:
        return ("error", a, exc.reason)
    return pending


@given(
    st.lists(
        st.text().map(str.encode)
        | st.binary(max_size=6)
        | st.sampled_from([b"\xed\xa0\x80", b"\xf4\x90", b"\xe0\x9f", b"\xf0\x8f"]),
        max_size=6,
    ).map(b"".join),
    st.lists(st.integers(0, 100), max_size=5),
)
def test_check_utf8_agrees(text: bytes, cuts: list[int]) -> None:
    assert utf8_outcome(speedups.check_utf8, text, cuts) == utf8_outcome(
        frames._check_utf8_python, text, cuts
    )


def test_check_utf8_agrees_on_every_two_and_three_byte_sequence() -> None:
    for first in range(0x80, 0x100):
        for second in range(0x100):
            data = bytes([first, second])
            assert utf8_outcome(speedups.check_utf8, data, []) == utf8_outcome(
                frames._check_utf8_python, data, []
            ), data
            if 0xE0 <= first <= 0xF4 and 0x80 <= second < 0xC0:
                for third in (0x00, 0x7F, 0x80, 0xBF, 0xC0):
                    data = bytes([first, second, third])
                    assert utf8_outcome(speedups.check_utf8, data, [1]) == utf8_outcome(
                        frames._check_utf8_python, data, [1]
                    ), data


def test_check_utf8_bad_arguments() -> None:
    with pytest.raises(TypeError):
        speedups.check_utf8(b"")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        speedups.check_utf8("x", b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.check_utf8(b"", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 3"):
        speedups.check_utf8(b"\xf0\x90\x80\x80", b"")
    with pytest.raises(ValueError, match="prefix"):
        speedups.check_utf8(b"\xff", b"")
    with pytest.raises(ValueError, match="prefix"):
        speedups.check_utf8(b"\xe0\x80", b"")
