"""sansws.asyncio.broadcast: one message to many connections, without waiting."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from unittest import mock

import pytest

from sansws.asyncio import ClientConnection, ServerConnection, connect, serve
from sansws.asyncio.broadcast import broadcast
from sansws.extensions.permessage_deflate import ClientPerMessageDeflateFactory

# The module, not the function of the same name that sansws.asyncio exports.
broadcast_module = importlib.import_module("sansws.asyncio.broadcast")

TIMEOUT = 20  # guards hangs only


def async_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), TIMEOUT))

    return wrapper


@contextlib.asynccontextmanager
async def hub(**options: Any) -> AsyncIterator[tuple[str, list[ServerConnection]]]:
    """A server whose handlers just stay connected; yields its URI and connections."""
    connections: list[ServerConnection] = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, **options) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/", connections


async def wait_for(count: int, connections: list[ServerConnection]) -> None:
    while len(connections) < count:
        await asyncio.sleep(0.01)


@async_test
async def test_message_reaches_every_connection_with_one_encoding() -> None:
    async with hub(compression=None) as (uri, connections):
        clients = [await connect(uri, compression=None) for _ in range(50)]
        await wait_for(50, connections)
        with mock.patch.object(
            broadcast_module, "_encode", wraps=broadcast_module._encode
        ) as encode:
            assert broadcast(connections, "héllo") == []
            assert broadcast(connections, b"\x00\x01" * 5000) == []
        assert encode.call_count == 2  # once per message, not per connection
        for client in clients:
            assert await client.recv() == "héllo"
            assert await client.recv() == b"\x00\x01" * 5000
        for client in clients:
            await client.close()


@async_test
async def test_compressed_and_uncompressed_connections_mixed() -> None:
    async with hub(compression="deflate") as (uri, connections):
        plain = [await connect(uri, compression=None) for _ in range(5)]
        # Context takeover: each connection compresses the message itself.
        takeover = [await connect(uri) for _ in range(5)]
        # No context takeover on the server's side: one compressed frame.
        fresh = [
            await connect(
                uri,
                compression=None,
                extensions=[ClientPerMessageDeflateFactory(server_no_context_takeover=True)],
            )
            for _ in range(5)
        ]
        await wait_for(15, connections)
        message = "the same words, again and again. " * 200
        with mock.patch.object(
            broadcast_module, "_encode", wraps=broadcast_module._encode
        ) as encode:
            for round_ in range(3):
                assert broadcast(connections, f"{round_}: {message}") == []
        # One uncompressed and one compressed frame per message.
        assert encode.call_count == 6
        for client in plain + takeover + fresh:
            for round_ in range(3):
                assert await client.recv() == f"{round_}: {message}"
        # The compressors with context takeover stayed in step with their peers.
        for client in takeover:
            await client.send("after")
        for client in plain + takeover + fresh:
            await client.close()


@async_test
async def test_client_connections_mask_each_frame() -> None:
    received: list[str | bytes] = []

    async def collect(ws: ServerConnection) -> None:
        async for message in ws:
            received.append(message)

    async with serve(collect, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clients: list[ClientConnection] = [
            await connect(f"ws://127.0.0.1:{port}/", compression=compression)
            for compression in ("deflate", None, None)
        ]
        assert broadcast(clients, b"from every client") == []
        for client in clients:
            await client.close()
    assert received == [b"from every client"] * 3


@async_test
async def test_slow_connections_are_skipped_and_reported() -> None:
    async with hub(compression=None, write_limit=16384) as (uri, connections):
        fast = await connect(uri, compression=None)
        slow_sock = await _never_reading_client(uri)
        await wait_for(2, connections)
        port = slow_sock.getsockname()[1]
        slow = next(ws for ws in connections if ws.remote_address[1] == port)
        big = b"x" * 65536
        skipped: list[Any] = []
        for _ in range(200):  # until the kernel buffers fill and writing pauses
            skipped = broadcast(connections, big)
            assert await fast.recv() == big
            if skipped:
                break
            await asyncio.sleep(0)
        assert skipped == [slow]
        # The skipped connection's buffer did not grow past one message.
        assert slow.transport.get_write_buffer_size() <= 16384 + len(big) + 14
        assert broadcast(connections, "still") == [slow]
        assert await fast.recv() == "still"
        slow_sock.close()
        await fast.close()


@async_test
async def test_closed_connections_are_skipped() -> None:
    async with hub(compression=None) as (uri, connections):
        clients = [await connect(uri, compression=None) for _ in range(3)]
        await wait_for(3, connections)
        await clients[1].close()
        await connections[1].wait_closed()
        assert broadcast(connections, "to the living") == [connections[1]]
        for client in (clients[0], clients[2]):
            assert await client.recv() == "to the living"
            await client.close()


@async_test
async def test_connections_sending_a_fragmented_message_are_skipped() -> None:
    async with hub(compression=None) as (uri, connections):
        clients = [await connect(uri, compression=None) for _ in range(2)]
        await wait_for(2, connections)
        busy = connections[0]
        gate = asyncio.Event()

        async def fragments() -> AsyncIterator[str]:
            yield "first "
            await gate.wait()
            yield "last"

        sending = asyncio.create_task(busy.send(fragments()))
        while busy._fragment_waiter is None:
            await asyncio.sleep(0)
        assert broadcast(connections, "news") == [busy]
        gate.set()
        await sending
        # Nothing came between the fragments.
        assert await clients[0].recv() == "first last"
        assert await clients[1].recv() == "news"
        for client in clients:
            await client.close()


def test_unsupported_message_type() -> None:
    with pytest.raises(TypeError):
        broadcast([], 42)  # type: ignore[arg-type]


async def _never_reading_client(uri: str) -> socket.socket:
    """Open the handshake by hand, with a tiny receive buffer; never read after."""
    loop = asyncio.get_running_loop()
    host, port = uri.removeprefix("ws://").rstrip("/").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, int(port)))
    await loop.sock_sendall(
        sock,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # byte by byte: not a byte past the head
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock
