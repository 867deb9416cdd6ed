"""Tests for sansws.client: the client side of the opening handshake (RFC 6455 §4.1)."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterator, Sequence

import pytest

from sansws.client import ClientProtocol
from sansws.exceptions import (
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidStatus,
    InvalidUpgrade,
    InvalidURI,
    NegotiationError,
)
from sansws.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ExtensionParameter,
    ServerExtensionFactory,
)
from sansws.frames import OP_BINARY, OP_CLOSE, OP_TEXT, Close, Frame
from sansws.http11 import LimitExceeded, Request, Response
from sansws.protocol import CLOSED, CLOSING, CONNECTING, OPEN, SEND_EOF
from sansws.server import ServerProtocol
from sansws.uri import parse_uri

NONCE = b"the sample nonce"  # RFC 6455 §4.1 item 7: 16 bytes
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # its base64, RFC 6455 §1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3

STANDARD_FIELDS = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Accept", ACCEPT),
]

# RFC 6455 §5.7: a single-frame unmasked text message, "Hello", from a server.
HELLO = b"\x81\x05Hello"


@pytest.fixture
def nonce(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pin the key to the RFC's example; other random draws stay random."""
    urandom = os.urandom

    def fake_urandom(size: int) -> bytes:
        return NONCE if size == 16 else urandom(size)

    monkeypatch.setattr(os, "urandom", fake_urandom)
    yield


def response_bytes(
    fields: Sequence[tuple[str, str]] = STANDARD_FIELDS,
    *,
    status: str = "101 Switching Protocols",
    drop: Sequence[str] = (),
    add: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{n}: {v}" for n, v in fields if n not in drop]
    lines += [f"{n}: {v}" for n, v in add]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def connected_client(nonce: None = None, **kwargs: object) -> ClientProtocol:
    client = ClientProtocol("ws://server.example.com/chat", **kwargs)  # type: ignore[arg-type]
    client.send_request(client.connect())
    client.data_to_send()
    return client


class FakeExtension(Extension):
    def __init__(self, name: str, params: Sequence[ExtensionParameter]) -> None:
        self.name = name
        self.params = list(params)

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return frame

    def encode(self, frame: Frame) -> Frame:
        return frame


class FakeClientFactory(ClientExtensionFactory):
    """Offers ``params``; refuses an answer with a ``refuse`` parameter."""

    def __init__(self, name: str = "x-fake", params: Sequence[ExtensionParameter] = ()) -> None:
        self.name = name
        self.params = list(params)
        self.seen: list[list[ExtensionParameter]] = []

    def get_request_params(self) -> list[ExtensionParameter]:
        return list(self.params)

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> Extension:
        self.seen.append(list(params))
        if any(name == "refuse" for name, _ in params):
            raise NegotiationError("refused")
        return FakeExtension(self.name, params)


class FakeServerFactory(ServerExtensionFactory):
    """Answers any offer of ``name`` with the same parameters."""

    def __init__(self, name: str = "x-fake") -> None:
        self.name = name

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], Extension]:
        return list(params), FakeExtension(self.name, params)


# The request


def test_connect_rfc_example_exact_bytes(nonce: None) -> None:
    # RFC 6455 §1.2, with the key of §1.3.
    client = ClientProtocol(
        "ws://server.example.com/chat",
        origin="http://example.com",
        subprotocols=["chat", "superchat"],
    )
    assert client.state is CONNECTING
    assert client.key == KEY
    request = client.connect()
    assert isinstance(request, Request)
    assert client.data_to_send() == []
    client.send_request(request)
    assert client.request is request
    assert client.data_to_send() == [
        b"GET /chat HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Origin: http://example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: chat, superchat\r\n"
        b"\r\n"
    ]
    assert client.events_received() == []
    assert client.close_expected() is False


