"""The threaded client: :func:`connect`, :func:`unix_connect`, :class:`ClientConnection`."""

from __future__ import annotations

import os
import socket
import ssl as ssl_module
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..client import ClientProtocol
from ..http11 import Response
from ..opening import USER_AGENT, ClientSetup, HeadersLike, LoggerLike, MaxQueue
from ..uri import parse_uri
from .connection import Connection, tune_socket

if TYPE_CHECKING:
    from ..extensions.base import ClientExtensionFactory

__all__ = ["ClientConnection", "connect", "unix_connect"]


class ClientConnection(Connection):
    """The client side of a WebSocket connection; see :class:`Connection`.

    :attr:`request` is the opening handshake's request and :attr:`response`
    the server's answer.
    """

    protocol: ClientProtocol

    def _handshake(self, setup: ClientSetup, deadline: float | None) -> None:
        """Send the request, read the response, start the threads.

        Raises:
            InvalidHandshake: the server refused the handshake.
            TimeoutError: ``deadline`` passed.
        """
        self.request = setup.request(self.protocol)
        self.protocol.send_request(self.request)
        self._send_handshake()
        response = self._read_handshake(deadline)
        assert isinstance(response, Response), f"unexpected event: {response!r}"
        self.response = response
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc
        self._start()


def connect(
    uri: str,
    *,
    sock: socket.socket | None = None,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
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
) -> ClientConnection:
    """Open a WebSocket connection to ``uri``.

    ``with connect(uri) as connection:`` closes it on exit.

    Args:
        uri: a ``ws://`` or ``wss://`` URI (RFC 6455 §3).
        sock: a connected socket to use instead of opening one.
        ssl: an :class:`ssl.SSLContext`; a ``wss://`` URI gets
            :func:`ssl.create_default_context` (verification on) by default.
        server_hostname: the name for SNI and certificate checks; the host
            of the URI by default.
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
            see :class:`~sansws.sync.connection.Connection`.
        max_size: the largest incoming message in bytes, None for no limit.
        logger: a logger or a logger name; ``"sansws.client"`` by default.
        kwargs: passed on to :func:`socket.create_connection`, or, with
            ``unix=True, path=...``, used to connect a Unix socket.

    Returns:
        The open connection.

    Raises:
        InvalidURI: ``uri`` is not a WebSocket URI.
        InvalidHandshake: the opening handshake failed; InvalidStatus when
            the server answered with another status than 101.
        TimeoutError: the opening handshake took longer than open_timeout.
        OSError: the TCP connection failed; ssl.SSLError is one.
        ValueError: an option is invalid.
    """
    setup = ClientSetup(
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
    wsuri = parse_uri(uri)
    if wsuri.secure:
        if ssl is None:
            ssl = ssl_module.create_default_context()
        if server_hostname is None:
            server_hostname = wsuri.host
    elif ssl is not None:
        raise ValueError("ssl was given for a ws:// URI; use wss://")
    elif server_hostname is not None:
        raise ValueError("server_hostname was given for a ws:// URI")
    deadline = None if open_timeout is None else time.monotonic() + open_timeout
    if sock is None:
        if kwargs.pop("unix", False):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(open_timeout)
            try:
                sock.connect(kwargs.pop("path"))
            except BaseException:
                sock.close()
                raise
        else:
            kwargs.setdefault("timeout", open_timeout)
            sock = socket.create_connection((wsuri.host, wsuri.port), **kwargs)
    try:
        tune_socket(sock)
        if ssl is not None:
            sock.settimeout(_remaining(deadline))
            sock = ssl.wrap_socket(sock, server_hostname=server_hostname)
        connection = ClientConnection(
            sock,
            setup.protocol(),
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_queue=max_queue,
            write_limit=write_limit,
        )
        connection._handshake(setup, deadline)
    except BaseException:
        sock.close()
        raise
    return connection


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("timed out during the opening handshake")
    return remaining


def unix_connect(
    path: str | os.PathLike[str] | None = None, uri: str | None = None, **kwargs: Any
) -> ClientConnection:
    """Open a WebSocket connection over a Unix socket at ``path``.

    Args:
        path: the socket's path.
        uri: the URI for the handshake; ``ws://localhost/`` by default,
            ``wss://localhost/`` when ``ssl`` is given.
        kwargs: as for :func:`connect`.
    """
    if uri is None:
        uri = "wss://localhost/" if kwargs.get("ssl") is not None else "ws://localhost/"
    return connect(uri, unix=True, path=path, **kwargs)
