"""A hostile WebSocket peer driven by hand over a blocking socket on 127.0.0.1.

Nothing here is a WebSocket implementation to trust: it writes exactly the
bytes a test asks for, including the ones RFC 6455 forbids, and reads the
server's frames back with a minimal parser. Every read has a socket time-out,
which is the hang guard of the tests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
GUARD = 10.0  # seconds: hang guard for any single read


@dataclass
class ServerFrame:
    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != 8 or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])


def frame_header(
    opcode: int, length: int, *, fin: bool = True, rsv1: bool = False, mask: bytes | None = None
) -> bytes:
    """Encode a client frame header, masked unless ``mask`` is b""."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask_bit = 0x80 if mask != b"" else 0
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 0x10000:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if mask_bit:
        header += mask if mask is not None else b"\x00\x00\x00\x00"
    return header


def mask_bytes(data: bytes, key: bytes) -> bytes:
    if not data or key == b"\x00\x00\x00\x00":
        return data
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big"
    )


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, key: bytes | None = None
) -> bytes:
    """A complete masked client frame (a random key unless one is given)."""
    key = os.urandom(4) if key is None else key
    return frame_header(opcode, len(payload), fin=fin, rsv1=rsv1, mask=key) + mask_bytes(
        payload, key
    )


def handshake_request(path: str = "/", extra: bytes = b"") -> tuple[bytes, bytes]:
    key = base64.b64encode(os.urandom(16))
    request = (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n"
    )
    return request, key


class Peer:
    """A raw TCP connection to the server under test."""

    def __init__(self, port: int, *, rcvbuf: int | None = None, timeout: float = GUARD) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Set before connect() so that the window is negotiated small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""
        self.response_head = b""

    # Handshake.

    def read_head(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed during the response: {self.buffer[:200]!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.response_head = head
        return head

    def read_status(self) -> int:
        """Read a whole HTTP response (head and Content-Length body); return its status."""
        head = self.read_head()
        status = int(head.split(b" ", 2)[1])
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                self.read_exactly(int(value))
        return status

    def open(self, extra: bytes = b"") -> bytes:
        """Send the opening handshake, check the 101, return the response head."""
        request, key = handshake_request(extra=extra)
        self.sock.sendall(request)
        head = self.read_head()
        assert head.startswith(b"HTTP/1.1 101"), head
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        assert b"Sec-WebSocket-Accept: " + accept in head, head
        return head

    # Frames.

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes, **kwargs: bool) -> None:
        self.sock.sendall(client_frame(opcode, payload, **kwargs))

    def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise EOFError(f"connection closed; wanted {n} bytes, have {len(self.buffer)}")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_frame(self) -> ServerFrame:
        first, second = self.read_exactly(2)
        assert not second & 0x80, "the server masked a frame"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read_exactly(8))
        return ServerFrame(
            bool(first & 0x80), bool(first & 0x40), first & 0x0F, self.read_exactly(length)
        )

    def read_until_close(self, max_frames: int = 100_000) -> tuple[ServerFrame, list[ServerFrame]]:
        """Read frames up to the server's Close frame; return it and the frames before."""
        before = []
        for _ in range(max_frames):
            frame = self.read_frame()
            if frame.opcode == 8:
                return frame, before
            before.append(frame)
        raise AssertionError(f"no Close frame within {max_frames} frames")

    def expect_end(self, timeout: float = GUARD) -> str:
        """Read until the server ends TCP; return "eof" or "reset"."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return "reset"
            if not chunk:
                return "eof"
        raise AssertionError("the server never ended the TCP connection")

    def nothing_within(self, seconds: float) -> bool:
        """True if the server sends nothing (and does not close) within ``seconds``."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return not self.buffer
        finally:
            self.sock.settimeout(GUARD)
        return False

    def reset(self) -> None:
        """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()