def test_connect_full_uri_exact_bytes(nonce: None) -> None:
    client = ClientProtocol(
        "ws://us%20er:p%40ss@[2001:db8::1]:8080/chat/room?x=1&y=2",
        origin="https://app.example",
        subprotocols=["v2.proto", "v1.proto"],
        extensions=[
            FakeClientFactory("x-fake", [("a", "1"), ("b", None)]),
            FakeClientFactory("x-other"),
        ],
    )
    client.send_request(client.connect())
    assert base64.b64decode("dXMgZXI6cEBzcw==") == b"us er:p@ss"
    assert client.data_to_send() == [
        b"GET /chat/room?x=1&y=2 HTTP/1.1\r\n"
        b"Host: [2001:db8::1]:8080\r\n"
        b"Authorization: Basic dXMgZXI6cEBzcw==\r\n"
        b"Origin: https://app.example\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: x-fake; a=1; b, x-other\r\n"
        b"Sec-WebSocket-Protocol: v2.proto, v1.proto\r\n"
        b"\r\n"
    ]


@pytest.mark.parametrize(
    ("uri", "host", "target"),
    [
        ("ws://example.com", "example.com", "/"),
        ("ws://example.com:80/", "example.com", "/"),
        ("ws://example.com:443/", "example.com:443", "/"),
        ("wss://example.com/", "example.com", "/"),
        ("wss://example.com:443/", "example.com", "/"),
        ("wss://example.com:80/", "example.com:80", "/"),
        ("ws://127.0.0.1:9000/?q", "127.0.0.1:9000", "/?q"),
        ("ws://[::1]/", "[::1]", "/"),
    ],
)
def test_connect_host_and_target(uri: str, host: str, target: str) -> None:
    request = ClientProtocol(uri).connect()
    assert request.headers["Host"] == host
    assert request.path == target
    assert "Authorization" not in request.headers
    assert "Origin" not in request.headers
    assert "Sec-WebSocket-Extensions" not in request.headers
    assert "Sec-WebSocket-Protocol" not in request.headers


def test_connect_user_without_password() -> None:
    request = ClientProtocol("ws://alice@example.com/").connect()
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:").decode()


def test_key_is_16_random_bytes() -> None:
    keys = {ClientProtocol("ws://example.com/").key for _ in range(8)}
    assert len(keys) == 8
    assert all(len(base64.b64decode(key, validate=True)) == 16 for key in keys)


def test_accepts_a_parsed_uri() -> None:
    client = ClientProtocol(parse_uri("wss://example.com:8443/x"))
    assert client.connect().headers["Host"] == "example.com:8443"


def test_invalid_uri() -> None:
    with pytest.raises(InvalidURI):
        ClientProtocol("http://example.com/")


@pytest.mark.parametrize("subprotocols", [["not a token"], ["a", "a"]])
def test_invalid_subprotocols(subprotocols: list[str]) -> None:
    with pytest.raises(ValueError):
        ClientProtocol("ws://example.com/", subprotocols=subprotocols)


def test_request_headers_may_be_changed(nonce: None) -> None:
    client = ClientProtocol("ws://example.com/")
    request = client.connect()
    request.headers["User-Agent"] = "test/1.0"
    client.send_request(request)
    [data] = client.data_to_send()
    assert data.endswith(b"Sec-WebSocket-Version: 13\r\nUser-Agent: test/1.0\r\n\r\n")


# The successful handshake


def test_response_rfc_example(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes())
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.status_code == 101
    assert response.headers["Sec-WebSocket-Accept"] == ACCEPT
    assert client.response is response
    assert client.state is OPEN
    assert client.handshake_exc is None
    assert client.data_to_send() == []
    assert client.close_expected() is False
    assert client.extensions == []
    assert client.subprotocol is None


def test_response_fed_byte_by_byte_then_frames(nonce: None) -> None:
    client = connected_client()
    data = response_bytes() + HELLO
    for i in range(len(data)):
        client.receive_data(data[i : i + 1])
    response, frame = client.events_received()
    assert isinstance(response, Response)
    assert frame == Frame(OP_TEXT, b"Hello")


