"""What the I/O layers' ``send()`` and ``close()`` do to the core, without I/O.

``send()`` takes a ``str`` (a Text message), a bytes-like object (a Binary
message) or an iterable of them (one fragmented message, RFC 6455 §5.4).
:func:`message_frame` classifies a message; :class:`FragmentedMessage` sends
one fragment at a time and fails the connection when the message cannot be
finished. :func:`start_closing`, :func:`closed_exc` and :func:`split_eof`
hold the closing rules that both layers apply: fail with 1011 rather than
close in the middle of a fragmented message, the exception to raise once the
connection is closed, and where the half-close goes in ``data_to_send()``.

The asyncio and threaded layers both use this module; it imports no
asyncio, threading, socket or ssl.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping

from .exceptions import ConnectionClosed, ConnectionClosedError
from .frames import CloseCode
from .protocol import CLOSED, OPEN, Protocol

__all__ = [
    "BytesLike",
    "FragmentedMessage",
    "closed_exc",
    "message_frame",
    "send_frame",
    "split_eof",
    "start_closing",
]

BytesLike = bytes | bytearray | memoryview


def message_frame(message: object, text: bool | None) -> tuple[bool, bytes] | None:
    """Classify what ``send()`` was given.

    Args:
        message: a ``str``, a bytes-like object, or an (async) iterable of them.
        text: True sends bytes as Text, False sends a ``str`` as Binary;
            None picks the opcode from the type (RFC 6455 §5.6).

    Returns:
        ``(is_text, payload)`` for a message that fits in one frame; None for
        an iterable, to send with :class:`FragmentedMessage`.

    Raises:
        TypeError: the message is a mapping or of another type.
    """
    if isinstance(message, str):
        return text is not False, message.encode()
    if isinstance(message, BytesLike):
        return bool(text), message if type(message) is bytes else bytes(message)
    if isinstance(message, Mapping):
        raise TypeError("send() takes str, bytes or an iterable of them, not a mapping")
    if isinstance(message, Iterable | AsyncIterable):
        return None
    raise TypeError(f"send() cannot send {type(message).__name__}")


def send_frame(protocol: Protocol, is_text: bool, payload: bytes) -> None:
    """Send a message of one frame, as classified by :func:`message_frame`."""
    if is_text:
        protocol.send_text(payload)
    else:
        protocol.send_binary(payload)


class FragmentedMessage:
    """A message sent one fragment at a time (RFC 6455 §5.4).

    The first fragment fixes the kind: all fragments are ``str``, or all are
    bytes-like. Call :meth:`send` for each further fragment, :meth:`end` after
    the last, and :meth:`abort` when the message cannot be finished.

    Args:
        protocol: the core, OPEN.
        first: the first fragment; it is sent at once.
        text: as for :func:`message_frame`.

    Raises:
        TypeError: ``first`` is neither a ``str`` nor bytes-like; nothing is
            sent.
    """

    __slots__ = ("_is_str", "_protocol")

    def __init__(self, protocol: Protocol, first: object, text: bool | None) -> None:
        is_str = isinstance(first, str)
        if not is_str and not isinstance(first, BytesLike):
            raise TypeError(f"send() cannot send {type(first).__name__} fragments")
        self._protocol = protocol
        self._is_str = is_str
        data = self._payload(first)
        if text if text is not None else is_str:
            protocol.send_text(data, fin=False)
        else:
            protocol.send_binary(data, fin=False)

    def _payload(self, chunk: object) -> bytes:
        if self._is_str:
            if isinstance(chunk, str):
                return chunk.encode()
            raise TypeError("a fragmented Text message must be made of str only")
        if isinstance(chunk, bytes):
            return chunk
        if isinstance(chunk, bytearray | memoryview):
            return bytes(chunk)
        raise TypeError("a fragmented Binary message must be made of bytes-like objects only")

    def send(self, chunk: object) -> None:
        """Send the next fragment.

        Raises:
            TypeError: the fragment is not of the message's kind.
            InvalidState: the connection is no longer OPEN.
        """
        self._protocol.send_continuation(self._payload(chunk), fin=False)

    def end(self) -> None:
        """Send the empty final fragment that ends the message."""
        self._protocol.send_continuation(b"", fin=True)

    def abort(self) -> None:
        """Fail the connection with 1011: the message can neither be finished
        nor taken back (§5.4)."""
        if self._protocol.state is OPEN:
            self._protocol.fail(CloseCode.INTERNAL_ERROR, "error in fragmented message")


def start_closing(protocol: Protocol, code: int, reason: str, fragmenting: bool) -> None:
    """Start the closing handshake for ``close()`` (RFC 6455 §7.1.2).

    Args:
        protocol: the core; nothing happens unless it is OPEN.
        code, reason: the Close frame's code and reason.
        fragmenting: a fragmented message is being sent; since it cannot be
            finished, the connection fails with 1011 instead.

    Raises:
        ProtocolError: the code may not be sent or the reason is too long.
    """
    if protocol.state is not OPEN:
        return
    if fragmenting:
        protocol.fail(CloseCode.INTERNAL_ERROR, "close during fragmented message")
    else:
        protocol.send_close(code, reason)


def closed_exc(protocol: Protocol) -> ConnectionClosed:
    """The exception for using a connection that is closed (§7.1.4).

    Before CLOSED, the close codes are not known yet: the connection was
    lost under the I/O layer, which is an error.
    """
    if protocol.state is CLOSED:
        return protocol.close_exc
    return ConnectionClosedError(None, None)


def split_eof(data: list[bytes]) -> tuple[list[bytes], bool]:
    """Split ``data_to_send()`` into the chunks to write and the half-close.

    Returns:
        ``(chunks, eof)``: write the chunks, then half-close the TCP
        connection (RFC 6455 §7.1.1) if ``eof``. ``SEND_EOF`` is always last.
    """
    if data and not data[-1]:
        return data[:-1], True
    return data, False
