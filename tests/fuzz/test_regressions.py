"""Inputs that the fuzzers and the state machines found to break a contract.

Each test states the contract and replays the minimal input through the
fuzz target or the public API. A test marked ``xfail(strict=True)`` is a
bug not fixed yet: it must fail today, and once the fix lands it passes,
which fails the run until the marker is removed.
"""

from __future__ import annotations

import os

import fuzz_handshake
import pytest
from chunking import make_input

from sansws.client import ClientProtocol
from sansws.extensions.permessage_deflate import PerMessageDeflate
from sansws.frames import Frame
from sansws.protocol import CLIENT, OPEN, SERVER, Protocol
from sansws.server import ServerProtocol

# A header value with a control character that h11 lets through (0x0E, and
# DEL) but that sansws's own Headers refuse with ValueError.
CONTROL_IN_HEADER = [b"a\x0eb", b"a\x7fb"]
#: The minimal input of the handshake fuzzer's crash: a server reads it.
HANDSHAKE_CRASH = make_input(0, 0, b"GET / HTTP/1.1\r\nHost: a\x0eb\r\n\r\n")


@pytest.mark.parametrize("value", CONTROL_IN_HEADER)
def test_server_refuses_control_character_in_header(value: bytes) -> None:
    server = ServerProtocol()
    server.receive_data(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n")
    assert server.handshake_exc is not None
    assert server.events_received() == []
    response = b"".join(server.data_to_send())
    assert response.startswith(b"HTTP/1.1 400 ")
    assert server.close_expected()


@pytest.mark.parametrize("value", CONTROL_IN_HEADER)
def test_client_refuses_control_character_in_header(value: bytes) -> None:
    client = ClientProtocol("ws://example.com/")
    client.send_request(client.connect())
    client.data_to_send()
    client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nX-Note: " + value + b"\r\n\r\n")
    assert client.handshake_exc is not None
    assert client.close_expected()


def test_fuzz_handshake_crash_control_character() -> None:
    fuzz_handshake.TestOneInput(HANDSHAKE_CRASH)


def test_incompressible_message_within_max_size_is_accepted() -> None:
    client = Protocol(CLIENT)
    server = Protocol(SERVER, max_size=1000)
    client.extensions = [PerMessageDeflate(False, False, 15, 15)]
    server.extensions = [PerMessageDeflate(False, False, 15, 15)]
    payload = os.urandom(1000)  # random bytes: deflate makes them longer
    client.send_binary(payload)
    wire = b"".join(client.data_to_send())
    assert len(wire) > 1000 + 6  # the compressed frame is over the limit
    server.receive_data(wire)
    assert server.parser_exc is None
    assert server.state is OPEN
    events = server.events_received()
    assert len(events) == 1 and isinstance(events[0], Frame)
    assert events[0].data == payload


def test_compressed_message_over_max_size_still_fails() -> None:
    """The other side of the check above: past max_size after inflating is 1009."""
    client = Protocol(CLIENT)
    server = Protocol(SERVER, max_size=1000)
    client.extensions = [PerMessageDeflate(False, False, 15, 15)]
    server.extensions = [PerMessageDeflate(False, False, 15, 15)]
    client.send_binary(b"\x00" * 1001)  # compresses to a few bytes
    server.receive_data(b"".join(client.data_to_send()))
    assert server.close_sent is not None and server.close_sent.code == 1009