def test_frames_in_the_same_bytes_as_the_response(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes() + HELLO + b"\x82\x02\x00\xff" + HELLO[:3])
    response, text, binary = client.events_received()
    assert isinstance(response, Response)
    assert text == Frame(OP_TEXT, b"Hello")
    assert binary == Frame(OP_BINARY, b"\x00\xff")
    client.receive_data(HELLO[3:])
    assert client.events_received() == [Frame(OP_TEXT, b"Hello")]


def test_bad_frame_in_the_same_bytes_as_the_response_fails_the_connection(nonce: None) -> None:
    client = connected_client()
    # A masked frame from a server (RFC 6455 §5.1).
    client.receive_data(response_bytes() + b"\x81\x80\x00\x00\x00\x00")
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert client.handshake_exc is None
    assert client.state is CLOSING
    assert client.data_to_send()  # the Close frame with 1002


def test_response_case_insensitive_and_token_lists(nonce: None) -> None:
    client = connected_client()
    fields = [
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, upgrade"),
        ("sec-websocket-accept", ACCEPT),
    ]
    client.receive_data(response_bytes(fields))
    assert client.state is OPEN


def test_interim_response_is_skipped(nonce: None) -> None:
    client = connected_client()
    client.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n" + response_bytes())
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.status_code == 101
    assert client.state is OPEN


def test_eof_after_the_handshake(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes())
    client.receive_eof()
    assert client.state is CLOSED
    assert client.close_code == 1006
    assert client.data_to_send() == [SEND_EOF]


def test_client_created_open_parses_frames() -> None:
    client = ClientProtocol("ws://example.com/", state=OPEN)
    client.receive_data(HELLO)
    assert client.events_received() == [Frame(OP_TEXT, b"Hello")]


# Failures


def assert_failed(client: ClientProtocol, exc_type: type[Exception], message: str) -> None:
    exc = client.handshake_exc
    assert type(exc) is exc_type
    assert str(exc) == message
    assert client.state is CONNECTING
    assert client.data_to_send() == [SEND_EOF]
    assert client.close_expected() is True
    # Later bytes are discarded; the end of the stream keeps the reason.
    client.events_received()
    client.receive_data(HELLO)
    assert client.events_received() == []
    client.receive_eof()
    assert client.handshake_exc is exc
    assert client.data_to_send() == []
    assert client.state is CLOSED


def test_non_101_with_body(nonce: None) -> None:
    client = connected_client()
    client.receive_data(
        response_bytes(
            [("Content-Type", "text/plain"), ("Content-Length", "5")],
            status="403 Forbidden",
            body=b"nope\n",
        )
    )
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert (response.status_code, response.reason_phrase) == (403, "Forbidden")
    assert response.body == b"nope\n"
    assert isinstance(client.handshake_exc, InvalidStatus)
    assert client.handshake_exc.response is response
    assert_failed(client, InvalidStatus, "server rejected WebSocket connection: HTTP 403")


def test_non_101_body_until_eof(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes([], status="500 Internal Server Error", body=b"oh "))
    client.receive_data(b"no")
    assert client.events_received() == []
    assert client.handshake_exc is None
    client.receive_eof()
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.body == b"oh no"
    assert isinstance(client.handshake_exc, InvalidStatus)
    assert client.data_to_send() == [SEND_EOF]
    assert client.state is CLOSED


def test_non_101_chunked_body(nonce: None) -> None:
    client = connected_client()
    client.receive_data(
        response_bytes(
            [("Transfer-Encoding", "chunked")],
            status="404 Not Found",
            body=b"3\r\nabc\r\n0\r\n\r\n",
        )
    )
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.body == b"abc"
    assert isinstance(client.handshake_exc, InvalidStatus)


