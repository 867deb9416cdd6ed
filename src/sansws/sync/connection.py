"""The threaded connection shared by clients and servers.

Theory of operation
-------------------
A :class:`Connection` owns a blocking socket and two background threads:

- the *reader* calls ``socket.recv()``, feeds the Sans-I/O core, puts data
  frames in a :class:`~sansws.assembly.MessageAssembler` and settles ping
  waiters. When the assembler says "paused" (above ``max_queue`` frames), the
  reader waits on a condition instead of reading, until a consumer brings the
  queue back to the low-water mark: a slow consumer stops the socket, it does
  not grow memory. When the peer's EOF arrives (or the socket fails), the
  reader ends the connection: the core reaches CLOSED and every waiter wakes.
- the *timer* sleeps on a condition until the next deadline: the keepalive
  schedule (:class:`~sansws.keepalive.Keepalive`; 1011 when a Pong is late)
  and ``close_timeout`` once the core says ``close_expected()``. At the
  close deadline it aborts the socket, which ends the reader. It is started
  only when one of the two is enabled.

One lock, ``_mutex``, guards the core, the assembler and the ping
bookkeeping; nothing blocks while holding it. Bytes from ``data_to_send()``
go to ``_pending`` under ``_mutex`` and are written in that order by
whoever holds ``_write_lock``. Application threads take ``_write_lock``
blocking, so ``send()`` waits while the kernel's send buffer is full (that
is the backpressure). The reader and the timer only *try* to take it: when
another thread holds it, that thread writes their bytes before releasing it
(the release happens under ``_mutex``, so no byte is stranded). The reader
therefore never waits behind an application write, and a peer that stops
reading cannot stop us from reading its Close frame. Meanwhile the core
holds its Pongs (``hold_pongs``), answering only the latest Ping once the
holder is done, so a peer that pings and never reads cannot grow
``_pending`` a Pong per Ping.
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, cast

from ..assembly import Data, MessageAssembler
from ..exceptions import (
    ConcurrencyError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidMessage,
)
from ..frames import OP_BINARY, OP_CONT, OP_PONG, OP_TEXT, CloseCode, Frame
from ..keepalive import Keepalive, PingTracker
from ..opening import MaxQueue, water_marks
from ..outgoing import (
    BytesLike,
    FragmentedMessage,
    closed_exc,
    message_frame,
    send_frame,
    split_eof,
    start_closing,
)
from ..protocol import CLIENT, CLOSED, OPEN, Protocol
from ..status import ConnectionStatus

__all__ = ["Connection", "PongWaiter"]

# Large enough for a full TLS record and for many small frames per call.
RECV_SIZE = 65536

# Pending chunks are joined into writes of up to this many bytes.
COALESCE_LIMIT = 65536


class PongWaiter(concurrent.futures.Future[float]):
    """What :meth:`Connection.ping` returns: a future of the latency.

    Besides the :class:`concurrent.futures.Future` API (``result(timeout)``
    returns the latency in seconds), it has :meth:`wait` and :meth:`is_set`,
    like the :class:`threading.Event` of ``websockets.sync``.
    """

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the Pong arrives or the connection closes.

        Returns:
            True if that happened, False on timeout.
        """
        concurrent.futures.wait([self], timeout)
        return self.done()

    def is_set(self) -> bool:
        """Tell whether the waiter is settled."""
        return self.done()


