"""Tests for sansws.handshake: the key, the accept value, Connection and Upgrade."""

from __future__ import annotations

import base64

import pytest

from sansws.exceptions import (
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidUpgrade,
)
from sansws.handshake import GUID, accept_key, check_key, check_upgrade, single_header
from sansws.http11 import Headers

# RFC 6455 §1.3 and §4.2.2: the example nonce and the accept value it gives.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


# accept_key


def test_guid_is_the_rfc_value() -> None:
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_accept_key_rfc_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT


def test_accept_key_other_key() -> None:
    # Computed independently: base64(sha1("AQIDBAUGBwgJCgsMDQ4PEA==" + GUID)) with hashlib.
    key = base64.b64encode(bytes(range(1, 17))).decode()
    assert key == "AQIDBAUGBwgJCgsMDQ4PEA=="
    assert accept_key(key) == "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="


# single_header


def test_single_header_returns_the_value() -> None:
    assert single_header(Headers({"Sec-WebSocket-Key": RFC_KEY}), "sec-websocket-key") == RFC_KEY


def test_single_header_missing() -> None:
    with pytest.raises(InvalidHeader) as info:
        single_header(Headers(), "Sec-WebSocket-Key")
    assert str(info.value) == "missing Sec-WebSocket-Key header"


def test_single_header_repeated() -> None:
    headers = Headers([("Sec-WebSocket-Key", RFC_KEY), ("Sec-WebSocket-Key", RFC_KEY)])
    with pytest.raises(InvalidHeader) as info:
        single_header(headers, "Sec-WebSocket-Key")
    assert str(info.value) == "invalid Sec-WebSocket-Key header: multiple values"
    # Not the KeyError-derived MultipleValuesError of Headers.
    assert type(info.value) is InvalidHeader


# check_upgrade


@pytest.mark.parametrize(
    "fields",
    [
        [("Connection", "Upgrade"), ("Upgrade", "websocket")],
        # Both compare case-insensitively (RFC 6455 §4.2.1 items 3 and 4).
        [("Connection", "upgrade"), ("Upgrade", "WebSocket")],
        [("Connection", "UPGRADE"), ("Upgrade", "WEBSOCKET")],
        # Connection is a token list (RFC 7230 §6.1).
        [("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")],
        [("Connection", ",, Upgrade ,"), ("Upgrade", "websocket")],
        # ... possibly spread over several fields (RFC 7230 §3.2.2).
        [("Connection", "keep-alive"), ("Connection", "Upgrade"), ("Upgrade", "websocket")],
    ],
)
def test_check_upgrade_accepts(fields: list[tuple[str, str]]) -> None:
    check_upgrade(Headers(fields))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("Upgrade", "websocket")], "missing Connection header"),
        (
            [("Connection", "keep-alive"), ("Upgrade", "websocket")],
            "invalid Connection header: keep-alive",
        ),
        (
            [("Connection", "close, Upgrades"), ("Upgrade", "websocket")],
            "invalid Connection header: close, Upgrades",
        ),
        ([("Connection", "Upgrade")], "missing Upgrade header"),
        ([("Connection", "Upgrade"), ("Upgrade", "h2c")], "invalid Upgrade header: h2c"),
        (
            [("Connection", "Upgrade"), ("Upgrade", "websocket/13")],
            "invalid Upgrade header: websocket/13",
        ),
        # Only "websocket", alone, is a WebSocket upgrade here.
        (
            [("Connection", "Upgrade"), ("Upgrade", "websocket, h2c")],
            "invalid Upgrade header: websocket, h2c",
        ),
        (
            [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Upgrade", "websocket")],
            "invalid Upgrade header: websocket, websocket",
        ),
    ],
)
def test_check_upgrade_refuses(fields: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidUpgrade) as info:
        check_upgrade(Headers(fields))
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ([("Connection", "Upgrade;"), ("Upgrade", "websocket")], "Connection"),
        ([("Connection", "Upgrade"), ("Upgrade", "web socket")], "Upgrade"),
        ([("Connection", "Upgrade"), ("Upgrade", "")], "Upgrade"),
    ],
)
def test_check_upgrade_malformed(fields: list[tuple[str, str]], name: str) -> None:
    with pytest.raises(InvalidHeaderFormat) as info:
        check_upgrade(Headers(fields))
    assert info.value.name == name


# check_key


def test_check_key_rfc_example() -> None:
    check_key(RFC_KEY)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not base64!",
        "dGhlIHNhbXBsZSBub25jZQ",  # padding missing
        "dGhlIHNhbXBsZSBub25j",  # 15 bytes
        base64.b64encode(bytes(17)).decode(),  # 17 bytes
        base64.b64encode(bytes(32)).decode(),
        "dGhlIHNhbXBsZSBub25jZQ==\u00e9",  # not ASCII
        "dGhlIHNhbXBs ZSBub25jZQ==",  # a space inside
    ],
)
def test_check_key_refuses(key: str) -> None:
    with pytest.raises(InvalidHeaderValue) as info:
        check_key(key)
    assert info.value.name == "Sec-WebSocket-Key"
    assert info.value.value == key
