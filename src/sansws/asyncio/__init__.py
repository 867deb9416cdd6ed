"""WebSocket clients and servers on asyncio, with the API of ``websockets.asyncio``.

Migrating from websockets is a change of import::

    from sansws.asyncio import connect, serve
"""

from __future__ import annotations

from .broadcast import broadcast
from .client import ClientConnection, connect, unix_connect
from .connection import Connection
from .server import Server, ServerConnection, serve, unix_serve

__all__ = [
    "ClientConnection",
    "Connection",
    "Server",
    "ServerConnection",
    "broadcast",
    "connect",
    "serve",
    "unix_connect",
    "unix_serve",
]
