"""Ping and Pong bookkeeping, without I/O.

A Ping frame may carry up to 125 bytes of application data, and the Pong
that answers it must carry the same data (RFC 6455 §5.5.2, §5.5.3). An
endpoint may answer only the most recent of several Pings, so a Pong
acknowledges the Ping that it echoes and every Ping sent before it.

:class:`PingTracker` keeps the outstanding Pings in the order they were sent
and measures latency. It takes the time as an argument and never reads a
clock, so the asyncio and threaded layers share it and tests control time.
:class:`Keepalive` is the schedule of the keepalive Pings on top of it: when
the next one is due, and when the wait for its Pong has lasted too long.
"""

from __future__ import annotations

import os

from .exceptions import ConcurrencyError, ProtocolError

__all__ = ["Keepalive", "PingTracker"]

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


class Keepalive:
    """When to send the next keepalive Ping, and when to give up on its Pong.

    The I/O layer arms one timer for :attr:`deadline`. When it expires, the
    layer fails the connection with 1011 if :attr:`awaiting_pong` (the peer
    is unresponsive, RFC 6455 §7.1.7), and otherwise sends the Ping that
    :meth:`ping` prepares. Times are on the monotonic clock of
    :meth:`PingTracker.sent`.

    Args:
        interval: seconds between Pings; None disables keepalive.
        timeout: seconds to wait for a Pong; None waits forever.

    Attributes:
        deadline: when the timer should fire next; None for no timer.
    """

    __slots__ = ("_payload", "deadline", "interval", "timeout")

    def __init__(self, interval: float | None, timeout: float | None) -> None:
        self.interval = interval
        self.timeout = timeout
        self.deadline: float | None = None
        self._payload: bytes | None = None

    @property
    def awaiting_pong(self) -> bool:
        """True while the deadline is the end of the wait for a Pong."""
        return self._payload is not None

    def start(self, now: float) -> None:
        """Schedule the first Ping, once the connection is OPEN."""
        if self.interval is not None:
            self.deadline = now + self.interval

    def ping(self, pings: PingTracker, now: float) -> bytes:
        """Record a keepalive Ping in ``pings`` and schedule what follows it.

        Returns:
            The payload of the Ping to send now.
        """
        payload = pings.new_payload()
        pings.sent(payload, now)
        if self.timeout is None:
            assert self.interval is not None, "keepalive is disabled"
            self.deadline = now + self.interval
        else:
            self._payload = payload
            self.deadline = now + self.timeout
        return payload

    def acknowledged(self, acknowledged: list[tuple[bytes, float]], now: float) -> bool:
        """Take the Pings that a Pong acknowledged (:meth:`PingTracker.acknowledge`).

        Returns:
            True if the keepalive Ping is among them: the next Ping is
            scheduled one interval after it was sent and :attr:`deadline`
            changed.
        """
        for payload, latency in acknowledged:
            if payload == self._payload:
                assert self.interval is not None, "keepalive is disabled"
                self._payload = None
                self.deadline = now + max(0.0, self.interval - latency)
                return True
        return False

    def stop(self) -> None:
        """Cancel the schedule, for when the connection closes."""
        self.deadline = None
        self._payload = None
