"""Tests for sansws.exceptions: the hierarchy, messages and close details."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sansws import exceptions as exc
from sansws.frames import Close


def test_every_exception_derives_from_websocket_exception() -> None:
    for name in exc.__all__:
        assert issubclass(getattr(exc, name), exc.WebSocketException), name


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (exc.ConnectionClosedOK, exc.ConnectionClosed),
        (exc.ConnectionClosedError, exc.ConnectionClosed),
        (exc.SecurityError, exc.InvalidHandshake),
        (exc.InvalidMessage, exc.InvalidHandshake),
        (exc.InvalidStatus, exc.InvalidHandshake),
        (exc.InvalidHeaderFormat, exc.InvalidHeader),
        (exc.InvalidHeaderValue, exc.InvalidHeader),
        (exc.InvalidOrigin, exc.InvalidHeader),
        (exc.InvalidUpgrade, exc.InvalidHeader),
        (exc.InvalidHeader, exc.InvalidHandshake),
        (exc.NegotiationError, exc.InvalidHandshake),
        (exc.DuplicateParameter, exc.NegotiationError),
        (exc.InvalidParameterName, exc.NegotiationError),
        (exc.InvalidParameterValue, exc.NegotiationError),
        (exc.ConcurrencyError, RuntimeError),
    ],
)
def test_hierarchy(child: type, parent: type) -> None:
    assert issubclass(child, parent)


def test_protocol_errors_are_not_connection_closed() -> None:
    for cls in (exc.ProtocolError, exc.PayloadTooBig, exc.InvalidState):
        assert not issubclass(cls, exc.ConnectionClosed)


@pytest.mark.parametrize(
    ("rcvd", "sent", "rcvd_then_sent", "text"),
    [
        (None, None, None, "no close frame received or sent"),
        (None, Close(1000, ""), None, "sent 1000 (OK); no close frame received"),
        (Close(1001, "bye"), None, None, "received 1001 (going away) bye; no close frame sent"),
        (
            Close(1000, ""),
            Close(1000, ""),
            True,
            "received 1000 (OK); then sent 1000 (OK)",
        ),
        (
            Close(1000, ""),
            Close(1002, "x"),
            False,
            "sent 1002 (protocol error) x; then received 1000 (OK)",
        ),
    ],
)
def test_connection_closed_str(
    rcvd: Close | None, sent: Close | None, rcvd_then_sent: bool | None, text: str
) -> None:
    error = exc.ConnectionClosedError(rcvd, sent, rcvd_then_sent)
    assert str(error) == text
    assert error.rcvd is rcvd
    assert error.sent is sent
    assert error.rcvd_then_sent is rcvd_then_sent


def test_connection_closed_code_and_reason() -> None:
    assert exc.ConnectionClosedOK(Close(1001, "bye"), None).code == 1001
    assert exc.ConnectionClosedOK(Close(1001, "bye"), None).reason == "bye"
    assert exc.ConnectionClosedError(None, Close(1000, "")).code == 1006
    assert exc.ConnectionClosedError(None, None).reason == ""


def test_invalid_uri() -> None:
    error = exc.InvalidURI("http://x", "scheme isn't ws or wss")
    assert str(error) == "http://x isn't a valid URI: scheme isn't ws or wss"
    assert (error.uri, error.msg) == ("http://x", "scheme isn't ws or wss")


def test_invalid_status() -> None:
    response: Any = SimpleNamespace(status_code=403)
    error = exc.InvalidStatus(response)
    assert error.response is response
    assert str(error) == "server rejected WebSocket connection: HTTP 403"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "missing Upgrade header"),
        ("", "empty Upgrade header"),
        ("h2c", "invalid Upgrade header: h2c"),
    ],
)
def test_invalid_header(value: str | None, text: str) -> None:
    assert str(exc.InvalidHeader("Upgrade", value)) == text


def test_invalid_header_format() -> None:
    error = exc.InvalidHeaderFormat("Sec-WebSocket-Extensions", "expected token", "a;;b", 2)
    assert (error.error, error.header, error.pos) == ("expected token", "a;;b", 2)
    assert str(error) == "invalid Sec-WebSocket-Extensions header: expected token at 2 in a;;b"


def test_invalid_origin() -> None:
    assert str(exc.InvalidOrigin(None)) == "missing Origin header"
    assert str(exc.InvalidOrigin("https://evil")) == "invalid Origin header: https://evil"


def test_negotiation_errors() -> None:
    assert str(exc.DuplicateParameter("a")) == "duplicate parameter: a"
    assert exc.DuplicateParameter("a").name == "a"
    assert str(exc.InvalidParameterName("b")) == "invalid parameter name: b"
    assert exc.InvalidParameterName("b").name == "b"
    assert str(exc.InvalidParameterValue("c", None)) == "missing value for parameter c"
    error = exc.InvalidParameterValue("c", "9")
    assert (error.name, error.value) == ("c", "9")
    assert str(error) == "invalid value for parameter c: 9"
