"""Fuzz the opening handshake: arbitrary bytes as the request or the response.

Run it with ``python tests/fuzz/fuzz_handshake.py -max_total_time=60
tests/fuzz/corpus/handshake``. The input's layout is in ``chunking.py``;
its flags choose:

- bit 0: the side under test. 0: a ServerProtocol reads the bytes as a
  request, and the application calls ``accept()`` on the Request event and
  sends the answer. 1: a ClientProtocol with the key of RFC 6455 §1.3
  (``dGhlIHNhbXBsZSBub25jZQ==``) sends its request, then reads the bytes as
  the response.
- bit 1: permessage-deflate offered (client) or supported (server).
- bit 2: subprotocols offered or supported: ``chat`` and ``superchat``.

Checked on every input: nothing is raised; exactly one Request or Response
event, before any frame; a handshake that failed sets ``handshake_exc``,
ends the stream and makes ``close_expected()`` True; one that succeeded
moves to OPEN with extensions and a subprotocol that were offered; the
output is bounded; after ``receive_eof()`` the connection is CLOSED.
"""

from __future__ import annotations

import contextlib
import sys

import atheris
from atheris.import_hook import instrument_imports
from chunking import feed, split_input

# Coverage feedback for sansws and h11 only, and only when run as a fuzzer:
# a test that imports this module replays inputs without it.
INSTRUMENT: contextlib.AbstractContextManager[object] = (
    instrument_imports(include=["sansws", "h11"])
    if __name__ == "__main__"
    else contextlib.nullcontext()
)

with INSTRUMENT:
    from sansws.client import ClientProtocol
    from sansws.exceptions import InvalidHandshake
    from sansws.extensions.permessage_deflate import (
        enable_client_permessage_deflate,
        enable_server_permessage_deflate,
    )
    from sansws.frames import Frame
    from sansws.http11 import Request, Response
    from sansws.protocol import CLOSED, CONNECTING, OPEN, SEND_EOF, Protocol
    from sansws.server import ServerProtocol

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
SUBPROTOCOLS = ["chat", "superchat"]
# A handshake answer, error text included, and a Close frame.
ANSWER_BOUND = 8192


def make_protocol(flags: int) -> Protocol:
    subprotocols = SUBPROTOCOLS if flags & 4 else None
    if flags & 1:
        client = ClientProtocol(
            "ws://example.com/chat",
            extensions=enable_client_permessage_deflate(None) if flags & 2 else None,
            subprotocols=subprotocols,
        )
        client.key = RFC_KEY
        client.send_request(client.connect())
        client.data_to_send()
        return client
    return ServerProtocol(
        extensions=enable_server_permessage_deflate(None) if flags & 2 else None,
        subprotocols=subprotocols,
    )


class Checker:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.received = 0
        self.written = 0
        self.eof_written = False
        self.handshake_events = 0
        self.state = protocol.state

    def step(self) -> None:
        protocol = self.protocol
        for event in protocol.events_received():
            if isinstance(event, Request | Response):
                assert self.handshake_events == 0, "a second handshake event"
                self.handshake_events += 1
                if isinstance(event, Request):
                    assert isinstance(protocol, ServerProtocol)
                    protocol.send_response(protocol.accept(event))
                else:
                    assert isinstance(protocol, ClientProtocol)
            else:
                assert isinstance(event, Frame), event
                assert self.handshake_events == 1, "a frame before the handshake"
                assert protocol.state is not CONNECTING
        for chunk in protocol.data_to_send():
            assert not self.eof_written, "bytes after SEND_EOF"
            if chunk == SEND_EOF:
                self.eof_written = True
            self.written += len(chunk)
        # Pongs answer pings at most three bytes for one (see fuzz_protocol).
        assert self.written <= 3 * self.received + ANSWER_BOUND, (self.written, self.received)
        state = protocol.state
        assert state >= self.state, (self.state, state)
        self.state = state
        exc = protocol.handshake_exc
        if exc is not None:
            assert isinstance(exc, InvalidHandshake | EOFError), repr(exc)
            assert state in (CONNECTING, CLOSED)
            assert protocol.close_expected()
            assert self.eof_written
        if state is OPEN:
            self.check_open()

    def check_open(self) -> None:
        protocol = self.protocol
        assert isinstance(protocol, ClientProtocol | ServerProtocol)
        assert protocol.handshake_exc is None
        offered = {f.name for f in protocol.available_extensions}
        names = [e.name for e in protocol.extensions]
        assert len(names) == len(set(names)) and set(names) <= offered, names
        if protocol.subprotocol is not None:
            assert protocol.subprotocol in protocol.available_subprotocols


def TestOneInput(data: bytes) -> None:
    flags, seed, stream = split_input(data)
    protocol = make_protocol(flags)
    checker = Checker(protocol)
    feed(protocol, checker, stream, seed)
    protocol.receive_eof()
    checker.step()
    assert protocol.state is CLOSED
    assert checker.eof_written


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
