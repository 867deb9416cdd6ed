"""sansws.assembly: data frames to messages, with water marks."""

from __future__ import annotations

import pytest

from sansws.assembly import MessageAssembler
from sansws.frames import OP_BINARY, OP_CONT, OP_TEXT, Frame


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