def test_non_101_content_length_over_max_body(nonce: None) -> None:
    client = connected_client(max_body=10)
    client.receive_data(response_bytes([("Content-Length", "11")], status="200 OK"))
    assert client.events_received() == []
    exc = client.handshake_exc
    assert isinstance(exc, LimitExceeded)
    assert exc.status_code == 413
    assert_failed(client, LimitExceeded, "response body of 11 bytes exceeds 10")


def test_non_101_body_until_eof_over_max_body(nonce: None) -> None:
    client = connected_client(max_body=10)
    client.receive_data(response_bytes([], status="200 OK", body=b"x" * 6))
    assert client.handshake_exc is None
    client.receive_data(b"x" * 5)
    assert client.events_received() == []
    assert_failed(client, LimitExceeded, "response body exceeds 10 bytes")


def test_default_max_body_is_one_mebibyte(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes([("Content-Length", str(2**20 + 1))], status="200 OK"))
    assert isinstance(client.handshake_exc, LimitExceeded)


@pytest.mark.parametrize(
    ("drop", "add", "exc_type", "message"),
    [
        (["Upgrade"], [], InvalidUpgrade, "missing Upgrade header"),
        (["Upgrade"], [("Upgrade", "h2c")], InvalidUpgrade, "invalid Upgrade header: h2c"),
        (
            ["Upgrade"],
            [("Upgrade", "websocket, h2c")],
            InvalidUpgrade,
            "invalid Upgrade header: websocket, h2c",
        ),
        (["Connection"], [], InvalidUpgrade, "missing Connection header"),
        (
            ["Connection"],
            [("Connection", "close")],
            InvalidUpgrade,
            "invalid Connection header: close",
        ),
        (
            ["Connection"],
            [("Connection", "Upgrade;")],
            InvalidHeaderFormat,
            "invalid Connection header: expected comma at 7 in Upgrade;",
        ),
        (
            ["Sec-WebSocket-Accept"],
            [],
            InvalidHeader,
            "missing Sec-WebSocket-Accept header",
        ),
        (
            [],
            [("Sec-WebSocket-Accept", ACCEPT)],
            InvalidHeader,
            "invalid Sec-WebSocket-Accept header: multiple values",
        ),
        (
            ["Sec-WebSocket-Accept"],
            [("Sec-WebSocket-Accept", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=")],
            InvalidHeaderValue,
            "invalid Sec-WebSocket-Accept header: C/0nmHhBztSRGR1CwL6Tf4ZjwpY=",
        ),
    ],
)
def test_invalid_101_response(
    nonce: None,
    drop: list[str],
    add: list[tuple[str, str]],
    exc_type: type[Exception],
    message: str,
) -> None:
    client = connected_client()
    client.receive_data(response_bytes(drop=drop, add=add) + HELLO)
    # The response is reported even though it fails the handshake.
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert_failed(client, exc_type, message)


def test_wrong_accept_for_another_key() -> None:
    # Without the pinned nonce, the RFC's accept value does not match.
    client = connected_client()
    assert client.key != KEY
    client.receive_data(response_bytes())
    assert isinstance(client.handshake_exc, InvalidHeaderValue)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 abc Nope\r\n\r\n", "invalid HTTP message"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "invalid HTTP message"),
        (b"HTTP/1.1 101 Switching Protocols\r\nBad Header\r\n\r\n", "invalid HTTP message"),
    ],
)
def test_malformed_response(nonce: None, data: bytes, message: str) -> None:
    client = connected_client()
    client.receive_data(data)
    assert client.events_received() == []
    exc = client.handshake_exc
    assert isinstance(exc, InvalidMessage)
    assert str(exc).startswith(message)
    assert_failed(client, InvalidMessage, str(exc))


def test_status_line_too_long(nonce: None) -> None:
    client = connected_client()
    data = b"HTTP/1.1 101 " + b"x" * 9000
    for start in range(0, len(data), 512):
        client.receive_data(data[start : start + 512])
        if client.handshake_exc is not None:
            break
    assert start < 8192 + 512
    assert_failed(client, LimitExceeded, "start line longer than 8192 bytes")


