"""sansws.asyncio against peers that sansws did not write: websockets and wsproto."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets.asyncio.client
import websockets.asyncio.server
import wsproto
import wsproto.events

from sansws.asyncio import connect, serve
from sansws.exceptions import ConnectionClosedError

pytestmark = pytest.mark.interop

TIMEOUT = 20  # guards hangs only


def async_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), TIMEOUT))

    return wrapper


async def echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


@async_test
async def test_sansws_client_websockets_server() -> None:
    async def handler(ws: Any) -> None:
        await echo(ws)

    async with websockets.asyncio.server.serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00" * 100_000)
            assert await ws.recv() == b"\x00" * 100_000
            await ws.send(["frag", "mented"])
            assert await ws.recv() == "fragmented"
            assert await (await ws.ping()) >= 0
        assert ws.close_code == 1000


@async_test
async def test_sansws_client_sees_websockets_server_error_close() -> None:
    async def handler(ws: Any) -> None:
        await ws.close(4001, "custom")

    async with websockets.asyncio.server.serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            assert (info.value.code, info.value.reason) == (4001, "custom")


@async_test
async def test_websockets_client_sansws_server() -> None:
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with websockets.asyncio.client.connect(
            f"ws://127.0.0.1:{port}/", compression=None
        ) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x01" * 100_000)
            assert await ws.recv() == b"\x01" * 100_000
            await ws.send(["frag", "mented"])
            assert await ws.recv() == "fragmented"
            await (await ws.ping())
        assert ws.close_code == 1000


@async_test
async def test_websockets_client_sees_sansws_shutdown() -> None:
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/", compression=None)
        server.close()
        await server.wait_closed()
        await ws.wait_closed()
        assert ws.close_code == 1001


async def wsproto_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: wsproto.WSConnection
) -> list[wsproto.events.Event]:
    """Read until wsproto yields events; return them."""
    while True:
        events = list(conn.events())
        if events:
            return events
        data = await reader.read(65536)
        conn.receive_data(data or None)


@async_test
async def test_wsproto_client_sansws_server() -> None:
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        writer.write(conn.send(wsproto.events.Request(host="127.0.0.1", target="/")))
        events = await wsproto_exchange(reader, writer, conn)
        assert isinstance(events[0], wsproto.events.AcceptConnection)

        writer.write(conn.send(wsproto.events.TextMessage("héllo")))
        writer.write(conn.send(wsproto.events.BytesMessage(b"ab", message_finished=False)))
        writer.write(conn.send(wsproto.events.BytesMessage(b"cd", message_finished=True)))
        received: list[Any] = []
        while len(received) < 2:
            for event in await wsproto_exchange(reader, writer, conn):
                received.append((type(event).__name__, event.data, event.message_finished))
        assert received == [
            ("TextMessage", "héllo", True),
            ("BytesMessage", b"abcd", True),
        ]

        writer.write(conn.send(wsproto.events.CloseConnection(code=1000, reason="done")))
        events = await wsproto_exchange(reader, writer, conn)
        assert isinstance(events[0], wsproto.events.CloseConnection)
        assert events[0].code == 1000
        # The server closes the TCP connection first (RFC 6455 §7.1.1).
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


@async_test
async def test_sansws_client_wsproto_server() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        try:
            while True:
                for event in await wsproto_exchange(reader, writer, conn):
                    if isinstance(event, wsproto.events.Request):
                        writer.write(conn.send(wsproto.events.AcceptConnection()))
                    elif isinstance(event, wsproto.events.Message):
                        writer.write(conn.send(event))
                    elif isinstance(event, wsproto.events.Ping):
                        writer.write(conn.send(event.response()))
                    elif isinstance(event, wsproto.events.CloseConnection):
                        writer.write(conn.send(event.response()))
                        writer.close()
                        return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\xff" * 70_000)
        assert await ws.recv() == b"\xff" * 70_000
        assert await (await ws.ping()) >= 0
    assert ws.close_code == 1000
    server.close()


@pytest.mark.parametrize("direction", ["sansws-client", "sansws-server"])
@async_test
async def test_permessage_deflate_with_websockets(direction: str) -> None:
    pytest.importorskip("sansws.extensions.permessage_deflate")
    text = "compressible " * 10_000
    if direction == "sansws-client":
        async with websockets.asyncio.server.serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
                await ws.send(text)
                assert await ws.recv() == text
                await ws.send([b"a" * 1000, b"b" * 1000])
                assert await ws.recv() == b"a" * 1000 + b"b" * 1000
    else:
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/") as ws:
                assert ws.response is not None
                assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
                await ws.send(text)
                assert await ws.recv() == text
