"""sansws: WebSocket (RFC 6455, RFC 7692) as a Sans-I/O state machine.

The core is :class:`sansws.protocol.Protocol`; the handshake lives in
:mod:`sansws.client` and :mod:`sansws.server`; the I/O layers are
:mod:`sansws.asyncio` and :mod:`sansws.sync`.
"""

from __future__ import annotations

from .exceptions import *  # noqa: F403
from .exceptions import __all__ as _exceptions_all
from .frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Close,
    CloseCode,
    Frame,
    Opcode,
)
from .protocol import (
    CLIENT,
    CLOSED,
    CLOSING,
    CONNECTING,
    OPEN,
    SEND_EOF,
    SERVER,
    Protocol,
    Side,
    State,
)

__version__ = "0.1.0"

__all__ = [
    *_exceptions_all,
    "CLIENT",
    "CLOSED",
    "CLOSING",
    "CONNECTING",
    "OPEN",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "SEND_EOF",
    "SERVER",
    "Close",
    "CloseCode",
    "Frame",
    "Opcode",
    "Protocol",
    "Side",
    "State",
    "__version__",
]