def test_too_many_response_headers(nonce: None) -> None:
    client = connected_client(max_headers=4)
    client.receive_data(response_bytes(add=[("X-1", "a"), ("X-2", "b")]))
    assert_failed(client, LimitExceeded, "more than 4 header fields")


def test_header_line_too_long(nonce: None) -> None:
    client = connected_client(max_line=100)
    client.receive_data(response_bytes(add=[("X-Long", "x" * 100)]))
    assert_failed(client, LimitExceeded, "header line longer than 100 bytes")


def test_eof_before_any_response() -> None:
    client = connected_client()
    client.receive_eof()
    exc = client.handshake_exc
    assert isinstance(exc, EOFError)
    assert str(exc) == "connection closed while reading HTTP response"
    assert client.events_received() == []
    assert client.data_to_send() == [SEND_EOF]
    assert client.state is CLOSED
    assert client.close_expected() is True
    with pytest.raises(EOFError):
        client.receive_data(b"HTTP/1.1")


def test_eof_in_the_middle_of_the_head(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes()[:40])
    client.receive_eof()
    assert isinstance(client.handshake_exc, EOFError)
    assert client.data_to_send() == [SEND_EOF]
    assert client.state is CLOSED


def test_eof_in_the_middle_of_the_body(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes([("Content-Length", "10")], status="403 Forbidden") + b"abc")
    assert client.events_received() == []
    client.receive_eof()
    exc = client.handshake_exc
    assert isinstance(exc, EOFError)
    assert str(exc) == "connection closed while reading HTTP response"
    assert client.events_received() == []
    assert client.data_to_send() == [SEND_EOF]
    assert client.state is CLOSED


def test_eof_twice(nonce: None) -> None:
    client = connected_client()
    client.receive_eof()
    client.receive_eof()
    assert client.data_to_send() == [SEND_EOF]


def test_failure_after_the_application_ended_the_stream(nonce: None) -> None:
    client = connected_client()
    client.send_eof()  # the application half-closed early
    assert client.data_to_send() == [SEND_EOF]
    client.receive_data(response_bytes(drop=["Upgrade"]))
    assert isinstance(client.handshake_exc, InvalidUpgrade)
    assert client.data_to_send() == []  # no second end of stream


# Subprotocols


def test_subprotocol_accepted(nonce: None) -> None:
    client = connected_client(subprotocols=["chat", "superchat"])
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Protocol", "superchat")]))
    assert client.state is OPEN
    assert client.subprotocol == "superchat"


def test_subprotocol_none_chosen(nonce: None) -> None:
    client = connected_client(subprotocols=["chat"])
    client.receive_data(response_bytes())
    assert client.state is OPEN
    assert client.subprotocol is None


@pytest.mark.parametrize(
    ("offered", "answer", "exc_type", "message"),
    [
        (
            [],
            [("Sec-WebSocket-Protocol", "chat")],
            NegotiationError,
            "unsupported subprotocol: chat",
        ),
        (
            ["chat"],
            [("Sec-WebSocket-Protocol", "Chat")],
            NegotiationError,
            "unsupported subprotocol: Chat",
        ),
        (
            ["a", "b"],
            [("Sec-WebSocket-Protocol", "a, b")],
            InvalidHeader,
            "invalid Sec-WebSocket-Protocol header: multiple values",
        ),
        (
            ["a", "b"],
            [("Sec-WebSocket-Protocol", "a"), ("Sec-WebSocket-Protocol", "a")],
            InvalidHeader,
            "invalid Sec-WebSocket-Protocol header: multiple values",
        ),
        (
            ["a"],
            [("Sec-WebSocket-Protocol", "a;")],
            InvalidHeaderFormat,
            "invalid Sec-WebSocket-Protocol header: expected comma at 1 in a;",
        ),
    ],
)
def test_subprotocol_refused(
    nonce: None,
    offered: list[str],
    answer: list[tuple[str, str]],
    exc_type: type[Exception],
    message: str,
) -> None:
    client = connected_client(subprotocols=offered)
    client.receive_data(response_bytes(add=answer))
    assert_failed(client, exc_type, message)
    assert client.subprotocol is None


