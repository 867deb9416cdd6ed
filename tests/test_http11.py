from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansws.exceptions import InvalidMessage, SecurityError
from sansws.http11 import (
    Headers,
    LimitExceeded,
    MultipleValuesError,
    Request,
    RequestReader,
    Response,
    ResponseReader,
)

HANDSHAKE_REQUEST = (
    b"GET /chat?room=1 HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)

HANDSHAKE_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)

FRAME = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 6455 §5.7 "Hello"


# Headers


def test_headers_case_insensitive_lookup_keeps_case() -> None:
    headers = Headers([("Sec-WebSocket-Key", "abc")])
    assert headers["sec-websocket-key"] == "abc"
    assert headers["SEC-WEBSOCKET-KEY"] == "abc"
    assert list(headers.raw_items()) == [("Sec-WebSocket-Key", "abc")]


def test_headers_setitem_appends() -> None:
    headers = Headers()
    headers["Sec-WebSocket-Extensions"] = "a"
    headers["sec-websocket-extensions"] = "b"
    assert headers.get_all("Sec-WebSocket-Extensions") == ["a", "b"]
    assert list(headers.raw_items()) == [
        ("Sec-WebSocket-Extensions", "a"),
        ("sec-websocket-extensions", "b"),
    ]


def test_headers_getitem_missing_and_multiple() -> None:
    headers = Headers([("A", "1"), ("a", "2")])
    with pytest.raises(KeyError):
        headers["B"]
    with pytest.raises(MultipleValuesError) as exc_info:
        headers["A"]
    assert isinstance(exc_info.value, KeyError)
    assert str(exc_info.value) == "multiple values for header A"


def test_headers_get() -> None:
    headers = Headers([("A", "1"), ("B", "2"), ("b", "3")])
    assert headers.get("a") == "1"
    assert headers.get("c") is None
    assert headers.get("c", "x") == "x"
    with pytest.raises(MultipleValuesError):
        headers.get("B", "x")


def test_headers_get_all_missing() -> None:
    assert Headers().get_all("A") == []


def test_headers_get_all_returns_a_copy() -> None:
    headers = Headers([("A", "1")])
    headers.get_all("A").append("2")
    assert headers.get_all("A") == ["1"]


def test_headers_delitem_removes_all() -> None:
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    del headers["A"]
    assert "a" not in headers
    assert list(headers.raw_items()) == [("B", "2")]
    with pytest.raises(KeyError):
        del headers["A"]


def test_headers_contains_iter_len() -> None:
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    assert "a" in headers
    assert "B" in headers
    assert "C" not in headers
    assert 1 not in headers
    assert list(headers) == ["A", "B"]
    assert len(headers) == 2
    assert len(Headers()) == 0


def test_headers_constructors() -> None:
    from_pairs = Headers([("A", "1"), ("B", "2")])
    from_mapping = Headers({"A": "1", "B": "2"})
    from_headers = Headers(from_pairs)
    assert from_pairs == from_mapping == from_headers
    assert list(from_headers.raw_items()) == [("A", "1"), ("B", "2")]


def test_headers_copy_is_independent() -> None:
    headers = Headers([("A", "1")])
    copy = headers.copy()
    copy["A"] = "2"
    assert headers.get_all("A") == ["1"]
    assert copy.get_all("A") == ["1", "2"]


def test_headers_update_appends() -> None:
    headers = Headers([("A", "1")])
    headers.update({"A": "2"})
    headers.update([("B", "3")])
    headers.update(Headers([("a", "4")]))
    assert list(headers.raw_items()) == [("A", "1"), ("A", "2"), ("B", "3"), ("a", "4")]


def test_headers_update_from_itself() -> None:
    headers = Headers([("A", "1")])
    headers.update(headers)
    assert headers.get_all("A") == ["1", "1"]


