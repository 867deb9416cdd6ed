"""sansws.asyncio: backpressure, keepalive, time-outs and memory per connection."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import re
import resource
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sansws.asyncio import ServerConnection, connect, serve
from sansws.exceptions import ConnectionClosedError
from sansws.protocol import CLOSED

TIMEOUT = 20  # guards hangs only
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def async_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), TIMEOUT))

    return wrapper


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


@contextlib.asynccontextmanager
async def silent_server(answer_close: bool = False) -> AsyncIterator[str]:
    """A peer that completes the handshake by hand, then never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        match = re.search(rb"(?i)sec-websocket-key: *(\S+)", head)
        assert match is not None
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(match.group(1))
            + b"\r\n\r\n"
        )
        while await reader.read(65536):
            pass  # swallow everything: pings, close frames

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        for writer in writers:
            writer.close()
        server.close()


async def silent_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the handshake by hand; the caller then stays silent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


@async_test
async def test_backpressure_pauses_reading() -> None:
    release = asyncio.Event()
    connections: list[ServerConnection] = []

    async def lazy(ws: ServerConnection) -> None:
        connections.append(ws)
        await release.wait()
        count = 0
        async for message in ws:
            if message == "stop":
                await ws.send(str(count))
            else:
                count += 1

    message = b"x" * 16384
    async with serve(lazy, "127.0.0.1", 0, compression=None, max_queue=16) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            sent = 0

            async def flood() -> None:
                nonlocal sent
                while not release.is_set():
                    await ws.send(message)
                    sent += 1
                await ws.send("stop")

            flooding = asyncio.create_task(flood())
            try:
                # Wait until the server stops reading, the kernel buffers
                # fill up and the client's transport asks it to stop writing.
                while (
                    not connections or connections[0].transport.is_reading() or not ws._write_paused
                ):
                    await asyncio.sleep(0.01)
                server_ws = connections[0]
                await asyncio.sleep(0.05)
                assert not server_ws.transport.is_reading()
                # Bounded: max_queue frames, plus those parsed from the read
                # that crossed the mark (asyncio reads up to 256 KiB at once).
                queued = server_ws._messages.queued
                assert 16 < queued <= 16 + 256 * 1024 // len(message) + 1
                # The client waits in send() instead of buffering without limit.
                assert ws.transport.get_write_buffer_size() <= 2**15 + 2 * len(message)
            finally:
                release.set()
            await flooding
            assert await ws.recv() == str(sent)
            assert server_ws.transport.is_reading()
            assert server_ws._messages.queued == 0


@pytest.mark.parametrize("side", ["client", "server"])
@async_test
async def test_keepalive_detects_a_dead_peer(side: str) -> None:
    options = {"ping_interval": 0.1, "ping_timeout": 0.1, "close_timeout": 0.2}
    if side == "client":
        async with silent_server() as uri:
            ws = await connect(uri, compression=None, **options)
            start = asyncio.get_running_loop().time()
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            elapsed = asyncio.get_running_loop().time() - start
    else:
        closed: list[Any] = []

        async def handler(ws: ServerConnection) -> None:
            with contextlib.suppress(ConnectionClosedError):
                await ws.recv()
            closed.append(ws)

        async with serve(handler, "127.0.0.1", 0, compression=None, **options) as server:
            port = server.sockets[0].getsockname()[1]
            start = asyncio.get_running_loop().time()
            _reader, writer = await silent_client(port)
            while not closed:
                await asyncio.sleep(0.01)
            elapsed = asyncio.get_running_loop().time() - start
            ws = closed[0]
            writer.close()
        info = None
    assert ws.state is CLOSED
    sent = ws.protocol.close_sent
    assert sent is not None and (sent.code, sent.reason) == (1011, "keepalive ping timeout")
    # ping_interval + ping_timeout + close_timeout, with room for a slow host.
    assert elapsed < 0.4 + 5
    if info is not None:
        assert info.value.sent == sent


@async_test
async def test_close_timeout_ends_a_connection_whose_peer_never_answers() -> None:
    async with silent_server() as uri:
        ws = await connect(uri, compression=None, close_timeout=0.2, ping_interval=None)
        await asyncio.wait_for(ws.close(), 5)
        assert ws.state is CLOSED
        assert ws.close_code == 1006
        with pytest.raises(ConnectionClosedError):
            await ws.recv()


# Measured at about 11 KiB per connection on CPython 3.11 (x86-64, Linux);
# the bound leaves room for other versions.
MEMORY_BOUND_PER_CONNECTION = 30 * 1024
CONNECTIONS = 1000

CLIENTS_SCRIPT = textwrap.dedent(
    """
    import resource, socket, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    port, count = int(sys.argv[1]), int(sys.argv[2])
    request = (
        b"GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\n"
        b"Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n"
        b"Sec-WebSocket-Version: 13\\r\\n\\r\\n"
    )
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request)
        sockets.append(sock)
    for sock in sockets:
        head = b""
        while b"\\r\\n\\r\\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
    print("ready", flush=True)
    sys.stdin.readline()
    """
)


@async_test
async def test_memory_per_idle_connection() -> None:
    if sys.flags.dev_mode or asyncio.get_running_loop().get_debug():
        pytest.skip("asyncio debug mode keeps a traceback per callback")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < CONNECTIONS + 200:
        pytest.skip("RLIMIT_NOFILE too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    handlers: list[ServerConnection] = []

    async def idle(ws: ServerConnection) -> None:
        handlers.append(ws)
        async for _ in ws:
            pass

    async with serve(idle, "127.0.0.1", 0, compression=None, backlog=CONNECTIONS) as server:
        port = server.sockets[0].getsockname()[1]
        # Warm up caches (imports, h11, logging) before the baseline.
        warm = await connect(f"ws://127.0.0.1:{port}/", compression=None)
        await warm.close()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            clients = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CLIENTS_SCRIPT,
                str(port),
                str(CONNECTIONS),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert clients.stdout is not None and clients.stdin is not None
            assert await clients.stdout.readline() == b"ready\n"
            while len(handlers) < CONNECTIONS + 1:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
        per_connection = growth / CONNECTIONS
        print(f"memory per idle connection: {per_connection / 1024:.1f} KiB")
        assert len(server.connections) == CONNECTIONS
        assert per_connection < MEMORY_BOUND_PER_CONNECTION
        clients.stdin.close()
        await clients.wait()
