"""Inputs for the benchmarks: payloads and the wire bytes that carry them.

The wire bytes are built here, by a tiny frame encoder of our own, so that
no implementation under test also produces the input it is timed on.
"""

from __future__ import annotations

import random
import sys
import zlib

KIB = 1024
MIB = 1024 * 1024

# Words for text-like payloads. A few carry multi-byte UTF-8 (2, 3 and 4 bytes
# per character), so that decoding text is not the pure-ASCII fast path.
_WORD_TEXT = (
    "the of and to in is was for on that with by as at from his her an are this which be "
    "or had it not but have were has all their one been its new more than who first after "
    "message socket frame server client window deflate buffer stream close ping pong "
    '{ } [ ] : , "id": "name": "value": 1234 56.78 true false null '
    "café naïve über señor 東京 日本語 € ½ 🙂"
)
_WORDS = tuple(_WORD_TEXT.split())


def text_payload(size: int, seed: int = 0) -> bytes:
    """Return ``size`` bytes of valid UTF-8 that reads like chat or JSON text.

    About 3.5% of the characters (9% of the bytes) are multi-byte. The result is cut at a
    character boundary and padded with spaces to exactly ``size`` bytes.
    """
    rng = random.Random(seed)
    words: list[str] = []
    total = 0
    while total < size:
        word = rng.choice(_WORDS)
        words.append(word)
        total += len(word.encode()) + 1
    data = " ".join(words).encode()[:size]
    # Drop a partial character at the end, then pad back to the exact size.
    data = data.decode("utf-8", "ignore").encode()
    return data + b" " * (size - len(data))


def binary_payload(size: int, seed: int = 0) -> bytes:
    """Return ``size`` pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def xor_mask(data: bytes, key: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``key`` (RFC 6455 §5.3)."""
    if not data:
        return b""
    length = len(data)
    repeated = (key * (length // 4 + 1))[:length]
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    return mixed.to_bytes(length, "little")


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """Encode one frame with the shortest length form; mask it if a key is given."""
    first = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    mask_bit = 0x80 if mask_key is not None else 0
    length = len(payload)
    if length < 126:
        header = bytes((first, mask_bit | length))
    elif length < 0x10000:
        header = bytes((first, mask_bit | 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + length.to_bytes(8, "big")
    if mask_key is None:
        return header + payload
    return header + mask_key + xor_mask(payload, mask_key)


def client_stream(messages: list[tuple[int, bytes, bool, bool]], seed: int = 1) -> bytes:
    """Concatenate masked frames ``(opcode, payload, fin, rsv1)`` as a client sends them."""
    rng = random.Random(seed)
    return b"".join(
        encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask_key=rng.randbytes(4))
        for opcode, payload, fin, rsv1 in messages
    )


def split(data: bytes, chunk: int) -> list[bytes]:
    """Cut ``data`` into reads of ``chunk`` bytes, as a socket would hand them over."""
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


def deflate_messages(payloads: list[bytes]) -> list[bytes]:
    """Compress each payload as permessage-deflate does with context takeover.

    Level 6, memLevel 8, 15 window bits, raw deflate; each message ends
    with a sync flush whose ``00 00 ff ff`` tail is removed (RFC 7692 §7.2.1).
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    out = []
    for payload in payloads:
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        out.append(data[:-4])
    return out


def platform_summary() -> str:
    """One line naming the Python build."""
    return f"Python {sys.version.split()[0]} ({sys.implementation.name})"
