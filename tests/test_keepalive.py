"""sansws.keepalive: Ping payloads, outstanding Pings, latency."""

from __future__ import annotations

import pytest

from sansws.exceptions import ConcurrencyError, ProtocolError
from sansws.keepalive import PingTracker


def test_pong_acknowledges_its_ping_and_earlier_ones() -> None:
    tracker = PingTracker()
    assert tracker.oldest() is None
    for i, payload in enumerate([b"a", b"b", b"c"]):
        tracker.sent(payload, 10.0 + i)
    assert len(tracker) == 3 and b"b" in tracker and tracker.oldest() == 10.0
    assert tracker.acknowledge(b"b", 12.5) == [(b"a", 2.5), (b"b", 1.5)]
    assert tracker.latency == 1.5
    assert tracker.oldest() == 12.0
    assert list(tracker.clear()) == [b"c"]
    assert len(tracker) == 0


def test_unsolicited_pong_changes_nothing() -> None:
    tracker = PingTracker()
    tracker.sent(b"a", 1.0)
    assert tracker.acknowledge(b"z", 2.0) == []
    assert tracker.latency == 0.0 and len(tracker) == 1


def test_payloads() -> None:
    tracker = PingTracker()
    payload = tracker.new_payload()
    assert len(payload) == 4
    tracker.sent(payload, 0.0)
    assert tracker.new_payload() != payload
    with pytest.raises(ConcurrencyError):
        tracker.sent(payload, 1.0)
    with pytest.raises(ProtocolError):
        tracker.sent(b"x" * 126, 1.0)
    tracker.sent(b"x" * 125, 1.0)
