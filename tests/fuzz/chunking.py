"""What the fuzz targets share: how an input chooses its settings and its chunks.

Every input to ``fuzz_protocol`` and ``fuzz_handshake`` is laid out as::

    flags (1 byte) | chunking seed (2 bytes, big-endian) | the byte stream

The flags pick the side and the settings. The seed picks how the stream is
cut into ``receive_data`` calls: 0 feeds it whole, 1-255 in pieces of that
many bytes, and a larger seed in pieces of random sizes drawn from a
generator seeded with it, so that a given input always runs the same way.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

HEADER_SIZE = 3


def split_input(data: bytes) -> tuple[int, int, bytes]:
    """Return the flags, the chunking seed and the stream of an input."""
    padded = data[:HEADER_SIZE].ljust(HEADER_SIZE, b"\x00")
    return padded[0], int.from_bytes(padded[1:3], "big"), data[HEADER_SIZE:]


def make_input(flags: int, seed: int, stream: bytes) -> bytes:
    """The inverse of :func:`split_input`, for the seed corpus."""
    return bytes([flags]) + seed.to_bytes(2, "big") + stream


def chunks(stream: bytes, seed: int) -> Iterator[bytes]:
    """Cut ``stream`` into the pieces that ``seed`` chooses; never an empty one."""
    if seed == 0:
        if stream:
            yield stream
        return
    if seed < 256:
        for start in range(0, len(stream), seed):
            yield stream[start : start + seed]
        return
    rng = random.Random(seed)
    pos = 0
    while pos < len(stream):
        size = rng.choice((1, 2, 3, rng.randint(1, 64), rng.randint(1, 4096)))
        yield stream[pos : pos + size]
        pos += size


def feed(protocol: Any, checker: Any, stream: bytes, seed: int) -> None:
    """Feed ``stream`` to ``protocol`` in the chunks ``seed`` picks.

    After each chunk, ``checker.received`` counts the bytes fed so far and
    ``checker.step()`` checks what the protocol did with them.
    """
    for chunk in chunks(stream, seed):
        protocol.receive_data(chunk)
        checker.received += len(chunk)
        checker.step()
