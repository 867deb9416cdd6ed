"""Frames and close codes: the vocabulary of RFC 6455 §5 and §7.4.

This module holds the values that cross the wire and the small, pure
functions that encode them:

- :class:`Opcode` and its ``OP_*`` aliases (§5.2, §11.8);
- :class:`CloseCode`, every code in the IANA "WebSocket Close Code Number
  Registry" (§7.4, §11.7);
- :class:`Frame`, one frame as the application sees it, after unmasking;
- :class:`Close`, the payload of a Close frame (§5.5.1);
- :func:`encode_header` and :func:`apply_mask`, the two byte-level kernels
  of the send path (§5.2, §5.3), and :func:`encode_frame`, both at once
  for a small frame;
- :func:`scan_frames`, the parser's fast path for whole messages in one
  frame, and :func:`apply_mask_pieces` and :func:`check_utf8`, unmasking
  and validation of a payload that arrives over several reads.

Each kernel has a pure-Python form here and a compiled one in
``sansws._speedups``; the compiled one is used when it was built, unless
``SANSWS_NO_SPEEDUPS`` is set. Both compute the same results.

Parsing lives in :mod:`sansws.protocol`, because whether a header is legal
depends on the connection's state (fragmentation, side, negotiated
extensions), and the parser runs in one tight loop over a whole buffer.
:func:`scan_frames` takes only the frames that need no decision from that
state, and leaves every other frame to the parser.
"""

from __future__ import annotations

import codecs
import enum
import os
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ProtocolError

__all__ = [
    "OK_CLOSE_CODES",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "Close",
    "CloseCode",
    "Frame",
    "Opcode",
    "apply_mask",
    "apply_mask_pieces",
    "check_utf8",
    "encode_frame",
    "encode_header",
    "is_sendable_close_code",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 §5.2). 0x3-0x7 and 0xB-0xF are reserved."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """Control frames have the high bit of the opcode set (§5.5)."""
        return self >= 0x8


OP_CONT = Opcode.CONT
OP_TEXT = Opcode.TEXT
OP_BINARY = Opcode.BINARY
OP_CLOSE = Opcode.CLOSE
OP_PING = Opcode.PING
OP_PONG = Opcode.PONG

# Indexed by the 4-bit opcode so that the parser turns an int into an Opcode
# with a list lookup instead of an enum constructor call; None marks the
# reserved opcodes.
OPCODES: tuple[Opcode | None, ...] = tuple(
    Opcode(i) if i in Opcode._value2member_map_ else None for i in range(16)
)


class CloseCode(enum.IntEnum):
    """Close codes registered with IANA (RFC 6455 §7.4.1 and §11.7)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    # 1004 is reserved.
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


_CLOSE_CODE_EXPLANATIONS: dict[int, str] = {
    1000: "OK",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status received [internal]",
    1006: "connection closed abnormally [internal]",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure [internal]",
}

# Codes that may appear in a Close frame on the wire (§7.4.1, §7.4.2):
# 1005, 1006 and 1015 are for reporting only, and 1004 is reserved.
_SENDABLE_REGISTERED = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)

#: Close codes that count as a clean closure for ``Protocol.close_exc``.
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})


def is_sendable_close_code(code: int) -> bool:
    """Tell whether ``code`` may be carried by a Close frame (RFC 6455 §7.4).

    Registered codes other than 1004, 1005, 1006 and 1015 are allowed, and
    so are 3000-3999 (registered by libraries and frameworks) and 4000-4999
    (private use). Everything else, 0-999 and the unassigned parts of
    1000-2999 included, is refused.
    """
    return code in _SENDABLE_REGISTERED or 3000 <= code < 5000


