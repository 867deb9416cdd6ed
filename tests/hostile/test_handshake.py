"""Hostile opening handshakes: oversized request lines, header floods, parser bait.

The server answers each with an HTTP error (414, 431, 400) or, for offers it
merely declines, a 101 without the extension. A header line's list holds at
most 64 elements (``sansws.headers.MAX_LIST_ITEMS``); more is a 400. "Linear time" is shown by a
request of about 1 MB being answered within a generous hang guard.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from .bounds import MiB
from .conftest import ServerUnderTest
from .peer import Peer

pytestmark = pytest.mark.timeout(60)

StartServer = Callable[..., ServerUnderTest]

GUARD = 10.0  # seconds; each request below is answered in milliseconds here

HEADERS = (
    b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


def request(extra: bytes = b"", target: bytes = b"/") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\n" + HEADERS + extra + b"\r\n"


def offers(offer: bytes, per_line: int, lines: int = 1) -> bytes:
    """A request with ``lines`` extension headers of ``per_line`` offers each."""
    line = b"Sec-WebSocket-Extensions: " + offer * per_line + b"\r\n"
    return request(line * lines)


def answer(srv: ServerUnderTest, raw: bytes) -> tuple[int, float]:
    """Send a whole request, half-close, read the status; time it."""
    peer = Peer(srv.port, timeout=GUARD)
    start = time.monotonic()
    peer.send(raw)  # the server keeps reading after an early refusal
    peer.sock.shutdown(1)
    status = peer.read_status()
    elapsed = time.monotonic() - start
    peer.close()
    return status, elapsed


CASES = {
    "1 MB request line": (request(target=b"/" + b"a" * MiB), 414),
    "10,000 headers": (request(b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))), 431),
    "one 1 MB header": (request(b"X-Big: " + b"b" * MiB + b"\r\n"), 431),
    "extensions header over the line limit": (
        request(b"Sec-WebSocket-Extensions: " + b"permessage-deflate; a=1" * 400 + b"\r\n"),
        431,
    ),
    # Bait for a backtracking parser: an unterminated quoted string full of
    # escapes, just under the line limit.
    "unterminated quoted parameter": (
        request(b'Sec-WebSocket-Extensions: permessage-deflate; a="' + b"\\a" * 4000 + b"\r\n"),
        400,
    ),
    "8000 backslashes": (
        request(b'Sec-WebSocket-Extensions: permessage-deflate; a="' + b"\\" * 8000 + b'"\r\n'),
        400,
    ),
    "empty parameters": (request(b"Sec-WebSocket-Extensions: " + b"; " * 4000 + b"\r\n"), 400),
    # More than 64 elements in one header line's list: refused at the 65th
    # (headers.MAX_LIST_ITEMS), not parsed to the end.
    "120 extension headers of 4000 offers": (offers(b"x,", 4000, 120), 400),
    "340 permessage-deflate offers, bad parameters": (
        offers(b"permessage-deflate; q, ", 340),
        400,
    ),
    "4000 subprotocols": (request(b"Sec-WebSocket-Protocol: " + b"p," * 4000 + b"\r\n"), 400),
    # Declined, not refused: 7,680 unknown offers over 120 headers, and 64
    # permessage-deflate offers with a parameter it does not know.
    "120 extension headers of 64 offers": (offers(b"x,", 64, 120), 101),
    "64 permessage-deflate offers, bad parameters": (offers(b"permessage-deflate; q, ", 64), 101),
}


@pytest.mark.parametrize("case", CASES)
def test_oversized_handshake_is_refused_in_linear_time(server: StartServer, case: str) -> None:
    raw, expected = CASES[case]
    srv = server("echo", compression="deflate", open_timeout=2.0)
    status, elapsed = answer(srv, raw)
    print(f"{case}: {len(raw)} bytes -> {status} in {elapsed:.3f} s")
    assert status == expected
    assert elapsed < GUARD
    assert srv.connections == [] or expected == 101
