"""One exception hierarchy for the whole library.

Every exception that sansws raises on purpose derives from
:class:`WebSocketException`::

    WebSocketException
    ├── ConnectionClosed            the connection is closed (RFC 6455 §7)
    │   ├── ConnectionClosedOK      ... cleanly, with 1000, 1001 or 1005
    │   └── ConnectionClosedError   ... any other way
    ├── InvalidURI                  not a ws:// or wss:// URI
    ├── InvalidHandshake            the opening handshake failed (RFC 6455 §4)
    │   ├── SecurityError           a limit on the handshake was exceeded
    │   ├── InvalidMessage          the HTTP message could not be parsed
    │   ├── InvalidStatus           the server answered with a status other than 101
    │   ├── InvalidHeader           a header is missing or wrong
    │   │   ├── InvalidHeaderFormat the header does not follow its grammar
    │   │   ├── InvalidHeaderValue  the header parsed but its value is refused
    │   │   ├── InvalidOrigin       the Origin is not allowed
    │   │   └── InvalidUpgrade      Upgrade or Connection is wrong
    │   └── NegotiationError        an extension or subprotocol failed to negotiate
    │       ├── DuplicateParameter
    │       ├── InvalidParameterName
    │       └── InvalidParameterValue
    ├── ProtocolError               a frame broke RFC 6455, or the application misused the API
    ├── PayloadTooBig               a message exceeds ``max_size`` (close code 1009)
    ├── InvalidState                the call is not allowed in the connection's state
    └── ConcurrencyError            two coroutines or threads raced for one operation

Errors that come from the peer are not raised by the Sans-I/O core: they fail
the connection and are kept as ``Protocol.parser_exc``. Errors made by the
local application are raised at once, before anything is queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .frames import Close
    from .http11 import Response

__all__ = [
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "DuplicateParameter",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidHeaderFormat",
    "InvalidHeaderValue",
    "InvalidMessage",
    "InvalidOrigin",
    "InvalidParameterName",
    "InvalidParameterValue",
    "InvalidState",
    "InvalidStatus",
    "InvalidURI",
    "InvalidUpgrade",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "SecurityError",
    "WebSocketException",
]


class WebSocketException(Exception):
    """Base class for every exception that sansws raises on purpose."""


class ConnectionClosed(WebSocketException):
    """The WebSocket connection is closed.

    Args:
        rcvd: the Close frame received from the peer, or None if none came.
        sent: the Close frame sent to the peer, or None if none was sent.
        rcvd_then_sent: True if the peer closed first, False if we did, None
            if the closing handshake did not complete both ways.
    """

    def __init__(
        self,
        rcvd: Close | None,
        sent: Close | None,
        rcvd_then_sent: bool | None = None,
    ) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(rcvd, sent, rcvd_then_sent)

    def __str__(self) -> str:
        if self.rcvd is None:
            if self.sent is None:
                return "no close frame received or sent"
            return f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"

    @property
    def code(self) -> int:
        """The close code received, 1006 if no close frame came (RFC 6455 §7.1.5)."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The close reason received, empty if no close frame came."""
        return "" if self.rcvd is None else self.rcvd.reason


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed cleanly: both close codes are 1000, 1001 or 1005."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed with an error code, or without a closing handshake."""


class InvalidURI(WebSocketException):
    """A URI is not a valid ``ws://`` or ``wss://`` URI (RFC 6455 §3)."""

    def __init__(self, uri: str, msg: str) -> None:
        self.uri = uri
        self.msg = msg
        super().__init__(uri, msg)

    def __str__(self) -> str:
        return f"{self.uri} isn't a valid URI: {self.msg}"


class InvalidHandshake(WebSocketException):
    """The opening handshake failed (RFC 6455 §4)."""


class SecurityError(InvalidHandshake):
    """The handshake exceeded a limit: line length, header count or body size."""


class InvalidMessage(InvalidHandshake):
    """The handshake's HTTP message could not be parsed."""


class InvalidStatus(InvalidHandshake):
    """The server refused the upgrade with a status other than 101."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(response)

    def __str__(self) -> str:
        return f"server rejected WebSocket connection: HTTP {self.response.status_code}"


class InvalidHeader(InvalidHandshake):
    """A handshake header is missing, repeated or wrong."""

    def __init__(self, name: str, value: str | None = None) -> None:
        self.name = name
        self.value = value
        super().__init__(name, value)

    def __str__(self) -> str:
        if self.value is None:
            return f"missing {self.name} header"
        if self.value == "":
            return f"empty {self.name} header"
        return f"invalid {self.name} header: {self.value}"


class InvalidHeaderFormat(InvalidHeader):
    """A header does not follow its grammar; ``pos`` is where parsing stopped.

    ``header`` keeps the whole value. The message quotes at most
    :data:`EXCERPT` characters of it on each side of ``pos``, because a server
    puts the message in its 400 response and a header line may be 8 KiB long.
    """

    EXCERPT = 40

    def __init__(self, name: str, error: str, header: str, pos: int) -> None:
        start, end = max(0, pos - self.EXCERPT), pos + self.EXCERPT
        excerpt = header[start:end]
        if start > 0:
            excerpt = "..." + excerpt
        if end < len(header):
            excerpt += "..."
        super().__init__(name, f"{error} at {pos} in {excerpt}")
        self.error = error
        self.header = header
        self.pos = pos


class InvalidHeaderValue(InvalidHeader):
    """A header parsed, but its value is not acceptable."""


class InvalidOrigin(InvalidHeader):
    """The ``Origin`` header is missing or not in the allow-list (RFC 6455 §10.2)."""

    def __init__(self, origin: str | None) -> None:
        super().__init__("Origin", origin)


class InvalidUpgrade(InvalidHeader):
    """``Upgrade`` or ``Connection`` does not ask for a WebSocket upgrade."""


class NegotiationError(InvalidHandshake):
    """An extension or a subprotocol could not be negotiated."""


class DuplicateParameter(NegotiationError):
    """An extension parameter appears twice (RFC 7692 §7)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"duplicate parameter: {self.name}"


class InvalidParameterName(NegotiationError):
    """An extension parameter is unknown."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"invalid parameter name: {self.name}"


class InvalidParameterValue(NegotiationError):
    """An extension parameter has a value that is not allowed."""

    def __init__(self, name: str, value: str | None) -> None:
        self.name = name
        self.value = value
        super().__init__(name, value)

    def __str__(self) -> str:
        if self.value is None:
            return f"missing value for parameter {self.name}"
        return f"invalid value for parameter {self.name}: {self.value}"


class ProtocolError(WebSocketException):
    """A frame broke RFC 6455, or the application asked for a frame it forbids."""


class PayloadTooBig(WebSocketException):
    """A message or a frame is larger than ``max_size`` (close code 1009)."""


class InvalidState(WebSocketException):
    """The operation is not allowed in the connection's current state."""


class ConcurrencyError(WebSocketException, RuntimeError):
    """Two coroutines or threads tried to run one exclusive operation at once."""
