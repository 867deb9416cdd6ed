"""WebSocket clients and servers on threads, with the API of ``websockets.sync``.

Migrating from websockets is a change of import::

    from sansws.sync.client import connect
    from sansws.sync.server import serve
"""

from __future__ import annotations

from .client import ClientConnection, connect, unix_connect
from .connection import Connection, PongWaiter
from .server import Server, ServerConnection, serve, unix_serve

__all__ = [
    "ClientConnection",
    "Connection",
    "PongWaiter",
    "Server",
    "ServerConnection",
    "connect",
    "serve",
    "unix_connect",
    "unix_serve",
]
