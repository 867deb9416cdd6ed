"""The HTTP/1.1 messages of the opening handshake (RFC 6455 §4, RFC 7230).

Theory of operation
-------------------

The opening handshake is one HTTP/1.1 request and one response. Both arrive
in arbitrary chunks, and a hostile peer controls their size. The readers here
therefore work in two steps:

1. **Framing, with limits, by hand.** As bytes arrive, a :class:`_HeadScanner`
   looks for the end of each line (LF, optionally preceded by CR, as RFC 7230
   §3.5 allows) and for the empty line that ends the message head. It
   remembers how far it has searched, so every byte is looked at once, and it
   refuses a line longer than ``max_line`` or more than ``max_headers`` header
   fields as soon as the buffered bytes prove it. Memory is bounded by
   ``(max_headers + 1) * (max_line + 2)`` bytes for the head.

2. **Parsing, by h11.** Once the head is complete, exactly those bytes are
   handed to an :class:`h11.Connection`, which checks the grammar of RFC 7230
   §3 and turns it into an event. For a response other than 101, h11 also
   reads the body (``Content-Length``, chunked, or until EOF, RFC 7230 §3.3.3)
   while we count it against ``max_body``.

Whatever follows the message is not HTTP: after a request it is the first
WebSocket frames that a client pipelined; after a 101 response, the first
frames from the server. Readers keep those bytes in ``trailing``.

Errors: a malformed message raises :class:`~sansws.exceptions.InvalidMessage`
(a server answers 400); a limit raises :class:`LimitExceeded`, a
:class:`~sansws.exceptions.SecurityError` whose ``status_code`` is the status
a server should answer (414, 431 or 413); a connection closed in the middle
of a message raises :class:`EOFError`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Union

import h11

from .exceptions import InvalidMessage, SecurityError

__all__ = [
    "Headers",
    "LimitExceeded",
    "MultipleValuesError",
    "Request",
    "RequestReader",
    "Response",
    "ResponseReader",
]

# RFC 7230 §3.2.6: token = 1*tchar.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7230 §3.2: field-content is VCHAR, obs-text, SP and HTAB. Leading and
# trailing whitespace is tolerated here because every reader strips it.
_FIELD_VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# RFC 7230 §5.3: we only ever write origin-form or absolute-form, all VCHAR.
_REQUEST_TARGET_RE = re.compile(r"[\x21-\x7e]+")
_HTTP_VERSION_RE = re.compile(r"[0-9]\.[0-9]")


class MultipleValuesError(KeyError):
    """A header has several values where one was asked for.

    It derives from :class:`KeyError` because ``headers[name]`` raises it.
    """

    def __str__(self) -> str:
        # KeyError's __str__ shows the repr of its argument; a message reads better.
        return f"multiple values for header {self.args[0]}"


class LimitExceeded(SecurityError):
    """The handshake's HTTP message exceeded a limit.

    Args:
        msg: what was exceeded.
        status_code: the status a server should answer with: 414 (URI Too
            Long) for the request line, 431 (Request Header Fields Too Large)
            for a header line or the header count, 413 (Payload Too Large)
            for a body (RFC 7231 §6.5.11, §6.5.12, RFC 6585 §5).
    """

    def __init__(self, msg: str, status_code: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.status_code = status_code

    def __str__(self) -> str:
        return self.msg


HeadersLike = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]]]


class Headers:
    """HTTP header fields: a case-insensitive multi-dict of ``str`` to ``str``.

    Field names compare case-insensitively (RFC 7230 §3.2), but keep the case
    they were given for :meth:`serialize`. Fields keep their order. A name may
    appear several times (RFC 7230 §3.2.2): ``headers[name] = value`` appends
    a field, it does not replace one.

    Names must be tokens and values must not contain control characters other
    than HTAB, so that a value cannot inject a header line (RFC 7230 §3.2).
    Values are text in ISO-8859-1, which maps every byte to one character
    (RFC 7230 §3.2.4).

    Args:
        fields: a :class:`Headers`, a mapping, or an iterable of pairs.

    Raises:
        TypeError: if a name or value is not a ``str``.
        ValueError: if a name is not a token or a value has a forbidden
            character.
    """

    __slots__ = ("_fields", "_index")
    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, fields: HeadersLike = ()) -> None:
        self._fields: list[tuple[str, str]] = []
        # Lower-cased name -> values, in order; built along _fields.
        self._index: dict[str, list[str]] = {}
        self.update(fields)

    def __getitem__(self, name: str) -> str:
        values = self._index[name.lower()]
        if len(values) > 1:
            raise MultipleValuesError(name)
        return values[0]

    def __setitem__(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("header names and values must be str")
        if _TOKEN_RE.fullmatch(name) is None:
            raise ValueError(f"invalid header name: {name!r}")
        if _FIELD_VALUE_RE.fullmatch(value) is None:
            raise ValueError(f"invalid header value: {value!r}")
        self._fields.append((name, value))
        self._index.setdefault(name.lower(), []).append(value)

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        del self._index[key]
        self._fields = [(n, v) for n, v in self._fields if n.lower() != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        """Yield each distinct name once, in the case it first appeared."""
        seen: set[str] = set()
        for name, _ in self._fields:
            key = name.lower()
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        """Return the number of distinct names."""
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        """Compare names case-insensitively and values in order per name.

        The relative order of fields with different names does not matter
        (RFC 7230 §3.2.2), so it is not compared.
        """
        if not isinstance(other, Headers):
            return NotImplemented
        return self._index == other._index

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._fields!r})"

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the value of ``name``, or ``default`` if it is missing.

        Raises:
            MultipleValuesError: if ``name`` has several values.
        """
        try:
            return self[name]
        except MultipleValuesError:
            raise
        except KeyError:
            return default

    def get_all(self, name: str) -> list[str]:
        """Return every value of ``name`` in order, or ``[]`` if it is missing."""
        return list(self._index.get(name.lower(), ()))

    def raw_items(self) -> Iterator[tuple[str, str]]:
        """Yield every ``(name, value)`` field in order, with names as given."""
        return iter(self._fields)

    def copy(self) -> Headers:
        """Return a shallow copy."""
        return Headers(self)

    def update(self, fields: HeadersLike = ()) -> None:
        """Append every field of ``fields``.

        Args:
            fields: a :class:`Headers`, a mapping, or an iterable of pairs.
        """
        if isinstance(fields, Headers):
            pairs: Iterable[tuple[str, str]] = list(fields.raw_items())
        elif isinstance(fields, Mapping):
            pairs = fields.items()
        else:
            pairs = fields
        for name, value in pairs:
            self[name] = value

    def serialize(self) -> bytes:
        """Return the header fields and the empty line that ends them.

        Each field is ``name: value`` followed by CRLF (RFC 7230 §3.2).
        """
        lines = [f"{name}: {value}\r\n" for name, value in self._fields]
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")