# Extensions


def test_extension_accepted(nonce: None) -> None:
    factory = FakeClientFactory(params=[("a", "1")])
    client = connected_client(extensions=[factory])
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Extensions", "x-fake; a=1; b")]))
    assert client.state is OPEN
    assert factory.seen == [[("a", "1"), ("b", None)]]
    [extension] = client.extensions
    assert isinstance(extension, FakeExtension)
    assert extension.params == [("a", "1"), ("b", None)]


def test_extension_refused_by_one_factory_accepted_by_the_next(nonce: None) -> None:
    # Two offers of one extension, as with two parameter sets: the first
    # factory refuses the answer, the second accepts it.
    refusing = RefusingFactory()
    accepting = FakeClientFactory(params=[("mode", "2")])
    client = connected_client(extensions=[FakeClientFactory("x-other"), refusing, accepting])
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Extensions", "x-fake; mode=2")]))
    assert client.state is OPEN
    assert refusing.seen == accepting.seen == [[("mode", "2")]]
    [extension] = client.extensions
    assert isinstance(extension, FakeExtension)
    assert extension.params == [("mode", "2")]


def test_extension_refused_by_every_factory(nonce: None) -> None:
    first, second = FakeClientFactory(), FakeClientFactory()
    client = connected_client(extensions=[first, second])
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Extensions", "x-fake; refuse")]))
    assert first.seen == second.seen == [[("refuse", None)]]
    assert_failed(client, NegotiationError, "unsupported extension: x-fake")
    assert client.extensions == []


class RefusingFactory(FakeClientFactory):
    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> Extension:
        self.seen.append(list(params))
        raise NegotiationError("never")


def test_extensions_accepted_in_the_servers_order(nonce: None) -> None:
    one, two = FakeClientFactory("x-one"), FakeClientFactory("x-two")
    client = connected_client(extensions=[one, two])
    client.receive_data(
        response_bytes(
            add=[("Sec-WebSocket-Extensions", "x-two"), ("Sec-WebSocket-Extensions", "x-one")]
        )
    )
    assert [e.name for e in client.extensions] == ["x-two", "x-one"]


def test_extension_not_offered_is_refused(nonce: None) -> None:
    client = connected_client(extensions=[FakeClientFactory()])
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Extensions", "x-unknown")]))
    assert_failed(client, NegotiationError, "unsupported extension: x-unknown")
    assert client.extensions == []


def test_extension_when_none_offered_is_refused(nonce: None) -> None:
    client = connected_client()
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Extensions", "permessage-deflate")]))
    assert_failed(client, NegotiationError, "unsupported extension: permessage-deflate")


def test_malformed_extension_header(nonce: None) -> None:
    client = connected_client(extensions=[FakeClientFactory()])
    client.receive_data(response_bytes(add=[("Sec-WebSocket-Extensions", "x-fake; a=")]))
    assert_failed(
        client,
        InvalidHeaderFormat,
        "invalid Sec-WebSocket-Extensions header: expected token at 10 in x-fake; a=",
    )


# Logging


def test_debug_logging(caplog: pytest.LogCaptureFixture, nonce: None) -> None:
    logger = logging.getLogger("test.client")
    logger.setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG, logger="test.client"):
        client = connected_client(logger=logger)
        client.receive_data(response_bytes())
        failed = connected_client(logger=logger)
        failed.receive_data(response_bytes([("Content-Length", "0")], status="400 Bad Request"))
    messages = [record.getMessage() for record in caplog.records]
    assert "> GET /chat HTTP/1.1" in messages
    assert f"> Sec-WebSocket-Key: {KEY}" in messages
    assert "< HTTP/1.1 101 Switching Protocols" in messages
    assert f"< Sec-WebSocket-Accept: {ACCEPT}" in messages
    assert "< HTTP/1.1 400 Bad Request" in messages
    assert "! invalid handshake response" in messages


