from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansws.exceptions import InvalidURI
from sansws.uri import WebSocketURI, parse_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("ws://example.com", WebSocketURI(False, "example.com", 80, "/", "")),
        ("wss://example.com", WebSocketURI(True, "example.com", 443, "/", "")),
        ("ws://example.com/", WebSocketURI(False, "example.com", 80, "/", "")),
        ("ws://example.com:443/", WebSocketURI(False, "example.com", 443, "/", "")),
        ("wss://example.com:80/", WebSocketURI(True, "example.com", 80, "/", "")),
        ("ws://example.com:8080/", WebSocketURI(False, "example.com", 8080, "/", "")),
        ("ws://example.com:/", WebSocketURI(False, "example.com", 80, "/", "")),
        ("WS://EXAMPLE.com/Chat", WebSocketURI(False, "example.com", 80, "/Chat", "")),
        ("ws://example.com/chat/room", WebSocketURI(False, "example.com", 80, "/chat/room", "")),
        ("ws://example.com?x=1", WebSocketURI(False, "example.com", 80, "/", "x=1")),
        ("ws://example.com/?", WebSocketURI(False, "example.com", 80, "/", "")),
        (
            "ws://example.com/chat?room=1&user=a%20b",
            WebSocketURI(False, "example.com", 80, "/chat", "room=1&user=a%20b"),
        ),
        ("ws://192.0.2.1:8000", WebSocketURI(False, "192.0.2.1", 8000, "/", "")),
        ("ws://[::1]/", WebSocketURI(False, "::1", 80, "/", "")),
        ("wss://[2001:DB8::1]:8443/", WebSocketURI(True, "2001:db8::1", 8443, "/", "")),
        # IDNA: RFC 3490 §4.1.
        ("ws://bücher.example/", WebSocketURI(False, "xn--bcher-kva.example", 80, "/", "")),
        ("ws://BÜCHER.example/", WebSocketURI(False, "xn--bcher-kva.example", 80, "/", "")),
        # Non-ASCII characters are percent-encoded as UTF-8; escapes are kept.
        (
            "ws://example.com/café?q=ü&r=%41",
            WebSocketURI(False, "example.com", 80, "/caf%C3%A9", "q=%C3%BC&r=%41"),
        ),
        (
            'ws://example.com/a"<>\\^`{|}',
            WebSocketURI(False, "example.com", 80, "/a%22%3C%3E%5C%5E%60%7B%7C%7D", ""),
        ),
        (
            "ws://example.com/a:b@c;d=e!$&'()*+,~",
            WebSocketURI(False, "example.com", 80, "/a:b@c;d=e!$&'()*+,~", ""),
        ),
        # User info is percent-decoded.
        (
            "ws://user:pass@example.com/",
            WebSocketURI(False, "example.com", 80, "/", "", "user", "pass"),
        ),
        (
            "ws://us%40er:p%3Ass%2F@example.com/",
            WebSocketURI(False, "example.com", 80, "/", "", "us@er", "p:ss/"),
        ),
        ("ws://user@example.com/", WebSocketURI(False, "example.com", 80, "/", "", "user")),
        ("ws://user:@example.com/", WebSocketURI(False, "example.com", 80, "/", "", "user", "")),
        ("ws://ü:é@example.com/", WebSocketURI(False, "example.com", 80, "/", "", "ü", "é")),
        ("ws://a@b@example.com/", WebSocketURI(False, "example.com", 80, "/", "", "a@b")),
        ("ws://u:p@[::1]:81/", WebSocketURI(False, "::1", 81, "/", "", "u", "p")),
    ],
)
def test_parse_uri(uri: str, expected: WebSocketURI) -> None:
    assert parse_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "msg"),
    [
        ("http://example.com/", "scheme isn't ws or wss"),
        ("https://example.com/", "scheme isn't ws or wss"),
        ("example.com", "scheme isn't ws or wss"),
        ("/chat", "scheme isn't ws or wss"),
        ("", "scheme isn't ws or wss"),
        # RFC 6455 §3: fragments MUST NOT be used, "#" must be escaped.
        ("ws://example.com/#frag", "fragments aren't allowed in WebSocket URIs"),
        ("ws://example.com/#", "fragments aren't allowed in WebSocket URIs"),
        ("ws://example.com/?a#b", "fragments aren't allowed in WebSocket URIs"),
        ("ws:///chat", "no host"),
        ("ws://", "no host"),
        ("ws:example.com", "no host"),
        ("ws://:80/", "no host"),
        ("ws://user@/", "no host"),
        ("ws://exa_mple.com<>/", "invalid host"),
        ('ws://a"b/', "invalid host"),
        ("ws://[::1]x/", "invalid port"),
        ("ws://[v1.x]/", "invalid IPv6 address"),
        ("ws://[fe80::1%25eth0]/", "IPv6 zone identifiers aren't supported"),
        ("ws://" + "ü" * 64 + ".example/", "invalid international host name"),
        ("ws://ü<.example/", "invalid host"),
        ("ws://example.com/a b", "contains a control character or a space"),
        ("ws://example.com/a\r\nHost: evil", "contains a control character or a space"),
        ("ws://exam\tple.com/", "contains a control character or a space"),
        (" ws://example.com/", "contains a control character or a space"),
        ("ws://example.com/\x00", "contains a control character or a space"),
        ("ws://example.com/\x7f", "contains a control character or a space"),
    ],
)
def test_parse_uri_invalid(uri: str, msg: str) -> None:
    with pytest.raises(InvalidURI) as excinfo:
        parse_uri(uri)
    assert excinfo.value.uri == uri
    assert excinfo.value.msg == msg
    assert str(excinfo.value) == f"{uri} isn't a valid URI: {msg}"


@pytest.mark.parametrize(
    "uri",
    [
        "ws://example.com:99999/",
        "ws://example.com:http/",
        "ws://example.com:-1/",
        "ws://[::1/",
        "ws://[1.2.3.4]/",  # recent versions of urlsplit refuse it first
    ],
)
def test_parse_uri_invalid_port_or_brackets(uri: str) -> None:
    with pytest.raises(InvalidURI):
        parse_uri(uri)


def test_resource_name() -> None:
    assert parse_uri("ws://h").resource_name == "/"
    assert parse_uri("ws://h/chat").resource_name == "/chat"
    assert parse_uri("ws://h/chat?").resource_name == "/chat"
    assert parse_uri("ws://h/chat?a=1&b").resource_name == "/chat?a=1&b"
    assert parse_uri("ws://h?a").resource_name == "/?a"


def test_user_info() -> None:
    assert parse_uri("ws://h/").user_info is None
    assert parse_uri("ws://u:p@h/").user_info == ("u", "p")
    # A user without a password gets an empty one.
    assert parse_uri("ws://u@h/").user_info == ("u", "")


def test_websocket_uri_is_frozen() -> None:
    uri = parse_uri("ws://h/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        uri.host = "evil"  # type: ignore[misc]


@settings(max_examples=100)
@given(st.text(max_size=20), st.text(max_size=20))
def test_parse_uri_output_is_ascii(path: str, query: str) -> None:
    # Whatever the input, what parse_uri returns fits in a request line.
    try:
        uri = parse_uri(f"ws://example.com/{path}?{query}")
    except InvalidURI:
        return
    assert uri.resource_name.isascii()
    assert uri.resource_name.isprintable()
    assert " " not in uri.resource_name
    assert uri.resource_name.startswith("/")