@dataclasses.dataclass
class Request:
    """An HTTP request, such as the opening handshake's (RFC 6455 §4.1).

    Attributes:
        path: the request-target, normally the resource name ``/chat?x=y``.
        headers: the header fields.
        method: the method; the handshake requires ``GET``.
        http_version: the version after ``HTTP/``; the handshake requires
            ``1.1``.
        body: the body; the handshake has none.
    """

    path: str
    headers: Headers
    method: str = "GET"
    http_version: str = "1.1"
    body: bytes = b""

    def serialize(self) -> bytes:
        """Return the request as bytes (RFC 7230 §3.1.1).

        The body is appended as it is: ``Content-Length`` is the caller's.

        Raises:
            ValueError: if the method, path or version cannot be written.
        """
        if _TOKEN_RE.fullmatch(self.method) is None:
            raise ValueError(f"invalid method: {self.method!r}")
        if _REQUEST_TARGET_RE.fullmatch(self.path) is None:
            raise ValueError(f"invalid request target: {self.path!r}")
        if _HTTP_VERSION_RE.fullmatch(self.http_version) is None:
            raise ValueError(f"invalid HTTP version: {self.http_version!r}")
        request_line = f"{self.method} {self.path} HTTP/{self.http_version}\r\n"
        return request_line.encode("ascii") + self.headers.serialize() + self.body


