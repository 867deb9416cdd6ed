"""The asyncio connection shared by clients and servers.

Theory of operation
-------------------
:class:`Connection` is an :class:`asyncio.Protocol`: the event loop calls
``data_received``, ``eof_received`` and ``connection_lost``, and the
connection feeds the Sans-I/O core, dispatches its events and writes what it
has to send. No task runs per connection; timers are loop callbacks.

- Data frames go to a :class:`~sansws.asyncio.messages.MessageQueue`, which
  pauses reading on the transport above ``max_queue`` frames.
- Pongs settle the waiters of :meth:`Connection.ping` through a
  :class:`~sansws.keepalive.PingTracker`; the keepalive timer sends a Ping
  every ``ping_interval`` seconds and fails the connection with 1011 if no
  Pong comes within ``ping_timeout`` (RFC 6455 §5.5.2).
- ``data_to_send()`` goes to ``transport.writelines()``; an empty chunk asks
  for a half-close (RFC 6455 §7.1.1). Writes above ``write_limit`` make the
  transport call ``pause_writing``; senders then wait for ``resume_writing``.
- Whenever the core says ``close_expected()``, a timer aborts the transport
  if the peer has not closed the TCP connection within ``close_timeout``.
- ``connection_lost`` is the single place where the connection ends: the
  core gets EOF, reaches CLOSED, and every waiter is released.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Iterator
from time import monotonic
from typing import Any, NoReturn, cast

from ..assembly import Data
from ..exceptions import ConnectionClosed, ConnectionClosedOK
from ..frames import OP_BINARY, OP_CONT, OP_PONG, OP_TEXT, CloseCode, Frame
from ..keepalive import Keepalive, PingTracker
from ..opening import LoggerLike, MaxQueue, resolve_logger, water_marks
from ..outgoing import (
    BytesLike,
    FragmentedMessage,
    closed_exc,
    message_frame,
    send_frame,
    split_eof,
    start_closing,
)
from ..protocol import OPEN, Protocol
from ..status import ConnectionStatus
from .messages import MessageQueue

__all__ = ["Connection", "LoggerLike", "MaxQueue", "resolve_logger"]

#: The most bytes of sent messages held back to be written together at the end
#: of a loop iteration; more are written at once (see
#: ``Connection._send_message_data``). Small, so that holding adds little to
#: what ``write_limit`` lets the transport buffer, yet enough for a thousand
#: 16-byte messages or sixteen of 1 KiB in one system call.
HOLD_LIMIT = 2**14

#: A message sent less than this many seconds after the last write is part of
#: a burst and is held to be written with the rest of it (see
#: ``Connection._send_message_data``). A request/response round trip over
#: loopback takes 25 µs or more, so its messages are written at once.
BURST_GAP = 20e-6


class Connection(ConnectionStatus, asyncio.Protocol):
    """A WebSocket connection on asyncio: send and receive messages.

    Instances are made by :func:`~sansws.asyncio.client.connect` and
    :func:`~sansws.asyncio.server.serve`, not by applications.

    Args:
        protocol: the Sans-I/O protocol, client or server side.
        ping_interval: seconds between keepalive Pings; None disables them.
        ping_timeout: seconds to wait for the Pong before failing the
            connection with 1011; None waits forever.
        close_timeout: seconds to wait for the peer to close the TCP
            connection once the core expects it; None waits forever.
        max_queue: high-water mark of the incoming queue in frames, or
            ``(high, low)``; None for no limit.
        write_limit: high-water mark of the write buffer in bytes, or
            ``(high, low)``.
        logger: where to log; defaults to the protocol's logger.
    """

    __slots__ = (
        "_close_timer",
        "_closed",
        "_drain_waiter",
        "_flush_handle",
        "_fragment_waiter",
        "_held",
        "_held_size",
        "_keepalive",
        "_keepalive_timer",
        "_last_write",
        "_lost",
        "_messages",
        "_ping_waiters",
        "_pings",
        "_transport",
        "_write_limit",
        "_write_paused",
        "close_timeout",
        "logger",
        "loop",
        "ping_interval",
        "ping_timeout",
        "protocol",
        "request",
        "response",
    )

    def __init__(
        self,
        protocol: Protocol,
        *,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_queue: MaxQueue = 16,
        write_limit: int | tuple[int, int | None] = 2**15,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self.protocol = protocol
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.logger = protocol.logger if logger is None else logger
        self.loop = asyncio.get_running_loop()
        self.request: Any = None
        self.response: Any = None
        high, low = water_marks(max_queue)
        self._messages = MessageQueue(
            self.loop, self._pause_reading, self._resume_reading, self._release_failure, high, low
        )
        # Messages reach the application later, in its own task: a frame
        # that breaks the protocol must not cut off the answers to the
        # messages before it, so the core holds the failure until the
        # application has taken them (see _release_failure).
        protocol.hold_failures = True
        self._write_limit = write_limit
        self._transport: asyncio.Transport | None = None
        self._pings = PingTracker()
        self._ping_waiters: dict[bytes, asyncio.Future[float]] = {}
        self._keepalive = Keepalive(ping_interval, ping_timeout)
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        # Set while send() streams a fragmented message: other senders wait.
        self._fragment_waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._lost: asyncio.Future[None] = self.loop.create_future()
        # Write coalescing (see _send_message_data): bytes of messages sent
        # after the first in this loop iteration, and the callback that
        # writes them at the end of it.
        self._held: list[bytes] = []
        self._held_size = 0
        self._flush_handle: asyncio.Handle | None = None
        self._last_write = 0.0

    # Public properties.

    @property
    def transport(self) -> asyncio.Transport:
        """The transport; only valid once the connection is made.

        Getting it writes any messages held for coalescing first (see
        :meth:`send`), so that bytes written to it directly follow every
        message sent before.
        """
        assert self._transport is not None, "connection not made yet"
        if self._held:
            self._write_held()
        return self._transport

    @property
    def local_address(self) -> Any:
        """The local address of the socket, as ``getsockname()`` gives it."""
        return self.transport.get_extra_info("sockname")

    @property
    def remote_address(self) -> Any:
        """The address of the peer, as ``getpeername()`` gives it."""
        return self.transport.get_extra_info("peername")

    # Receiving.

    async def recv(self, decode: bool | None = None) -> Data:
        """Receive the next message.

        Messages received before the connection closed are returned before
        :exc:`ConnectionClosed` is raised. Cancelling ``recv()`` is safe: the
        fragments collected so far stay for the next call.

        Args:
            decode: None returns ``str`` for Text messages and ``bytes`` for
                Binary messages; True returns ``str`` for both; False returns
                ``bytes`` for both.

        Returns:
            The message.

        Raises:
            ConnectionClosedOK: the connection closed cleanly.
            ConnectionClosedError: the connection closed with an error.
            ConcurrencyError: another coroutine is receiving.
        """
        try:
            return await self._messages.get(decode)
        except EOFError:
            raise self._closed_exc() from None

    async def recv_streaming(self, decode: bool | None = None) -> AsyncIterator[Data]:
        """Receive the next message fragment by fragment, as the frames come.

        Text is decoded incrementally, so fragments are split on character
        boundaries. A message with one frame yields one fragment.

        Args:
            decode: as for :meth:`recv`.

        Raises:
            ConnectionClosed: the connection closed before the last fragment.
            ConcurrencyError: another coroutine is receiving.
        """
        try:
            async for fragment in self._messages.get_iter(decode):
                yield fragment
        except EOFError:
            raise self._closed_exc() from None

    async def __aiter__(self) -> AsyncIterator[Data]:
        """Iterate over messages until the connection closes.

        Raises:
            ConnectionClosedError: the connection closed with an error; a
                clean closure ends the iteration.
        """
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    # Sending.

    async def send(
        self,
        message: Data | BytesLike | Iterable[Data | BytesLike] | AsyncIterable[Data | BytesLike],
        text: bool | None = None,
    ) -> None:
        """Send a message, waiting while the write buffer is over ``write_limit``.

        A ``str`` is sent as a Text message, a bytes-like object as a Binary
        message (RFC 6455 §5.6). An iterable or an async iterable of them is
        sent as one fragmented message, one frame per item (§5.4); all items
        must be of the same kind, and an empty iterable sends nothing. Other
        calls to ``send()`` wait until the fragmented message is complete.

        A message that follows the previous write within 20 µs is held, with
        at most 16 KiB of others, and written with them at the end of the
        event loop iteration: a burst of sends costs one system call. The
        order of calls is kept on the wire; a held message waits if the
        loop is blocked before the iteration ends.

        Args:
            message: what to send.
            text: force the opcode: True sends bytes as Text, False sends a
                ``str`` as Binary; None picks it from the type.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            TypeError: ``message`` has an unsupported type, or an iterable
                mixes ``str`` and bytes. If this happens in the middle of a
                fragmented message, the connection fails with 1011.
        """
        while self._fragment_waiter is not None:
            await asyncio.shield(self._fragment_waiter)
        frame = message_frame(message, text)
        if frame is None:
            if isinstance(message, Iterable):
                await self._send_fragments(iter(message), text)
            else:
                await self._send_fragments(aiter(cast(AsyncIterable[object], message)), text)
            return
        if not self._check_open():
            await self._raise_closed()
        send_frame(self.protocol, *frame)
        self._send_message_data()
        if self._write_paused:
            await self._drain()

    async def _send_fragments(
        self,
        chunks: Iterator[object] | AsyncIterator[object],
        text: bool | None,
    ) -> None:
        sentinel = object()
        if isinstance(chunks, AsyncIterator):
            first: object = await anext(chunks, sentinel)
        else:
            first = next(chunks, sentinel)
        if first is sentinel:
            return
        if not self._check_open():
            await self._raise_closed()
        fragments = FragmentedMessage(self.protocol, first, text)
        waiter = self.loop.create_future()
        self._fragment_waiter = waiter
        try:
            await self._flush_and_drain()
            if isinstance(chunks, AsyncIterator):
                async for chunk in chunks:
                    fragments.send(chunk)
                    await self._flush_and_drain()
            else:
                for chunk in chunks:
                    fragments.send(chunk)
                    await self._flush_and_drain()
            fragments.end()
            await self._flush_and_drain()
        except BaseException:
            if self.protocol.state is OPEN:
                fragments.abort()
                self._send_data()
            raise
        finally:
            self._fragment_waiter = None
            waiter.set_result(None)

    async def _flush_and_drain(self) -> None:
        self._send_data()
        if self._write_paused:
            await self._drain()
        if self._closed:
            raise self._closed_exc()

    async def ping(self, data: Data | BytesLike | None = None) -> Awaitable[float]:
        """Send a Ping (RFC 6455 §5.5.2).

        Args:
            data: the payload, at most 125 bytes; a ``str`` is encoded to
                UTF-8; None picks 4 random bytes.

        Returns:
            A future that resolves to the latency in seconds when the
            matching Pong arrives, or to the same when a later Ping is
            answered (§5.5.3); it fails with :exc:`ConnectionClosed` if the
            connection closes first. :attr:`latency` is updated.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ConcurrencyError: a Ping with the same payload is outstanding.
            ProtocolError: the payload is too long.
        """
        if isinstance(data, str):
            payload = data.encode()
        elif data is None:
            payload = self._pings.new_payload()
        else:
            payload = bytes(data)
        if not self._check_open():
            await self._raise_closed()
        self._pings.sent(payload, self.loop.time())
        waiter: asyncio.Future[float] = self.loop.create_future()
        self._ping_waiters[payload] = waiter
        self.protocol.send_ping(payload)
        await self._flush_and_drain()
        return waiter

    async def pong(self, data: Data | BytesLike = b"") -> None:
        """Send an unsolicited Pong, as a heartbeat (RFC 6455 §5.5.3).

        Raises:
            ConnectionClosed: the connection is closed or closing.
        """
        payload = data.encode() if isinstance(data, str) else bytes(data)
        if not self._check_open():
            await self._raise_closed()
        self.protocol.send_pong(payload)
        await self._flush_and_drain()

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Run the closing handshake and wait until the TCP connection closes.

        Waits at most ``close_timeout`` for the peer, then aborts the
        connection. Idempotent: calling it on a closed or closing connection
        just waits. If a fragmented message is being sent, the connection
        fails with 1011 instead, since the message cannot be finished.

        Args:
            code: the close code (RFC 6455 §7.4).
            reason: the close reason, at most 123 bytes in UTF-8.

        Raises:
            ProtocolError: the code may not be sent or the reason is too long.
        """
        if self.protocol.state is OPEN and not self._closed:
            start_closing(self.protocol, code, reason, self._fragment_waiter is not None)
            self._send_data()
        self._arm_close_timer()
        await asyncio.shield(self._lost)

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed and the state is CLOSED."""
        await asyncio.shield(self._lost)

    # Helpers for the methods above.

    def _check_open(self) -> bool:
        return self.protocol.state is OPEN and not self._closed

    async def _raise_closed(self) -> NoReturn:
        # Not OPEN: the closing handshake is under way. Wait until it ends
        # (bounded by close_timeout) so that close_exc is known (§7.1.4).
        self._arm_close_timer()
        await asyncio.shield(self._lost)
        raise self._closed_exc()

    def _closed_exc(self) -> ConnectionClosed:
        return closed_exc(self.protocol)

    async def _drain(self) -> None:
        if self._drain_waiter is None:
            self._drain_waiter = self.loop.create_future()
        await asyncio.shield(self._drain_waiter)
        if self._closed:
            raise self._closed_exc()

    def _send_message_data(self) -> None:
        """Write what send() queued, coalescing bursts of messages.

        A message sent more than :data:`BURST_GAP` seconds after the end of
        the last write goes out at once, so request/response traffic pays no delay
        and no extra callback. A message that follows a write more closely,
        as in an echo of a batch of reads or a task sending in a loop, is
        held, and the held messages are written together by one callback at
        the end of the loop iteration: one system call for the burst instead
        of one per message. At most :data:`HOLD_LIMIT` bytes are held; past
        that they are written at once. Every other write (:meth:`_send_data`)
        writes the held bytes first, so the order on the wire is the order
        of the calls.
        """
        if not self._held and monotonic() - self._last_write > BURST_GAP:
            self._write_held()
            return
        data = self.protocol.data_to_send()
        self._held += data
        self._held_size += sum(map(len, data))
        if self._held_size >= HOLD_LIMIT:
            self._write_held()
        elif self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._end_of_iteration)

    def _end_of_iteration(self) -> None:
        self._flush_handle = None
        if self._held:
            self._write_held()

    def _write_held(self) -> None:
        """Write the held messages and what the core queued; restart the gap."""
        self._send_data()
        self._last_write = monotonic()

    def _send_data(self) -> None:
        data = self.protocol.data_to_send()
        if self._held:
            data[:0] = self._held
            self._held = []
            self._held_size = 0
        if data:
            transport = self._transport
            if transport is not None and not transport.is_closing():
                chunks, eof = split_eof(data)
                if chunks:
                    transport.writelines(chunks)
                if eof:
                    if transport.can_write_eof():
                        transport.write_eof()
                    else:
                        transport.close()
        if self.protocol.state is not OPEN and self.protocol.close_expected():
            self._arm_close_timer()

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and not self._closed and self.close_timeout is not None:
            self._close_timer = self.loop.call_later(self.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self.logger.debug("! timed out waiting for TCP close")
        if self._transport is not None:
            self._transport.abort()

    def _process_events(self) -> None:
        messages = self._messages
        for event in self.protocol.events_received():
            if type(event) is Frame:
                opcode = event.opcode
                if opcode is OP_TEXT or opcode is OP_BINARY or opcode is OP_CONT:
                    messages.put(event)
                elif opcode is OP_PONG:
                    self._pong_received(event.data)
                # The core answers Pings and runs the closing handshake.
            else:
                self._handshake_event(event)

    def _handshake_event(self, event: object) -> None:
        """Handle the Request or the Response of the opening handshake."""
        raise NotImplementedError

    # Keepalive (RFC 6455 §5.5.2, §5.5.3).

    def _start_keepalive(self) -> None:
        self._keepalive.start(self.loop.time())
        self._schedule_keepalive()

    def _schedule_keepalive(self) -> None:
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None
        deadline = self._keepalive.deadline
        if deadline is not None:
            self._keepalive_timer = self.loop.call_at(deadline, self._keepalive_expired)

    def _keepalive_expired(self) -> None:
        self._keepalive_timer = None
        if self._keepalive.awaiting_pong:
            self._keepalive_timed_out()
        else:
            self._keepalive_ping()

    def _release_failure(self) -> None:
        """Let a failure held by the core go out, now that the reader is idle."""
        if self.protocol.failure_held:
            self.protocol.release_failure()
            self._send_data()

    def _keepalive_ping(self) -> None:
        # A reader that never comes back must not keep a failure held.
        self._release_failure()
        if not self._check_open():
            return
        self.protocol.send_ping(self._keepalive.ping(self._pings, self.loop.time()))
        self._send_data()
        self._schedule_keepalive()

    def _keepalive_timed_out(self) -> None:
        if self._check_open():
            self.logger.info("! keepalive ping timeout")
            self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            self._send_data()

    def _pong_received(self, data: bytes) -> None:
        now = self.loop.time()
        acknowledged = self._pings.acknowledge(data, now)
        for payload, latency in acknowledged:
            waiter = self._ping_waiters.pop(payload, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(latency)
        if self._keepalive.acknowledged(acknowledged, now):
            self._schedule_keepalive()

    # asyncio.Protocol callbacks.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        if isinstance(self._write_limit, int):
            high, low = self._write_limit, None
        else:
            high, low = self._write_limit
        transport.set_write_buffer_limits(high, low)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small frames must not wait for Nagle's algorithm, nor for the
            # peer's delayed ACK of the previous segment. QUICKACK is set once
            # and not re-armed after each read: on loopback, round trips of
            # 100 B to 200 KB messages measured the same with it on or off.
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if hasattr(socket, "TCP_QUICKACK"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:  # pragma: no cover - depends on the platform
                pass

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        self._process_events()
        self._send_data()
        messages = self._messages
        if self.protocol.failure_held and messages.waiting and not messages.queued:
            # Nothing came before the bad frame that the reader has to see.
            self._release_failure()

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        self._process_events()
        self._send_data()
        # Returning None lets the transport close once its buffer is flushed:
        # nothing can be sent after the peer's EOF that is not queued now.

    def pause_writing(self) -> None:
        self._write_paused = True
        # A peer that pings and never reads would otherwise grow the write
        # buffer by one Pong per Ping: the core answers only the latest.
        self.protocol.hold_pongs(True)

    def resume_writing(self) -> None:
        self._write_paused = False
        self.protocol.hold_pongs(False)
        self._send_data()
        waiter = self._drain_waiter
        self._drain_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.protocol.receive_eof()
        self._process_events()
        self.protocol.data_to_send()  # nowhere to send it any more
        for timer in (self._close_timer, self._keepalive_timer):
            if timer is not None:
                timer.cancel()
        self._close_timer = self._keepalive_timer = None
        self._keepalive.stop()
        self._messages.close()
        self._pings.clear()
        if self._ping_waiters:
            closed_exc = self._closed_exc()
            for waiter in self._ping_waiters.values():
                if not waiter.done():
                    waiter.set_exception(closed_exc)
                    # Nobody has to await a ping's waiter: don't log it.
                    waiter.exception()
            self._ping_waiters.clear()
        self.resume_writing()
        if not self._lost.done():
            self._lost.set_result(None)
