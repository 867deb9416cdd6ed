"""The asyncio client: :func:`connect` and :class:`ClientConnection`."""

from __future__ import annotations

import asyncio
import os
import ssl as ssl_module
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..client import ClientProtocol
from ..exceptions import InvalidMessage
from ..http11 import Response
from ..opening import USER_AGENT, ClientSetup, HeadersLike, LoggerLike, MaxQueue
from ..protocol import OPEN
from ..uri import parse_uri
from .connection import Connection

if TYPE_CHECKING:
    from ..extensions.base import ClientExtensionFactory

__all__ = ["USER_AGENT", "ClientConnection", "connect", "unix_connect"]


class ClientConnection(Connection):
    """The client side of a WebSocket connection; see :class:`Connection`.

    :attr:`request` is the opening handshake's request and :attr:`response`
    the server's answer.
    """

    __slots__ = ("_handshake_done", "_setup")

    protocol: ClientProtocol

    def __init__(self, protocol: ClientProtocol, *, setup: ClientSetup, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self._setup = setup
        self._handshake_done: asyncio.Future[None] = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        request = self._setup.request(self.protocol)
        self.request = request
        self.protocol.send_request(request)
        self._send_data()

    def _handshake_event(self, event: object) -> None:
        assert isinstance(event, Response), f"unexpected event: {event!r}"
        self.response = event
        if self.protocol.state is OPEN:
            self._start_keepalive()
        if not self._handshake_done.done():
            self._handshake_done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._handshake_done.done():
            self._handshake_done.set_result(None)

    async def _wait_for_handshake(self) -> None:
        await self._handshake_done
        if self.protocol.handshake_exc is not None:
            self.transport.close()
            raise self.protocol.handshake_exc
        if self.response is None:
            raise InvalidMessage("connection closed during the opening handshake")


class connect:  # named like a function, as in websockets
    """Open a WebSocket connection to ``uri``: ``await`` it or ``async with`` it.

    ``await connect(uri)`` returns a :class:`ClientConnection`;
    ``async with connect(uri) as connection:`` closes it on exit.

    Args:
        uri: a ``ws://`` or ``wss://`` URI (RFC 6455 §3).
        origin: the ``Origin`` header to send, if any.
        extensions: extension factories to negotiate, in order of preference.
        subprotocols: subprotocols to offer, in order of preference.
        compression: ``"deflate"`` to offer permessage-deflate (RFC 7692),
            None to offer no compression.
        additional_headers: more headers for the handshake request.
        user_agent_header: the ``User-Agent`` header; None to send none.
        open_timeout: seconds for the TCP, TLS and WebSocket handshakes;
            None for no limit.
        ping_interval, ping_timeout, close_timeout, max_queue, write_limit:
            see :class:`~sansws.asyncio.connection.Connection`.
        max_size: the largest incoming message in bytes, None for no limit.
        logger: a logger or a logger name; ``"sansws.client"`` by default.
        ssl: an :class:`ssl.SSLContext`; a ``wss://`` URI gets
            :func:`ssl.create_default_context` (verification on) by default.
        server_hostname: the name for SNI and certificate checks; the host
            of the URI by default.
        kwargs: passed on to :meth:`asyncio.loop.create_connection` (or
            ``create_unix_connection`` for ``unix=True, path=...``).

    Raises:
        InvalidURI: ``uri`` is not a WebSocket URI.
        InvalidHandshake: the opening handshake failed; InvalidStatus when
            the server answered with another status than 101.
        TimeoutError: the opening handshake took longer than open_timeout.
        OSError: the TCP connection failed.
        ValueError: an option is invalid.
    """

    def __init__(
        self,
        uri: str,
        *,
        origin: str | None = None,
        extensions: Sequence[ClientExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        compression: str | None = "deflate",
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = USER_AGENT,
        open_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_size: int | tuple[int | None, int | None] | None = 2**20,
        max_queue: MaxQueue = 16,
        write_limit: int | tuple[int, int | None] = 2**15,
        logger: LoggerLike = None,
        **kwargs: Any,
    ) -> None:
        self.uri = uri
        self.open_timeout = open_timeout
        self.kwargs = kwargs
        self.setup = ClientSetup(
            uri,
            origin=origin,
            extensions=extensions,
            subprotocols=subprotocols,
            compression=compression,
            additional_headers=additional_headers,
            user_agent_header=user_agent_header,
            max_size=max_size,
            logger=logger,
        )
        self.connection_options: dict[str, Any] = {
            "setup": self.setup,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "close_timeout": close_timeout,
            "max_queue": max_queue,
            "write_limit": write_limit,
        }
        self.connection: ClientConnection | None = None

    def _factory(self) -> ClientConnection:
        return ClientConnection(self.setup.protocol(), **self.connection_options)

    async def _open(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        wsuri = parse_uri(self.uri)
        kwargs = dict(self.kwargs)
        ssl = kwargs.pop("ssl", None)
        if wsuri.secure:
            if ssl is None or ssl is True:
                ssl = ssl_module.create_default_context()
            kwargs.setdefault("server_hostname", wsuri.host)
        elif ssl is not None:
            raise ValueError("ssl was given for a ws:// URI; use wss://")
        elif "server_hostname" in kwargs:
            raise ValueError("server_hostname was given for a ws:// URI")
        connection: ClientConnection | None = None
        try:
            if kwargs.pop("unix", False):
                path = kwargs.pop("path", None)
                _, connection = await loop.create_unix_connection(
                    self._factory, path, ssl=ssl, **kwargs
                )
            else:
                if kwargs.get("sock") is None:
                    kwargs.setdefault("host", wsuri.host)
                    kwargs.setdefault("port", wsuri.port)
                _, connection = await loop.create_connection(self._factory, ssl=ssl, **kwargs)
            await connection._wait_for_handshake()
        except BaseException:
            if connection is not None and connection._transport is not None:
                connection._transport.abort()
            raise
        return connection

    async def _create(self) -> ClientConnection:
        try:
            if self.open_timeout is None:
                self.connection = await self._open()
            else:
                self.connection = await asyncio.wait_for(self._open(), self.open_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("timed out during the opening handshake") from None
        return self.connection

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._create().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._create()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.connection is not None
        await self.connection.close()


def unix_connect(
    path: str | os.PathLike[str] | None = None, uri: str | None = None, **kwargs: Any
) -> connect:
    """Open a WebSocket connection over a Unix socket at ``path``.

    Args:
        path: the socket's path.
        uri: the URI for the handshake; ``ws://localhost/`` by default,
            ``wss://localhost/`` when ``ssl`` is given.
        kwargs: as for :class:`connect`.
    """
    if uri is None:
        uri = "wss://localhost/" if kwargs.get("ssl") is not None else "ws://localhost/"
    return connect(uri=uri, unix=True, path=path, **kwargs)