@dataclasses.dataclass
class Response:
    """An HTTP/1.1 response, such as the opening handshake's (RFC 6455 §4.2.2).

    Attributes:
        status_code: the status, 101 when the upgrade succeeds.
        reason_phrase: the reason phrase, such as ``Switching Protocols``.
        headers: the header fields.
        body: the body; a 101 response has none.
    """

    status_code: int
    reason_phrase: str
    headers: Headers
    body: bytes = b""

    def serialize(self) -> bytes:
        """Return the response as bytes (RFC 7230 §3.1.2).

        The body is appended as it is: ``Content-Length`` is the caller's.

        Raises:
            ValueError: if the status code or reason phrase cannot be written.
        """
        if not 100 <= self.status_code <= 999:
            raise ValueError(f"invalid status code: {self.status_code!r}")
        if _FIELD_VALUE_RE.fullmatch(self.reason_phrase) is None:
            raise ValueError(f"invalid reason phrase: {self.reason_phrase!r}")
        status_line = f"HTTP/1.1 {self.status_code} {self.reason_phrase}\r\n"
        return status_line.encode("latin-1") + self.headers.serialize() + self.body


class _HeadScanner:
    """Find the end of a message head in a growing buffer, enforcing limits.

    RFC 7230 §3: a head is a start line, header field lines, and an empty
    line, each ending with CRLF (or a bare LF, §3.5). A line is measured
    without its line ending.
    """

    def __init__(self, max_line: int, max_headers: int, start_line_status: int):
        self.max_line = max_line
        self.max_headers = max_headers
        self.start_line_status = start_line_status
        self.reset()

    def reset(self) -> None:
        self._line_start = 0  # where the current line begins
        self._searched = 0  # no LF in the current line before this offset
        self._lines = 0  # complete lines so far, the start line included

    def scan(self, buffer: bytearray) -> int | None:
        """Return the offset just past the empty line, or None if not there yet.

        Raises:
            LimitExceeded: if a line or the header count is over its limit.
        """
        while True:
            # No need to look further than a line of the longest legal size.
            stop = self._line_start + self.max_line + 2
            lf = buffer.find(b"\n", self._searched, stop)
            if lf == -1:
                pending = len(buffer) - self._line_start
                if buffer.endswith(b"\r"):
                    pending -= 1  # may be the CR of a CRLF still on its way
                if pending > self.max_line:
                    self._line_too_long()
                self._searched = len(buffer)
                return None
            length = lf - self._line_start
            if length > 0 and buffer[lf - 1] == 0x0D:
                length -= 1
            if length > self.max_line:
                self._line_too_long()
            # An empty line ends the head; if it comes first, h11 rejects it.
            if length == 0:
                return lf + 1
            self._lines += 1
            if self._lines - 1 > self.max_headers:
                raise LimitExceeded(f"more than {self.max_headers} header fields", 431)
            self._line_start = self._searched = lf + 1

    def _line_too_long(self) -> None:
        if self._lines == 0:
            raise LimitExceeded(
                f"start line longer than {self.max_line} bytes",
                self.start_line_status,
            )
        raise LimitExceeded(f"header line longer than {self.max_line} bytes", 431)


def _max_head_size(max_line: int, max_headers: int) -> int:
    # Start line, fields and the empty line, each with CRLF.
    return (max_headers + 1) * (max_line + 2) + 2


