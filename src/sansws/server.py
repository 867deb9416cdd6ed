"""The server side of the opening handshake (RFC 6455 §4.2).

A :class:`ServerProtocol` starts CONNECTING. It reads the client's request
with bounds; the :class:`~sansws.http11.Request` is its first event. The
application answers with :meth:`ServerProtocol.accept` (which checks every
rule of §4.2.1 and builds a 101 response, or an error response that says
what was wrong) or :meth:`ServerProtocol.reject`, and queues the answer with
:meth:`ServerProtocol.send_response`. A 101 moves to OPEN; anything else is
followed by the end of the stream.
"""

from __future__ import annotations

import http
import re
from collections.abc import Callable, Sequence
from typing import Union

from .exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidMessage,
    InvalidOrigin,
    InvalidState,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
    SecurityError,
)
from .extensions.base import Extension, ServerExtensionFactory
from .handshake import accept_key, check_key, check_upgrade, single_header
from .headers import ExtensionHeader, build_extension, parse_extension, parse_subprotocol
from .http11 import Headers, LimitExceeded, Request, RequestReader, Response
from .protocol import CONNECTING, OPEN, SERVER, BytesLike, LoggerLike, Protocol, State

__all__ = ["Origin", "ServerProtocol"]

Origin = Union[str, "re.Pattern[str]", None]
SelectSubprotocol = Callable[["ServerProtocol", Sequence[str]], "str | None"]

# Bytes a client may send after its request and before the server answers.
# A client must wait for the 101 (RFC 6455 §4.1), so this only has to hold a
# frame or two from an eager client; past it, the handshake fails.
_MAX_EARLY_DATA = 2**16


def _is_http11_or_higher(version: str) -> bool:
    """Tell whether a request's version is "HTTP/1.1 or higher" (RFC 6455 §4.2.1).

    A later 1.x reads as 1.1 (RFC 7230 §2.6); the major version is the
    message syntax, so another major version is not HTTP/1.1 at all.
    """
    major, _, minor = version.partition(".")
    return major == "1" and minor.isdigit() and int(minor) >= 1


