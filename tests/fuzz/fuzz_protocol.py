"""Fuzz ``Protocol.receive_data``: arbitrary bytes from the peer, cut anywhere.

Run it with ``python tests/fuzz/fuzz_protocol.py -max_total_time=60
tests/fuzz/corpus/protocol``. The input's layout is in ``chunking.py``; its
flags choose:

- bit 0: the side (1: client, which expects unmasked frames; 0: server);
- bit 1: permessage-deflate negotiated, 15-bit windows, context takeover;
- bit 2: ``hold_failures``, released after the last chunk;
- bits 3-4: ``max_size``: 2**16, 1000, (1000, 100) or 2**20.

Checked on every input: nothing is raised; what the peer breaks shows in
``state`` and ``parser_exc``; events stop after a Close frame or a failure;
no message grows past ``max_size``, after inflating too; the output stays
within a small multiple of the input; the state only moves forward and
``close_expected()`` is True iff CLOSING; after ``receive_eof()`` the
connection is CLOSED and ``receive_data`` raises EOFError, and only that.
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
    from sansws.exceptions import ConnectionClosed, PayloadTooBig, ProtocolError
    from sansws.extensions.permessage_deflate import PerMessageDeflate
    from sansws.frames import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Frame
    from sansws.protocol import CLIENT, CLOSED, CLOSING, OPEN, SEND_EOF, SERVER, Protocol

MAX_SIZES: list[int | tuple[int, int]] = [2**16, 1000, (1000, 100), 2**20]

# A Close frame with the longest reason (125 bytes) and its header, masked.
CLOSE_FRAME_BOUND = 2 + 4 + 125


def output_bound(received: int) -> int:
    """The most bytes a Protocol may write in answer to ``received`` bytes.

    A Ping answers with a Pong of the same payload. The smallest Ping from a
    server is 2 bytes and a client's Pong to it is 6 (the masking key), so
    output is at most 3 times the input, plus one Close frame.
    """
    return 3 * received + CLOSE_FRAME_BOUND


def make_protocol(flags: int) -> Protocol:
    side = CLIENT if flags & 1 else SERVER
    protocol = Protocol(side, max_size=MAX_SIZES[(flags >> 3) & 3])
    if flags & 2:
        protocol.extensions = [PerMessageDeflate(False, False, 15, 15)]
    protocol.hold_failures = bool(flags & 4)
    return protocol


class Checker:
    """Follows one connection's events and output, and checks each step."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.received = 0
        self.written = 0
        self.eof_written = False
        self.state = protocol.state
        self.ended = False  # a Close frame came, or the connection failed
        self.message_size: int | None = None  # None between messages

    def step(self) -> None:
        protocol = self.protocol
        for chunk in protocol.data_to_send():
            assert not self.eof_written, "bytes after SEND_EOF"
            if chunk == SEND_EOF:
                self.eof_written = True
            self.written += len(chunk)
        assert self.written <= output_bound(self.received), (self.written, self.received)
        for event in protocol.events_received():
            self.check_event(event)
        if protocol.parser_exc is not None or protocol.failure_held:
            self.ended = True
        state = protocol.state
        assert state >= self.state, (self.state, state)
        self.state = state
        assert protocol.close_expected() is (state is CLOSING)
        if protocol.failure_held:
            assert state is OPEN
        if protocol.parser_exc is not None:
            assert isinstance(protocol.parser_exc, ProtocolError | PayloadTooBig | UnicodeError)
            assert state is not OPEN

    def check_event(self, event: object) -> None:
        assert isinstance(event, Frame), event
        assert not self.ended, f"event after the end: {event}"
        assert not (event.rsv1 or event.rsv2 or event.rsv3)
        opcode = event.opcode
        limit = self.protocol.max_message_size
        if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            if opcode is OP_CONT:
                assert self.message_size is not None, "continuation outside a message"
            else:
                assert self.message_size is None, "new message inside a message"
                self.message_size = 0
            self.message_size += len(event.data)
            assert limit is None or self.message_size <= limit, (self.message_size, limit)
            if event.fin:
                self.message_size = None
        elif opcode is OP_CLOSE:
            self.ended = True
        else:
            assert opcode in (OP_PING, OP_PONG)
            assert len(event.data) <= 125


def TestOneInput(data: bytes) -> None:
    flags, seed, stream = split_input(data)
    protocol = make_protocol(flags)
    checker = Checker(protocol)
    feed(protocol, checker, stream, seed)
    protocol.release_failure()
    checker.step()
    protocol.receive_eof()
    checker.step()
    assert protocol.state is CLOSED
    assert checker.eof_written
    assert isinstance(protocol.close_exc, ConnectionClosed)
    try:
        protocol.receive_data(b"\x81\x00")
    except EOFError:
        pass
    else:
        raise AssertionError("receive_data after receive_eof did not raise EOFError")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