def _headers_from_h11(fields: Iterable[tuple[bytes, bytes]]) -> Headers:
    """Convert h11's fields; refuse what :class:`Headers` refuses (RFC 7230 §3.2).

    h11 lets some control characters through in values (0x0E-0x1F, DEL);
    :class:`Headers` does not, so that no value it holds can break a line
    when written out again.

    Raises:
        InvalidMessage: a field name or value is not acceptable.
    """
    try:
        return Headers((name.decode("ascii"), value.decode("latin-1")) for name, value in fields)
    except ValueError as exc:
        raise InvalidMessage(f"invalid header field: {exc}") from None


def _next_event(connection: h11.Connection) -> object:
    try:
        return connection.next_event()
    except h11.RemoteProtocolError as exc:
        if exc.error_status_hint == 431:
            # h11's own bound on an incomplete event, e.g. a chunk header.
            raise LimitExceeded(str(exc), 431) from exc
        raise InvalidMessage(f"invalid HTTP message: {exc}") from exc


class RequestReader:
    """Read an HTTP request incrementally, with bounds (RFC 6455 §4.2.1).

    Feed bytes with :meth:`feed` as they arrive. Once it returns the
    :class:`Request`, :attr:`trailing` holds the bytes that followed it. The
    method and HTTP version are reported, not checked: a server answers a
    request that is not ``GET`` over HTTP/1.1 itself (405, 505, ...).

    A request with a body is refused, since the handshake has none and its
    bytes could not be told from WebSocket frames.

    Args:
        max_line: the longest request line or header line, in bytes, without
            its CRLF.
        max_headers: the most header fields.
    """

    def __init__(self, *, max_line: int = 8192, max_headers: int = 128) -> None:
        self._scanner = _HeadScanner(max_line, max_headers, start_line_status=414)
        self._max_head_size = _max_head_size(max_line, max_headers)
        self._buffer = bytearray()
        self._request: Request | None = None
        self.trailing = b""

    def feed(self, data: bytes) -> Request | None:
        """Add bytes received from the client.

        Returns:
            The request once it is complete, None until then.

        Raises:
            InvalidMessage: if the request is malformed or has a body.
            LimitExceeded: if a limit is exceeded (``status_code`` 414 or 431).
            RuntimeError: if the request was already returned.
        """
        if self._request is not None:
            raise RuntimeError("the request is complete; read .trailing")
        self._buffer += data
        end = self._scanner.scan(self._buffer)
        if end is None:
            return None
        request = self._parse(bytes(self._buffer[:end]))
        self.trailing = bytes(self._buffer[end:])
        self._buffer = bytearray()
        self._request = request
        return request

    def feed_eof(self) -> None:
        """Note that the client closed the connection.

        Closing before sending anything is not an error: clients that probe
        a port do it.

        Raises:
            EOFError: if the client closed in the middle of a request.
        """
        if self._request is None and self._buffer:
            raise EOFError("connection closed while reading HTTP request")

    def _parse(self, head: bytes) -> Request:
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head_size)
        connection.receive_data(head)
        event = _next_event(connection)
        # The head is complete, so h11 cannot need more data for the request.
        assert isinstance(event, h11.Request)
        if not isinstance(_next_event(connection), h11.EndOfMessage):
            raise InvalidMessage("the handshake request must not have a body")
        return Request(
            path=event.target.decode("ascii"),
            headers=_headers_from_h11(event.headers.raw_items()),
            method=event.method.decode("ascii"),
            http_version=event.http_version.decode("ascii"),
        )