@dataclass(slots=True)
class Frame:
    """One WebSocket frame, unmasked (RFC 6455 §5.2).

    Attributes:
        opcode: the frame's opcode.
        data: the payload, unmasked and, if an extension applies, decoded.
        fin: True on the last frame of a message.
        rsv1, rsv2, rsv3: reserved bits; only a negotiated extension may
            set them (§5.2, §9).
        text: the payload decoded from UTF-8, when the frame carries text and
            :class:`~sansws.protocol.Protocol` decoded it while checking it
            (§8.1); else None. It is set on every Text frame and every
            Continuation frame of a Text message that a ``Protocol``
            delivers: for a whole message in one frame, the message; for a
            fragment, the characters completed by this fragment (a character
            split across two fragments belongs to the second), so joining
            the ``text`` of a message's frames gives the message. Keep it to
            avoid decoding the payload a second time. It is keyword-only,
            defaults to None, and takes no part in ``==`` or ``repr()``.
    """

    opcode: Opcode
    data: bytes
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False
    text: str | None = field(default=None, compare=False, repr=False, kw_only=True)

    def __str__(self) -> str:
        """A short description for logs: kind, a preview of the payload, size."""
        size = len(self.data)
        if self.opcode is OP_TEXT:
            preview = repr(bytes(self.data[:60]).decode("utf-8", "replace"))
        elif self.opcode is OP_CLOSE:
            try:
                preview = str(Close.parse(self.data))
            except (ProtocolError, UnicodeDecodeError):
                preview = bytes(self.data[:30]).hex()
        else:
            preview = bytes(self.data[:30]).hex()
        flags = "" if self.fin else " [continued]"
        return f"{self.opcode.name} {preview} [{size} bytes]{flags}"


@dataclass(slots=True)
class Close:
    """The payload of a Close frame (RFC 6455 §5.5.1).

    Attributes:
        code: the close code; 1005 stands for an empty payload.
        reason: the close reason, at most 123 bytes once encoded in UTF-8.
    """

    code: int
    reason: str

    def __str__(self) -> str:
        explanation = _CLOSE_CODE_EXPLANATIONS.get(self.code)
        if explanation is None:
            if 3000 <= self.code < 4000:
                explanation = "registered"
            elif 4000 <= self.code < 5000:
                explanation = "private use"
            else:
                explanation = "unknown"
        text = f"{self.code} ({explanation})"
        if self.reason:
            text = f"{text} {self.reason}"
        return text

    @classmethod
    def parse(cls, data: bytes) -> Close:
        """Parse the payload of a Close frame.

        An empty payload gives ``Close(1005, "")`` (§7.1.5).

        Raises:
            ProtocolError: the payload is one byte long, or the code may not
                be sent on the wire.
            UnicodeDecodeError: the reason is not valid UTF-8 (close with
                1007, §8.1).
        """
        if len(data) >= 2:
            code = (data[0] << 8) | data[1]
            reason = bytes(data[2:]).decode()
            if not is_sendable_close_code(code):
                raise ProtocolError(f"invalid close code {code}")
            return cls(code, reason)
        if len(data) == 0:
            return cls(CloseCode.NO_STATUS_RCVD, "")
        raise ProtocolError("close frame payload of 1 byte")

    def check(self) -> None:
        """Check that this close may be sent (§5.5, §7.4).

        Raises:
            ProtocolError: the code may not be sent, or the reason makes the
                payload longer than the 125 bytes of a control frame.
        """
        if not is_sendable_close_code(self.code):
            raise ProtocolError(f"invalid close code {self.code}")
        if len(self.reason.encode()) > 123:
            raise ProtocolError("close reason longer than 123 bytes")

    def serialize(self) -> bytes:
        """Encode this close as a Close frame payload, after :meth:`check`."""
        self.check()
        return struct.pack("!H", self.code) + self.reason.encode()


_pack_medium = struct.Struct("!BBH").pack
_pack_large = struct.Struct("!BBQ").pack


def encode_header(first_byte: int, length: int, mask_key: bytes | None) -> bytes:
    """Encode a frame header, with the shortest length form (RFC 6455 §5.2).

    Args:
        first_byte: FIN, RSV1-3 and the opcode, as the first octet.
        length: the payload length.
        mask_key: the 4-byte masking key of a client frame, None for a
            server frame.

    Returns:
        The 2 to 14 bytes that precede the payload.
    """
    mask_bit = 0x80 if mask_key is not None else 0
    if length < 126:
        header = bytes((first_byte, mask_bit | length))
    elif length < 0x10000:
        header = _pack_medium(first_byte, mask_bit | 126, length)
    else:
        header = _pack_large(first_byte, mask_bit | 127, length)
    if mask_key is not None:
        header += mask_key
    return header


