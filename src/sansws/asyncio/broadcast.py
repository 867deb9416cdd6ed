"""Send one message to many connections at once: :func:`broadcast`.

Theory of operation
-------------------
``await connection.send()`` for each of 10,000 connections would frame the
message 10,000 times and let the slowest peer hold everyone up.
:func:`broadcast` does neither. It writes to each connection without
awaiting, skips the ones that cannot take the message now, and returns them
to the caller, who decides what to do (drop them, retry later, close them).

A connection is skipped when:

- it is not OPEN, or its TCP connection is going away;
- its write buffer is over ``write_limit`` (the transport paused writing):
  the peer does not keep up, and buffering more for it would grow memory
  without bound;
- ``send()`` is in the middle of a fragmented message on it: the frames of
  another message cannot go between its fragments (RFC 6455 §5.4).

Framing is shared where the bytes on the wire are the same:

- Server connections without extensions all get the same frame: servers do
  not mask (§5.3), so one header and the payload serve every one of them.
  The frame is written to the transport directly, bypassing the core, which
  keeps no per-frame state for an unfragmented, uncompressed frame.
- Server connections whose permessage-deflate restarts its stream at every
  message (``server_no_context_takeover``) compress a message the same way
  each time: one compressed frame serves every connection with the same
  window and zlib settings.
- Every other connection gets the message through its own core, as
  ``send()`` would: client connections, because each frame needs a fresh
  masking key (§5.3); compressed connections with context takeover, because
  each one's compressor holds the messages it sent before, so the same
  message compresses to different bytes on each (RFC 7692 §7.2.1), and the
  compressor must see every message to stay in step with the peer's
  decompressor; and connections with other extensions, whose encoding is
  theirs to do.

With the ``sansws.server`` logger at DEBUG level, the per-frame debug line of
the core is not written for shared frames.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..extensions.permessage_deflate import PerMessageDeflate
from ..frames import OP_BINARY, OP_TEXT, Frame, Opcode, encode_header
from ..protocol import OPEN, SERVER
from .connection import Connection

__all__ = ["broadcast"]

# Above this size, the header and the payload are written apart, so that the
# payload, shared by every connection, is never copied.
_JOIN_LIMIT = 4096

# The key of a group of connections that share one encoded frame: None for
# uncompressed server frames, or the deflate window and zlib settings.
_GroupKey = tuple[int, tuple[tuple[str, object], ...]] | None


def broadcast(
    connections: Iterable[Connection], message: str | bytes | bytearray | memoryview
) -> list[Connection]:
    """Send ``message`` to every connection that can take it now, without waiting.

    A ``str`` is sent as a Text message, a bytes-like object as a Binary
    message. See the module's notes for which connections are skipped and
    which share one encoded frame.

    Args:
        connections: the connections, client or server side.
        message: the message.

    Returns:
        The connections skipped, in the order given: not OPEN, over their
        write limit, or sending a fragmented message.

    Raises:
        TypeError: ``message`` is neither ``str`` nor bytes-like.
    """
    if isinstance(message, str):
        opcode, payload = OP_TEXT, message.encode()
    elif isinstance(message, bytes | bytearray | memoryview):
        opcode, payload = OP_BINARY, bytes(message)
    else:
        raise TypeError(f"broadcast() cannot send {type(message).__name__}")
    shared: dict[_GroupKey, list[bytes]] = {}
    skipped: list[Connection] = []
    for connection in connections:
        if not _can_take(connection):
            skipped.append(connection)
            continue
        # Anything the core queued goes first, to keep the order of frames.
        connection._send_data()
        key = _group_key(connection)
        if isinstance(key, _OwnFrame):
            if opcode is OP_TEXT:
                connection.protocol.send_text(payload)
            else:
                connection.protocol.send_binary(payload)
            connection._send_data()
            continue
        chunks = shared.get(key)
        if chunks is None:
            chunks = shared[key] = _encode(opcode, payload, key)
        connection.transport.writelines(chunks)
    return skipped


def _can_take(connection: Connection) -> bool:
    """Tell whether a message can be written to ``connection`` now."""
    transport = connection._transport
    return (
        connection.protocol.state is OPEN
        and not connection._closed
        and transport is not None
        and not transport.is_closing()
        and not connection._write_paused
        and connection._fragment_waiter is None
        and connection.protocol._send_opcode is None
        and not connection.protocol.failure_held
    )


class _OwnFrame:
    """The group of connections that frame each message themselves."""


_OWN_FRAME = _OwnFrame()


def _group_key(connection: Connection) -> _GroupKey | _OwnFrame:
    protocol = connection.protocol
    if protocol.side is not SERVER:
        return _OWN_FRAME
    extensions = protocol.extensions
    if not extensions:
        return None
    if len(extensions) == 1:
        extension = extensions[0]
        if isinstance(extension, PerMessageDeflate) and extension.local_no_context_takeover:
            settings = tuple(sorted(extension.compress_settings.items()))
            return (extension.local_max_window_bits, settings)
    return _OWN_FRAME


def _encode(opcode: Opcode, payload: bytes, key: _GroupKey) -> list[bytes]:
    """Encode one server frame for a group of connections."""
    first_byte = 0x80 | opcode
    if key is not None:
        bits, settings = key
        # A fresh stream, as each of these connections starts one per message.
        deflate = PerMessageDeflate(
            remote_no_context_takeover=True,
            local_no_context_takeover=True,
            remote_max_window_bits=bits,
            local_max_window_bits=bits,
            compress_settings=dict(settings),
        )
        frame = deflate.encode(Frame(opcode, payload, True))
        payload = frame.data
        first_byte |= frame.rsv1 << 6
    header = encode_header(first_byte, len(payload), None)
    if len(payload) <= _JOIN_LIMIT:
        return [header + payload]
    return [header, payload]
