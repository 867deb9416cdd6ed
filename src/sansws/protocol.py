"""The Sans-I/O core: the state machine of RFC 6455.

Theory of operation
-------------------
A :class:`Protocol` is fed bytes with :meth:`Protocol.receive_data` and the
end of the stream with :meth:`Protocol.receive_eof`. It turns them into
events (:class:`~sansws.frames.Frame` objects, fetched with
:meth:`Protocol.events_received`) and into bytes to write back (fetched with
:meth:`Protocol.data_to_send`). The application asks for frames with the
``send_*`` methods. Nothing here blocks, sleeps, reads a clock or touches a
socket: the I/O layer does that, and :meth:`Protocol.close_expected` tells it
when to arm a time-out.

Parsing. Incoming bytes join a buffer; one call parses every complete frame
in it in a single loop, from an offset, and trims the consumed prefix once at
the end. Each header is checked as soon as it is complete, before its payload
arrives (RFC 6455 §5.2: reserved bits, opcode, masking by side, control frame
rules, minimal length encoding, the 63-bit limit, and ``max_size``), so a
hostile header fails the connection without a byte of its payload buffered.
A payload is unmasked once, by :func:`~sansws.frames.apply_mask`. Text is
validated as UTF-8 frame by frame with an incremental decoder, so invalid
text fails the connection with 1007 at the frame that brings it (§8.1), and
the decoded text is kept in :attr:`Frame.text <sansws.frames.Frame>`.

Fast paths. Whole messages in one frame, the common case, are taken by
:func:`~sansws.frames.scan_frames` (compiled when available) whenever no
extension, debug log or fragmented message needs a decision per frame; it
stops at the first other frame, which the loop here takes, then hands back.
A payload of 16 KiB or more that spans reads is kept as the list of reads
and unmasked once, into the final payload.

Errors. A peer that breaks the protocol never makes :meth:`receive_data`
raise: the connection fails (§7.1.7) with the RFC's close code, the cause is
kept in :attr:`Protocol.parser_exc`, and later input is discarded. A local
application that misuses the API gets an exception at once, and nothing is
queued.

Closing (§7.1). The state moves CONNECTING → OPEN → CLOSING → CLOSED and
never back. A Close frame, sent or received, moves OPEN to CLOSING; a Close
received while OPEN is echoed with the same payload. The server closes TCP
first (§7.1.1): it half-closes as soon as Close frames went both ways, or as
soon as the connection fails; the client half-closes when it sees the
server's end of stream. The end of the stream always moves to CLOSED.
"""

from __future__ import annotations

import codecs
import enum
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any, Union

from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from .extensions.base import Extension
from .frames import (
    OK_CLOSE_CODES,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    OPCODES,
    Close,
    CloseCode,
    Frame,
    Opcode,
    _check_utf8_tail,
    _UTF8Decoder,
    apply_mask,
    apply_mask_pieces,
    check_utf8,
    encode_frame,
    encode_header,
    scan_frames,
)

if TYPE_CHECKING:
    from .http11 import Request, Response

__all__ = [
    "CLIENT",
    "CLOSED",
    "CLOSING",
    "CONNECTING",
    "OPEN",
    "SEND_EOF",
    "SERVER",
    "Event",
    "LoggerLike",
    "Protocol",
    "Side",
    "State",
]

LoggerLike = Union[logging.Logger, "logging.LoggerAdapter[Any]"]
Event = Union["Request", "Response", Frame]
BytesLike = bytes | bytearray | memoryview


class Side(enum.IntEnum):
    """A WebSocket connection is either a server or a client."""

    SERVER = 0
    CLIENT = 1


SERVER = Side.SERVER
CLIENT = Side.CLIENT