def _apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` (RFC 6455 §5.3).

    Masking and unmasking are the same operation. Python's big integers do
    the XOR a machine word at a time, which makes this the fastest pure
    Python form by a wide margin over a loop on bytes.
    """
    length = len(data)
    if length == 0:
        return b""
    repeated = mask * ((length + 3) >> 2)
    if len(repeated) != length:
        repeated = repeated[:length]
    return (int.from_bytes(data, sys.byteorder) ^ int.from_bytes(repeated, sys.byteorder)).to_bytes(
        length, sys.byteorder
    )


def _apply_mask_pieces_python(
    pieces: Sequence[bytes | bytearray | memoryview], mask: bytes
) -> bytes:
    """Unmask the concatenation of ``pieces`` (RFC 6455 §5.3).

    The compiled kernel does it in one pass, the mask carrying on from one
    piece to the next; here the pieces are joined first.
    """
    return _apply_mask_python(b"".join(pieces), mask)


# For masking payloads of n < 126 bytes in _scan_frames_python: the key as a
# little-endian int times _REPEAT[n] covers the payload, _LOW[n] cuts it.
_REPEAT = [sum(1 << (32 * i) for i in range((n + 3) >> 2)) for n in range(126)]
_LOW = [(1 << (8 * n)) - 1 for n in range(126)]


def _encode_frame_python(
    first_byte: int, data: bytes | bytearray | memoryview, mask_key: bytes | None
) -> bytes:
    """Encode a whole frame into one bytes object (RFC 6455 §5.2, §5.3).

    Args:
        first_byte: FIN, RSV1-3 and the opcode, as the first octet.
        data: the payload.
        mask_key: the 4-byte masking key of a client frame, None for a
            server frame.

    Returns:
        The header, then the payload, masked with ``mask_key`` if given.
    """
    length = len(data)
    if mask_key is None:
        return encode_header(first_byte, length, None) + data
    if length < 126:
        # As in _scan_frames_python: the key times _REPEAT covers the payload.
        key = int.from_bytes(mask_key, "little")
        return (
            bytes((first_byte, 0x80 | length))
            + mask_key
            + ((int.from_bytes(data, "little") ^ key * _REPEAT[length]) & _LOW[length]).to_bytes(
                length, "little"
            )
        )
    return encode_header(first_byte, length, mask_key) + apply_mask(data, mask_key)


_UTF8Decoder = codecs.getincrementaldecoder("utf-8")


def _check_utf8_tail(decoder: codecs.IncrementalDecoder) -> None:
    """Refuse a pending UTF-8 sequence that no continuation can make valid.

    CPython's incremental decoder refuses an invalid second byte as soon as
    it arrives, except after 0xED: it holds ``ED A0``-``ED BF``, the start of
    an encoded surrogate, until the third byte comes. §8.1 wants the frame
    that brings the bad byte to fail, so check the bytes it holds.

    Raises:
        UnicodeDecodeError: the pending bytes start a surrogate.
    """
    pending = decoder.getstate()[0]
    if len(pending) == 2 and pending[0] == 0xED and pending[1] >= 0xA0:
        raise UnicodeDecodeError("utf-8", pending, 0, 2, "invalid continuation byte")


def _check_utf8_python(pending: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """Validate ``data`` as UTF-8 text that continues after ``pending``.

    Args:
        pending: the incomplete character that ended the text so far, b""
            if none.
        data: the next bytes of the text.

    Returns:
        The incomplete character at the end of ``data``, b"" if none.

    Raises:
        UnicodeDecodeError: a byte that no continuation can make valid.
    """
    decoder = _UTF8Decoder()
    decoder.setstate((pending, 0))
    decoder.decode(data, False)
    _check_utf8_tail(decoder)
    return decoder.getstate()[0]


def _scan_frames_python(
    buffer: bytes | bytearray | memoryview,
    pos: int,
    masked: bool,
    limit: int,
    events: list[Any],
) -> int:
    """Take the whole messages in one frame at the start of ``buffer[pos:]``.

    The parser's fast path (see ``Protocol._parse``). From offset ``pos``,
    take every complete frame that needs no decision from the connection's
    state: FIN set, RSV1-3 clear, opcode Text or Binary, masked if and only
    if ``masked``, minimal length encoding, a length of at most ``limit``
    (no limit if negative), and for Text a payload of valid UTF-8. Append
    each to ``events`` as a :class:`Frame`, with :attr:`Frame.text` set for
    Text. Stop at the first frame that is anything else, incomplete or
    invalid included, and leave it to the parser, which checks it and
    reports errors.

    Returns:
        The offset of the first frame not taken.
    """
    size = len(buffer)
    append = events.append
    new = object.__new__
    from_bytes = int.from_bytes
    mask_bit = 0x80 if masked else 0
    while size - pos >= 2:
        first = buffer[pos]
        second = buffer[pos + 1]
        if (first != 0x82 and first != 0x81) or second & 0x80 != mask_bit:
            break
        length = second & 0x7F
        start = pos + 2
        if length == 126:
            start = pos + 4
            if size < start:
                break
            length = buffer[pos + 2] << 8 | buffer[pos + 3]
            if length < 126:
                break
        elif length == 127:
            start = pos + 10
            if size < start:
                break
            length = from_bytes(buffer[pos + 2 : start], "big")
            if length >> 63 or length < 0x10000:
                break
        if 0 <= limit < length:
            break
        if masked:
            start += 4
            end = start + length
            if size < end:
                break
            if length < 126:
                # Small payloads: one multiplication repeats the key over
                # the payload, which beats building the repeated key.
                payload = (
                    (
                        from_bytes(buffer[start:end], "little")
                        ^ from_bytes(buffer[start - 4 : start], "little") * _REPEAT[length]
                    )
                    & _LOW[length]
                ).to_bytes(length, "little")
            else:
                payload = apply_mask(buffer[start:end], bytes(buffer[start - 4 : start]))
        else:
            end = start + length
            if size < end:
                break
            payload = bytes(buffer[start:end])
        # Frame's __init__ is skipped, as in the compiled kernel: setting
        # the slots directly costs a third less. Every field is set.
        frame = new(Frame)
        if first == 0x81:
            try:
                frame.text = payload.decode()
            except UnicodeDecodeError:
                break
            frame.opcode = OP_TEXT
        else:
            frame.text = None
            frame.opcode = OP_BINARY
        frame.data = payload
        frame.fin = True
        frame.rsv1 = frame.rsv2 = frame.rsv3 = False
        append(frame)
        pos = end
    return pos


def _load_apply_mask() -> Callable[[bytes | bytearray | memoryview, bytes], bytes]:
    """Pick the masking kernel: the compiled one when it was built and
    ``SANSWS_NO_SPEEDUPS`` is not set in the environment, else the pure one.
    """
    if os.environ.get("SANSWS_NO_SPEEDUPS"):
        return _apply_mask_python
    try:
        from ._speedups import apply_mask as compiled
    except ImportError:  # pragma: no cover - depends on the build
        return _apply_mask_python
    return compiled


#: The masking kernel in use, chosen once at import time.
apply_mask = _load_apply_mask()

CheckUTF8 = Callable[[bytes, bytes | bytearray | memoryview], bytes]
EncodeFrame = Callable[[int, bytes | bytearray | memoryview, bytes | None], bytes]
ScanFrames = Callable[[bytes | bytearray | memoryview, int, bool, int, list[Any]], int]
ApplyMaskPieces = Callable[[Sequence[bytes | bytearray | memoryview], bytes], bytes]


def _load_kernels() -> tuple[EncodeFrame, ScanFrames, ApplyMaskPieces, CheckUTF8]:
    """Pick :func:`encode_frame`, :func:`scan_frames`, :func:`apply_mask_pieces`
    and :func:`check_utf8`: compiled if :func:`apply_mask` is, else pure.
    """
    if apply_mask is _apply_mask_python:
        return (
            _encode_frame_python,
            _scan_frames_python,
            _apply_mask_pieces_python,
            _check_utf8_python,
        )
    from . import _speedups

    _speedups.register_frame(Frame, OP_TEXT, OP_BINARY)
    return (
        _speedups.encode_frame,
        _speedups.scan_frames,
        _speedups.apply_mask_pieces,
        _speedups.check_utf8,
    )


#: The send path's kernel for small frames, the parser's fast path, the
#: unmasking of a payload in pieces, and UTF-8 validation without decoding,
#: chosen once at import time, compiled or pure like :data:`apply_mask`.
encode_frame, scan_frames, apply_mask_pieces, check_utf8 = _load_kernels()
