"""Hostile frames: lengths past max_size, endless fragments, zip bombs, bad UTF-8.

Each case states its bound: what the peer sees (a close code), Python memory
(tracemalloc, every thread included, the server's too), and where zlib is
involved, the growth of the process's RSS.
"""

from __future__ import annotations

import functools
import os
import struct
import zlib
from collections.abc import Callable

import pytest

from .bounds import KiB, MiB, measured
from .conftest import ServerUnderTest
from .peer import Peer, client_frame, frame_header, mask_bytes

pytestmark = pytest.mark.timeout(60)

StartServer = Callable[..., ServerUnderTest]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE = 0, 1, 2, 8


def send_payload_anyway(peer: Peer, total: int) -> None:
    """Stream ``total`` bytes of payload after a header the server refused.

    The server discards input after a failure and keeps reading until the
    peer closes or ``close_timeout`` ends the connection, so every byte is
    accepted; a reset here would be a server that stopped reading too early.
    """
    chunk = b"\xaa" * (64 * KiB)
    for _ in range(total // len(chunk)):
        peer.send(chunk)


@pytest.mark.parametrize(
    "length",
    [2**63 - 1, 2**20 + 1],
    ids=["2^63-1", "max_size+1"],
)
def test_length_past_max_size_fails_before_any_payload(server: StartServer, length: int) -> None:
    # 2^63-1 has its top bit clear: a legal length (RFC 6455 §5.2), past
    # max_size, so 1009 and not 1002.
    srv = server("echo", max_size=2**20)
    peer = Peer(srv.port)
    peer.open()
    with measured() as memory:
        peer.send(frame_header(OP_BINARY, length, mask=os.urandom(4)))
        close, before = peer.read_until_close()
        send_payload_anyway(peer, 8 * MiB)
    print(f"length {length}: close {close.close_code}, Python peak {memory.peak_python}")
    assert before == []
    assert close.close_code == 1009
    # Bound: nothing of the 8 MiB sent is kept; what is traced is the
    # transport's read chunks (256 KiB each) in flight.
    assert memory.peak_python < 1 * MiB, memory.peak_python
    peer.close()
    srv.wait_ended(0)
    assert srv.close_info(0) == (1009, None)


def test_endless_continuation_frames_are_bounded_by_max_size(server: StartServer) -> None:
    max_size = 256 * KiB
    srv = server("echo", max_size=max_size)
    peer = Peer(srv.port)
    peer.open()
    fragment = b"\x01" * (16 * KiB)
    with measured() as memory:
        peer.send(client_frame(OP_BINARY, fragment, fin=False))
        # 4 MiB of continuations, sixteen times max_size, never a FIN.
        for _ in range(255):
            peer.send(client_frame(OP_CONT, fragment, fin=False))
        close, before = peer.read_until_close()
    print(f"endless continuations: close {close.close_code}, Python peak {memory.peak_python}")
    assert before == []
    assert close.close_code == 1009
    # The failure comes at the 17th fragment, the first past 256 KiB.
    assert f"{17 * 16 * KiB}+ bytes".encode() in close.payload, close.payload
    assert memory.peak_python < max_size + 1 * MiB, memory.peak_python
    peer.close()
    srv.wait_ended(0)
    assert srv.close_info(0) == (1009, None)


@functools.cache
def zip_bomb() -> bytes:
    """1 GiB of zeros as raw DEFLATE, ending with a sync flush, tail stripped.

    Each MiB is sync-flushed, so once the window is full of zeros every MiB
    compresses to the same bytes: two compressions and a repetition build
    the whole bomb in milliseconds instead of seconds. About 1 MiB.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MiB)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeat = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH) == repeat
    sample = zlib.decompressobj(-15).decompress(first + repeat * 3)
    assert sample == bytes(4 * MiB)
    return (first + repeat * 1023)[:-4]


def open_compressed(srv: ServerUnderTest) -> Peer:
    peer = Peer(srv.port)
    head = peer.open(b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert b"permessage-deflate" in head, head
    return peer


@pytest.mark.parametrize("framing", ["one frame", "64 KiB fragments"])
def test_decompression_bomb_stops_at_max_size(server: StartServer, framing: str) -> None:
    bomb = zip_bomb()
    assert 900 * KiB < len(bomb) < 1100 * KiB
    max_size = 2 * MiB  # one frame of the bomb must pass the header check
    srv = server("echo", compression="deflate", max_size=max_size)
    peer = open_compressed(srv)
    if framing == "one frame":
        frames = [client_frame(OP_BINARY, bomb, rsv1=True)]
    else:
        step = 64 * KiB
        pieces = [bomb[i : i + step] for i in range(0, len(bomb), step)]
        frames = [client_frame(OP_BINARY, pieces[0], rsv1=True, fin=False)]
        frames += [client_frame(OP_CONT, p, fin=False) for p in pieces[1:-1]]
        frames.append(client_frame(OP_CONT, pieces[-1]))
    with measured(sample_rss=True) as memory:
        for frame in frames:
            peer.send(frame)
        close, before = peer.read_until_close()
    print(
        f"zip bomb in {framing}: close {close.close_code}, Python peak {memory.peak_python}, "
        f"RSS peak growth {memory.peak_rss}"
    )
    assert before == []
    assert close.close_code == 1009
    # Bound: inflating stopped one byte past max_size. Python memory: the
    # bomb as received (1 MiB), its unmasked copy, max_size of output and
    # read chunks; RSS: that plus zlib's window. 1 GiB would be inflated
    # without the bound.
    assert memory.peak_python < 3 * max_size + 2 * MiB, memory.peak_python
    assert memory.peak_rss < 64 * MiB, memory.peak_rss
    peer.close()
    srv.wait_ended(0)
    assert srv.close_info(0) == (1009, None)


def test_valid_text_split_inside_a_character_is_echoed(server: StartServer) -> None:
    # The control case for the next one: the split alone is not an error.
    srv = server("echo")
    peer = Peer(srv.port)
    peer.open()
    peer.send(client_frame(OP_TEXT, b"caf\xc3", fin=False))
    peer.send(client_frame(OP_CONT, b"\xa9"))
    frame = peer.read_frame()
    assert (frame.opcode, frame.payload) == (OP_TEXT, "café".encode())
    peer.close()


@pytest.mark.parametrize(
    "frames",
    [
        [client_frame(OP_TEXT, b"ok \xff")],
        [client_frame(OP_TEXT, b"\xed\xa0\x80")],  # an encoded surrogate
        [client_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye \xc3\x28")],
    ],
    ids=["text", "surrogate", "close reason"],
)
def test_invalid_utf8_fails_with_1007(server: StartServer, frames: list[bytes]) -> None:
    srv = server("echo")
    peer = Peer(srv.port)
    peer.open()
    for frame in frames:
        peer.send(frame)
    close, before = peer.read_until_close()
    assert before == []
    assert close.close_code == 1007
    # The server closes TCP first after a failure (RFC 6455 §7.1.1).
    assert peer.expect_end() == "eof"
    peer.close()
    srv.wait_ended(0)
    assert srv.close_info(0) == (1007, None)


def test_invalid_utf8_fails_at_the_fragment_that_brings_it(server: StartServer) -> None:
    srv = server("echo")
    peer = Peer(srv.port)
    peer.open()
    peer.send(client_frame(OP_TEXT, b"caf\xc3", fin=False))  # a valid prefix
    assert peer.nothing_within(0.3)
    peer.send(client_frame(OP_CONT, b"\x28 and more", fin=False))  # no FIN yet
    close, before = peer.read_until_close()
    assert before == []
    assert close.close_code == 1007
    peer.close()
    srv.wait_ended(0)
    assert srv.close_info(0) == (1007, None)


def test_invalid_utf8_fails_before_the_rest_of_its_frame(server: StartServer) -> None:
    srv = server("echo")
    peer = Peer(srv.port)
    peer.open()
    key = os.urandom(4)
    payload = b"abc\xffdef" + b"x" * (64 * KiB)
    frame = frame_header(OP_TEXT, len(payload), mask=key) + mask_bytes(payload, key)
    peer.send(frame[:1024])  # header and the bad byte; 63 KiB never come
    close, before = peer.read_until_close()
    assert before == []
    assert close.close_code == 1007
    peer.close()
