"""The asyncio server: :func:`serve`, :func:`unix_serve`, :class:`Server`."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Generator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..exceptions import ConnectionClosed
from ..frames import CloseCode
from ..http11 import Request, Response
from ..opening import SERVER, LoggerLike, MaxQueue, ServerSetup, server_response
from ..protocol import CONNECTING, OPEN
from ..server import ServerProtocol
from .connection import Connection

if TYPE_CHECKING:
    from ..extensions.base import ServerExtensionFactory
    from ..server import Origin

__all__ = ["SERVER", "Server", "ServerConnection", "serve", "unix_serve"]

Handler = Callable[["ServerConnection"], Awaitable[None]]
ProcessRequest = Callable[
    ["ServerConnection", Request], "Response | Awaitable[Response | None] | None"
]
ProcessResponse = Callable[
    ["ServerConnection", Request, Response], "Response | Awaitable[Response | None] | None"
]
SelectSubprotocol = Callable[["ServerConnection", Sequence[str]], "str | None"]


class ServerConnection(Connection):
    """The server side of a WebSocket connection; see :class:`Connection`.

    :attr:`request` is the client's handshake request and :attr:`response`
    the answer sent.
    """

    __slots__ = ("_open_timer", "server")

    protocol: ServerProtocol

    def __init__(self, protocol: ServerProtocol, server: Server, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self.server = server
        self._open_timer: asyncio.TimerHandle | None = None

    def respond(self, status: int, text: str) -> Response:
        """Build an HTTP response that refuses the connection, for ``process_request``.

        Args:
            status: the HTTP status code.
            text: the body, sent as ``text/plain``.
        """
        return self.protocol.reject(status, text)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.server.connections.add(self)
        if self.server.open_timeout is not None:
            self._open_timer = self.loop.call_later(self.server.open_timeout, self._open_timed_out)

    def _open_timed_out(self) -> None:
        self._open_timer = None
        if self.protocol.state is CONNECTING:
            self.logger.info("! timed out during the opening handshake")
            self.transport.abort()

    def _handshake_event(self, event: object) -> None:
        assert isinstance(event, Request), f"unexpected event: {event!r}"
        self.request = event
        self.server._start_handler(self)

    def _send_response(self, response: Response) -> None:
        if self._open_timer is not None:
            self._open_timer.cancel()
            self._open_timer = None
        self.response = response
        self.protocol.send_response(response)
        self._send_data()
        if self.protocol.state is OPEN:
            self._start_keepalive()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._open_timer is not None:
            self._open_timer.cancel()
            self._open_timer = None
        super().connection_lost(exc)
        self.server.connections.discard(self)


class Server:
    """A WebSocket server: its listening sockets and its connections.

    Made by :func:`serve` and :func:`unix_serve`. An ``async with`` block
    closes it on exit.

    Attributes:
        connections: the open connections.
        logger: where the server logs.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        process_request: ProcessRequest | None = None,
        process_response: ProcessResponse | None = None,
        server_header: str | None = SERVER,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.handler = handler
        self.process_request = process_request
        self.process_response = process_response
        self.server_header = server_header
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.logger = logger
        self.loop = asyncio.get_running_loop()
        self.connections: set[ServerConnection] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] = self.loop.create_future()

    def _wrap(self, server: asyncio.Server) -> None:
        self._server = server
        for sock in server.sockets:
            self.logger.info("server listening on %s", sock.getsockname())

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets."""
        return () if self._server is None else tuple(self._server.sockets)

    def is_serving(self) -> bool:
        """Tell whether the server accepts connections."""
        return self._server is not None and self._server.is_serving()

    def _start_handler(self, connection: ServerConnection) -> None:
        task = self.loop.create_task(self._handle(connection))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, connection: ServerConnection) -> None:
        """Answer the handshake, run the handler, close the connection."""
        try:
            response = await self._respond(connection)
            connection._send_response(response)
            if connection.protocol.state is not OPEN:
                await connection.wait_closed()
                return
            try:
                await self.handler(connection)
            except ConnectionClosed:
                # The handler used a closed connection: nothing to report.
                pass
            except Exception:
                self.logger.error("connection handler failed", exc_info=True)
                await connection.close(CloseCode.INTERNAL_ERROR)
            else:
                await connection.close()
        except asyncio.CancelledError:
            connection.transport.abort()
            raise
        except Exception:  # pragma: no cover - a bug in sansws
            self.logger.error("connection failed", exc_info=True)
            connection.transport.abort()
        finally:
            await connection.close()

    async def _respond(self, connection: ServerConnection) -> Response:
        flow = server_response(
            connection,
            connection.protocol,
            connection.request,
            process_request=self.process_request,
            process_response=self.process_response,
            server_header=self.server_header,
            logger=self.logger,
        )
        # Drive the shared flow: await what the hooks return, hand back the
        # result, or throw back what awaiting raised.
        value: object = None
        error: Exception | None = None
        while True:
            try:
                hook_result = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                response: Response = stop.value
                return response
            error = None
            try:
                value = await _maybe_await(hook_result)
            except Exception as exc:
                error = exc

    def close(self, close_connections: bool = True) -> None:
        """Close the server; :meth:`wait_closed` waits for the end.

        The server stops accepting connections at once. Open connections
        are closed with 1001 "going away" (RFC 6455 §7.4.1); connections
        still in the opening handshake are dropped. Each closing handshake
        takes at most ``close_timeout``; then the server waits another
        ``close_timeout`` for handlers to return and cancels the others.

        Args:
            close_connections: False leaves open connections alone.
        """
        if self._close_task is None:
            self._close_task = self.loop.create_task(self._close(close_connections))

    async def _close(self, close_connections: bool) -> None:
        if self._server is not None:
            self._server.close()
        # Let connections accepted just now run connection_made().
        await asyncio.sleep(0)
        if close_connections:
            closing = []
            for connection in list(self.connections):
                if connection.protocol.state is CONNECTING:
                    connection.transport.abort()
                else:
                    closing.append(connection.close(CloseCode.GOING_AWAY))
            if closing:
                await asyncio.gather(*closing, return_exceptions=True)
            if self._handlers:
                _, pending = await asyncio.wait(set(self._handlers), timeout=self.close_timeout)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)
        if self._server is not None:
            await self._server.wait_closed()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` is done."""
        await asyncio.shield(self._closed)

    async def serve_forever(self) -> None:
        """Serve until cancelled, then close the server gracefully."""
        try:
            await asyncio.shield(self._closed)
        finally:
            self.close()
            await self.wait_closed()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class serve:  # named like a function, as in websockets
    """Start a WebSocket server: ``await`` it or ``async with`` it.

    ``await serve(handler, host, port)`` returns a running :class:`Server`;
    ``async with serve(handler, host, port) as server:`` closes it on exit.
    For each connection, once the opening handshake succeeds, ``handler``
    runs with the :class:`ServerConnection`. When it returns, the connection
    is closed with 1000; when it raises, the exception is logged and the
    connection is closed with 1011 (RFC 6455 §7.4.1).

    Args:
        handler: a coroutine function taking the connection.
        host, port: where to listen, as for
            :meth:`asyncio.loop.create_server`.
        origins: allowed ``Origin`` values (RFC 6455 §10.2); None to skip
            the check; include None to allow requests without ``Origin``.
        extensions: extension factories, in order of preference.
        subprotocols: supported subprotocols, in order of preference.
        select_subprotocol: ``(connection, offered) -> str | None`` to pick
            the subprotocol instead.
        compression: ``"deflate"`` to accept permessage-deflate (RFC 7692),
            None to refuse compression.
        process_request: ``(connection, request) -> Response | None``, sync
            or async, called before the handshake; a response refuses it.
        process_response: ``(connection, request, response) -> Response |
            None``, sync or async, may change or replace the response.
        server_header: the ``Server`` header; None to send none.
        open_timeout: seconds for the opening handshake; None for no limit.
        ping_interval, ping_timeout, close_timeout, max_queue, write_limit:
            see :class:`~sansws.asyncio.connection.Connection`.
        max_size: the largest incoming message in bytes, None for no limit.
        logger: a logger or a logger name; ``"sansws.server"`` by default.
        ssl: an :class:`ssl.SSLContext` to serve ``wss://``.
        kwargs: passed on to :meth:`asyncio.loop.create_server`.

    Raises:
        ValueError: an option is invalid.
        OSError: the server cannot listen.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        *,
        origins: Sequence[Origin | None] | None = None,
        extensions: Sequence[ServerExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        select_subprotocol: SelectSubprotocol | None = None,
        compression: str | None = "deflate",
        process_request: ProcessRequest | None = None,
        process_response: ProcessResponse | None = None,
        server_header: str | None = SERVER,
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
        self.handler = handler
        self.host = host
        self.port = port
        self.kwargs = kwargs
        self.setup = ServerSetup(
            origins=origins,
            extensions=extensions,
            subprotocols=subprotocols,
            select_subprotocol=select_subprotocol,
            compression=compression,
            max_size=max_size,
            logger=logger,
        )
        self.logger = self.setup.logger
        self.server_options: dict[str, Any] = {
            "process_request": process_request,
            "process_response": process_response,
            "server_header": server_header,
            "open_timeout": open_timeout,
            "close_timeout": close_timeout,
        }
        self.connection_options: dict[str, Any] = {
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "close_timeout": close_timeout,
            "max_queue": max_queue,
            "write_limit": write_limit,
        }
        self.server: Server | None = None

    def _factory(self) -> ServerConnection:
        assert self.server is not None
        connection: ServerConnection | None = None
        protocol = self.setup.protocol(lambda: connection)
        connection = ServerConnection(protocol, self.server, **self.connection_options)
        return connection

    async def _create(self) -> Server:
        loop = asyncio.get_running_loop()
        self.server = Server(self.handler, logger=self.logger, **self.server_options)
        kwargs = dict(self.kwargs)
        if kwargs.pop("unix", False):
            path = kwargs.pop("path", None)
            server = await loop.create_unix_server(self._factory, path, **kwargs)
        else:
            server = await loop.create_server(self._factory, self.host, self.port, **kwargs)
        self.server._wrap(server)
        return self.server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._create().__await__()

    async def __aenter__(self) -> Server:
        return await self._create()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def unix_serve(
    handler: Handler, path: str | os.PathLike[str] | None = None, **kwargs: Any
) -> serve:
    """Start a WebSocket server listening on a Unix socket at ``path``.

    Args:
        handler: as for :class:`serve`.
        path: the socket's path.
        kwargs: as for :class:`serve`.
    """
    return serve(handler, unix=True, path=path, **kwargs)
