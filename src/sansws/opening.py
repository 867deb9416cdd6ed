"""The opening handshake as the I/O layers configure it, without I/O.

The asyncio and the threaded layers take the same options and must turn them
into the same handshake. This module holds that translation once:

- :class:`ClientSetup` turns ``connect()``'s options into a
  :class:`~sansws.client.ClientProtocol` and the request's extra headers
  (``additional_headers``, ``User-Agent``);
- :class:`ServerSetup` turns ``serve()``'s options into a
  :class:`~sansws.server.ServerProtocol` per connection, with
  ``select_subprotocol`` called with the connection instead of the protocol;
- :func:`server_response` is the server's decision (``process_request``,
  :meth:`~sansws.server.ServerProtocol.accept`, the ``Server`` header,
  ``process_response``, a 500 when a hook crashes), written as a generator
  that yields each hook's return value to its driver. The asyncio driver
  awaits awaitables; the threaded driver, :func:`run_hooks`, sends values
  straight back. One control flow, two drivers.

Like the rest of the Sans-I/O modules, it imports no asyncio, threading,
socket or ssl.
"""

from __future__ import annotations

import http
import logging
import sys
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

from . import __version__
from .client import ClientProtocol
from .extensions.permessage_deflate import client_extensions, server_extensions
from .http11 import Request, Response
from .server import ServerProtocol

if TYPE_CHECKING:
    from .extensions.base import ClientExtensionFactory, ServerExtensionFactory
    from .server import Origin

__all__ = [
    "SERVER",
    "USER_AGENT",
    "ClientSetup",
    "HeadersLike",
    "LoggerLike",
    "MaxQueue",
    "ServerSetup",
    "resolve_logger",
    "run_hooks",
    "server_response",
    "water_marks",
]

_VERSION = f"Python/{sys.version_info.major}.{sys.version_info.minor} sansws/{__version__}"
#: The default ``User-Agent`` header of clients.
USER_AGENT = _VERSION
#: The default ``Server`` header of servers.
SERVER = _VERSION

# A string for LoggerAdapter[Any]: it is subscriptable at run time only from 3.11.
LoggerLike = Union[logging.Logger, "logging.LoggerAdapter[Any]", str, None]
MaxQueue = int | tuple[int | None, int | None] | None
HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]
MaxSize = int | tuple[int | None, int | None] | None


def resolve_logger(logger: LoggerLike, default: str) -> logging.Logger | logging.LoggerAdapter[Any]:
    """Turn the ``logger`` option into a logger: a name, a logger, or None."""
    if logger is None:
        return logging.getLogger(default)
    if isinstance(logger, str):
        return logging.getLogger(logger)
    return logger


def water_marks(max_queue: MaxQueue) -> tuple[int | None, int | None]:
    """Split the ``max_queue`` option into ``(high, low)`` frame counts."""
    if max_queue is None or isinstance(max_queue, int):
        return max_queue, None
    return max_queue


class ClientSetup:
    """A client's handshake options, checked once and applied per connection.

    Args:
        uri: the ``ws://`` or ``wss://`` URI (RFC 6455 §3).
        origin, subprotocols, max_size: as for
            :class:`~sansws.client.ClientProtocol`.
        extensions, compression: the extensions to offer; see
            :func:`~sansws.extensions.permessage_deflate.client_extensions`.
        additional_headers: more headers for the request.
        user_agent_header: the ``User-Agent`` header; None to send none.
        logger: the ``logger`` option.

    Raises:
        ValueError: ``compression`` is not supported.
    """

    __slots__ = ("extensions", "headers", "logger", "max_size", "origin", "subprotocols", "uri")

    def __init__(
        self,
        uri: str,
        *,
        origin: str | None,
        extensions: Sequence[ClientExtensionFactory] | None,
        subprotocols: Sequence[str] | None,
        compression: str | None,
        additional_headers: HeadersLike | None,
        user_agent_header: str | None,
        max_size: MaxSize,
        logger: LoggerLike,
    ) -> None:
        self.uri = uri
        self.origin = origin
        self.extensions = client_extensions(extensions, compression)
        self.subprotocols = subprotocols
        self.max_size = max_size
        self.logger = resolve_logger(logger, "sansws.client")
        headers: list[tuple[str, str]] = []
        if additional_headers is not None:
            items = (
                additional_headers.items()
                if isinstance(additional_headers, Mapping)
                else additional_headers
            )
            headers.extend(items)
        if user_agent_header is not None:
            headers.append(("User-Agent", user_agent_header))
        self.headers = headers

    def protocol(self) -> ClientProtocol:
        """Make the Sans-I/O protocol of one connection."""
        return ClientProtocol(
            self.uri,
            origin=self.origin,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            max_size=self.max_size,
            logger=self.logger,
        )

    def request(self, protocol: ClientProtocol) -> Request:
        """Build the handshake request (RFC 6455 §4.1) with the extra headers.

        A ``User-Agent`` among ``additional_headers`` wins over
        ``user_agent_header``. Pass the result to ``send_request``.
        """
        request = protocol.connect()
        for name, value in self.headers:
            if name.lower() == "user-agent" and "User-Agent" in request.headers:
                continue
            request.headers[name] = value
        return request


