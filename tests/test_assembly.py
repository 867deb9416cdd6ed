"""sansws.assembly: data frames to messages, with water marks."""

from __future__ import annotations

import pytest

from sansws.assembly import MessageAssembler
from sansws.frames import OP_BINARY, OP_CONT, OP_TEXT, Frame
from sansws.protocol import CLIENT, Protocol


def test_single_frame_messages() -> None:
    assembler = MessageAssembler()
    assert assembler.get_message() is None
    assembler.put(Frame(OP_TEXT, "café".encode()))
    assembler.put(Frame(OP_BINARY, b"\xff"))
    assert assembler.get_message() == "café"
    assert assembler.get_message() == b"\xff"
    assert assembler.get_message() is None


@pytest.mark.parametrize("size", [10, 40_000])  # both decoding strategies
def test_fragmented_text_split_inside_a_character(size: int) -> None:
    data = ("é" * size).encode()
    assembler = MessageAssembler(high=None)
    assembler.put(Frame(OP_TEXT, data[: size + 1], fin=False))  # splits an "é"
    assert assembler.get_message() is None
    assembler.put(Frame(OP_CONT, data[size + 1 :], fin=True))
    assert assembler.get_message() == "é" * size


def test_decode_overrides_the_type() -> None:
    assembler = MessageAssembler()
    assembler.put(Frame(OP_TEXT, b"t", fin=False))
    assembler.put(Frame(OP_CONT, b"u"))
    assembler.put(Frame(OP_BINARY, b"b"))
    assert assembler.get_message(decode=False) == b"tu"
    assert assembler.get_message(decode=True) == "b"
    assembler.put(Frame(OP_BINARY, b"\xff"))
    with pytest.raises(UnicodeDecodeError):
        assembler.get_message(decode=True)


def test_fragments_are_decoded_incrementally() -> None:
    data = "aé".encode()
    assembler = MessageAssembler()
    assembler.put(Frame(OP_TEXT, data[:2], fin=False))
    assembler.put(Frame(OP_CONT, data[2:], fin=True))
    assembler.put(Frame(OP_BINARY, b"x", fin=False))
    assert assembler.in_message() is False
    assert assembler.get_fragment() == ("a", False)
    assert assembler.in_message() is True
    assert assembler.get_fragment() == ("é", True)
    assert assembler.get_fragment() == (b"x", False)
    assert assembler.get_fragment() is None
    assembler.put(Frame(OP_CONT, b"y"))
    assert assembler.get_fragment() == (b"y", True)


def test_get_message_finishes_a_streamed_message() -> None:
    data = "é".encode()
    assembler = MessageAssembler()
    assembler.put(Frame(OP_TEXT, b"a" + data[:1], fin=False))
    assembler.put(Frame(OP_CONT, data[1:], fin=True))
    assert assembler.get_fragment() == ("a", False)
    # The half character kept by the incremental decoder is not lost.
    assert assembler.get_message() == "é"


def test_get_fragment_after_an_interrupted_get_message() -> None:
    assembler = MessageAssembler()
    assembler.put(Frame(OP_BINARY, b"ab", fin=False))
    assert assembler.get_message() is None
    assert assembler.get_fragment() == (b"ab", False)
    assembler.put(Frame(OP_CONT, b"c"))
    assert assembler.get_fragment() == (b"c", True)


def test_water_marks() -> None:
    assembler = MessageAssembler(high=2, low=1)
    assert assembler.put(Frame(OP_BINARY, b"1")) is False
    assert assembler.put(Frame(OP_BINARY, b"2")) is False
    assert assembler.put(Frame(OP_BINARY, b"3")) is True
    assert assembler.paused and assembler.queued == 3
    assert assembler.put(Frame(OP_BINARY, b"4")) is False  # already paused
    assembler.get_message()
    assembler.get_message()
    assert assembler.poll_resume() is False  # 2 queued > low
    assembler.get_message()
    assert assembler.poll_resume() is True
    assert assembler.poll_resume() is False
    assert not assembler.paused