# A round trip with our own server


def test_round_trip_with_sansws_server() -> None:
    client = ClientProtocol(
        "ws://localhost:8000/echo?x=1",
        origin="http://localhost",
        subprotocols=["b", "a"],
        extensions=[FakeClientFactory("x-fake", [("p", "1")])],
    )
    server = ServerProtocol(
        origins=["http://localhost"],
        subprotocols=["a", "b"],
        extensions=[FakeServerFactory()],
    )
    client.send_request(client.connect())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    [request] = server.events_received()
    assert isinstance(request, Request)
    assert request.path == "/echo?x=1"
    server.send_response(server.accept(request))
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert client.state is server.state is OPEN
    assert client.subprotocol == server.subprotocol == "a"
    assert [e.name for e in client.extensions] == [e.name for e in server.extensions] == ["x-fake"]

    client.send_text("ça va ?".encode())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    assert server.events_received() == [Frame(OP_TEXT, "ça va ?".encode())]
    server.send_binary(b"\x00\x01\x02")
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    assert client.events_received() == [Frame(OP_BINARY, b"\x00\x01\x02")]

    # RFC 6455 §7.1: the client closes; the server echoes and closes TCP first.
    client.send_close(1000, "bye")
    assert client.state is CLOSING
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    assert server.events_received() == [Frame(OP_CLOSE, Close(1000, "bye").serialize())]
    output = server.data_to_send()
    assert output[-1] == SEND_EOF
    for chunk in output[:-1]:
        client.receive_data(chunk)
    assert client.events_received() == [Frame(OP_CLOSE, Close(1000, "bye").serialize())]
    client.receive_eof()
    assert client.data_to_send() == [SEND_EOF]
    server.receive_eof()
    for protocol in (client, server):
        assert protocol.state is CLOSED
        assert protocol.close_code == 1000
        assert protocol.close_reason == "bye"
        assert protocol.close_exc.__class__.__name__ == "ConnectionClosedOK"
        assert protocol.handshake_exc is None


def test_round_trip_refused_by_sansws_server() -> None:
    client = ClientProtocol("ws://localhost/", origin="http://evil.example")
    server = ServerProtocol(origins=["http://localhost"])
    client.send_request(client.connect())
    server.receive_data(b"".join(client.data_to_send()))
    [request] = server.events_received()
    server.send_response(server.accept(request))  # type: ignore[arg-type]
    output = server.data_to_send()
    assert output[-1] == SEND_EOF
    client.receive_data(output[0])
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.status_code == 403
    assert response.body == (
        b"Failed to open a WebSocket connection: invalid Origin header: http://evil.example.\n"
    )
    client.receive_eof()
    assert isinstance(client.handshake_exc, InvalidStatus)
    assert client.data_to_send() == [SEND_EOF]


# Interop with servers that sansws did not write


