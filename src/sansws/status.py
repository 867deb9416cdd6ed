"""What an I/O layer's connection reports about its core, without I/O.

:class:`ConnectionStatus` is a mixin for the asyncio and threaded
connections: the read-only properties that only read the Sans-I/O
:class:`~sansws.protocol.Protocol` and the
:class:`~sansws.keepalive.PingTracker`, written once for both layers.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from .keepalive import PingTracker
from .protocol import Protocol, State

__all__ = ["ConnectionStatus"]


class ConnectionStatus:
    """Properties of a connection with ``protocol`` and ``_pings`` attributes."""

    __slots__ = ()

    protocol: Protocol
    _pings: PingTracker

    @property
    def id(self) -> UUID:
        """A unique identifier of the connection, for logs."""
        return self.protocol.id

    @property
    def state(self) -> State:
        """The state of the connection (RFC 6455 §4, §7)."""
        return self.protocol.state

    @property
    def latency(self) -> float:
        """The round-trip time of the last Ping answered, in seconds; 0 until then."""
        return self._pings.latency

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol negotiated in the opening handshake, if any."""
        return cast("str | None", getattr(self.protocol, "subprotocol", None))

    @property
    def close_code(self) -> int | None:
        """The close code received (1006 without a Close frame); None until CLOSED."""
        return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        """The close reason received; None until CLOSED."""
        return self.protocol.close_reason