class ServerSetup:
    """A server's handshake options, checked once and applied per connection.

    Args:
        origins, subprotocols, max_size: as for
            :class:`~sansws.server.ServerProtocol`.
        extensions, compression: the extensions to accept; see
            :func:`~sansws.extensions.permessage_deflate.server_extensions`.
        select_subprotocol: ``(connection, offered) -> str | None``, called
            with the I/O layer's connection.
        logger: the ``logger`` option.

    Raises:
        ValueError: ``compression`` is not supported.
    """

    __slots__ = (
        "extensions",
        "logger",
        "max_size",
        "origins",
        "select_subprotocol",
        "subprotocols",
    )

    def __init__(
        self,
        *,
        origins: Sequence[Origin | None] | None,
        extensions: Sequence[ServerExtensionFactory] | None,
        subprotocols: Sequence[str] | None,
        select_subprotocol: Callable[[Any, Sequence[str]], str | None] | None,
        compression: str | None,
        max_size: MaxSize,
        logger: LoggerLike,
    ) -> None:
        self.origins = origins
        self.extensions = server_extensions(extensions, compression)
        self.subprotocols = subprotocols
        self.select_subprotocol = select_subprotocol
        self.max_size = max_size
        self.logger = resolve_logger(logger, "sansws.server")

    def protocol(self, connection: Callable[[], object]) -> ServerProtocol:
        """Make the Sans-I/O protocol of one connection.

        Args:
            connection: returns the I/O layer's connection, which is made
                after its protocol; ``select_subprotocol`` receives it.
        """
        select: Callable[[ServerProtocol, Sequence[str]], str | None] | None = None
        if self.select_subprotocol is not None:
            user_select = self.select_subprotocol

            def select(protocol: ServerProtocol, offered: Sequence[str]) -> str | None:
                return user_select(connection(), offered)

        return ServerProtocol(
            origins=self.origins,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            select_subprotocol=select,
            max_size=self.max_size,
            logger=self.logger,
        )


# What server_response() yields: a hook's return value, maybe awaitable.
HookResult = object


def server_response(
    connection: object,
    protocol: ServerProtocol,
    request: Request,
    *,
    process_request: Callable[..., object] | None,
    process_response: Callable[..., object] | None,
    server_header: str | None,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> Generator[HookResult, object, Response]:
    """Decide the server's answer to the handshake request (RFC 6455 §4.2.2).

    ``process_request(connection, request)`` may return a response that
    refuses the handshake; otherwise the protocol accepts or refuses it. The
    ``Server`` header is added unless present. ``process_response(connection,
    request, response)`` may return a response that replaces it.

    The generator yields the return value of each hook and expects the
    final value (after awaiting, in asyncio) to be sent back; an exception
    raised while awaiting is thrown back in.

    Returns:
        The response to send: a 101 that opens the connection, or an error.
        A hook that raises is logged and gives a 500.
    """
    try:
        response = None
        if process_request is not None:
            response = yield process_request(connection, request)
        if response is None:
            response = protocol.accept(request)
            if protocol.handshake_exc is not None:
                logger.info("! invalid handshake: %s", protocol.handshake_exc)
        assert isinstance(response, Response), f"not a Response: {response!r}"
        if server_header is not None and "Server" not in response.headers:
            response.headers["Server"] = server_header
        if process_response is not None:
            modified = yield process_response(connection, request, response)
            if modified is not None:
                assert isinstance(modified, Response), f"not a Response: {modified!r}"
                response = modified
    except Exception:
        logger.error("opening handshake failed", exc_info=True)
        response = protocol.reject(
            http.HTTPStatus.INTERNAL_SERVER_ERROR,
            "Failed to open a WebSocket connection.\nSee server log for more information.\n",
        )
    finally:
        # Needed only by accept(): ServerSetup's wrapper refers to the
        # connection, which refers to the protocol, a reference cycle that
        # would keep the closed connection for the cyclic GC.
        protocol.select_subprotocol = None
    return response


def run_hooks(flow: Generator[HookResult, object, Response]) -> Response:
    """Drive :func:`server_response` with synchronous hooks.

    Returns:
        The response it decides.
    """
    value: object = None
    while True:
        try:
            value = flow.send(value)
        except StopIteration as stop:
            response: Response = stop.value
            return response
