"""The incoming message queue of an asyncio connection.

:class:`MessageQueue` wraps the Sans-I/O :class:`~sansws.assembly.MessageAssembler`
with what only asyncio needs: a waiter for a reader that finds the queue
empty, and the calls that pause and resume reading on the transport. When a
message is already queued, :meth:`MessageQueue.get` returns it without
creating a future, so a fast reader costs no allocation beyond the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from ..assembly import Data, MessageAssembler
from ..exceptions import ConcurrencyError
from ..frames import Frame

__all__ = ["MessageQueue"]


def _nothing() -> None:
    """What the callbacks of a closed queue do."""


class MessageQueue:
    """Data frames in, messages or fragments out, with backpressure.

    Args:
        loop: the event loop the connection runs on.
        pause: called when the queue goes over the high-water mark.
        resume: called when it drops back to the low-water mark.
        idle: called when a reader has taken every queued message and is
            about to wait for more.
        high: high-water mark in frames; None for no limit.
        low: low-water mark in frames; None for ``high // 4``.
    """

    __slots__ = (
        "_assembler",
        "_closed",
        "_idle",
        "_loop",
        "_pause",
        "_reading",
        "_resume",
        "_waiter",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pause: Callable[[], object],
        resume: Callable[[], object],
        idle: Callable[[], object],
        high: int | None = 16,
        low: int | None = None,
    ) -> None:
        self._loop = loop
        self._idle = idle
        self._assembler = MessageAssembler(high, low)
        self._pause = pause
        self._resume = resume
        self._waiter: asyncio.Future[None] | None = None
        self._reading = False
        self._closed = False

    @property
    def paused(self) -> bool:
        """True while reading from the network should be paused."""
        return self._assembler.paused

    @property
    def waiting(self) -> bool:
        """True while a reader waits for a frame."""
        return self._waiter is not None

    @property
    def queued(self) -> int:
        """The number of frames waiting for a reader."""
        return self._assembler.queued

    def put(self, frame: Frame) -> None:
        """Queue a data frame and wake up a waiting reader."""
        if self._assembler.put(frame):
            self._pause()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Mark the end of the stream: readers drain the queue, then stop.

        The callbacks are dropped: they are the connection's bound methods,
        and keeping them would leave the connection in a reference cycle
        for the cyclic GC. Nothing is left for them to do.
        """
        self._closed = True
        self._pause = self._resume = self._idle = _nothing
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _start_reading(self) -> None:
        if self._reading:
            raise ConcurrencyError(
                "cannot call recv() or recv_streaming() while another "
                "coroutine is already receiving"
            )
        self._reading = True

    async def _wait(self) -> None:
        if self._closed:
            raise EOFError("stream of frames ended")
        # The reader has handled every message before this point: a failure
        # held back for their sake may go out now (Protocol.hold_failures).
        self._idle()
        if self._closed:
            raise EOFError("stream of frames ended")
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def get(self, decode: bool | None = None) -> Data:
        """Return the next message; see :meth:`MessageAssembler.get_message`.

        Raises:
            EOFError: if the stream ended and no complete message is left.
            ConcurrencyError: if another coroutine is receiving.
        """
        self._start_reading()
        try:
            assembler = self._assembler
            while True:
                message = assembler.get_message(decode)
                if assembler.paused and assembler.poll_resume():
                    self._resume()
                if message is not None:
                    return message
                await self._wait()
        finally:
            self._reading = False

    async def get_iter(self, decode: bool | None = None) -> AsyncIterator[Data]:
        """Yield the fragments of the next message as they arrive.

        Raises:
            EOFError: if the stream ends before the last fragment.
            ConcurrencyError: if another coroutine is receiving.
        """
        self._start_reading()
        try:
            assembler = self._assembler
            while True:
                item = assembler.get_fragment(decode)
                if assembler.paused and assembler.poll_resume():
                    self._resume()
                if item is None:
                    await self._wait()
                    continue
                yield item[0]
                if item[1]:
                    return
        finally:
            self._reading = False