def tune_socket(sock: socket.socket) -> None:
    """Set TCP_NODELAY, and TCP_QUICKACK where it exists, on a TCP socket.

    Small frames must not wait for Nagle's algorithm, nor for the peer's
    delayed ACK of the previous segment.
    """
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if hasattr(socket, "TCP_QUICKACK"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:  # pragma: no cover - depends on the platform
            pass


class Connection(ConnectionStatus):
    """A WebSocket connection on threads: send and receive messages.

    Instances are made by :func:`~sansws.sync.client.connect` and
    :func:`~sansws.sync.server.serve`, not by applications. A ``with`` block
    closes the connection on exit.

    Args:
        sock: a connected blocking socket, TLS included.
        protocol: the Sans-I/O protocol, client or server side.
        ping_interval: seconds between keepalive Pings; None disables them.
        ping_timeout: seconds to wait for the Pong before failing the
            connection with 1011; None waits forever.
        close_timeout: seconds to wait for the peer to close the TCP
            connection once the core expects it; None waits forever.
        max_queue: high-water mark of the incoming queue in frames, or
            ``(high, low)``; None for no limit.
        write_limit: accepted for compatibility with the asyncio layer and
            unused: ``send()`` writes with ``sendall()`` and returns once the
            kernel took the bytes, so nothing is buffered beyond the frame
            being written and the socket's send buffer (``SO_SNDBUF``) is
            the only write buffer.
    """

    def __init__(
        self,
        sock: socket.socket,
        protocol: Protocol,
        *,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_queue: MaxQueue = 16,
        write_limit: int | tuple[int, int | None] = 2**15,
    ) -> None:
        self.socket = sock
        self.protocol = protocol
        self.logger: Any = protocol.logger
        self.close_timeout = close_timeout
        self.request: Any = None
        self.response: Any = None
        # Messages reach the application in its own thread: a frame that
        # breaks the protocol must not cut off the answers to the messages
        # before it, so the core holds the failure until the application
        # has taken them (see _release_failure_locked).
        protocol.hold_failures = True
        self._mutex = threading.Lock()
        self._message_cond = threading.Condition(self._mutex)
        self._resume_cond = threading.Condition(self._mutex)
        self._timer_cond = threading.Condition(self._mutex)
        self._write_lock = threading.Lock()
        # Serializes send(): a fragmented message is never interleaved.
        self._send_lock = threading.Lock()
        self._pending: list[bytes] = []
        # Set while a thread that could not take _write_lock left bytes to
        # its holder: the core holds its Pongs meanwhile.
        self._pongs_held = False
        self._assembler = MessageAssembler(*water_marks(max_queue))
        self._reading = False
        self._waiting = False
        self._fragmenting = False
        self._pings = PingTracker()
        self._ping_waiters: dict[bytes, PongWaiter] = {}
        self._keepalive = Keepalive(ping_interval, ping_timeout)
        self._close_deadline: float | None = None
        self._aborted = False
        self._lost = threading.Event()
        self._reader: threading.Thread | None = None
        self._timer: threading.Thread | None = None
        self._address = (sock.getsockname(), _peername(sock))

    # Public properties.

    @property
    def local_address(self) -> Any:
        """The local address of the socket, as ``getsockname()`` gives it."""
        return self._address[0]

    @property
    def remote_address(self) -> Any:
        """The address of the peer, as ``getpeername()`` gives it."""
        return self._address[1]

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Receiving.

    def recv(self, timeout: float | None = None, decode: bool | None = None) -> Data:
        """Receive the next message.

        Messages received before the connection closed are returned before
        :exc:`ConnectionClosed` is raised.

        Args:
            timeout: seconds to wait; None waits forever, 0 does not wait.
                On timeout, the fragments collected so far stay for the
                next call.
            decode: None returns ``str`` for Text messages and ``bytes`` for
                Binary messages; True returns ``str`` for both; False returns
                ``bytes`` for both.

        Returns:
            The message.

        Raises:
            TimeoutError: no complete message arrived within ``timeout``.
            ConnectionClosedOK: the connection closed cleanly.
            ConnectionClosedError: the connection closed with an error.
            ConcurrencyError: another thread is receiving.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._start_reading()
        try:
            while True:
                message: Data | None = self._next(self._assembler.get_message, decode, deadline)
                if message is not None:
                    return message
        finally:
            self._reading = False

    def recv_streaming(self, decode: bool | None = None) -> Iterator[Data]:
        """Receive the next message fragment by fragment, as the frames come.

        Text is decoded incrementally, so fragments are split on character
        boundaries. A message with one frame yields one fragment.

        Args:
            decode: as for :meth:`recv`.

        Raises:
            ConnectionClosed: the connection closed before the last fragment.
            ConcurrencyError: another thread is receiving.
        """
        self._start_reading()
        try:
            while True:
                item = self._next(self._assembler.get_fragment, decode, None)
                if item is not None:
                    yield item[0]
                    if item[1]:
                        return
        finally:
            self._reading = False

    def __iter__(self) -> Iterator[Data]:
        """Iterate over messages until the connection closes.

        Raises:
            ConnectionClosedError: the connection closed with an error; a
                clean closure ends the iteration.
        """
        try:
            while True:
                yield self.recv()
        except ConnectionClosedOK:
            return

    def _start_reading(self) -> None:
        with self._mutex:
            if self._reading:
                raise ConcurrencyError(
                    "cannot call recv() or recv_streaming() while another "
                    "thread is already receiving"
                )
            self._reading = True

    def _next(
        self, take: Callable[[bool | None], Any], decode: bool | None, deadline: float | None
    ) -> Any:
        """Take a message or fragment, or wait once for frames; None means "again"."""
        flush = False
        with self._mutex:
            item = take(decode)
            assembler = self._assembler
            if assembler.paused and assembler.poll_resume():
                self._resume_cond.notify()
            if item is not None:
                return item
            if self._lost.is_set():
                raise closed_exc(self.protocol)
            if self.protocol.failure_held:
                # The reader has handled every message before the bad frame:
                # its failure may go out now (Protocol.hold_failures).
                flush = self._release_failure_locked()
            else:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("timed out waiting for a message")
                self._waiting = True
                try:
                    self._message_cond.wait(remaining)
                finally:
                    self._waiting = False
        if flush:
            self._flush_and_release()
        return None

    # Sending.

    def send(
        self,
        message: Data | BytesLike | Iterable[Data | BytesLike],
        text: bool | None = None,
    ) -> None:
        """Send a message; wait while the socket's send buffer is full.

        A ``str`` is sent as a Text message, a bytes-like object as a Binary
        message (RFC 6455 §5.6). An iterable of them is sent as one
        fragmented message, one frame per item (§5.4); all items must be of
        the same kind, and an empty iterable sends nothing. Other calls to
        ``send()`` wait until the fragmented message is complete.

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
        frame = message_frame(message, text)
        if frame is None and not isinstance(message, Iterable):
            raise TypeError("the threaded send() cannot send an async iterable")
        with self._send_lock:
            if frame is not None:
                self._write(lambda: send_frame(self.protocol, *frame))
            else:
                self._send_fragments(iter(cast(Iterable[object], message)), text)

    def _send_fragments(self, chunks: Iterator[object], text: bool | None) -> None:
        sentinel = object()
        first = next(chunks, sentinel)
        if first is sentinel:
            return
        fragments: list[FragmentedMessage] = []
        self._write(lambda: fragments.append(FragmentedMessage(self.protocol, first, text)))
        self._fragmenting = True
        try:
            for chunk in chunks:
                self._write(lambda: fragments[0].send(chunk))  # noqa: B023 - called at once
            self._write(fragments[0].end)
        except BaseException:
            with self._mutex:
                if self.protocol.state is OPEN:
                    fragments[0].abort()
                flush = self._queue_output_locked()
            if flush:
                self._flush_and_release()
            raise
        finally:
            self._fragmenting = False

    def ping(self, data: Data | BytesLike | None = None) -> PongWaiter:
        """Send a Ping (RFC 6455 §5.5.2).

        Args:
            data: the payload, at most 125 bytes; a ``str`` is encoded to
                UTF-8; None picks 4 random bytes.

        Returns:
            A waiter whose result is the latency in seconds once the
            matching Pong arrives, or a later Ping is answered (§5.5.3); it
            fails with :exc:`ConnectionClosed` if the connection closes
            first. :attr:`latency` is updated.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ConcurrencyError: a Ping with the same payload is outstanding.
            ProtocolError: the payload is too long.
        """
        waiter = PongWaiter()

        def send_ping() -> None:
            if isinstance(data, str):
                payload = data.encode()
            elif data is None:
                payload = self._pings.new_payload()
            else:
                payload = bytes(data)
            self._pings.sent(payload, time.monotonic())
            self._ping_waiters[payload] = waiter
            self.protocol.send_ping(payload)

        self._write(send_ping)
        return waiter

    def pong(self, data: Data | BytesLike = b"") -> None:
        """Send an unsolicited Pong, as a heartbeat (RFC 6455 §5.5.3).

        Raises:
            ConnectionClosed: the connection is closed or closing.
        """
        payload = data.encode() if isinstance(data, str) else bytes(data)
        self._write(lambda: self.protocol.send_pong(payload))

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
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
        self._start_closing(code, reason)
        self._wait_lost()

    def _start_closing(self, code: int, reason: str) -> None:
        """Send the Close frame and arm close_timeout, without waiting."""
        with self._mutex:
            if not self._lost.is_set():
                start_closing(self.protocol, code, reason, self._fragmenting)
            flush = self._queue_output_locked()
            self._arm_close_timer_locked()
            # A paused reader must read on: the peer's Close is behind the
            # frames it stopped at.
            self._resume_cond.notify()
        if flush:
            self._flush_and_release()

    def _wait_lost(self) -> None:
        """Wait until the connection ends; bounded by close_timeout once armed."""
        self._lost.wait()
        current = threading.current_thread()
        for thread in (self._reader, self._timer):
            if thread is not None and thread is not current:
                thread.join()

    # Writing.

    def _write(self, queue_frames: Callable[[], object]) -> None:
        """Run ``queue_frames`` on the OPEN core and write what it queued.

        Raises:
            ConnectionClosed: the connection is not OPEN; raised once the
                connection ended (bounded by close_timeout), so that the
                close codes are known (§7.1.4).
        """
        self._write_lock.acquire()
        try:
            with self._mutex:
                if self.protocol.state is not OPEN or self._lost.is_set():
                    self._arm_close_timer_locked()
                    closed = True
                else:
                    closed = False
                    queue_frames()
                    self._pending.extend(self.protocol.data_to_send())
        except BaseException:
            self._write_lock.release()
            raise
        if closed:
            self._write_lock.release()
            self._wait_lost()
            raise closed_exc(self.protocol)
        if not self._flush_and_release():
            self._wait_lost()
            raise closed_exc(self.protocol)

    def _queue_output_locked(self) -> bool:
        """Under _mutex: queue the core's output; True if this thread must write it."""
        data = self.protocol.data_to_send()
        if data:
            self._pending.extend(data)
        if self.protocol.state is not OPEN and self.protocol.close_expected():
            self._arm_close_timer_locked()
        if not self._pending:
            return False
        if self._write_lock.acquire(blocking=False):
            return True
        if not self._pongs_held:
            # The holder may be stuck in sendall() on a peer that does not
            # read: if that peer pings, only the latest Ping is answered
            # until the holder is done, so _pending cannot grow a Pong per
            # Ping (RFC 6455 §5.5.3). _flush_and_release lets them go.
            self._pongs_held = True
            self.protocol.hold_pongs(True)
        return False

    def _flush_and_release(self) -> bool:
        """Write every pending chunk, then release _write_lock.

        Returns:
            False if the socket failed; the connection is then aborted.
        """
        ok = True
        while True:
            with self._mutex:
                if self._pongs_held:
                    # The reader could not write meanwhile: answer the
                    # latest Ping now.
                    self._pongs_held = False
                    self.protocol.hold_pongs(False)
                    self._pending.extend(self.protocol.data_to_send())
                chunks = self._pending
                if not chunks or not ok:
                    self._pending = []
                    # Released under _mutex: a thread that queues bytes and
                    # fails to take the lock knows that we will see them.
                    self._write_lock.release()
                    return ok
                self._pending = []
            chunks, eof = split_eof(chunks)
            try:
                for chunk in _coalesce(chunks):
                    self.socket.sendall(chunk)
                if eof:
                    self._half_close()
            except OSError as exc:
                self.logger.debug("! error while writing: %s", exc)
                ok = False
                self._abort()

    def _half_close(self) -> None:
        # TLS cannot be half-closed: ssl.SSLSocket.shutdown() drops the TLS
        # state under the reader. Close both ways, as asyncio does for TLS.
        how = socket.SHUT_WR if _is_plain(self.socket) else socket.SHUT_RDWR
        try:
            socket.socket.shutdown(self.socket, how)
        except OSError:
            pass

    def _abort(self) -> None:
        """Shut the socket down both ways: wakes the reader and any writer."""
        self._aborted = True
        try:
            socket.socket.shutdown(self.socket, socket.SHUT_RDWR)
        except OSError:
            pass

    # Closing.

    def _arm_close_timer_locked(self) -> None:
        if (
            self._close_deadline is None
            and self.close_timeout is not None
            and not self._lost.is_set()
        ):
            self._close_deadline = time.monotonic() + self.close_timeout
            self._timer_cond.notify()

    def _release_failure_locked(self) -> bool:
        """Let a failure held by the core go out; True if this thread must write."""
        self.protocol.release_failure()
        return self._queue_output_locked()

    # The opening handshake, in the thread that opens the connection.

    def _read_handshake(self, deadline: float | None) -> object:
        """Read until the core gives the Request or Response; return it.

        When the core refuses the peer's message by itself (a server's 400,
        414 or 431 to a request it cannot read, a client's unreadable
        response), no event comes: its answer is written at once. A client
        then raises; a server reads on, discarding, until the peer's end of
        stream, so that unread bytes do not make the kernel reset the
        connection before the peer reads the answer.

        Raises:
            TimeoutError: ``deadline`` passed.
            InvalidHandshake: the core refused the peer's message, or the
                peer closed the connection first (:exc:`InvalidMessage`).
        """
        refused = False
        while True:
            events = self.protocol.events_received()
            if events:
                with self._mutex:
                    self._process_events_locked(events[1:])
                return events[0]
            exc = self.protocol.handshake_exc
            if exc is not None and not refused:
                refused = True
                self._send_handshake()
                if self.protocol.side is CLIENT and isinstance(exc, InvalidHandshake):
                    raise exc
            if self.protocol.state is CLOSED:
                if isinstance(exc, InvalidHandshake):
                    raise exc
                raise InvalidMessage("connection closed during the opening handshake") from exc
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out during the opening handshake")
                self.socket.settimeout(remaining)
            try:
                data = self.socket.recv(RECV_SIZE)
            except TimeoutError:
                raise TimeoutError("timed out during the opening handshake") from None
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()

    def _send_handshake(self) -> None:
        """Write what the handshake queued, in the thread that opens the connection."""
        chunks, eof = split_eof(self.protocol.data_to_send())
        for chunk in chunks:
            self.socket.sendall(chunk)
        if eof:
            self._half_close()

    def _start(self) -> None:
        """Start the background threads, once the handshake is done."""
        self.socket.settimeout(None)
        name = f"sansws-{self.protocol.side.name.lower()}-{self.id.hex[:8]}"
        with self._mutex:
            # A server's 101 makes the core parse frames the client sent early.
            self._process_events_locked(self.protocol.events_received())
            if self.protocol.state is OPEN:
                self._keepalive.start(time.monotonic())
            elif self.protocol.close_expected():
                self._arm_close_timer_locked()
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-reader", daemon=True)
        self._reader.start()
        if self._keepalive.deadline is not None or self.close_timeout is not None:
            self._timer = threading.Thread(
                target=self._timer_loop, name=f"{name}-timer", daemon=True
            )
            self._timer.start()

    # The reader thread.

    def _read_loop(self) -> None:
        try:
            while True:
                with self._mutex:
                    while (
                        self._assembler.paused and self.protocol.state is OPEN and not self._aborted
                    ):
                        self._resume_cond.wait()
                try:
                    data = self.socket.recv(RECV_SIZE)
                except OSError as exc:
                    self.logger.debug("! error while reading: %s", exc)
                    data = b""
                if not data:
                    break
                with self._mutex:
                    self.protocol.receive_data(data)
                    self._process_events_locked(self.protocol.events_received())
                    if self.protocol.failure_held and self._waiting and not self._assembler.queued:
                        # Nothing came before the bad frame that the reader
                        # has to see.
                        self.protocol.release_failure()
                    flush = self._queue_output_locked()
                if flush:
                    self._flush_and_release()
        except Exception:  # pragma: no cover - a bug in sansws
            self.logger.error("reader thread failed", exc_info=True)
        finally:
            self._connection_lost()

    def _process_events_locked(self, events: Sequence[object]) -> None:
        put = False
        for event in events:
            if type(event) is Frame:
                opcode = event.opcode
                if opcode is OP_TEXT or opcode is OP_BINARY or opcode is OP_CONT:
                    self._assembler.put(event)
                    put = True
                elif opcode is OP_PONG:
                    self._pong_received_locked(event.data)
                # The core answers Pings and runs the closing handshake.
        if put:
            self._message_cond.notify()

    def _pong_received_locked(self, data: bytes) -> None:
        now = time.monotonic()
        acknowledged = self._pings.acknowledge(data, now)
        for payload, latency in acknowledged:
            waiter = self._ping_waiters.pop(payload, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(latency)
        if self._keepalive.acknowledged(acknowledged, now):
            self._timer_cond.notify()

    def _connection_lost(self) -> None:
        with self._mutex:
            self.protocol.receive_eof()
            self._process_events_locked(self.protocol.events_received())
            flush = self._queue_output_locked()
        if flush:
            self._flush_and_release()
        self._abort()
        # Closing the socket under a writer would be unsafe: wait for it,
        # now that the shutdown above makes any write fail at once.
        with self._write_lock:
            self.socket.close()
        with self._mutex:
            self.protocol.data_to_send()  # nowhere to send it any more
            self._pending.clear()
            self._keepalive.stop()
            self._pings.clear()
            waiters = list(self._ping_waiters.values())
            self._ping_waiters.clear()
            exc = closed_exc(self.protocol)
            self._lost.set()
            self._message_cond.notify_all()
            self._timer_cond.notify_all()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(exc)

    # The timer thread.

    def _timer_loop(self) -> None:
        while True:
            flush = False
            with self._mutex:
                if self._lost.is_set():
                    return
                now = time.monotonic()
                deadlines = [
                    d for d in (self._close_deadline, self._keepalive.deadline) if d is not None
                ]
                if not deadlines or min(deadlines) > now:
                    self._timer_cond.wait(min(deadlines) - now if deadlines else None)
                    continue
                if self._close_deadline is not None and self._close_deadline <= now:
                    self._close_deadline = None
                    self.logger.debug("! timed out waiting for TCP close")
                    self._abort()
                    self._resume_cond.notify()
                    continue
                flush = self._keepalive_expired_locked(now)
            if flush:
                self._flush_and_release()

    def _keepalive_expired_locked(self, now: float) -> bool:
        """Under _mutex: send the keepalive Ping or fail with 1011 (RFC 6455 §5.5.2)."""
        keepalive = self._keepalive
        if keepalive.awaiting_pong:
            keepalive.stop()
            if self.protocol.state is OPEN:
                self.logger.info("! keepalive ping timeout")
                self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            return self._queue_output_locked()
        # A reader that never comes back must not keep a failure held.
        self.protocol.release_failure()
        if self.protocol.state is not OPEN:
            keepalive.stop()
        else:
            self.protocol.send_ping(keepalive.ping(self._pings, now))
        return self._queue_output_locked()


def _coalesce(chunks: list[bytes]) -> list[bytes]:
    """Join runs of small chunks, so that a sendall() writes each run.

    Frames queued together (a large frame's header and payload, a burst of
    small messages, the reader's Pongs) then leave in one system call and,
    with TCP_NODELAY, without a segment each. Chunks of COALESCE_LIMIT bytes
    or more are written as they are: copying them would cost more than the
    call saved.
    """
    if len(chunks) < 2:
        return chunks
    out: list[bytes] = []
    run: list[bytes] = []
    size = 0
    for chunk in chunks:
        if size + len(chunk) > COALESCE_LIMIT:
            if run:
                out.append(b"".join(run) if len(run) > 1 else run[0])
                run = []
                size = 0
            if len(chunk) >= COALESCE_LIMIT:
                out.append(chunk)
                continue
        run.append(chunk)
        size += len(chunk)
    if run:
        out.append(b"".join(run) if len(run) > 1 else run[0])
    return out


def _is_plain(sock: socket.socket) -> bool:
    # Avoids importing ssl: an SSLSocket is a socket subclass with a context.
    return type(sock) is socket.socket


def _peername(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:  # pragma: no cover - the peer is already gone
        return None