class State(enum.IntEnum):
    """The four states of a WebSocket connection (RFC 6455 §4.1, §4.2, §7.1.3, §7.1.4)."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


CONNECTING = State.CONNECTING
OPEN = State.OPEN
CLOSING = State.CLOSING
CLOSED = State.CLOSED

#: Sentinel in :meth:`Protocol.data_to_send`: half-close the TCP connection.
SEND_EOF = b""

# Payloads above this size are queued apart from their header instead of
# being joined to it, so that a large server frame is never copied.
_JOIN_LIMIT = 4096

# Payloads at least this large that arrive over several reads are gathered
# as a list of the reads and unmasked once, into the final payload, instead
# of being copied into the buffer first.
_GATHER_LIMIT = 16384

_MASK_KEY_BLOCK = 4096

# Masking keys drawn from ``os.urandom`` ahead of use, one per frame.
# ``list.pop`` is atomic, so threads that send on different connections at
# once never get the same key; a generator here would raise "generator
# already executing" when two threads resume it together.
_mask_key_pool: list[bytes] = []


def _next_mask_key() -> bytes:
    """Return a fresh 4-byte masking key from the OS's cryptographic source.

    RFC 6455 §5.3 wants each key unpredictable to the application that
    chooses the payload. One system call serves 1024 keys instead of one.
    Each key is used once.
    """
    try:
        return _mask_key_pool.pop()
    except IndexError:
        block = os.urandom(_MASK_KEY_BLOCK)
        _mask_key_pool.extend([block[i : i + 4] for i in range(4, _MASK_KEY_BLOCK, 4)])
        return block[:4]


# A forked child must not reuse the keys its parent drew.
if hasattr(os, "register_at_fork"):  # pragma: no branch - absent only on Windows
    os.register_at_fork(after_in_child=_mask_key_pool.clear)


def _encoded_bound(size: int) -> int:
    """The most bytes an extension may use on the wire for ``size`` bytes of data.

    Deflate stores incompressible data in blocks of at most 64 KiB with 5
    bytes of framing each (RFC 1951 §3.2.4); one byte per 1 KiB, plus a
    constant for the block headers and the flush, covers that with room.
    """
    return size + (size >> 10) + 64


class Protocol:
    """Sans-I/O implementation of a WebSocket connection (RFC 6455).

    Args:
        side: :attr:`Side.CLIENT` or :attr:`Side.SERVER`.
        state: the initial state; OPEN when the opening handshake was done
            elsewhere, CONNECTING for the handshake subclasses.
        max_size: the largest incoming message, in bytes, counted across its
            fragments and after decompression; or a pair
            ``(max_message_size, max_fragment_size)``; or None for no limit.
            A peer that goes past it fails the connection with 1009.
        logger: where to log; defaults to ``logging.getLogger("sansws.client")``
            or ``"sansws.server"``. At DEBUG level it logs one line per frame.
    """

    def __init__(
        self,
        side: Side,
        *,
        state: State = OPEN,
        max_size: int | tuple[int | None, int | None] | None = 2**20,
        logger: LoggerLike | None = None,
    ) -> None:
        #: Unique identifier of the connection, for logs.
        self.id: uuid.UUID = uuid.uuid4()
        if logger is None:
            logger = logging.getLogger(f"sansws.{side.name.lower()}")
        #: Logger for this connection.
        self.logger: LoggerLike = logger
        # Read once: checking the level per frame would cost on the hot path.
        self.debug = logger.isEnabledFor(logging.DEBUG)
        self.side = side
        self._state = state
        if isinstance(max_size, tuple):
            self.max_message_size, self.max_fragment_size = max_size
        else:
            self.max_message_size, self.max_fragment_size = max_size, None
        #: Negotiated extensions, nearest the wire last.
        self.extensions: list[Extension] = []

        self.close_rcvd: Close | None = None
        self.close_sent: Close | None = None
        self.close_rcvd_then_sent: bool | None = None
        #: The exception that made the connection fail, if the peer broke
        #: the protocol.
        self.parser_exc: Exception | None = None
        #: Set by the handshake subclasses when the opening handshake fails.
        self.handshake_exc: Exception | None = None
        self.eof_sent = False
        #: Set by an I/O layer that hands messages to the application
        #: asynchronously: a failure caused by the peer is then held until
        #: :meth:`release_failure`, see there.
        self.hold_failures = False
        self._held_failure: tuple[int, Exception] | None = None
        self._pongs_held = False
        self._pending_pong: bytes | None = None

        self._buffer = bytearray()
        self._eof_received = False
        self._discarding = False
        self._events: list[Event] = []
        self._output: list[bytes] = []

        # The fragmented message being received: its opcode (None between
        # messages), its size so far, and a UTF-8 decoder for text.
        self._recv_opcode: Opcode | None = None
        self._recv_size = 0
        self._utf8: codecs.IncrementalDecoder | None = None
        # How much of the payload of the text frame being received was
        # already validated, before the frame was complete, and the
        # characters decoded from it, for Frame.text.
        self._utf8_checked = 0
        self._utf8_parts: list[str] = []
        # A large payload being gathered read by read (see _receive_piece):
        # the reads (unmasked already for text), their size, the frame's
        # first byte, payload length and masking key, and whether it is
        # text, validated as it arrives and decoded once complete.
        self._pieces: list[BytesLike] | None = None
        self._pieces_size = 0
        self._pieces_first = 0
        self._pieces_length = 0
        self._pieces_key: bytes | None = None
        self._pieces_text = False
        # The incomplete UTF-8 character at the end of the text gathered.
        self._pieces_utf8 = b""
        # The opcode of the fragmented message being sent, None between.
        self._send_opcode: Opcode | None = None

    # Public state --------------------------------------------------------

    @property
    def state(self) -> State:
        """State of the connection (RFC 6455 §4.1, §4.2, §7.1.3, §7.1.4)."""
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        if self.debug:
            self.logger.debug("= connection is %s", state.name)
        self._state = state

    @property
    def close_code(self) -> int | None:
        """The close code received (RFC 6455 §7.1.5), None until CLOSED.

        1005 if the Close frame had no code, 1006 if no Close frame came.
        """
        if self._state is not CLOSED:
            return None
        if self.close_rcvd is None:
            return CloseCode.ABNORMAL_CLOSURE
        return self.close_rcvd.code

    @property
    def close_reason(self) -> str | None:
        """The close reason received (RFC 6455 §7.1.6), None until CLOSED."""
        if self._state is not CLOSED:
            return None
        if self.close_rcvd is None:
            return ""
        return self.close_rcvd.reason

    @property
    def close_exc(self) -> ConnectionClosed:
        """The exception to raise when the application uses a closed connection.

        :class:`~sansws.exceptions.ConnectionClosedOK` when Close frames went
        both ways with codes 1000, 1001 or 1005;
        :class:`~sansws.exceptions.ConnectionClosedError` otherwise.

        Raises:
            AssertionError: the connection is not CLOSED yet; the code and
                reason are known only then.
        """
        assert self._state is CLOSED, "connection isn't closed yet"
        exc_type: type[ConnectionClosed] = ConnectionClosedError
        if (
            self.close_rcvd is not None
            and self.close_sent is not None
            and self.close_rcvd.code in OK_CLOSE_CODES
            and self.close_sent.code in OK_CLOSE_CODES
        ):
            exc_type = ConnectionClosedOK
        exc = exc_type(self.close_rcvd, self.close_sent, self.close_rcvd_then_sent)
        exc.__cause__ = self.parser_exc
        return exc

    # Receiving -----------------------------------------------------------

    def receive_data(self, data: BytesLike) -> None:
        """Receive data from the network.

        After calling this method, call :meth:`data_to_send` and write what
        it returns, then call :meth:`events_received` and process the
        events. Frames that break the protocol fail the connection (see
        :attr:`parser_exc`); they do not raise.

        Raises:
            EOFError: :meth:`receive_eof` was called earlier.
        """
        if self._eof_received:
            raise EOFError("receive_data() called after receive_eof()")
        if self._discarding or not data:
            return
        self._parse(data)

    def receive_eof(self) -> None:
        """Receive the end of the data stream from the network.

        After calling this method, call :meth:`data_to_send` and write what
        it returns: ``[SEND_EOF]`` or ``[]``. It adds no event. It is
        idempotent. The connection is CLOSED afterwards; if no Close frame
        came, the close code is 1006 (§7.1.5).
        """
        if self._eof_received:
            return
        self.release_failure()
        self._eof_received = True
        self._discard_input()
        if self.debug:
            self.logger.debug("< EOF")
        if not self.eof_sent:
            self.send_eof()
        self.state = CLOSED

    # Sending -------------------------------------------------------------

    def send_continuation(self, data: BytesLike, fin: bool) -> None:
        """Send a Continuation frame (RFC 6455 §5.4).

        Args:
            data: the next part of the message, of the same kind as its
                first frame.
            fin: True on the last frame of the message.

        Raises:
            ProtocolError: no fragmented message is in progress.
            InvalidState: the connection is not OPEN.
        """
        if self._send_opcode is None:
            raise ProtocolError("unexpected continuation frame")
        self._check_open()
        self._send_frame(OP_CONT, data, fin)
        if fin:
            self._send_opcode = None

    def send_text(self, data: BytesLike, fin: bool = True) -> None:
        """Send a Text frame (RFC 6455 §5.6).

        Args:
            data: text encoded with UTF-8. It is not checked: the peer fails
                the connection with 1007 if it is not valid UTF-8.
            fin: False on the first frame of a fragmented message.

        Raises:
            ProtocolError: a fragmented message is in progress.
            InvalidState: the connection is not OPEN.
        """
        # A new message may start only between messages, while OPEN.
        if self._send_opcode is not None:
            raise ProtocolError("expected a continuation frame")
        if self._state is not OPEN:
            self._check_open()
        self._send_frame(OP_TEXT, data, fin)
        if not fin:
            self._send_opcode = OP_TEXT

    def send_binary(self, data: BytesLike, fin: bool = True) -> None:
        """Send a Binary frame (RFC 6455 §5.6).

        Args:
            data: arbitrary bytes.
            fin: False on the first frame of a fragmented message.

        Raises:
            ProtocolError: a fragmented message is in progress.
            InvalidState: the connection is not OPEN.
        """
        if self._send_opcode is not None:
            raise ProtocolError("expected a continuation frame")
        if self._state is not OPEN:
            self._check_open()
        self._send_frame(OP_BINARY, data, fin)
        if not fin:
            self._send_opcode = OP_BINARY

    def send_close(self, code: int | None = None, reason: str = "") -> None:
        """Send a Close frame and start the closing handshake (RFC 6455 §5.5.1).

        Args:
            code: the close code, or None for a Close frame with an empty
                payload (reported as 1005 by the peer).
            reason: the close reason; at most 123 bytes in UTF-8.

        Raises:
            ProtocolError: the code may not be sent, the reason is too long,
                or a reason is given without a code.
            InvalidState: the connection is not OPEN.
        """
        if self._held_failure is not None:
            # The peer broke the protocol: its failure's code is the one
            # that must reach it.
            self.release_failure()
            return
        if code is None:
            if reason:
                raise ProtocolError("cannot send a reason without a code")
            close = Close(CloseCode.NO_STATUS_RCVD, "")
            payload = b""
        else:
            close = Close(code, reason)
            payload = close.serialize()
        self._check_open()
        self._send_frame(OP_CLOSE, payload, True)
        self.close_sent = close
        self.state = CLOSING

    def send_ping(self, data: BytesLike) -> None:
        """Send a Ping frame (RFC 6455 §5.5.2). Allowed while OPEN or CLOSING.

        Args:
            data: the payload, at most 125 bytes; the Pong echoes it.

        Raises:
            ProtocolError: the payload is longer than 125 bytes.
            InvalidState: the connection is neither OPEN nor CLOSING, or the
                end of the stream was sent.
        """
        self._send_control(OP_PING, data)

    def send_pong(self, data: BytesLike) -> None:
        """Send a Pong frame (RFC 6455 §5.5.3). Allowed while OPEN or CLOSING.

        Args:
            data: the payload, at most 125 bytes.

        Raises:
            ProtocolError: the payload is longer than 125 bytes.
            InvalidState: the connection is neither OPEN nor CLOSING, or the
                end of the stream was sent.
        """
        self._send_control(OP_PONG, data)

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the WebSocket connection (RFC 6455 §7.1.7).

        While OPEN, send a Close frame with ``code`` (except 1006, which
        means closing without one) and move to CLOSING. A server then
        half-closes at once; a client waits for the server to close. Later
        input is discarded.

        Args:
            code: the close code; a code that may be sent, or 1006.
            reason: the close reason; at most 123 bytes in UTF-8.

        Raises:
            ProtocolError: the code is not valid, or the reason is too long.
        """
        close = Close(code, reason)
        if code != CloseCode.ABNORMAL_CLOSURE:
            close.check()
        if self._held_failure is not None:
            # The peer broke the protocol first: that failure's code is the
            # one that must reach it.
            self.release_failure()
            return
        if self._state is OPEN:
            if code != CloseCode.ABNORMAL_CLOSURE:
                self._send_frame(OP_CLOSE, close.serialize(), True)
                self.close_sent = close
            self.state = CLOSING
        if self.side is SERVER and not self.eof_sent:
            self.send_eof()
        self._discard_input()

    def hold_pongs(self, hold: bool) -> None:
        """Hold or release the automatic answers to Pings (RFC 6455 §5.5.3).

        An I/O layer holds them while its write buffer is over its limit.
        Pings received meanwhile are still reported as events, but only the
        most recent one is answered, when the pongs are released; §5.5.3
        allows answering only the latest of several Pings. Without this, a
        peer that sends Pings and never reads makes the output grow by one
        Pong per Ping.

        After releasing, call :meth:`data_to_send`.

        Args:
            hold: True to hold the answers, False to release them.
        """
        self._pongs_held = hold
        if not hold and self._pending_pong is not None:
            payload, self._pending_pong = self._pending_pong, None
            if not self.eof_sent and (self._state is OPEN or self._state is CLOSING):
                self._send_frame(OP_PONG, payload, True)

    @property
    def failure_held(self) -> bool:
        """Tell whether a failure caused by the peer waits for :meth:`release_failure`."""
        return self._held_failure is not None

    def release_failure(self) -> None:
        """Fail the connection for a protocol error held back by :attr:`hold_failures`.

        An I/O layer that hands messages to the application asynchronously
        sets :attr:`hold_failures`. When the parser then meets a frame that
        fails the connection, it stops there and discards later input, as
        for any failure, but keeps the connection OPEN, so the application
        can still answer the messages that arrived before the bad frame.
        The I/O layer calls this method once the application has taken all
        of them; then the connection fails as :meth:`fail` says, with the
        close code the error calls for. It does nothing when no failure is
        held. :meth:`receive_eof` and :meth:`send_close` release a held
        failure themselves.

        After calling this method, call :meth:`data_to_send` and
        :meth:`close_expected`.
        """
        if self._held_failure is None:
            return
        code, exc = self._held_failure
        self._held_failure = None
        self._apply_failure(code, exc)

    # Fetching results ----------------------------------------------------

    def events_received(self) -> list[Event]:
        """Return the events received since the last call, and forget them.

        Call it after any ``receive_*`` method. Events are
        :class:`~sansws.frames.Frame` objects, control frames included (and
        the handshake's Request or Response first, in the subclasses).
        """
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """Return the bytes to write to the network, and forget them.

        Call it after any ``receive_*``, ``send_*`` or :meth:`fail` call,
        and write the chunks in order. :data:`SEND_EOF` (an empty bytes)
        means: half-close the TCP connection.
        """
        output, self._output = self._output, []
        return output

    def close_expected(self) -> bool:
        """Tell whether the TCP connection is expected to close soon.

        Call it after any ``receive_*`` call, :meth:`send_close` or
        :meth:`fail`. When True, close the TCP connection after a short
        time-out if the peer has not closed it by then.
        """
        return self._state is CLOSING or self.handshake_exc is not None

    # Internals: sending --------------------------------------------------

    def send_eof(self) -> None:
        """Queue :data:`SEND_EOF`: nothing more will be written."""
        assert not self.eof_sent, "end of stream already sent"
        self.eof_sent = True
        if self.debug:
            self.logger.debug("> EOF")
        self._output.append(SEND_EOF)

    def _check_open(self) -> None:
        if self._state is not OPEN:
            raise InvalidState(f"connection is {self._state.name}; cannot send data")

    def _send_control(self, opcode: Opcode, data: BytesLike) -> None:
        if len(data) > 125:
            raise ProtocolError("control frame payload longer than 125 bytes")
        if (self._state is not OPEN and self._state is not CLOSING) or self.eof_sent:
            raise InvalidState(f"connection is {self._state.name}; cannot send control frames")
        self._send_frame(opcode, data, True)

    def _send_frame(self, opcode: Opcode, data: BytesLike, fin: bool) -> None:
        """Encode one frame through the extensions and queue it (RFC 6455 §5.2)."""
        if not isinstance(data, bytes):
            # A caller's bytearray could change after we queue it.
            data = bytes(data)
        first_byte = opcode | 0x80 if fin else opcode
        if self.extensions:
            frame = Frame(opcode, data, fin)
            for extension in self.extensions:
                frame = extension.encode(frame)
            data = frame.data
            first_byte |= frame.rsv1 << 6 | frame.rsv2 << 5 | frame.rsv3 << 4
        if self.debug:
            self.logger.debug("> %s", Frame(opcode, data, fin))
        key = None
        if self.side is CLIENT:
            # _next_mask_key(), with its common case inlined.
            try:
                key = _mask_key_pool.pop()
            except IndexError:
                key = _next_mask_key()
        length = len(data)
        if length <= _JOIN_LIMIT:
            self._output.append(encode_frame(first_byte, data, key))
        else:
            self._output.append(encode_header(first_byte, length, key))
            self._output.append(data if key is None else apply_mask(data, key))

    # Internals: receiving ------------------------------------------------

    def _discard_input(self) -> None:
        """Drop what is buffered and ignore all later input."""
        self._discarding = True
        self._buffer.clear()
        self._pieces = None

    def _fail_from_peer(self, code: int, exc: Exception) -> None:
        """The peer broke the protocol: keep the cause and fail (§7.1.7)."""
        if self.hold_failures and self._state is OPEN:
            self._held_failure = (code, exc)
            self._discard_input()
            if self.debug:
                self.logger.debug("! holding failure with code %d", code, exc_info=exc)
            return
        self._apply_failure(code, exc)

    def _apply_failure(self, code: int, exc: Exception) -> None:
        self.parser_exc = exc
        if self.debug:
            self.logger.debug("! failing connection with code %d", code, exc_info=exc)
        if isinstance(exc, UnicodeDecodeError):
            # Without the position, which depends on how the bytes arrived.
            reason = f"invalid UTF-8: {exc.reason}"
        else:
            reason = str(exc)
        if len(reason.encode()) > 123:
            reason = reason.encode()[:120].decode(errors="ignore") + "..."
        self.fail(code, reason)

    def _parse(self, data: BytesLike) -> None:
        """Parse every complete frame in the buffer and ``data``.

        Header checks run as soon as a header is complete, even when the
        payload has not arrived; they depend only on state that does not
        change until the frame is consumed, so running them again on the
        next call is harmless.

        Whole messages in one frame go through :func:`~sansws.frames.scan_frames`
        (compiled, or its pure-Python twin) when no extension, debug log or
        fragmented message asks for a decision per frame; every other frame,
        and any frame the scan declines, goes through the loop below, which
        makes every check and reports errors.
        """
        if self._pieces is not None:
            rest = self._receive_piece(data)
            if not rest:
                return
            data = rest
        buffer = self._buffer
        if buffer:
            buffer += data
            buf: BytesLike = buffer
        else:
            # Nothing left over: parse the caller's bytes in place and keep
            # only the tail, which saves a copy of every complete frame.
            buf = data
        size = len(buf)
        pos = 0
        is_client = self.side is CLIENT
        max_message = self.max_message_size
        max_fragment = self.max_fragment_size
        scan = not self.extensions and not self.debug
        # The smaller limit, -1 for none; spelt out because min() over a
        # generator costs about a microsecond on every read.
        if max_fragment is None or (max_message is not None and max_message <= max_fragment):
            limit = -1 if max_message is None else max_message
        else:
            limit = max_fragment
        events = self._events
        while True:
            if scan and self._recv_opcode is None and not self._utf8_checked:
                pos = scan_frames(buf, pos, not is_client, limit, events)
            if size - pos < 2:
                break
            first = buf[pos]
            second = buf[pos + 1]
            length = second & 0x7F
            header_end = pos + 2
            if length >= 126:
                if length == 126:
                    header_end = pos + 4
                    if size < header_end:
                        break
                    length = buf[pos + 2] << 8 | buf[pos + 3]
                    if length < 126:
                        self._fail_from_peer(1002, ProtocolError("non-minimal 16-bit length"))
                        return
                else:
                    header_end = pos + 10
                    if size < header_end:
                        break
                    length = int.from_bytes(buf[pos + 2 : header_end], "big")
                    if length >> 63:
                        self._fail_from_peer(
                            1002, ProtocolError("64-bit length with its top bit set")
                        )
                        return
                    if length < 0x10000:
                        self._fail_from_peer(1002, ProtocolError("non-minimal 64-bit length"))
                        return
            masked = second & 0x80
            if masked:
                if is_client:
                    self._fail_from_peer(1002, ProtocolError("masked frame from server"))
                    return
                header_end += 4
            elif not is_client:
                self._fail_from_peer(1002, ProtocolError("unmasked frame from client"))
                return
            opcode = first & 0x0F
            if first & 0x70 and first & 0x70 & ~self._reserved_bits():
                self._fail_from_peer(1002, ProtocolError("reserved bits must be 0"))
                return
            if opcode < 8:
                if opcode == 0:
                    if self._recv_opcode is None:
                        self._fail_from_peer(1002, ProtocolError("unexpected continuation frame"))
                        return
                elif opcode < 3:
                    if self._recv_opcode is not None:
                        self._fail_from_peer(1002, ProtocolError("expected a continuation frame"))
                        return
                else:
                    self._fail_from_peer(1002, ProtocolError(f"reserved opcode {opcode}"))
                    return
                if max_fragment is not None and length > max_fragment:
                    self._fail_from_peer(
                        1009,
                        PayloadTooBig(f"frame of {length} bytes exceeds {max_fragment}"),
                    )
                    return
                if (
                    max_message is not None
                    and self._recv_size + length > max_message
                    # An extension's frame (RSV bit set) is checked after
                    # decoding; on the wire it may exceed the message by
                    # what compression adds to incompressible data.
                    and (not first & 0x70 or length > _encoded_bound(max_message - self._recv_size))
                ):
                    self._fail_from_peer(
                        1009,
                        PayloadTooBig(
                            f"message of {self._recv_size + length}+ bytes exceeds {max_message}"
                        ),
                    )
                    return
            elif opcode > 10:
                self._fail_from_peer(1002, ProtocolError(f"reserved opcode {opcode}"))
                return
            elif length > 125:
                self._fail_from_peer(1002, ProtocolError("control frame longer than 125 bytes"))
                return
            elif not first & 0x80:
                self._fail_from_peer(1002, ProtocolError("fragmented control frame"))
                return

            end = header_end + length
            if size < end:
                if length >= _GATHER_LIMIT and size >= header_end:
                    # A large payload arrives over several reads: keep the
                    # reads as they come and unmask them once, into the
                    # final payload, when the last one is here.
                    self._start_pieces(first, length, buf, header_end, masked)
                    return
                if size > header_end + self._utf8_checked and self._is_text(first, opcode):
                    # §8.1: a text frame that arrives in pieces fails at the
                    # piece that brings an invalid byte, not when complete.
                    self._check_partial_text(buf, header_end, size, masked)
                break
            if masked:
                payload = apply_mask(buf[header_end:end], bytes(buf[header_end - 4 : header_end]))
            else:
                payload = bytes(buf[header_end:end])
            pos = end
            if not self._process_frame(
                Frame(
                    OPCODES[opcode],  # type: ignore[arg-type]
                    payload,
                    first & 0x80 != 0,
                    first & 0x40 != 0,
                    first & 0x20 != 0,
                    first & 0x10 != 0,
                )
            ):
                return
        if self._discarding:
            return
        if buf is buffer:
            del buffer[:pos]
        elif pos < size:
            buffer += buf[pos:]

    def _is_text(self, first: int, opcode: int) -> bool:
        """Tell whether a frame's payload is text to validate as it arrives.

        Compressed frames (RSV bits set) are validated once decoded, whole.
        """
        return not first & 0x70 and (opcode == 1 or (opcode == 0 and self._recv_opcode is OP_TEXT))

    def _check_partial_text(self, buf: BytesLike, start: int, size: int, masked: int) -> None:
        """Validate the bytes of an incomplete text frame's payload received so far."""
        checked = self._utf8_checked
        if masked:
            key = bytes(buf[start - 4 : start])
            # The mask continues from where the checked part ended.
            shift = checked & 3
            key = key[shift:] + key[:shift]
            chunk = apply_mask(buf[start + checked : size], key)
        else:
            chunk = bytes(buf[start + checked : size])
        if self._utf8 is None:
            self._utf8 = _UTF8Decoder()
        try:
            # The characters decoded are kept for Frame.text.
            self._utf8_parts.append(self._utf8.decode(chunk, False))
            _check_utf8_tail(self._utf8)
        except UnicodeDecodeError as exc:
            self._fail_from_peer(1007, exc)
            return
        self._utf8_checked = checked + len(chunk)

    def _start_pieces(
        self, first: int, length: int, buf: BytesLike, start: int, masked: int
    ) -> None:
        """Start gathering a large payload as a list of reads (see :meth:`_receive_piece`)."""
        if masked:
            self._pieces_key = bytes(buf[start - 4 : start])
        else:
            self._pieces_key = None
        self._pieces_first = first
        self._pieces_text = self._is_text(first, first & 0x0F)
        # The incomplete character that ended the previous fragment, if any.
        self._pieces_utf8 = b"" if self._utf8 is None else self._utf8.getstate()[0]
        self._pieces_length = length
        self._pieces = []
        self._pieces_size = 0
        if buf is self._buffer:
            # Hand the buffer over rather than copy its tail out of it.
            self._buffer = bytearray()
            self._add_piece(memoryview(buf)[start:])
        elif isinstance(buf, bytes):
            self._add_piece(memoryview(buf)[start:])
        else:
            # A caller's bytearray or memoryview could change after we return.
            self._add_piece(bytes(buf[start:]))

    def _receive_piece(self, data: BytesLike) -> BytesLike | None:
        """Add the next read to a large payload being gathered.

        Once the payload is complete, build its frame, process it, and
        return the bytes that followed it in ``data``; return None while the
        payload is incomplete or after a failure.
        """
        if not isinstance(data, bytes):
            # A caller's bytearray or memoryview could change after we return.
            data = bytes(data)
        need = self._pieces_length - self._pieces_size
        if len(data) < need:
            self._add_piece(data)
            return None
        view = memoryview(data)
        # The last piece is validated with the rest when the frame is
        # decoded, just below: no need to check it on its own.
        self._add_piece(view[:need], check=False)
        pieces = self._pieces
        assert pieces is not None
        if self._pieces_key is None or self._pieces_text:
            # Unmasked already: text is unmasked piece by piece to be validated.
            payload = b"".join(pieces)
        else:
            payload = apply_mask_pieces(pieces, self._pieces_key)
        self._pieces = None
        first = self._pieces_first
        if not self._process_frame(
            Frame(
                OPCODES[first & 0x0F],  # type: ignore[arg-type]
                payload,
                first & 0x80 != 0,
                first & 0x40 != 0,
                first & 0x20 != 0,
                first & 0x10 != 0,
            )
        ):
            return None
        return view[need:]

    def _add_piece(self, piece: BytesLike, check: bool = True) -> None:
        """Keep one piece of a large payload; unmask and validate it if it is text.

        Text is validated here without being decoded (§8.1: fail at the
        read that brings a bad byte), and decoded once, whole, when the
        frame is complete. A bad byte fails the connection.
        """
        if self._pieces_text:
            key = self._pieces_key
            if key is not None:
                # The mask continues from where the previous piece ended.
                shift = self._pieces_size & 3
                piece = apply_mask(piece, key[shift:] + key[:shift])
            if check:
                try:
                    self._pieces_utf8 = check_utf8(self._pieces_utf8, piece)
                except UnicodeDecodeError as exc:
                    self._fail_from_peer(1007, exc)
                    return
        assert self._pieces is not None
        self._pieces.append(piece)
        self._pieces_size += len(piece)

    def _reserved_bits(self) -> int:
        bits = 0
        for extension in self.extensions:
            bits |= extension.reserved_bits
        return bits

    def _process_frame(self, frame: Frame) -> bool:
        """Apply one complete frame; return False once input must be discarded."""
        if self.extensions:
            remaining = None
            if self.max_message_size is not None:
                remaining = self.max_message_size - self._recv_size
            try:
                for extension in reversed(self.extensions):
                    frame = extension.decode(frame, max_size=remaining)
            except PayloadTooBig as exc:
                self._fail_from_peer(1009, exc)
                return False
            except ProtocolError as exc:
                self._fail_from_peer(1002, exc)
                return False
            if frame.rsv1 or frame.rsv2 or frame.rsv3:
                self._fail_from_peer(1002, ProtocolError("reserved bits must be 0"))
                return False
        if self.debug:
            self.logger.debug("< %s", frame)
        opcode = frame.opcode
        if opcode < 8:
            return self._process_data_frame(frame)
        if opcode is OP_PING:
            self._events.append(frame)
            # §5.5.2: answer with the same payload, unless the stream is
            # already half-closed on our side. While pongs are held, only
            # the latest Ping will be answered (§5.5.3 allows it), so a
            # peer that pings without reading cannot grow our output.
            if self._pongs_held:
                self._pending_pong = frame.data
            elif not self.eof_sent:
                self._send_frame(OP_PONG, frame.data, True)
            return True
        if opcode is OP_PONG:
            self._events.append(frame)
            return True
        return self._process_close(frame)

    def _process_data_frame(self, frame: Frame) -> bool:
        opcode = frame.opcode
        if (self._recv_opcode if opcode is OP_CONT else opcode) is OP_TEXT:
            data = frame.data
            checked = self._utf8_checked
            try:
                if frame.fin and opcode is OP_TEXT and not checked:
                    # A whole message in one frame: plain decoding is faster
                    # than the incremental decoder.
                    frame.text = data.decode()
                else:
                    if checked:
                        # Part of this frame was validated while it arrived.
                        self._utf8_checked = 0
                        data = data[checked:]
                    if self._utf8 is None:
                        self._utf8 = _UTF8Decoder()
                    text = self._utf8.decode(data, frame.fin)
                    if not frame.fin:
                        _check_utf8_tail(self._utf8)
                    if self._utf8_parts:
                        self._utf8_parts.append(text)
                        text = "".join(self._utf8_parts)
                        self._utf8_parts = []
                    frame.text = text
            except UnicodeDecodeError as exc:
                self._fail_from_peer(1007, exc)
                return False
        if frame.fin:
            self._recv_opcode = None
            self._recv_size = 0
            self._utf8 = None
        else:
            if opcode is not OP_CONT:
                self._recv_opcode = opcode
            self._recv_size += len(frame.data)
        self._events.append(frame)
        return True

    def _process_close(self, frame: Frame) -> bool:
        """Handle a received Close frame (RFC 6455 §5.5.1, §7.1.2-§7.1.4)."""
        try:
            close = Close.parse(frame.data)
        except ProtocolError as exc:
            self._fail_from_peer(1002, exc)
            return False
        except UnicodeDecodeError as exc:
            self._fail_from_peer(1007, exc)
            return False
        self.close_rcvd = close
        if self._state is OPEN:
            # §5.5.1: echo the status code; sending back the very payload
            # received does that, reason included.
            self._send_frame(OP_CLOSE, frame.data, True)
            self.close_sent = close
            self.close_rcvd_then_sent = True
            self.state = CLOSING
        else:
            # CLOSING with no Close frame sent would mean a failure, and
            # input is discarded after one: we closed first.
            self.close_rcvd_then_sent = False
        # §7.1.1: the server closes TCP first, now that Close frames went
        # both ways; the client waits for that.
        if self.side is SERVER and not self.eof_sent:
            self.send_eof()
        self._events.append(frame)
        # §1.4: nothing follows a Close frame.
        self._discard_input()
        return False
