"""The threaded server: :func:`serve`, :func:`unix_serve`, :class:`Server`.

:meth:`Server.serve_forever` accepts connections in the calling thread and
runs each one in a thread of its own: TLS handshake, opening handshake,
``handler``, closing handshake. :meth:`Server.shutdown` may be called from
any thread; it wakes the accept loop through a socket pair, so nothing polls.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..exceptions import ConnectionClosed, InvalidHandshake
from ..frames import CloseCode
from ..http11 import Request, Response
from ..opening import SERVER, LoggerLike, MaxQueue, ServerSetup, run_hooks, server_response
from ..protocol import CONNECTING, OPEN
from ..server import ServerProtocol
from .connection import Connection, tune_socket

if TYPE_CHECKING:
    from ..extensions.base import ServerExtensionFactory
    from ..server import Origin

__all__ = ["Server", "ServerConnection", "serve", "unix_serve"]

Handler = Callable[["ServerConnection"], None]
ProcessRequest = Callable[["ServerConnection", Request], "Response | None"]
ProcessResponse = Callable[["ServerConnection", Request, Response], "Response | None"]
SelectSubprotocol = Callable[["ServerConnection", Sequence[str]], "str | None"]


class ServerConnection(Connection):
    """The server side of a WebSocket connection; see :class:`Connection`.

    :attr:`request` is the client's handshake request and :attr:`response`
    the answer sent.
    """

    protocol: ServerProtocol

    def __init__(self, sock: socket.socket, protocol: ServerProtocol, **kwargs: Any) -> None:
        super().__init__(sock, protocol, **kwargs)

    def respond(self, status: int, text: str) -> Response:
        """Build an HTTP response that refuses the connection, for ``process_request``.

        Args:
            status: the HTTP status code.
            text: the body, sent as ``text/plain``.
        """
        return self.protocol.reject(status, text)


class Server:
    """A WebSocket server: its listening socket, its connections and their threads.

    Made by :func:`serve` and :func:`unix_serve`. Call :meth:`serve_forever`;
    a ``with`` block calls :meth:`shutdown` on exit.

    Attributes:
        socket: the listening socket.
        connections: the connections, from the opening handshake on.
        logger: where the server logs.
    """

    def __init__(
        self,
        sock: socket.socket,
        handler: Handler,
        setup: ServerSetup,
        *,
        ssl: ssl_module.SSLContext | None,
        process_request: ProcessRequest | None,
        process_response: ProcessResponse | None,
        server_header: str | None,
        open_timeout: float | None,
        close_timeout: float | None,
        connection_options: dict[str, Any],
    ) -> None:
        self.socket = sock
        self.handler = handler
        self.setup = setup
        self.logger: logging.Logger | logging.LoggerAdapter[Any] = setup.logger
        self.ssl = ssl
        self.process_request = process_request
        self.process_response = process_response
        self.server_header = server_header
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.connection_options = connection_options
        self.connections: set[ServerConnection] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._shutting_down = False
        self._serving: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stopped.set()
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        # The selector says when to accept; accept() itself must never block.
        sock.setblocking(False)
        self.logger.info("server listening on %s", sock.getsockname())

    def fileno(self) -> int:
        """The file descriptor of the listening socket."""
        return self.socket.fileno()

    def serve_forever(self) -> None:
        """Accept connections until :meth:`shutdown` is called.

        Each connection runs in its own thread; this method returns once the
        server stops accepting, without waiting for the connections.
        """
        with self._lock:
            if self._shutting_down:
                return
            self._stopped.clear()
            self._serving = threading.current_thread()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(self._wakeup_r, selectors.EVENT_READ)
                while not self._shutting_down:
                    for key, _ in selector.select():
                        if key.fileobj is self.socket and not self._shutting_down:
                            self._accept()
        finally:
            self._serving = None
            self._stopped.set()

    def _accept(self) -> None:
        try:
            sock, _ = self.socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:
            # Out of file descriptors, for instance: keep serving.
            self.logger.error("accept() failed: %s", exc)
            return
        sock.setblocking(True)
        thread = threading.Thread(
            target=self._run, args=(sock,), name="sansws-server-connection", daemon=True
        )
        with self._lock:
            if self._shutting_down:
                sock.close()
                return
            self._threads.add(thread)
        thread.start()

    def _run(self, sock: socket.socket) -> None:
        """Run one connection, in its own thread."""
        try:
            opened = self._open(sock)
            if opened is not None:
                connection, is_open = opened
                try:
                    self._handle(connection, is_open)
                finally:
                    with self._lock:
                        self.connections.discard(connection)
        except Exception:  # pragma: no cover - a bug in sansws
            self.logger.error("connection failed", exc_info=True)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _open(self, sock: socket.socket) -> tuple[ServerConnection, bool] | None:
        """TLS and WebSocket opening handshakes.

        Returns:
            The connection and whether the handshake opened it; None if the
            connection is gone.
        """
        deadline = None if self.open_timeout is None else time.monotonic() + self.open_timeout
        connection: ServerConnection | None = None
        try:
            tune_socket(sock)
            if self.ssl is not None:
                sock.settimeout(self.open_timeout)
                sock = self.ssl.wrap_socket(sock, server_side=True)
            protocol = self.setup.protocol(lambda: connection)
            connection = ServerConnection(sock, protocol, **self.connection_options)
            with self._lock:
                if self._shutting_down:
                    raise ConnectionAbortedError("server is shutting down")
                self.connections.add(connection)
            request = connection._read_handshake(deadline)
        except (OSError, InvalidHandshake) as exc:
            # TimeoutError is an OSError.
            self.logger.info("! opening handshake failed: %s", exc)
            if connection is not None:
                with self._lock:
                    self.connections.discard(connection)
            sock.close()
            return None
        assert isinstance(request, Request), f"unexpected event: {request!r}"
        connection.request = request
        response = run_hooks(
            server_response(
                connection,
                connection.protocol,
                request,
                process_request=self.process_request,
                process_response=self.process_response,
                server_header=self.server_header,
                logger=self.logger,
            )
        )
        connection.response = response
        connection.protocol.send_response(response)
        # Read now: once the reader runs, the state may move on to CLOSED.
        is_open = connection.protocol.state is OPEN
        try:
            connection._send_handshake()
        except OSError as exc:
            self.logger.info("! opening handshake failed: %s", exc)
        connection._start()
        return connection, is_open

    def _handle(self, connection: ServerConnection, is_open: bool) -> None:
        """Run the handler, then close the connection (RFC 6455 §7.4.1)."""
        if not is_open:
            connection._wait_lost()
            return
        try:
            self.handler(connection)
        except ConnectionClosed:
            # The handler used a closed connection: nothing to report.
            pass
        except Exception:
            self.logger.error("connection handler failed", exc_info=True)
            connection.close(CloseCode.INTERNAL_ERROR)
        finally:
            connection.close()

    def shutdown(
        self, code: int = CloseCode.GOING_AWAY, reason: str = "", close_connections: bool = True
    ) -> None:
        """Stop accepting connections, close them, and wait for their threads.

        Connections still in the opening handshake are dropped; open ones
        are closed with ``code`` (1001 "going away", RFC 6455 §7.4.1), all at
        once. Each closing handshake takes at most ``close_timeout``; then
        the server waits another ``close_timeout`` for handlers to return,
        aborts the connections of those that did not, and returns. Threads
        cannot be cancelled: a handler that ignores its closed connection
        keeps its thread. Idempotent; safe from any thread.

        Args:
            code, reason: the Close frame sent to open connections.
            close_connections: False leaves open connections alone.
        """
        with self._lock:
            first = not self._shutting_down
            self._shutting_down = True
        if first:
            try:
                self._wakeup_w.send(b"\0")
            except OSError:  # pragma: no cover - already closed
                pass
        serving = self._serving
        if serving is not None and serving is not threading.current_thread():
            # From a signal handler, serve_forever() is below us in the stack.
            self._stopped.wait()
        if first:
            self.socket.close()
            self._wakeup_r.close()
            self._wakeup_w.close()
        if not close_connections:
            return
        with self._lock:
            connections = list(self.connections)
        for connection in connections:
            if connection.protocol.state is CONNECTING:
                connection._abort()
            else:
                connection._start_closing(code, reason)
        bound = None if self.close_timeout is None else 2 * self.close_timeout
        if not self._join(bound):
            with self._lock:
                connections = list(self.connections)
            for connection in connections:
                connection._abort()
            self._join(1.0)

    def _join(self, timeout: float | None) -> bool:
        """Wait for connection threads; True if none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            threads[0].join(remaining)

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve(
    handler: Handler,
    host: str | None = None,
    port: int | None = None,
    *,
    sock: socket.socket | None = None,
    ssl: ssl_module.SSLContext | None = None,
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
) -> Server:
    """Create a WebSocket server listening on ``host`` and ``port``.

    Run it with :meth:`Server.serve_forever`. For each connection, once the
    opening handshake succeeds, ``handler`` runs in the connection's thread
    with the :class:`ServerConnection`. When it returns, the connection is
    closed with 1000; when it raises, the exception is logged and the
    connection is closed with 1011 (RFC 6455 §7.4.1).

    Args:
        handler: a function taking the connection.
        host, port: where to listen, as for :func:`socket.create_server`.
        sock: a listening socket to use instead.
        ssl: an :class:`ssl.SSLContext` to serve ``wss://``.
        origins: allowed ``Origin`` values (RFC 6455 §10.2); None to skip
            the check; include None to allow requests without ``Origin``.
        extensions: extension factories, in order of preference.
        subprotocols: supported subprotocols, in order of preference.
        select_subprotocol: ``(connection, offered) -> str | None`` to pick
            the subprotocol instead.
        compression: ``"deflate"`` to accept permessage-deflate (RFC 7692),
            None to refuse compression.
        process_request: ``(connection, request) -> Response | None``,
            called before the handshake; a response refuses it.
        process_response: ``(connection, request, response) -> Response |
            None``, may change or replace the response.
        server_header: the ``Server`` header; None to send none.
        open_timeout: seconds for the TLS and opening handshakes; None for
            no limit.
        ping_interval, ping_timeout, close_timeout, max_queue, write_limit:
            see :class:`~sansws.sync.connection.Connection`.
        max_size: the largest incoming message in bytes, None for no limit.
        logger: a logger or a logger name; ``"sansws.server"`` by default.
        kwargs: passed on to :func:`socket.create_server` (``backlog``,
            ``reuse_port``, ...), or, with ``unix=True, path=...``, used to
            listen on a Unix socket.

    Returns:
        The server, listening.

    Raises:
        ValueError: an option is invalid.
        OSError: the server cannot listen.
    """
    setup = ServerSetup(
        origins=origins,
        extensions=extensions,
        subprotocols=subprotocols,
        select_subprotocol=select_subprotocol,
        compression=compression,
        max_size=max_size,
        logger=logger,
    )
    if sock is None:
        if kwargs.pop("unix", False):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(os.fspath(kwargs.pop("path")))
                sock.listen(kwargs.pop("backlog", 128))
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_server((host or "", port or 0), **kwargs)
    return Server(
        sock,
        handler,
        setup,
        ssl=ssl,
        process_request=process_request,
        process_response=process_response,
        server_header=server_header,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        connection_options={
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "close_timeout": close_timeout,
            "max_queue": max_queue,
            "write_limit": write_limit,
        },
    )


def unix_serve(
    handler: Handler, path: str | os.PathLike[str] | None = None, **kwargs: Any
) -> Server:
    """Create a WebSocket server listening on a Unix socket at ``path``.

    Args:
        handler: as for :func:`serve`.
        path: the socket's path.
        kwargs: as for :func:`serve`.
    """
    return serve(handler, unix=True, path=path, **kwargs)