@pytest.mark.interop
def test_interop_websockets_server() -> None:
    from websockets.frames import Frame as WebsocketsFrame
    from websockets.frames import Opcode as WOpcode
    from websockets.http11 import Request as WebsocketsRequest
    from websockets.server import ServerProtocol as WebsocketsServer
    from websockets.typing import Subprotocol

    client = ClientProtocol("ws://localhost:8765/path?q=1", subprotocols=["chat"])
    server = WebsocketsServer(subprotocols=[Subprotocol("chat")])
    client.send_request(client.connect())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    [request] = server.events_received()
    assert isinstance(request, WebsocketsRequest)
    assert request.path == "/path?q=1"
    server.send_response(server.accept(request))
    assert server.handshake_exc is None
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.status_code == 101
    assert client.handshake_exc is None
    assert client.state is OPEN
    assert client.subprotocol == "chat"

    client.send_text("héllo".encode())
    client.send_binary(b"\x00\xff")
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    frames = server.events_received()
    assert all(isinstance(f, WebsocketsFrame) for f in frames)
    assert [(f.opcode, f.data) for f in frames] == [  # type: ignore[union-attr]
        (WOpcode.TEXT, "héllo".encode()),
        (WOpcode.BINARY, b"\x00\xff"),
    ]
    server.send_text("wörld".encode())
    server.send_binary(b"\x01\x02")
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    assert client.events_received() == [
        Frame(OP_TEXT, "wörld".encode()),
        Frame(OP_BINARY, b"\x01\x02"),
    ]

    # The server closes; we echo; websockets then closes TCP.
    server.send_close(1001, "going away")
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    assert client.close_rcvd == Close(1001, "going away")
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    assert server.data_to_send()[-1] == b""
    client.receive_eof()
    assert client.data_to_send() == [SEND_EOF]
    server.receive_eof()
    assert client.state is CLOSED
    assert client.close_code == 1001
    assert server.state.name == "CLOSED"
    assert server.close_code == 1001


@pytest.mark.interop
def test_interop_websockets_server_rejects() -> None:
    from websockets.server import ServerProtocol as WebsocketsServer

    client = ClientProtocol("ws://localhost/")
    server = WebsocketsServer()
    client.send_request(client.connect())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    server.events_received()
    server.send_response(server.reject(401, "Missing credentials\n"))
    for chunk in server.data_to_send():
        if chunk:
            client.receive_data(chunk)
        else:
            client.receive_eof()
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert response.status_code == 401
    assert response.body == b"Missing credentials\n"
    assert isinstance(client.handshake_exc, InvalidStatus)
    assert client.state is CLOSED


@pytest.mark.interop
def test_interop_wsproto_server() -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import (
        AcceptConnection,
        BytesMessage,
        CloseConnection,
        Message,
        TextMessage,
    )
    from wsproto.events import Request as WsprotoRequest

    client = ClientProtocol("ws://example.com:8080/ws", subprotocols=["v2", "v1"])
    server = WSConnection(ConnectionType.SERVER)
    client.send_request(client.connect())
    server.receive_data(b"".join(client.data_to_send()))
    [request] = server.events()
    assert isinstance(request, WsprotoRequest)
    assert (request.host, request.target) == ("example.com:8080", "/ws")
    assert request.subprotocols == ["v2", "v1"]
    client.receive_data(server.send(AcceptConnection(subprotocol="v1")))
    [response] = client.events_received()
    assert isinstance(response, Response)
    assert client.state is OPEN
    assert client.subprotocol == "v1"

    client.send_text("héllo".encode())
    client.send_binary(b"\x00\xff")
    server.receive_data(b"".join(client.data_to_send()))
    messages = list(server.events())
    assert all(isinstance(m, Message) for m in messages)
    assert [(type(m), m.data) for m in messages] == [  # type: ignore[attr-defined]
        (TextMessage, "héllo"),
        (BytesMessage, b"\x00\xff"),
    ]
    data = server.send(TextMessage(data="wörld")) + server.send(BytesMessage(data=b"\x01\x02"))
    client.receive_data(data)
    assert client.events_received() == [
        Frame(OP_TEXT, "wörld".encode()),
        Frame(OP_BINARY, b"\x01\x02"),
    ]

    # The client closes; wsproto echoes; the server side then closes TCP.
    client.send_close(1000)
    server.receive_data(b"".join(client.data_to_send()))
    [close] = server.events()
    assert isinstance(close, CloseConnection)
    assert close.code == 1000
    client.receive_data(server.send(close.response()))
    assert client.events_received() == [Frame(OP_CLOSE, b"\x03\xe8")]
    client.receive_eof()
    assert client.state is CLOSED
    assert client.close_code == 1000
    assert client.close_exc.__class__.__name__ == "ConnectionClosedOK"