class ServerProtocol(Protocol):
    """Sans-I/O implementation of a WebSocket server connection.

    Args:
        origins: the allowed values of the ``Origin`` header: strings,
            compiled regular expressions (matched in full), or None to
            allow a request without ``Origin``. None (the default) skips
            the check (RFC 6455 §10.2).
        extensions: the extensions the server supports, in order of
            preference.
        subprotocols: the subprotocols the server supports, in order of
            preference.
        select_subprotocol: a callable ``(protocol, offered) -> str | None``
            that picks the subprotocol instead of the order of preference.
        state: the initial state, CONNECTING unless the handshake happened
            elsewhere.
        max_size: see :class:`~sansws.protocol.Protocol`.
        logger: see :class:`~sansws.protocol.Protocol`.
        max_line: the longest request or header line, in bytes (else 414 or 431).
        max_headers: the most header fields (else 431).

    A client may send at most 64 KiB after its request and before the
    server's answer (RFC 6455 §4.1 says it must wait for the answer); past
    that the handshake fails with :class:`~sansws.exceptions.SecurityError`.
    """

    def __init__(
        self,
        *,
        origins: Sequence[Origin] | None = None,
        extensions: Sequence[ServerExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        select_subprotocol: SelectSubprotocol | None = None,
        state: State = CONNECTING,
        max_size: int | tuple[int | None, int | None] | None = 2**20,
        logger: LoggerLike | None = None,
        max_line: int = 8192,
        max_headers: int = 128,
    ) -> None:
        super().__init__(SERVER, state=state, max_size=max_size, logger=logger)
        self.origins = origins
        self.available_extensions = list(extensions or ())
        self.available_subprotocols = list(subprotocols or ())
        self.select_subprotocol = select_subprotocol
        #: The subprotocol agreed in the handshake, if any.
        self.subprotocol: str | None = None
        self.request: Request | None = None
        self.response: Response | None = None
        self._reader: RequestReader | None = None
        if state is CONNECTING:
            self._reader = RequestReader(max_line=max_line, max_headers=max_headers)
        self._early_data = bytearray()

    # Receiving the request -----------------------------------------------

    def receive_data(self, data: BytesLike) -> None:
        """Receive data; while CONNECTING, this is the client's request.

        A request that cannot be parsed, or that exceeds a limit, is
        answered at once (400, 414 or 431), with no event; ``handshake_exc``
        says why.

        Raises:
            EOFError: :meth:`receive_eof` was called earlier.
        """
        if self._state is not CONNECTING:
            super().receive_data(data)
            return
        if self._discarding:
            return
        if self._reader is None:
            # The request is read; the application has not answered yet.
            self._receive_early_data(data)
            return
        try:
            request = self._reader.feed(bytes(data))
        except LimitExceeded as exc:
            self._refuse(exc, exc.status_code)
            return
        except InvalidMessage as exc:
            self._refuse(exc, http.HTTPStatus.BAD_REQUEST)
            return
        if request is None:
            return
        trailing = self._reader.trailing
        self._reader = None
        self.request = request
        if self.debug:
            self.logger.debug("< %s %s HTTP/%s", request.method, request.path, request.http_version)
            for name, value in request.headers.raw_items():
                self.logger.debug("< %s: %s", name, value)
        self._events.append(request)
        self._receive_early_data(trailing)

    def _receive_early_data(self, data: BytesLike) -> None:
        """Keep frames sent before the answer, up to a bound, for after a 101."""
        self._early_data += data
        if len(self._early_data) > _MAX_EARLY_DATA:
            self._fail_handshake(
                SecurityError("client sent too much data before the handshake completed")
            )

    def receive_eof(self) -> None:
        """Receive the end of the stream; see :meth:`Protocol.receive_eof`."""
        if self._state is CONNECTING and self._reader is not None and not self._eof_received:
            try:
                self._reader.feed_eof()
            except EOFError as exc:
                self.handshake_exc = exc
        super().receive_eof()

    def _refuse(self, exc: Exception, status: int) -> None:
        """Answer a request that could not be read, and end the stream."""
        self.handshake_exc = exc
        self.send_response(self.reject(status, f"Failed to open a WebSocket connection: {exc}.\n"))

    def _fail_handshake(self, exc: Exception) -> None:
        self.handshake_exc = exc
        if not self.eof_sent:
            self.send_eof()
        self._discarding = True
        # Release the request's bytes; a later EOF must not replace ``exc``.
        self._reader = None
        self._early_data.clear()

    # Answering -----------------------------------------------------------

    def accept(self, request: Request) -> Response:
        """Check the request and build the answer (RFC 6455 §4.2.1, §4.2.2).

        Returns:
            A 101 response that completes the handshake, with
            ``Sec-WebSocket-Accept`` and the negotiated extensions and
            subprotocol; or an error response with a plain-text body that
            says what was wrong: 405 for a method other than GET, 505 for a
            version other than HTTP/1.1 or a later 1.x, 426 for a missing
            upgrade or an unsupported WebSocket version, 403 for a refused
            origin, 400 otherwise.
            ``handshake_exc`` is set for an error response.
        """
        try:
            key, extensions_header, protocol_header = self._check_request(request)
        except InvalidHandshake as exc:
            self.handshake_exc = exc
            # Nothing was agreed: forget what negotiation got to before failing.
            self.extensions = []
            self.subprotocol = None
            response = self._error_response(request, exc)
            if self.debug:
                self.logger.debug("! invalid handshake request", exc_info=exc)
            return response

        headers = Headers()
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade"
        headers["Sec-WebSocket-Accept"] = accept_key(key)
        if extensions_header is not None:
            headers["Sec-WebSocket-Extensions"] = extensions_header
        if protocol_header is not None:
            headers["Sec-WebSocket-Protocol"] = protocol_header
        return Response(101, "Switching Protocols", headers)

    def _check_request(self, request: Request) -> tuple[str, str | None, str | None]:
        if request.method != "GET":
            raise InvalidMessage(f"unsupported HTTP method {request.method}")
        if not _is_http11_or_higher(request.http_version):
            raise InvalidMessage(f"unsupported HTTP version {request.http_version}")
        headers = request.headers
        check_upgrade(headers)
        key = single_header(headers, "Sec-WebSocket-Key")
        check_key(key)
        version = single_header(headers, "Sec-WebSocket-Version")
        if version != "13":
            raise InvalidUpgrade("Sec-WebSocket-Version", version)
        self._check_origin(headers)
        extensions_header = self._negotiate_extensions(headers)
        protocol_header = self._negotiate_subprotocol(headers)
        return key, extensions_header, protocol_header

    def _error_response(self, request: Request, exc: InvalidHandshake) -> Response:
        text = f"Failed to open a WebSocket connection: {exc}.\n"
        if isinstance(exc, InvalidMessage) and request.method != "GET":
            response = self.reject(http.HTTPStatus.METHOD_NOT_ALLOWED, text)
            response.headers["Allow"] = "GET"
        elif isinstance(exc, InvalidMessage) and not _is_http11_or_higher(request.http_version):
            response = self.reject(http.HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, text)
        elif isinstance(exc, InvalidOrigin):
            response = self.reject(http.HTTPStatus.FORBIDDEN, text)
        elif isinstance(exc, InvalidUpgrade):
            response = self.reject(http.HTTPStatus.UPGRADE_REQUIRED, text)
            response.headers["Upgrade"] = "websocket"
            # §4.4: tell the client which versions the server speaks.
            response.headers["Sec-WebSocket-Version"] = "13"
        else:
            response = self.reject(http.HTTPStatus.BAD_REQUEST, text)
        return response

    def _check_origin(self, headers: Headers) -> None:
        if self.origins is None:
            return
        origin_values = headers.get_all("Origin")
        if len(origin_values) > 1:
            raise InvalidHeader("Origin", "multiple values")
        origin = origin_values[0] if origin_values else None
        for allowed in self.origins:
            if allowed is None or isinstance(allowed, str):
                if origin == allowed:
                    return
            elif origin is not None and allowed.fullmatch(origin):
                return
        raise InvalidOrigin(origin)

    def _negotiate_extensions(self, headers: Headers) -> str | None:
        """Accept the client's offers that a factory supports (RFC 6455 §9.1).

        Offers are taken in the client's order; each factory accepts at
        most one, and an offer a factory refuses is skipped.
        """
        offers = [
            item
            for value in headers.get_all("Sec-WebSocket-Extensions")
            for item in parse_extension(value)
        ]
        accepted: list[Extension] = []
        answers: list[ExtensionHeader] = []
        used: set[int] = set()
        for name, params in offers:
            for index, factory in enumerate(self.available_extensions):
                if index in used or factory.name != name:
                    continue
                try:
                    answer, extension = factory.process_request_params(params, accepted)
                except NegotiationError:
                    continue
                used.add(index)
                accepted.append(extension)
                answers.append((name, answer))
                break
        self.extensions = accepted
        return build_extension(answers) if answers else None

    def _negotiate_subprotocol(self, headers: Headers) -> str | None:
        offered = [
            item
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for item in parse_subprotocol(value)
        ]
        if self.select_subprotocol is not None:
            chosen = self.select_subprotocol(self, offered)
            if chosen is not None and chosen not in offered:
                raise NegotiationError(f"selected subprotocol {chosen} was not offered")
        else:
            chosen = next((p for p in self.available_subprotocols if p in offered), None)
        self.subprotocol = chosen
        return chosen

    def reject(self, status: int, text: str) -> Response:
        """Build a response that refuses the connection.

        Args:
            status: the HTTP status, such as 403.
            text: the plain-text body, encoded in UTF-8.

        Returns:
            The response, with ``Connection: close``, ``Content-Type`` and
            ``Content-Length``; pass it to :meth:`send_response`.
        """
        status = http.HTTPStatus(status)
        body = text.encode()
        headers = Headers()
        headers["Connection"] = "close"
        headers["Content-Length"] = str(len(body))
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return Response(status.value, status.phrase, headers, body)

    def send_response(self, response: Response) -> None:
        """Queue the answer to the handshake.

        A 101 moves the connection to OPEN and parses any frames the client
        sent early. Any other status is followed by the end of the stream,
        and ``handshake_exc`` is set if it was not already.

        Raises:
            InvalidState: a 101 was already sent.
        """
        if self.eof_sent:
            # The handshake already failed and the stream is ended.
            return
        if self._state is not CONNECTING:
            raise InvalidState("the handshake is complete; cannot send a response")
        self.response = response
        if self.debug:
            self.logger.debug("> HTTP/1.1 %d %s", response.status_code, response.reason_phrase)
            for name, value in response.headers.raw_items():
                self.logger.debug("> %s: %s", name, value)
        self._output.append(response.serialize())
        if response.status_code == 101:
            self.state = OPEN
            early, self._early_data = bytes(self._early_data), bytearray()
            if early:
                self._parse(early)
        else:
            if self.handshake_exc is None:
                self.handshake_exc = InvalidStatus(response)
            self._fail_handshake(self.handshake_exc)
