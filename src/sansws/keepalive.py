"""Ping and Pong bookkeeping, without I/O.

A Ping frame may carry up to 125 bytes of application data, and the Pong
that answers it must carry the same data (RFC 6455 §5.5.2, §5.5.3). An
endpoint may answer only the most recent of several Pings, so a Pong
acknowledges the Ping that it echoes and every Ping sent before it.

:class:`PingTracker` keeps the outstanding Pings in the order they were sent
and measures latency. It takes the time as an argument and never reads a
clock, so the asyncio and threaded layers share it and tests control time.
"""

from __future__ import annotations

import os

from .exceptions import ConcurrencyError, ProtocolError

__all__ = ["PingTracker"]

# Control frame payloads are limited to 125 bytes (RFC 6455 §5.5).
MAX_PING_PAYLOAD = 125


class PingTracker:
    """The Pings sent and not yet acknowledged, and the latest latency.

    Attributes:
        latency: the round-trip time, in seconds, of the last Ping that a
            Pong echoed; 0.0 until then.
    """

    __slots__ = ("_pings", "latency")

    def __init__(self) -> None:
        # Payload -> time sent. dicts keep insertion order, which is the
        # order the Pings were sent in.
        self._pings: dict[bytes, float] = {}
        self.latency = 0.0

    def __len__(self) -> int:
        return len(self._pings)

    def __contains__(self, payload: object) -> bool:
        return payload in self._pings

    def new_payload(self) -> bytes:
        """Make a payload that no outstanding Ping uses: 4 random bytes.

        Returns:
            The payload; call :meth:`sent` once the Ping is queued.
        """
        while True:
            payload = os.urandom(4)
            if payload not in self._pings:
                return payload

    def sent(self, payload: bytes, now: float) -> None:
        """Record a Ping.

        Args:
            payload: the application data of the Ping.
            now: the time it was sent, on a monotonic clock, in seconds.

        Raises:
            ProtocolError: if the payload is longer than 125 bytes (§5.5).
            ConcurrencyError: if a Ping with the same payload is outstanding;
                its Pong could not be told apart.
        """
        if len(payload) > MAX_PING_PAYLOAD:
            raise ProtocolError("ping payload must be 125 bytes or less")
        if payload in self._pings:
            raise ConcurrencyError("already waiting for a pong with the same data")
        self._pings[payload] = now

    def acknowledge(self, payload: bytes, now: float) -> list[tuple[bytes, float]]:
        """Process a Pong.

        Args:
            payload: the application data of the Pong.
            now: the time it was received, on the clock given to :meth:`sent`.

        Returns:
            The Pings that the Pong acknowledges, oldest first, each with its
            own latency: the Ping it echoes and all the earlier ones
            (§5.5.3). Empty for an unsolicited Pong, which is allowed and
            changes nothing.
        """
        if payload not in self._pings:
            return []
        acknowledged = []
        for sent_payload, sent_at in list(self._pings.items()):
            del self._pings[sent_payload]
            acknowledged.append((sent_payload, now - sent_at))
            if sent_payload == payload:
                break
        self.latency = acknowledged[-1][1]
        return acknowledged

    def oldest(self) -> float | None:
        """The time the oldest outstanding Ping was sent, None if there is none."""
        for sent_at in self._pings.values():
            return sent_at
        return None

    def clear(self) -> list[bytes]:
        """Forget every outstanding Ping, for when the connection closes.

        Returns:
            Their payloads, oldest first, so that the I/O layer can fail the
            waiters attached to them.
        """
        payloads = list(self._pings)
        self._pings.clear()
        return payloads
