"""Message assembly: from data frames to messages, without I/O.

Theory of operation
-------------------
The Sans-I/O core hands out frames. An application wants messages: a ``str``
for a Text message, ``bytes`` for a Binary message (RFC 6455 §5.6), or the
fragments of one message as they arrive (§5.4). :class:`MessageAssembler`
sits between the two. The I/O layer calls :meth:`~MessageAssembler.put` for
every data frame the core returns, and the reader calls
:meth:`~MessageAssembler.get_message` or :meth:`~MessageAssembler.get_fragment`
until they return ``None``, which means "wait for more frames".

Frames wait in a queue until a reader takes them. The queue is counted in
frames, and crossing the high-water mark tells the I/O layer to stop reading
from the network; going back to the low-water mark tells it to resume. A
message that a reader has started to collect is moved out of the queue as it
arrives, so a fragmented message can never stall the queue: its size is
bounded by ``max_size`` in the core instead.

The core validates UTF-8 as text fragments arrive (§8.1) and keeps what it
decoded in :attr:`Frame.text <sansws.frames.Frame>`: the whole message for a
single frame, the characters completed by each fragment otherwise. So Text
is not decoded here a second time: a single-frame message is its
``frame.text``, a fragmented one the join of its frames' ``text``, and
:meth:`~MessageAssembler.get_fragment` hands out each frame's ``text``.

Frames built elsewhere have no ``text``; then, and for Binary messages read
with ``decode=True``, the payload is decoded here. Python has no way to build
a ``str`` from bytes without checking them again, so the cheapest path is
chosen by measurement: one ``bytes.join`` and one ``decode`` for small
fragments, and an incremental decoder over the fragments when they are
large, where it avoids copying the whole message once more (about twice as
fast above 16 KiB per fragment for non-ASCII text, the same for ASCII).

This module imports nothing from asyncio or threading: the asyncio and the
threaded layers share it.
"""

from __future__ import annotations

import codecs
from collections import deque

from .frames import OP_CONT, OP_TEXT, Frame

__all__ = ["Data", "MessageAssembler"]

Data = str | bytes

# Fragments at least this large on average are decoded one by one, see above.
_INCREMENTAL_DECODE_THRESHOLD = 16 * 1024

_utf8_decoder = codecs.getincrementaldecoder("utf-8")


def _decode(parts: list[bytes]) -> str:
    total = 0
    for part in parts:
        total += len(part)
    if total < _INCREMENTAL_DECODE_THRESHOLD * len(parts):
        return b"".join(parts).decode()
    decoder = _utf8_decoder()
    last = len(parts) - 1
    return "".join([decoder.decode(part, i == last) for i, part in enumerate(parts)])


