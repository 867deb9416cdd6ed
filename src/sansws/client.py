"""The client side of the opening handshake (RFC 6455 §4.1).

A :class:`ClientProtocol` starts CONNECTING. :meth:`ClientProtocol.connect`
builds the request and :meth:`ClientProtocol.send_request` queues it. The
server's :class:`~sansws.http11.Response` is the first event. If it
completes the handshake, the connection is OPEN and the frames that came in
the same bytes are parsed; if not, ``handshake_exc`` says why, the end of
the stream is queued and :meth:`~sansws.protocol.Protocol.close_expected`
is True.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from .exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderValue,
    InvalidStatus,
    NegotiationError,
)
from .extensions.base import ClientExtensionFactory, Extension
from .handshake import accept_key, check_upgrade, single_header
from .headers import (
    ExtensionHeader,
    build_authorization_basic,
    build_extension,
    build_host,
    build_subprotocol,
    parse_extension,
    parse_subprotocol,
    validate_subprotocols,
)
from .http11 import Headers, Request, Response, ResponseReader
from .protocol import CLIENT, CONNECTING, OPEN, BytesLike, LoggerLike, Protocol, State
from .uri import WebSocketURI, parse_uri

__all__ = ["ClientProtocol"]


class ClientProtocol(Protocol):
    """Sans-I/O implementation of a WebSocket client connection.

    Args:
        uri: the ``ws://`` or ``wss://`` URI to connect to, as a string or
            parsed by :func:`~sansws.uri.parse_uri`.
        origin: the ``Origin`` header to send, if any.
        extensions: the extensions to offer, in order of preference.
        subprotocols: the subprotocols to offer, in order of preference.
        state: the initial state, CONNECTING unless the handshake happened
            elsewhere.
        max_size: see :class:`~sansws.protocol.Protocol`.
        logger: see :class:`~sansws.protocol.Protocol`.
        max_line: the longest status or header line of the response.
        max_headers: the most header fields in the response.
        max_body: the largest body of an error response.

    Raises:
        InvalidURI: ``uri`` is not a valid WebSocket URI.
        ValueError: a subprotocol is not a token.
    """

    def __init__(
        self,
        uri: str | WebSocketURI,
        *,
        origin: str | None = None,
        extensions: Sequence[ClientExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        state: State = CONNECTING,
        max_size: int | tuple[int | None, int | None] | None = 2**20,
        logger: LoggerLike | None = None,
        max_line: int = 8192,
        max_headers: int = 128,
        max_body: int = 2**20,
    ) -> None:
        super().__init__(CLIENT, state=state, max_size=max_size, logger=logger)
        self.wsuri = parse_uri(uri) if isinstance(uri, str) else uri
        self.origin = origin
        self.available_extensions = list(extensions or ())
        self.available_subprotocols = list(subprotocols or ())
        if self.available_subprotocols:
            validate_subprotocols(self.available_subprotocols)
        # §4.1 item 7: a nonce of 16 random bytes, in base64.
        self.key = base64.b64encode(os.urandom(16)).decode()
        #: The subprotocol agreed in the handshake, if any.
        self.subprotocol: str | None = None
        self.request: Request | None = None
        self.response: Response | None = None
        self._reader: ResponseReader | None = None
        if state is CONNECTING:
            self._reader = ResponseReader(
                max_line=max_line, max_headers=max_headers, max_body=max_body
            )

    def connect(self) -> Request:
        """Build the handshake request (RFC 6455 §4.1).

        Returns:
            The request; change its headers if needed, then pass it to
            :meth:`send_request`.
        """
        headers = Headers()
        headers["Host"] = build_host(self.wsuri.host, self.wsuri.port, self.wsuri.secure)
        if self.wsuri.user_info is not None:
            headers["Authorization"] = build_authorization_basic(*self.wsuri.user_info)
        if self.origin is not None:
            headers["Origin"] = self.origin
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade"
        headers["Sec-WebSocket-Key"] = self.key
        headers["Sec-WebSocket-Version"] = "13"
        if self.available_extensions:
            offers: list[ExtensionHeader] = [
                (factory.name, factory.get_request_params())
                for factory in self.available_extensions
            ]
            headers["Sec-WebSocket-Extensions"] = build_extension(offers)
        if self.available_subprotocols:
            headers["Sec-WebSocket-Protocol"] = build_subprotocol(self.available_subprotocols)
        return Request(self.wsuri.resource_name, headers)

    def send_request(self, request: Request) -> None:
        """Queue the handshake request built by :meth:`connect`."""
        self.request = request
        if self.debug:
            self.logger.debug("> %s %s HTTP/%s", request.method, request.path, request.http_version)
            for name, value in request.headers.raw_items():
                self.logger.debug("> %s: %s", name, value)
        self._output.append(request.serialize())

    def receive_data(self, data: BytesLike) -> None:
        """Receive data; while CONNECTING, this is the server's response.

        Raises:
            EOFError: :meth:`receive_eof` was called earlier.
        """
        if self._state is not CONNECTING:
            super().receive_data(data)
            return
        if self._discarding or self._reader is None:
            return
        try:
            response = self._reader.feed(bytes(data))
        except InvalidHandshake as exc:
            self._fail_handshake(exc)
            return
        if response is not None:
            self._receive_response(response, self._reader.trailing)

    def receive_eof(self) -> None:
        """Receive the end of the stream; see :meth:`Protocol.receive_eof`.

        A response whose body runs to the end of the stream completes here.
        """
        if self._state is CONNECTING and self._reader is not None and not self._discarding:
            try:
                response = self._reader.feed_eof()
            except (InvalidHandshake, EOFError) as exc:
                self._fail_handshake(exc)
            else:
                # The reader is dropped once it returns a response, so it
                # has one to return here: a body delimited by the close.
                assert response is not None
                self._receive_response(response, b"")
        super().receive_eof()

    def _receive_response(self, response: Response, trailing: bytes) -> None:
        self._reader = None
        self.response = response
        if self.debug:
            self.logger.debug("< HTTP/1.1 %d %s", response.status_code, response.reason_phrase)
            for name, value in response.headers.raw_items():
                self.logger.debug("< %s: %s", name, value)
        self._events.append(response)
        try:
            self._check_response(response)
        except InvalidHandshake as exc:
            self._fail_handshake(exc)
            return
        self.state = OPEN
        if trailing:
            self._parse(trailing)

    def _fail_handshake(self, exc: Exception) -> None:
        self.handshake_exc = exc
        if self.debug:
            self.logger.debug("! invalid handshake response", exc_info=exc)
        if not self.eof_sent:
            self.send_eof()
        self._discarding = True

    def _check_response(self, response: Response) -> None:
        """Check the server's answer (RFC 6455 §4.1, items 1-6 of the client's checks).

        Raises:
            InvalidStatus: the status is not 101.
            InvalidHeader: a header is missing or wrong.
            NegotiationError: the extensions or subprotocol are not acceptable.
        """
        if response.status_code != 101:
            raise InvalidStatus(response)
        headers = response.headers
        check_upgrade(headers)
        accept = single_header(headers, "Sec-WebSocket-Accept")
        if accept != accept_key(self.key):
            raise InvalidHeaderValue("Sec-WebSocket-Accept", accept)
        self.extensions = self._accept_extensions(headers)
        self.subprotocol = self._accept_subprotocol(headers)

    def _accept_extensions(self, headers: Headers) -> list[Extension]:
        """§9.1: every extension in the answer must be one we offered."""
        accepted: list[Extension] = []
        for value in headers.get_all("Sec-WebSocket-Extensions"):
            for name, params in parse_extension(value):
                for factory in self.available_extensions:
                    if factory.name != name:
                        continue
                    try:
                        extension = factory.process_response_params(params, accepted)
                    except NegotiationError:
                        continue
                    accepted.append(extension)
                    break
                else:
                    raise NegotiationError(f"unsupported extension: {name}")
        return accepted

    def _accept_subprotocol(self, headers: Headers) -> str | None:
        """§4.1: the answer names at most one subprotocol, among those offered."""
        values = [
            item
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for item in parse_subprotocol(value)
        ]
        if not values:
            return None
        if len(values) > 1:
            raise InvalidHeader("Sec-WebSocket-Protocol", "multiple values")
        if values[0] not in self.available_subprotocols:
            raise NegotiationError(f"unsupported subprotocol: {values[0]}")
        return values[0]