def test_headers_eq() -> None:
    # Order across names is irrelevant (RFC 7230 §3.2.2); order within is not.
    assert Headers([("A", "1"), ("B", "2")]) == Headers([("b", "2"), ("a", "1")])
    assert Headers([("A", "1"), ("A", "2")]) != Headers([("A", "2"), ("A", "1")])
    assert Headers([("A", "1")]) != Headers([("A", "2")])
    assert Headers([("A", "1")]) != {"A": "1"}


def test_headers_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Headers())


def test_headers_repr() -> None:
    assert repr(Headers([("A", "1")])) == "Headers([('A', '1')])"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Bad Name", "x"),
        ("", "x"),
        ("Bad:Name", "x"),
        ("X-Inject", "a\r\nEvil: 1"),
        ("X-Inject", "a\nb"),
        ("X-Nul", "a\x00b"),
        ("X-Del", "a\x7fb"),
        ("X-Wide", "\u0100"),
    ],
)
def test_headers_refuse_invalid_fields(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        Headers([(name, value)])


@pytest.mark.parametrize(("name", "value"), [(b"A", "1"), ("A", b"1"), ("A", 1)])
def test_headers_refuse_non_str(name: object, value: object) -> None:
    headers = Headers()
    with pytest.raises(TypeError):
        headers[name] = value  # type: ignore[index,assignment]


def test_headers_accept_obs_text_and_tab() -> None:
    headers = Headers([("X", "caf\xe9\tok")])
    assert headers.serialize() == b"X: caf\xe9\tok\r\n\r\n"


def test_headers_serialize() -> None:
    headers = Headers([("Host", "example.com"), ("Upgrade", "websocket")])
    assert headers.serialize() == b"Host: example.com\r\nUpgrade: websocket\r\n\r\n"
    assert Headers().serialize() == b"\r\n"


# Request and Response


def test_request_serialize() -> None:
    request = Request(
        "/chat?room=1",
        Headers(
            [
                ("Host", "server.example.com"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ]
        ),
    )
    assert request.serialize() == HANDSHAKE_REQUEST


def test_request_serialize_with_method_version_body() -> None:
    request = Request("/", Headers([("Content-Length", "2")]), "POST", "1.0", body=b"hi")
    assert request.serialize() == b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"


@pytest.mark.parametrize(
    ("path", "method", "version"),
    [
        ("/a b", "GET", "1.1"),
        ("", "GET", "1.1"),
        ("/\r\n", "GET", "1.1"),
        ("/", "G T", "1.1"),
        ("/", "", "1.1"),
        ("/", "GET", "1.1\r\n"),
        ("/", "GET", "11"),
    ],
)
def test_request_serialize_refuses_invalid(path: str, method: str, version: str) -> None:
    with pytest.raises(ValueError):
        Request(path, Headers(), method, version).serialize()


def test_response_serialize() -> None:
    response = Response(
        101,
        "Switching Protocols",
        Headers(
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            ]
        ),
    )
    assert response.serialize() == HANDSHAKE_RESPONSE


def test_response_serialize_with_body() -> None:
    response = Response(400, "Bad Request", Headers([("Content-Length", "3")]), b"no\n")
    assert response.serialize() == (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nno\n")


@pytest.mark.parametrize(("status_code", "reason"), [(99, "x"), (1000, "x"), (200, "O\r\nK")])
def test_response_serialize_refuses_invalid(status_code: int, reason: str) -> None:
    with pytest.raises(ValueError):
        Response(status_code, reason, Headers()).serialize()


# RequestReader


def test_request_reader_handshake() -> None:
    reader = RequestReader()
    request = reader.feed(HANDSHAKE_REQUEST + FRAME)
    assert request == Request(
        "/chat?room=1",
        Headers(
            [
                ("Host", "server.example.com"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ]
        ),
    )
    assert reader.trailing == FRAME


def test_request_reader_byte_by_byte() -> None:
    reader = RequestReader()
    data = HANDSHAKE_REQUEST
    for i in range(len(data) - 1):
        assert reader.feed(data[i : i + 1]) is None
    request = reader.feed(data[-1:] + FRAME)
    assert request is not None
    assert request.path == "/chat?room=1"
    assert reader.trailing == FRAME


def test_request_reader_empty_feed() -> None:
    reader = RequestReader()
    assert reader.feed(b"") is None
    assert reader.feed(HANDSHAKE_REQUEST) is not None
    assert reader.trailing == b""


def test_request_reader_keeps_header_case_and_order() -> None:
    reader = RequestReader()
    request = reader.feed(b"GET / HTTP/1.1\r\nhOsT: a\r\nX: 1\r\nx: 2\r\n\r\n")
    assert request is not None
    assert list(request.headers.raw_items()) == [("hOsT", "a"), ("X", "1"), ("x", "2")]


def test_request_reader_bare_lf() -> None:
    # RFC 7230 §3.5: a recipient MAY accept a bare LF as a line terminator.
    request = RequestReader().feed(b"GET / HTTP/1.1\nHost: a\n\n")
    assert request is not None
    assert request.headers["Host"] == "a"


def test_request_reader_decodes_obs_text_as_latin1() -> None:
    request = RequestReader().feed(b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n")
    assert request is not None
    assert request.headers["X"] == "caf\xe9"


def test_request_reader_reports_method_and_version() -> None:
    request = RequestReader().feed(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    assert request is not None
    assert (request.method, request.path, request.http_version) == ("OPTIONS", "*", "1.1")
    request = RequestReader().feed(b"GET / HTTP/1.0\r\n\r\n")
    assert request is not None
    assert request.http_version == "1.0"


def test_request_reader_content_length_zero() -> None:
    reader = RequestReader()
    request = reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nx")
    assert request is not None
    assert request.body == b""
    assert reader.trailing == b"x"


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
)
def test_request_reader_refuses_body(data: bytes) -> None:
    with pytest.raises(InvalidMessage, match="body"):
        RequestReader().feed(data)


@pytest.mark.parametrize(
    "data",
    [
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 requires Host (RFC 7230 §5.4)
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS on a ws:// port
    ],
)
def test_request_reader_malformed(data: bytes) -> None:
    with pytest.raises(InvalidMessage):
        RequestReader().feed(data)


def test_request_reader_request_line_too_long() -> None:
    reader = RequestReader(max_line=20)
    with pytest.raises(LimitExceeded) as exc_info:
        reader.feed(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n\r\n")
    assert exc_info.value.status_code == 414
    assert isinstance(exc_info.value, SecurityError)
    assert str(exc_info.value) == "start line longer than 20 bytes"


def test_request_reader_line_limit_is_exact() -> None:
    # A request line of exactly max_line bytes passes; one more byte fails.
    line = b"GET /" + b"a" * 6 + b" HTTP/1.1"
    assert len(line) == 20
    reader = RequestReader(max_line=20)
    assert reader.feed(line + b"\r\nHost: a\r\n\r\n") is not None
    with pytest.raises(LimitExceeded):
        RequestReader(max_line=19).feed(line + b"\r\n")
    with pytest.raises(LimitExceeded):
        RequestReader(max_line=19).feed(line + b"\n")


def test_request_reader_pending_cr_is_not_counted() -> None:
    # The CR of a CRLF may arrive before its LF.
    line = b"GET /" + b"a" * 6 + b" HTTP/1.1"
    reader = RequestReader(max_line=20)
    assert reader.feed(line + b"\r") is None
    assert reader.feed(b"\nHost: a\r\n\r\n") is not None


def test_request_reader_fails_as_soon_as_line_is_too_long() -> None:
    # Fed one chunk at a time, a huge request line fails once max_line bytes
    # are buffered, not when its end arrives.
    reader = RequestReader()
    reader.feed(b"GET /")
    fed = 5
    with pytest.raises(LimitExceeded) as exc_info:
        for _ in range(1_000_000):
            fed += 1000
            reader.feed(b"a" * 1000)
    assert exc_info.value.status_code == 414
    assert fed == 9005  # the first chunk past 8192 bytes


def test_request_reader_fails_at_once_on_long_chunk() -> None:
    with pytest.raises(LimitExceeded):
        RequestReader(max_line=100).feed(b"GET /" + b"a" * 1_000_000)


def test_request_reader_header_line_too_long() -> None:
    reader = RequestReader(max_line=20)
    reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n")
    with pytest.raises(LimitExceeded) as exc_info:
        reader.feed(b"X: " + b"a" * 18)
    assert exc_info.value.status_code == 431
    assert str(exc_info.value) == "header line longer than 20 bytes"


def test_request_reader_too_many_headers() -> None:
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(4))
    request = RequestReader(max_headers=4).feed(
        b"GET / HTTP/1.1\r\n" + fields.replace(b"X-0", b"Host") + b"\r\n"
    )
    assert request is not None
    with pytest.raises(LimitExceeded) as exc_info:
        RequestReader(max_headers=3).feed(b"GET / HTTP/1.1\r\n" + fields)
    assert exc_info.value.status_code == 431
    assert str(exc_info.value) == "more than 3 header fields"


def test_request_reader_too_many_headers_one_by_one() -> None:
    reader = RequestReader()
    reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n")
    with pytest.raises(LimitExceeded):
        for _ in range(1000):
            reader.feed(b"X: 1\r\n")


def test_request_reader_feed_after_complete() -> None:
    reader = RequestReader()
    reader.feed(HANDSHAKE_REQUEST)
    with pytest.raises(RuntimeError):
        reader.feed(FRAME)


def test_request_reader_feed_eof() -> None:
    RequestReader().feed_eof()  # nothing was sent: a probe, not an error
    reader = RequestReader()
    reader.feed(HANDSHAKE_REQUEST)
    reader.feed_eof()
    reader = RequestReader()
    reader.feed(HANDSHAKE_REQUEST[:10])
    with pytest.raises(EOFError):
        reader.feed_eof()


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9\-]{0,15}", fullmatch=True)
header_values = st.from_regex(r"[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(
    path=st.from_regex(r"/[\x21-\x7e]{0,30}", fullmatch=True),
    fields=st.lists(st.tuples(header_names, header_values), max_size=10),
    trailing=st.binary(max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_request_round_trip(
    path: str, fields: list[tuple[str, str]], trailing: bytes, cuts: list[int]
) -> None:
    fields = [
        (name, value)
        for name, value in fields
        if name.lower() not in ("host", "content-length", "transfer-encoding")
    ]
    headers = Headers([("Host", "example.com"), *fields])
    data = Request(path, headers).serialize()
    positions = sorted({cut for cut in cuts if 0 < cut < len(data)})
    starts, ends = [0, *positions], [*positions, len(data)]
    chunks = [data[start:end] for start, end in zip(starts, ends, strict=True)]
    reader = RequestReader()
    for chunk in chunks[:-1]:
        assert reader.feed(chunk) is None
    assert reader.feed(chunks[-1] + trailing) == Request(path, headers)
    assert reader.trailing == trailing


# ResponseReader


def test_response_reader_handshake() -> None:
    reader = ResponseReader()
    response = reader.feed(HANDSHAKE_RESPONSE + FRAME)
    assert response == Response(
        101,
        "Switching Protocols",
        Headers(
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            ]
        ),
    )
    assert reader.trailing == FRAME


def test_response_reader_101_ignores_content_length() -> None:
    # RFC 7230 §3.3.3: a 1xx response has no body, whatever it says.
    reader = ResponseReader()
    response = reader.feed(b"HTTP/1.1 101 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert response is not None
    assert response.body == b""
    assert reader.trailing == b"abc"


def test_response_reader_byte_by_byte() -> None:
    reader = ResponseReader()
    for i in range(len(HANDSHAKE_RESPONSE) - 1):
        assert reader.feed(HANDSHAKE_RESPONSE[i : i + 1]) is None
    response = reader.feed(HANDSHAKE_RESPONSE[-1:])
    assert response is not None
    assert response.status_code == 101
    assert reader.trailing == b""


def test_response_reader_skips_interim_responses() -> None:
    reader = ResponseReader(max_headers=1)
    data = b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    assert reader.feed(data) is None
    response = reader.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    assert response is not None
    assert response.status_code == 101
    assert response.headers == Headers([("Upgrade", "websocket")])


def test_response_reader_content_length() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nno") is None
    assert reader.feed(b"") is None
    response = reader.feed(b"pe!extra")
    assert response == Response(403, "Forbidden", Headers([("Content-Length", "5")]), b"nope!")
    assert reader.trailing == b"extra"


def test_response_reader_chunked() -> None:
    reader = ResponseReader()
    data = (
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"
    )
    for i in range(len(data) - 1):
        assert reader.feed(data[i : i + 1]) is None
    response = reader.feed(data[-1:])
    assert response is not None
    assert response.body == b"Wikipedia"


def test_response_reader_body_until_eof() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 404 Not Found\r\n\r\nnot ") is None
    assert reader.feed(b"here") is None
    response = reader.feed_eof()
    assert response == Response(404, "Not Found", Headers(), b"not here")
    assert reader.trailing == b""
    assert reader.feed_eof() is None


def test_response_reader_no_body() -> None:
    response = ResponseReader().feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert response == Response(204, "No Content", Headers())


def test_response_reader_http10() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.0 200 OK\r\n\r\nhello") is None
    response = reader.feed_eof()
    assert response is not None
    assert response.body == b"hello"


def test_response_reader_feed_eof_before_response() -> None:
    with pytest.raises(EOFError):
        ResponseReader().feed_eof()
    reader = ResponseReader()
    reader.feed(HANDSHAKE_RESPONSE[:20])
    with pytest.raises(EOFError):
        reader.feed_eof()


def test_response_reader_feed_eof_in_body() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nno")
    with pytest.raises(EOFError):
        reader.feed_eof()


def test_response_reader_feed_after_complete() -> None:
    reader = ResponseReader()
    reader.feed(HANDSHAKE_RESPONSE)
    with pytest.raises(RuntimeError):
        reader.feed(FRAME)
    assert reader.feed_eof() is None


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 OK\r\n\r\n",
        b"HTTP/1.1 1000 Too Big\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 101 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    ],
)
def test_response_reader_malformed(data: bytes) -> None:
    with pytest.raises(InvalidMessage):
        ResponseReader().feed(data)


def test_response_reader_malformed_chunk() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(InvalidMessage):
        reader.feed(b"zz\r\n")


def test_response_reader_status_line_too_long() -> None:
    with pytest.raises(LimitExceeded) as exc_info:
        ResponseReader(max_line=20).feed(b"HTTP/1.1 200 " + b"O" * 100)
    assert exc_info.value.status_code == 431


def test_response_reader_too_many_headers() -> None:
    with pytest.raises(LimitExceeded):
        ResponseReader(max_headers=2).feed(b"HTTP/1.1 101 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n")


def test_response_reader_content_length_over_max_body() -> None:
    reader = ResponseReader(max_body=10)
    with pytest.raises(LimitExceeded) as exc_info:
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
    assert exc_info.value.status_code == 413


def test_response_reader_content_length_at_max_body() -> None:
    reader = ResponseReader(max_body=10)
    response = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
    assert response is not None
    assert response.body == b"0123456789"


def test_response_reader_streamed_body_over_max_body() -> None:
    reader = ResponseReader(max_body=10)
    reader.feed(b"HTTP/1.1 200 OK\r\n\r\n")
    reader.feed(b"0123456789")
    with pytest.raises(LimitExceeded) as exc_info:
        reader.feed(b"x")
    assert exc_info.value.status_code == 413


def test_response_reader_chunked_body_over_max_body() -> None:
    reader = ResponseReader(max_body=10)
    reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(LimitExceeded):
        for _ in range(100):
            reader.feed(b"5\r\n01234\r\n")


def test_response_reader_chunk_header_too_long() -> None:
    # h11 bounds what it buffers by the size of the longest head.
    reader = ResponseReader(max_line=30, max_headers=1)
    reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(LimitExceeded) as exc_info:
        reader.feed(b"1;" + b"x" * 100)
    assert exc_info.value.status_code == 431