def test_default_low_water_mark_and_no_limit() -> None:
    assembler = MessageAssembler(high=8)
    for _ in range(9):
        assembler.put(Frame(OP_BINARY, b""))
    for _ in range(6):
        assembler.get_message()
    assert assembler.poll_resume() is False  # 3 > 8 // 4
    assembler.get_message()
    assert assembler.poll_resume() is True
    unbounded = MessageAssembler(high=None)
    assert not any(unbounded.put(Frame(OP_BINARY, b"")) for _ in range(1000))


@pytest.mark.parametrize(("high", "low"), [(0, None), (4, 5), (4, -1)])
def test_invalid_water_marks(high: int, low: int | None) -> None:
    with pytest.raises(ValueError):
        MessageAssembler(high, low)


# Frame.text: the core's decoded text is used, not decoded again.


def text_frames(message: str, cuts: list[int]) -> list[Frame]:
    """The frames a Protocol delivers for ``message`` split at byte offsets ``cuts``."""
    protocol = Protocol(CLIENT)
    data = message.encode()
    bounds = [0, *cuts, len(data)]
    wire = b""
    for i in range(len(bounds) - 1):
        opcode = 0x1 if i == 0 else 0x0
        fin = 0x80 if i == len(bounds) - 2 else 0
        payload = data[bounds[i] : bounds[i + 1]]
        assert len(payload) < 126
        wire += bytes([fin | opcode, len(payload)]) + payload
    protocol.receive_data(wire)
    frames = protocol.events_received()
    assert all(isinstance(frame, Frame) and frame.text is not None for frame in frames)
    return frames  # type: ignore[return-value]


def test_text_of_the_frames_is_used() -> None:
    assembler = MessageAssembler()
    # A text that differs from the payload shows which one is used.
    assembler.put(Frame(OP_TEXT, b"payload", text="text"))
    assembler.put(Frame(OP_TEXT, b"pay", fin=False, text="te"))
    assembler.put(Frame(OP_CONT, b"load", text="xt"))
    assert assembler.get_message() == "text"
    assert assembler.get_message() == "text"
    assembler.put(Frame(OP_TEXT, b"pay", fin=False, text="te"))
    assembler.put(Frame(OP_CONT, b"load", text="xt"))
    assert assembler.get_fragment() == ("te", False)
    assert assembler.get_fragment() == ("xt", True)
    # decode=False still gives the payload.
    assembler.put(Frame(OP_TEXT, b"payload", text="text"))
    assert assembler.get_message(decode=False) == b"payload"
    assembler.put(Frame(OP_TEXT, b"pay", fin=False, text="te"))
    assembler.put(Frame(OP_CONT, b"load", text="xt"))
    assert assembler.get_message(decode=False) == b"payload"


def test_frames_without_text_are_decoded() -> None:
    assembler = MessageAssembler()
    # One fragment has text, one has not: the payload is decoded.
    assembler.put(Frame(OP_TEXT, b"a", fin=False, text="a"))
    assembler.put(Frame(OP_CONT, "é".encode()))
    assert assembler.get_message() == "aé"
    assembler.put(Frame(OP_BINARY, "é".encode()))
    assert assembler.get_message(decode=True) == "é"


@pytest.mark.parametrize("cuts", [[], [1], [2], [1, 2, 3], [3, 7]])
def test_messages_from_the_core_split_inside_characters(cuts: list[int]) -> None:
    message = "aé€😀b"
    assembler = MessageAssembler(high=None)
    for frame in text_frames(message, cuts):
        assembler.put(frame)
    assert assembler.get_message() == message
    for frame in text_frames(message, cuts):
        assembler.put(frame)
    fragments = []
    while (item := assembler.get_fragment()) is not None:
        fragments.append(item[0])
    assert "".join(fragments) == message  # type: ignore[arg-type]
    # get_message() interrupted, then get_fragment() for the rest.
    frames = text_frames(message, cuts)
    for frame in frames[:-1]:
        assembler.put(frame)
    assert assembler.get_message() is None
    if len(frames) > 1:
        first = assembler.get_fragment()
        assert first is not None
        assembler.put(frames[-1])
        last = assembler.get_fragment()
        assert last is not None
        assert first[0] + last[0] == message  # type: ignore[operator]