class MessageAssembler:
    """Queue data frames and hand them out as messages or fragments.

    Args:
        high: pause reading when more than this many frames are queued;
            None for an unbounded queue.
        low: resume reading when this many frames or fewer are queued;
            defaults to ``high // 4``.

    Raises:
        ValueError: if the water marks are inconsistent.
    """

    __slots__ = (
        "_decoder",
        "_frames",
        "_high",
        "_low",
        "_parts",
        "_paused",
        "_streaming",
        "_text",
        "_texts",
    )

    def __init__(self, high: int | None = 16, low: int | None = None) -> None:
        if high is not None:
            if low is None:
                low = high // 4
            if high < 1 or not 0 <= low <= high:
                raise ValueError("need 0 <= low <= high and high >= 1")
        self._high = high
        self._low = low
        self._frames: deque[Frame] = deque()
        # Fragments of the message being collected by get_message().
        self._parts: list[bytes] = []
        # Their Frame.text, None for frames without one.
        self._texts: list[str | None] = []
        # Whether the message at the head of the queue is Text.
        self._text = False
        # True between the first and the last fragment given by get_fragment().
        self._streaming = False
        self._decoder: codecs.IncrementalDecoder | None = None
        self._paused = False

    @property
    def queued(self) -> int:
        """The number of frames waiting for a reader."""
        return len(self._frames)

    @property
    def paused(self) -> bool:
        """True while the I/O layer should not read from the network."""
        return self._paused

    def put(self, frame: Frame) -> bool:
        """Queue a Text, Binary or Continuation frame.

        Args:
            frame: a data frame returned by the core, already validated:
                fragments of one message follow each other (§5.4).

        Returns:
            True if the queue just went over the high-water mark: the I/O
            layer should stop reading from the network until
            :meth:`poll_resume` returns True.
        """
        self._frames.append(frame)
        if self._high is not None and not self._paused and len(self._frames) > self._high:
            self._paused = True
            return True
        return False

    def poll_resume(self) -> bool:
        """Tell whether reading should resume, once per pause.

        Returns:
            True if reading was paused and the queue is now at or under the
            low-water mark; the paused state is cleared.
        """
        if self._paused and self._low is not None and len(self._frames) <= self._low:
            self._paused = False
            return True
        return False

    def _start(self, frame: Frame) -> None:
        if frame.opcode is not OP_CONT:
            self._text = frame.opcode is OP_TEXT

    def get_message(self, decode: bool | None = None) -> Data | None:
        """Take the next complete message from the queue.

        If :meth:`get_fragment` gave out part of a message, the rest of that
        message is returned.

        Args:
            decode: None returns ``str`` for Text and ``bytes`` for Binary;
                True decodes Binary messages as UTF-8 too; False returns
                ``bytes`` for Text messages too.

        Returns:
            The message, or None if no complete message is queued yet; the
            fragments seen so far are kept for the next call.

        Raises:
            UnicodeDecodeError: if ``decode`` is True and a Binary message is
                not valid UTF-8.
        """
        frames = self._frames
        parts = self._parts
        texts = self._texts
        while frames:
            frame = frames.popleft()
            if not parts:
                self._start(frame)
            if not frame.fin:
                parts.append(frame.data)
                texts.append(frame.text)
                continue
            if decode is None:
                decode = self._text
            if self._decoder is not None:
                # get_fragment() left bytes of a split character behind.
                pending = self._decoder.getstate()[0]
                if pending:
                    parts.insert(0, pending)
                    texts.insert(0, None)
                self._decoder = None
            self._streaming = False
            if not parts:
                if not decode:
                    return frame.data
                text = frame.text
                return frame.data.decode() if text is None else text
            parts.append(frame.data)
            texts.append(frame.text)
            self._parts = []
            self._texts = []
            if not decode:
                return b"".join(parts)
            if None in texts:
                return _decode(parts)
            return "".join(texts)  # type: ignore[arg-type]
        return None

    def get_fragment(self, decode: bool | None = None) -> tuple[Data, bool] | None:
        """Take the next fragment of the current message from the queue.

        Args:
            decode: as for :meth:`get_message`; Text is decoded
                incrementally, so a character may straddle two fragments.

        Returns:
            ``(fragment, fin)`` where ``fin`` is True for the last fragment
            of the message, or None if no frame is queued.

        Raises:
            UnicodeDecodeError: if ``decode`` is True and a Binary message is
                not valid UTF-8.
        """
        if self._parts:
            # get_message() was interrupted half-way through a message:
            # hand out what it collected as one fragment.
            data = b"".join(self._parts)
            texts = self._texts
            text = None if None in texts else "".join(texts)  # type: ignore[arg-type]
            self._parts = []
            self._texts = []
            fin = False
        elif self._frames:
            frame = self._frames.popleft()
            if not self._streaming:
                self._start(frame)
            data, fin, text = frame.data, frame.fin, frame.text
        else:
            return None
        self._streaming = not fin
        if decode is None:
            decode = self._text
        if not decode:
            if fin:
                self._decoder = None
            return data, fin
        if text is not None and self._decoder is None:
            # Decoded by the core already, whole characters only.
            return text, fin
        if self._decoder is None:
            self._decoder = _utf8_decoder()
        text = self._decoder.decode(data, fin)
        if fin:
            self._decoder = None
        return text, fin

    def in_message(self) -> bool:
        """Tell whether a reader has taken part of a message but not its end."""
        return self._streaming or bool(self._parts)
