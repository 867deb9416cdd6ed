"""Tests for sansws.server: the server side of the opening handshake (RFC 6455 §4.2)."""

from __future__ import annotations

import http
import logging
import re
from collections.abc import Sequence

import pytest

from sansws.exceptions import (
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidOrigin,
    InvalidState,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
    SecurityError,
)
from sansws.extensions.base import Extension, ExtensionParameter, ServerExtensionFactory
from sansws.frames import OP_BINARY, OP_CLOSE, OP_TEXT, Close, Frame
from sansws.http11 import LimitExceeded, Request, Response
from sansws.protocol import CLOSED, CLOSING, CONNECTING, OPEN, SEND_EOF
from sansws.server import Origin, ServerProtocol

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3

STANDARD_FIELDS = [
    ("Host", "server.example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]

RESPONSE_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)

# RFC 6455 §5.7: a single-frame masked text message, "Hello".
MASKED_HELLO = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
# A masked Close frame with code 1000 and an all-zero key.
MASKED_CLOSE_1000 = b"\x88\x82\x00\x00\x00\x00\x03\xe8"


def request_bytes(
    fields: Sequence[tuple[str, str]] = STANDARD_FIELDS,
    *,
    method: str = "GET",
    target: str = "/chat",
    version: str = "1.1",
    drop: Sequence[str] = (),
    add: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The bytes of a handshake request; ``drop`` removes fields by name."""
    lines = [f"{method} {target} HTTP/{version}"]
    lines += [f"{n}: {v}" for n, v in fields if n not in drop]
    lines += [f"{n}: {v}" for n, v in add]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_request(server: ServerProtocol, data: bytes) -> Request:
    server.receive_data(data)
    assert server.data_to_send() == []
    [request] = server.events_received()
    assert isinstance(request, Request)
    return request


def refusal(status_line: str, text: str, *extra: str) -> bytes:
    """The exact bytes of an error response built by :meth:`ServerProtocol.reject`."""
    body = text.encode()
    head = [
        status_line,
        "Connection: close",
        f"Content-Length: {len(body)}",
        "Content-Type: text/plain; charset=utf-8",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class FakeExtension(Extension):
    def __init__(self, name: str, params: Sequence[ExtensionParameter]) -> None:
        self.name = name
        self.params = list(params)

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return frame

    def encode(self, frame: Frame) -> Frame:
        return frame


class FakeServerFactory(ServerExtensionFactory):
    """Accepts any offer of ``name`` except one with a ``refuse`` parameter."""

    def __init__(self, name: str = "x-fake") -> None:
        self.name = name
        self.seen: list[list[ExtensionParameter]] = []

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], Extension]:
        self.seen.append(list(params))
        if any(name == "refuse" for name, _ in params):
            raise NegotiationError("refused")
        answer = [(name, value) for name, value in params if name != "offer-only"]
        return answer, FakeExtension(self.name, answer)


# The successful handshake


def test_accept_rfc_example_exact_bytes() -> None:
    server = ServerProtocol()
    assert server.state is CONNECTING
    request = read_request(server, request_bytes())
    assert request.method == "GET"
    assert request.path == "/chat"
    assert request.http_version == "1.1"
    assert request.headers["sec-websocket-key"] == KEY
    assert server.request is request

    response = server.accept(request)
    assert response.status_code == 101
    assert response.headers["Sec-WebSocket-Accept"] == ACCEPT
    assert server.handshake_exc is None
    server.send_response(response)
    assert server.data_to_send() == [RESPONSE_101]
    assert server.response is response
    assert server.state is OPEN
    assert server.close_expected() is False
    assert server.extensions == []
    assert server.subprotocol is None


def test_request_fed_byte_by_byte() -> None:
    server = ServerProtocol()
    data = request_bytes()
    for i in range(len(data) - 1):
        server.receive_data(data[i : i + 1])
        assert server.events_received() == []
    server.receive_data(data[-1:])
    [request] = server.events_received()
    assert isinstance(request, Request)
    assert request.headers["Host"] == "server.example.com"


def test_accept_is_case_insensitive_and_takes_token_lists() -> None:
    server = ServerProtocol()
    fields = [
        ("host", "server.example.com"),
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, upgrade"),
        ("sec-websocket-key", KEY),
        ("sec-websocket-version", "13"),
    ]
    response = server.accept(read_request(server, request_bytes(fields)))
    assert response.status_code == 101


def test_accept_later_http_1x() -> None:
    # RFC 6455 §4.2.1: "HTTP/1.1 or higher"; RFC 7230 §2.6: 1.2 reads as 1.1.
    server = ServerProtocol()
    response = server.accept(read_request(server, request_bytes(version="1.2")))
    assert response.status_code == 101


def test_accept_full_response_bytes_with_extension_and_subprotocol() -> None:
    server = ServerProtocol(extensions=[FakeServerFactory()], subprotocols=["chat"])
    request = read_request(
        server,
        request_bytes(
            add=[
                ("Sec-WebSocket-Extensions", "x-fake; a=1; offer-only; b"),
                ("Sec-WebSocket-Protocol", "superchat, chat"),
            ]
        ),
    )
    server.send_response(server.accept(request))
    assert server.data_to_send() == [
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Extensions: x-fake; a=1; b\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"\r\n"
    ]
    assert server.subprotocol == "chat"
    [extension] = server.extensions
    assert isinstance(extension, FakeExtension)
    assert extension.params == [("a", "1"), ("b", None)]


# Refusals from accept()


def refuse(server: ServerProtocol, data: bytes) -> tuple[Response, bytes]:
    """Read the request, accept() it, send the answer; return it and its bytes."""
    response = server.accept(read_request(server, data))
    exc = server.handshake_exc
    assert exc is not None
    server.send_response(response)
    output = server.data_to_send()
    assert output[-1] == SEND_EOF
    assert len(output) == 2
    # send_response keeps the reason accept() found.
    assert server.handshake_exc is exc
    assert server.state is CONNECTING
    assert server.close_expected() is True
    return response, output[0]


def test_refuse_post_405_exact_bytes() -> None:
    server = ServerProtocol()
    response, data = refuse(server, request_bytes(method="POST"))
    assert isinstance(server.handshake_exc, InvalidMessage)
    assert data == refusal(
        "HTTP/1.1 405 Method Not Allowed",
        "Failed to open a WebSocket connection: unsupported HTTP method POST.\n",
        "Allow: GET",
    )
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("version", ["1.0", "0.9", "2.0"])
def test_refuse_http_version_505(version: str) -> None:
    server = ServerProtocol()
    fields = STANDARD_FIELDS if version != "1.0" else STANDARD_FIELDS[1:]
    _, data = refuse(server, request_bytes(fields, version=version))
    assert isinstance(server.handshake_exc, InvalidMessage)
    assert data == refusal(
        "HTTP/1.1 505 HTTP Version Not Supported",
        f"Failed to open a WebSocket connection: unsupported HTTP version {version}.\n",
    )


UPGRADE_REQUIRED_EXTRA = ("Upgrade: websocket", "Sec-WebSocket-Version: 13")


@pytest.mark.parametrize(
    ("drop", "add", "text"),
    [
        (["Connection"], [], "missing Connection header"),
        (["Connection"], [("Connection", "keep-alive")], "invalid Connection header: keep-alive"),
        (["Upgrade"], [], "missing Upgrade header"),
        (["Upgrade"], [("Upgrade", "h2c")], "invalid Upgrade header: h2c"),
        (
            ["Sec-WebSocket-Version"],
            [("Sec-WebSocket-Version", "8")],
            "invalid Sec-WebSocket-Version header: 8",
        ),
    ],
)
def test_refuse_upgrade_required_426(
    drop: list[str], add: list[tuple[str, str]], text: str
) -> None:
    server = ServerProtocol()
    response, data = refuse(server, request_bytes(drop=drop, add=add))
    assert isinstance(server.handshake_exc, InvalidUpgrade)
    assert data == refusal(
        "HTTP/1.1 426 Upgrade Required",
        f"Failed to open a WebSocket connection: {text}.\n",
        *UPGRADE_REQUIRED_EXTRA,
    )
    # RFC 6455 §4.4: the versions the server speaks.
    assert response.headers["Sec-WebSocket-Version"] == "13"


@pytest.mark.parametrize(
    ("drop", "add", "exc_type", "text"),
    [
        (["Sec-WebSocket-Key"], [], InvalidHeader, "missing Sec-WebSocket-Key header"),
        (
            [],
            [("Sec-WebSocket-Key", KEY)],
            InvalidHeader,
            "invalid Sec-WebSocket-Key header: multiple values",
        ),
        (
            ["Sec-WebSocket-Key"],
            [("Sec-WebSocket-Key", "not*base64")],
            InvalidHeaderValue,
            "invalid Sec-WebSocket-Key header: not*base64",
        ),
        (
            ["Sec-WebSocket-Key"],
            [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")],  # 15 bytes
            InvalidHeaderValue,
            "invalid Sec-WebSocket-Key header: AAAAAAAAAAAAAAAAAAAA",
        ),
        (
            ["Sec-WebSocket-Version"],
            [],
            InvalidHeader,
            "missing Sec-WebSocket-Version header",
        ),
        (
            [],
            [("Sec-WebSocket-Version", "13")],
            InvalidHeader,
            "invalid Sec-WebSocket-Version header: multiple values",
        ),
        (
            ["Connection"],
            [("Connection", "Upgrade;")],
            InvalidHeaderFormat,
            "invalid Connection header: expected comma at 7 in Upgrade;",
        ),
        (
            [],
            [("Sec-WebSocket-Extensions", "x-fake;")],
            InvalidHeaderFormat,
            "invalid Sec-WebSocket-Extensions header: expected token at 7 in x-fake;",
        ),
        (
            [],
            [("Sec-WebSocket-Protocol", "chat/1")],
            InvalidHeaderFormat,
            "invalid Sec-WebSocket-Protocol header: expected comma at 4 in chat/1",
        ),
    ],
)
def test_refuse_bad_request_400(
    drop: list[str], add: list[tuple[str, str]], exc_type: type[Exception], text: str
) -> None:
    server = ServerProtocol(extensions=[FakeServerFactory()], subprotocols=["chat"])
    _, data = refuse(server, request_bytes(drop=drop, add=add))
    assert type(server.handshake_exc) is exc_type
    assert data == refusal(
        "HTTP/1.1 400 Bad Request",
        f"Failed to open a WebSocket connection: {text}.\n",
    )


ORIGINS: list[Origin] = ["https://a.example", re.compile(r"https://[a-z]+\.b\.example")]


@pytest.mark.parametrize(
    "origin",
    ["https://a.example", "https://x.b.example", "https://yz.b.example"],
)
def test_origin_allowed(origin: str) -> None:
    server = ServerProtocol(origins=ORIGINS)
    response = server.accept(read_request(server, request_bytes(add=[("Origin", origin)])))
    assert response.status_code == 101


@pytest.mark.parametrize(
    ("origin", "text"),
    [
        (None, "missing Origin header"),
        ("https://evil.example", "invalid Origin header: https://evil.example"),
        # Strings compare exactly; patterns match in full.
        ("https://A.example", "invalid Origin header: https://A.example"),
        ("https://x.b.example.evil", "invalid Origin header: https://x.b.example.evil"),
        ("evil https://x.b.example", "invalid Origin header: evil https://x.b.example"),
    ],
)
def test_origin_refused_403(origin: str | None, text: str) -> None:
    server = ServerProtocol(origins=ORIGINS)
    add = [] if origin is None else [("Origin", origin)]
    _, data = refuse(server, request_bytes(add=add))
    assert isinstance(server.handshake_exc, InvalidOrigin)
    assert data == refusal(
        "HTTP/1.1 403 Forbidden", f"Failed to open a WebSocket connection: {text}.\n"
    )


def test_origin_none_allows_a_request_without_origin() -> None:
    server = ServerProtocol(origins=[None, "https://a.example"])
    response = server.accept(read_request(server, request_bytes()))
    assert response.status_code == 101
    server = ServerProtocol(origins=[None])
    _, data = refuse(server, request_bytes(add=[("Origin", "https://a.example")]))
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")


def test_origin_not_checked_by_default() -> None:
    server = ServerProtocol()
    response = server.accept(
        read_request(server, request_bytes(add=[("Origin", "https://anything.example")]))
    )
    assert response.status_code == 101


def test_origin_repeated_400() -> None:
    server = ServerProtocol(origins=["https://a.example"])
    _, data = refuse(
        server,
        request_bytes(add=[("Origin", "https://a.example"), ("Origin", "https://a.example")]),
    )
    assert type(server.handshake_exc) is InvalidHeader
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_empty_origin_allow_list_refuses_everything() -> None:
    server = ServerProtocol(origins=[])
    _, data = refuse(server, request_bytes())
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")


# Refusals while reading the request


def assert_refused_while_reading(server: ServerProtocol, status_line: str, text: str) -> None:
    assert server.events_received() == []
    assert server.data_to_send() == [
        refusal(status_line, f"Failed to open a WebSocket connection: {text}.\n"),
        SEND_EOF,
    ]
    assert server.close_expected() is True
    # Later bytes are ignored, and the end of the stream keeps the reason.
    exc = server.handshake_exc
    server.receive_data(request_bytes())
    assert server.events_received() == []
    assert server.data_to_send() == []
    server.receive_eof()
    assert server.handshake_exc is exc
    assert server.data_to_send() == []
    assert server.state is CLOSED


def feed_in_chunks(server: ServerProtocol, data: bytes, size: int) -> int:
    """Feed ``data`` until the server answers; return how many bytes it took."""
    for start in range(0, len(data), size):
        server.receive_data(data[start : start + size])
        if server.handshake_exc is not None:
            return start + size
    raise AssertionError("the server did not refuse the request")


def test_request_line_too_long_414_bounded() -> None:
    server = ServerProtocol()
    target = "/" + "a" * 10_000
    used = feed_in_chunks(server, request_bytes(target=target), 100)
    # "GET " + the target passes 8192 bytes within one chunk of the limit.
    assert 8192 < used <= 8192 + 100
    exc = server.handshake_exc
    assert isinstance(exc, LimitExceeded)
    assert exc.status_code == 414
    assert_refused_while_reading(
        server,
        # The phrase is the stdlib's: "Request-URI Too Long" before Python 3.13.
        f"HTTP/1.1 414 {http.HTTPStatus(414).phrase}",
        "start line longer than 8192 bytes",
    )


def test_request_line_of_8192_bytes_is_read() -> None:
    server = ServerProtocol()
    target = "/" + "a" * (8192 - len("GET / HTTP/1.1"))
    data = request_bytes(target=target)
    assert len(data.split(b"\r\n")[0]) == 8192
    request = read_request(server, data)
    assert request.path == target


def test_header_line_too_long_431_bounded() -> None:
    server = ServerProtocol()
    data = request_bytes(add=[("X-Long", "b" * 20_000)])
    used = feed_in_chunks(server, data, 64)
    start = data.index(b"X-Long")
    assert start + 8192 < used <= start + 8192 + 64
    assert isinstance(server.handshake_exc, LimitExceeded)
    assert_refused_while_reading(
        server,
        "HTTP/1.1 431 Request Header Fields Too Large",
        "header line longer than 8192 bytes",
    )


def test_too_many_headers_431() -> None:
    server = ServerProtocol()
    add = [(f"X-{i}", "v") for i in range(129 - len(STANDARD_FIELDS))]
    feed_in_chunks(server, request_bytes(add=add), 16)
    assert_refused_while_reading(
        server,
        "HTTP/1.1 431 Request Header Fields Too Large",
        "more than 128 header fields",
    )


def test_128_headers_are_read() -> None:
    server = ServerProtocol()
    add = [(f"X-{i}", "v") for i in range(128 - len(STANDARD_FIELDS))]
    request = read_request(server, request_bytes(add=add))
    assert len(request.headers) == 128


def test_limits_are_configurable() -> None:
    server = ServerProtocol(max_line=100, max_headers=4)
    server.receive_data(request_bytes())
    assert isinstance(server.handshake_exc, LimitExceeded)
    assert server.data_to_send()[0].startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (
            request_bytes(drop=["Host"]),
            "invalid HTTP message: Missing mandatory Host: header",
        ),
        (
            # RFC 7230 §5.4: more than one Host is a 400.
            request_bytes(add=[("Host", "other.example.com")]),
            "invalid HTTP message: Found multiple Host: headers",
        ),
        (
            request_bytes(add=[("Content-Length", "5")]) + b"hello",
            "the handshake request must not have a body",
        ),
    ],
)
def test_unparseable_request_400(data: bytes, text: str) -> None:
    server = ServerProtocol()
    server.receive_data(data)
    assert isinstance(server.handshake_exc, InvalidMessage)
    assert_refused_while_reading(server, "HTTP/1.1 400 Bad Request", text)


def test_garbage_request_400() -> None:
    server = ServerProtocol()
    server.receive_data(b"garbage\r\n\r\n")
    assert isinstance(server.handshake_exc, InvalidMessage)
    response, eof = server.data_to_send()
    assert eof == SEND_EOF
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\n\r\nFailed to open a WebSocket connection: invalid HTTP message: " in response


# reject() and send_response()


def test_reject_custom_exact_bytes() -> None:
    server = ServerProtocol()
    read_request(server, request_bytes())
    response = server.reject(401, "Who are you? \u2603\n")
    assert (response.status_code, response.reason_phrase) == (401, "Unauthorized")
    assert response.body == "Who are you? \u2603\n".encode()
    response.headers["WWW-Authenticate"] = 'Basic realm="x"'
    server.send_response(response)
    assert server.data_to_send() == [
        b"HTTP/1.1 401 Unauthorized\r\n"
        b"Connection: close\r\n"
        b"Content-Length: 17\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b'WWW-Authenticate: Basic realm="x"\r\n'
        b"\r\n"
        b"Who are you? \xe2\x98\x83\n",
        SEND_EOF,
    ]
    # A refusal the application chose: the status is the reason.
    exc = server.handshake_exc
    assert isinstance(exc, InvalidStatus)
    assert exc.response is response
    assert server.close_expected() is True
    assert server.state is CONNECTING


def test_reject_refuses_unknown_status() -> None:
    server = ServerProtocol()
    with pytest.raises(ValueError):
        server.reject(999, "no")


def test_send_response_non_101_discards_later_data() -> None:
    server = ServerProtocol()
    request = read_request(server, request_bytes())
    server.send_response(server.reject(503, "busy"))
    assert server.data_to_send()[-1] == SEND_EOF
    server.receive_data(MASKED_HELLO)
    assert server.events_received() == []
    assert server.data_to_send() == []
    # A second answer after the end of the stream is dropped.
    server.send_response(server.accept(request))
    assert server.data_to_send() == []
    assert server.state is CONNECTING


def test_send_response_twice_after_101_raises() -> None:
    server = ServerProtocol()
    request = read_request(server, request_bytes())
    server.send_response(server.accept(request))
    server.data_to_send()
    with pytest.raises(InvalidState):
        server.send_response(server.reject(500, "oops"))
    assert server.data_to_send() == []
    assert server.state is OPEN


def test_accept_resets_negotiation_after_a_failure() -> None:
    factory = FakeServerFactory()
    server = ServerProtocol(
        extensions=[factory], select_subprotocol=lambda protocol, offered: "unoffered"
    )
    request = read_request(
        server,
        request_bytes(
            add=[("Sec-WebSocket-Extensions", "x-fake"), ("Sec-WebSocket-Protocol", "chat")]
        ),
    )
    response = server.accept(request)
    assert response.status_code == 400
    assert factory.seen == [[]]  # extensions were negotiated before the failure
    assert server.extensions == []
    assert server.subprotocol is None


# Data around the request


def test_frames_pipelined_with_the_request_are_parsed_after_accept() -> None:
    server = ServerProtocol()
    read_request(server, request_bytes() + MASKED_HELLO[:3])
    server.receive_data(MASKED_HELLO[3:] + MASKED_HELLO)
    assert server.events_received() == []
    server.send_response(server.accept(server.request))  # type: ignore[arg-type]
    assert server.data_to_send() == [RESPONSE_101]
    assert server.events_received() == [Frame(OP_TEXT, b"Hello"), Frame(OP_TEXT, b"Hello")]


def test_frames_after_101_are_parsed() -> None:
    server = ServerProtocol()
    server.send_response(server.accept(read_request(server, request_bytes())))
    server.data_to_send()
    server.receive_data(MASKED_HELLO)
    assert server.events_received() == [Frame(OP_TEXT, b"Hello")]
    server.receive_data(MASKED_CLOSE_1000)
    assert server.events_received() == [Frame(OP_CLOSE, b"\x03\xe8")]
    assert server.data_to_send() == [b"\x88\x02\x03\xe8", SEND_EOF]
    assert server.state is CLOSING


def test_too_much_early_data_fails_the_handshake() -> None:
    server = ServerProtocol()
    request = read_request(server, request_bytes() + b"x" * 65_536)
    server.receive_data(b"x")
    exc = server.handshake_exc
    assert isinstance(exc, SecurityError)
    assert str(exc) == "client sent too much data before the handshake completed"
    assert server.data_to_send() == [SEND_EOF]
    assert server.close_expected() is True
    # The answer comes too late; nothing more is written.
    server.send_response(server.accept(request))
    assert server.data_to_send() == []
    server.receive_data(b"x")
    assert server.handshake_exc is exc


def test_too_much_early_data_in_the_same_bytes_as_the_request() -> None:
    server = ServerProtocol()
    server.receive_data(request_bytes() + b"x" * 65_537)
    # The request was read and is reported, but the handshake failed.
    [request] = server.events_received()
    assert isinstance(request, Request)
    assert isinstance(server.handshake_exc, SecurityError)
    assert server.data_to_send() == [SEND_EOF]


def test_too_much_early_data_after_the_application_ended_the_stream() -> None:
    server = ServerProtocol()
    read_request(server, request_bytes())
    server.send_eof()  # the application gave up without answering
    assert server.data_to_send() == [SEND_EOF]
    server.receive_data(b"x" * 65_537)
    assert isinstance(server.handshake_exc, SecurityError)
    assert server.data_to_send() == []  # no second end of stream


# The end of the stream


def test_eof_before_any_data_is_not_an_error() -> None:
    server = ServerProtocol()
    server.receive_eof()
    assert server.handshake_exc is None
    assert server.data_to_send() == [SEND_EOF]
    assert server.state is CLOSED
    # Idempotent.
    server.receive_eof()
    assert server.data_to_send() == []


def test_eof_in_the_middle_of_the_request() -> None:
    server = ServerProtocol()
    server.receive_data(request_bytes()[:30])
    server.receive_eof()
    exc = server.handshake_exc
    assert isinstance(exc, EOFError)
    assert str(exc) == "connection closed while reading HTTP request"
    assert server.events_received() == []
    assert server.data_to_send() == [SEND_EOF]
    assert server.state is CLOSED
    with pytest.raises(EOFError):
        server.receive_data(b"more")


def test_eof_before_the_answer() -> None:
    server = ServerProtocol()
    request = read_request(server, request_bytes())
    server.receive_eof()
    assert server.handshake_exc is None
    assert server.data_to_send() == [SEND_EOF]
    assert server.state is CLOSED
    server.send_response(server.accept(request))
    assert server.data_to_send() == []


# Subprotocols


@pytest.mark.parametrize(
    ("supported", "offered", "chosen"),
    [
        # The server's order of preference wins.
        (["b", "a"], ["Sec-WebSocket-Protocol: a, b"], "b"),
        (["a", "b"], ["Sec-WebSocket-Protocol: b, a"], "a"),
        # Offers may be spread over several fields.
        (["b"], ["Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b"], "b"),
        # Subprotocol names are case-sensitive (RFC 6455 §11.3.4).
        (["chat"], ["Sec-WebSocket-Protocol: Chat"], None),
        (["chat"], [], None),
        ([], ["Sec-WebSocket-Protocol: chat"], None),
    ],
)
def test_subprotocol_by_preference(
    supported: list[str], offered: list[str], chosen: str | None
) -> None:
    server = ServerProtocol(subprotocols=supported)
    add = [tuple(line.split(": ")) for line in offered]
    response = server.accept(read_request(server, request_bytes(add=add)))  # type: ignore[arg-type]
    assert response.status_code == 101
    assert response.headers.get("Sec-WebSocket-Protocol") == chosen
    assert server.subprotocol == chosen


def test_select_subprotocol_callable() -> None:
    calls: list[tuple[ServerProtocol, list[str]]] = []

    def select(protocol: ServerProtocol, offered: Sequence[str]) -> str | None:
        calls.append((protocol, list(offered)))
        return offered[-1]

    # The callable overrides the order of preference.
    server = ServerProtocol(subprotocols=["a"], select_subprotocol=select)
    response = server.accept(
        read_request(server, request_bytes(add=[("Sec-WebSocket-Protocol", "a, b")]))
    )
    assert calls == [(server, ["a", "b"])]
    assert response.headers["Sec-WebSocket-Protocol"] == "b"
    assert server.subprotocol == "b"


def test_select_subprotocol_returning_none() -> None:
    server = ServerProtocol(select_subprotocol=lambda protocol, offered: None)
    response = server.accept(
        read_request(server, request_bytes(add=[("Sec-WebSocket-Protocol", "a")]))
    )
    assert response.status_code == 101
    assert "Sec-WebSocket-Protocol" not in response.headers


def test_select_subprotocol_called_when_nothing_is_offered() -> None:
    calls: list[list[str]] = []

    def select(protocol: ServerProtocol, offered: Sequence[str]) -> str | None:
        calls.append(list(offered))
        return None

    server = ServerProtocol(select_subprotocol=select)
    assert server.accept(read_request(server, request_bytes())).status_code == 101
    assert calls == [[]]


def test_select_subprotocol_returning_an_unoffered_value_is_refused() -> None:
    server = ServerProtocol(select_subprotocol=lambda protocol, offered: "c")
    _, data = refuse(server, request_bytes(add=[("Sec-WebSocket-Protocol", "a, b")]))
    assert isinstance(server.handshake_exc, NegotiationError)
    assert data == refusal(
        "HTTP/1.1 400 Bad Request",
        "Failed to open a WebSocket connection: selected subprotocol c was not offered.\n",
    )


# Extensions


def test_extension_refused_offer_then_accepted_offer() -> None:
    factory = FakeServerFactory()
    server = ServerProtocol(extensions=[factory])
    response = server.accept(
        read_request(
            server,
            request_bytes(add=[("Sec-WebSocket-Extensions", "x-fake; refuse, x-fake; p=2")]),
        )
    )
    assert factory.seen == [[("refuse", None)], [("p", "2")]]
    assert response.headers["Sec-WebSocket-Extensions"] == "x-fake; p=2"
    [extension] = server.extensions
    assert isinstance(extension, FakeExtension)
    assert extension.params == [("p", "2")]


def test_extension_every_offer_refused() -> None:
    factory = FakeServerFactory()
    server = ServerProtocol(extensions=[factory])
    response = server.accept(
        read_request(server, request_bytes(add=[("Sec-WebSocket-Extensions", "x-fake; refuse")]))
    )
    assert response.status_code == 101
    assert "Sec-WebSocket-Extensions" not in response.headers
    assert server.extensions == []


def test_extension_each_factory_accepts_one_offer() -> None:
    factory = FakeServerFactory()
    server = ServerProtocol(extensions=[factory])
    response = server.accept(
        read_request(
            server,
            request_bytes(
                add=[
                    ("Sec-WebSocket-Extensions", "x-fake; p=1"),
                    ("Sec-WebSocket-Extensions", "x-fake; p=2"),
                ]
            ),
        )
    )
    assert factory.seen == [[("p", "1")]]
    assert response.headers["Sec-WebSocket-Extensions"] == "x-fake; p=1"


def test_extensions_in_the_clients_order_unknown_ones_ignored() -> None:
    first, second = FakeServerFactory("x-one"), FakeServerFactory("x-two")
    server = ServerProtocol(extensions=[first, second])
    response = server.accept(
        read_request(
            server,
            request_bytes(add=[("Sec-WebSocket-Extensions", "x-unknown, x-two, x-one; a")]),
        )
    )
    assert response.headers["Sec-WebSocket-Extensions"] == "x-two, x-one; a"
    assert [e.name for e in server.extensions] == ["x-two", "x-one"]


def test_extension_not_offered_is_not_answered() -> None:
    server = ServerProtocol(extensions=[FakeServerFactory()])
    response = server.accept(read_request(server, request_bytes()))
    assert "Sec-WebSocket-Extensions" not in response.headers


# Other states and logging


def test_server_created_open_parses_frames() -> None:
    server = ServerProtocol(state=OPEN)
    server.receive_data(MASKED_HELLO)
    assert server.events_received() == [Frame(OP_TEXT, b"Hello")]


def test_debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.server")
    logger.setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG, logger="test.server"):
        server = ServerProtocol(logger=logger)
        server.send_response(server.accept(read_request(server, request_bytes())))
        refused = ServerProtocol(logger=logger)
        refused.accept(read_request(refused, request_bytes(method="PUT")))
    messages = [record.getMessage() for record in caplog.records]
    assert "< GET /chat HTTP/1.1" in messages
    assert f"< Sec-WebSocket-Key: {KEY}" in messages
    assert "> HTTP/1.1 101 Switching Protocols" in messages
    assert f"> Sec-WebSocket-Accept: {ACCEPT}" in messages
    assert "< PUT /chat HTTP/1.1" in messages
    assert "! invalid handshake request" in messages


# Interop with clients that sansws did not write


@pytest.mark.interop
def test_interop_websockets_client() -> None:
    from websockets.client import ClientProtocol as WebsocketsClient
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    from websockets.frames import Frame as WebsocketsFrame
    from websockets.frames import Opcode as WOpcode
    from websockets.http11 import Response as WebsocketsResponse
    from websockets.uri import parse_uri as websockets_parse_uri

    client = WebsocketsClient(
        websockets_parse_uri("ws://localhost:8765/path?q=1"),
        extensions=[ClientPerMessageDeflateFactory()],
    )
    client.send_request(client.connect())
    server = ServerProtocol()
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    [request] = server.events_received()
    assert isinstance(request, Request)
    assert request.path == "/path?q=1"
    assert request.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
    server.send_response(server.accept(request))
    assert server.handshake_exc is None
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    [response] = client.events_received()
    assert isinstance(response, WebsocketsResponse)
    assert response.status_code == 101
    assert client.handshake_exc is None
    assert client.state.name == "OPEN"
    # The server has no extension factory: the offer is ignored.
    assert "Sec-WebSocket-Extensions" not in response.headers
    assert client.extensions == []

    client.send_text("héllo".encode())
    client.send_binary(b"\x00\xff")
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    assert server.events_received() == [
        Frame(OP_TEXT, "héllo".encode()),
        Frame(OP_BINARY, b"\x00\xff"),
    ]
    server.send_text("wörld".encode())
    server.send_binary(b"\x01\x02")
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    frames = client.events_received()
    assert all(isinstance(f, WebsocketsFrame) for f in frames)
    assert [(f.opcode, f.data) for f in frames] == [  # type: ignore[union-attr]
        (WOpcode.TEXT, "wörld".encode()),
        (WOpcode.BINARY, b"\x01\x02"),
    ]

    # The client closes; the server echoes and closes TCP first (§7.1.1).
    client.send_close(1000, "bye")
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    assert server.close_rcvd == Close(1000, "bye")
    output = server.data_to_send()
    assert output[-1] == SEND_EOF
    for chunk in output:
        if chunk:
            client.receive_data(chunk)
        else:
            client.receive_eof()
    assert client.state.name == "CLOSED"
    assert client.close_code == 1000
    assert client.data_to_send() == [b""]
    server.receive_eof()
    assert server.state is CLOSED
    assert server.close_code == 1000
    assert server.close_reason == "bye"


@pytest.mark.interop
def test_interop_wsproto_client() -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import (
        AcceptConnection,
        BytesMessage,
        CloseConnection,
        Message,
        TextMessage,
    )
    from wsproto.events import Request as WsprotoRequest

    client = WSConnection(ConnectionType.CLIENT)
    data = client.send(
        WsprotoRequest(host="example.com:8080", target="/ws", subprotocols=["v2", "v1"])
    )
    server = ServerProtocol(subprotocols=["v1", "v2"])
    server.receive_data(data)
    [request] = server.events_received()
    assert isinstance(request, Request)
    assert request.headers["Host"] == "example.com:8080"
    server.send_response(server.accept(request))
    assert server.subprotocol == "v1"
    client.receive_data(b"".join(server.data_to_send()))
    [accepted] = client.events()
    assert isinstance(accepted, AcceptConnection)
    assert accepted.subprotocol == "v1"

    data = client.send(TextMessage(data="héllo")) + client.send(BytesMessage(data=b"\x00\xff"))
    server.receive_data(data)
    assert server.events_received() == [
        Frame(OP_TEXT, "héllo".encode()),
        Frame(OP_BINARY, b"\x00\xff"),
    ]
    server.send_text("wörld".encode())
    server.send_binary(b"\x01\x02")
    client.receive_data(b"".join(server.data_to_send()))
    messages = list(client.events())
    assert all(isinstance(m, Message) for m in messages)
    assert [(type(m), m.data) for m in messages] == [  # type: ignore[attr-defined]
        (TextMessage, "wörld"),
        (BytesMessage, b"\x01\x02"),
    ]

    # The server closes this time; wsproto answers, then the server closes TCP.
    server.send_close(1000, "done")
    client.receive_data(b"".join(server.data_to_send()))
    [close] = client.events()
    assert isinstance(close, CloseConnection)
    assert (close.code, close.reason) == (1000, "done")
    server.receive_data(client.send(close.response()))
    assert server.data_to_send() == [SEND_EOF]
    client.receive_data(None)
    server.receive_eof()
    assert server.state is CLOSED
    assert server.close_code == 1000
    assert server.close_exc.__class__.__name__ == "ConnectionClosedOK"