class ResponseReader:
    """Read an HTTP response incrementally, with bounds (RFC 6455 §4.1).

    Feed bytes with :meth:`feed` as they arrive, and :meth:`feed_eof` when the
    server closes the connection. Once a :class:`Response` is returned,
    :attr:`trailing` holds the bytes that followed it.

    A 101 response has no body: everything after its head is ``trailing``.
    Other final responses have their body read as RFC 7230 §3.3.3 says:
    ``Content-Length``, chunked, or until the server closes. Interim 1xx
    responses other than 101, such as ``100 Continue``, are skipped (RFC
    7231 §6.2).

    Args:
        max_line: the longest status line or header line, in bytes, without
            its CRLF.
        max_headers: the most header fields.
        max_body: the largest body, in bytes.
    """

    def __init__(
        self, *, max_line: int = 8192, max_headers: int = 128, max_body: int = 2**20
    ) -> None:
        # A status line has no URI; 414 would not fit, 431 is close enough.
        self._scanner = _HeadScanner(max_line, max_headers, start_line_status=431)
        self._max_body = max_body
        self._buffer = bytearray()
        self._connection = h11.Connection(
            h11.CLIENT,
            max_incomplete_event_size=_max_head_size(max_line, max_headers),
        )
        # h11 reads a response only after a request. Pretend to have sent a
        # GET that asks for an upgrade, so it reads bodies as a GET's would
        # and accepts a 101.
        self._connection.send(
            h11.Request(
                method="GET",
                target="/",
                headers=[("Host", "_"), ("Connection", "Upgrade"), ("Upgrade", "_")],
            )
        )
        self._connection.send(h11.EndOfMessage())
        self._head: h11.Response | None = None
        self._body = bytearray()
        self._response: Response | None = None
        self.trailing = b""

    def feed(self, data: bytes) -> Response | None:
        """Add bytes received from the server.

        Returns:
            The response once it is complete, None until then.

        Raises:
            InvalidMessage: if the response is malformed.
            LimitExceeded: if a limit is exceeded.
            RuntimeError: if the response was already returned.
        """
        if self._response is not None:
            raise RuntimeError("the response is complete; read .trailing")
        if self._head is not None:
            return self._read_body(data)
        self._buffer += data
        while True:
            end = self._scanner.scan(self._buffer)
            if end is None:
                return None
            self._connection.receive_data(bytes(self._buffer[:end]))
            event = _next_event(self._connection)
            if isinstance(event, h11.Response):
                return self._start_body(event, bytes(self._buffer[end:]))
            assert isinstance(event, h11.InformationalResponse)
            if event.status_code == 101:
                self.trailing = bytes(self._buffer[end:])
                self._buffer = bytearray()
                self._response = _response_from_h11(event, b"")
                return self._response
            del self._buffer[:end]
            self._scanner.reset()

    def feed_eof(self) -> Response | None:
        """Note that the server closed the connection.

        Returns:
            The response if its body was delimited by the close, else None
            when the response was already returned.

        Raises:
            EOFError: if the server closed before a response was complete.
        """
        if self._response is not None:
            return None
        if self._head is None:
            raise EOFError("connection closed while reading HTTP response")
        self._connection.receive_data(b"")  # b"" means EOF to h11
        try:
            return self._read_body(b"")
        except InvalidMessage as exc:
            # Everything received was already parsed; only the EOF is new.
            raise EOFError("connection closed while reading HTTP response") from exc

    def _start_body(self, head: h11.Response, rest: bytes) -> Response | None:
        length = None
        for name, value in head.headers:
            if name == b"content-length":
                length = int(value)  # h11 checked that it is digits
        if length is not None and length > self._max_body:
            raise LimitExceeded(f"response body of {length} bytes exceeds {self._max_body}", 413)
        self._head = head
        self._buffer = bytearray()
        return self._read_body(rest)

    def _read_body(self, data: bytes) -> Response | None:
        if data:  # b"" would mean EOF to h11
            self._connection.receive_data(data)
        while True:
            event = _next_event(self._connection)
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max_body:
                    raise LimitExceeded(f"response body exceeds {self._max_body} bytes", 413)
                continue
            assert isinstance(event, h11.EndOfMessage)
            assert self._head is not None
            self.trailing = self._connection.trailing_data[0]
            self._response = _response_from_h11(self._head, bytes(self._body))
            return self._response


def _response_from_h11(event: h11.Response | h11.InformationalResponse, body: bytes) -> Response:
    return Response(
        status_code=event.status_code,
        reason_phrase=event.reason.decode("latin-1"),
        headers=_headers_from_h11(event.headers.raw_items()),
        body=body,
    )
