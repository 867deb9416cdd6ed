"""sansws.asyncio: a client and a server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sansws.asyncio import (
    ClientConnection,
    Connection,
    ServerConnection,
    connect,
    serve,
    unix_connect,
    unix_serve,
)
from sansws.asyncio.messages import MessageQueue
from sansws.exceptions import (
    ConcurrencyError,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidStatus,
)
from sansws.protocol import CLOSED, OPEN, Protocol, Side

TIMEOUT = 20  # guards hangs only


def async_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), TIMEOUT))

    return wrapper


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@contextlib.asynccontextmanager
async def running(handler: Any = echo, **kwargs: Any) -> AsyncIterator[tuple[Any, str]]:
    kwargs.setdefault("compression", None)
    async with serve(handler, "127.0.0.1", 0, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        yield server, f"ws://127.0.0.1:{port}/"


def client(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("compression", None)
    return connect(uri, **kwargs)


@async_test
async def test_text_and_binary_round_trip() -> None:
    async with running() as (_, uri), client(uri) as ws:
        assert isinstance(ws, ClientConnection)
        await ws.send("café")
        assert await ws.recv() == "café"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"
        await ws.send(bytearray(b"ba"))
        assert await ws.recv() == b"ba"
        await ws.send(memoryview(b"mv"))
        assert await ws.recv() == b"mv"
        await ws.send("text")
        assert await ws.recv(decode=False) == b"text"
        await ws.send(b"bytes")
        assert await ws.recv(decode=True) == "bytes"
        await ws.send(b"forced", text=True)
        assert await ws.recv() == "forced"
        await ws.send("forced", text=False)
        assert await ws.recv() == b"forced"
        await ws.send("")
        assert await ws.recv() == ""


@async_test
async def test_fragmented_send_from_iterables() -> None:
    async def agen() -> AsyncIterator[bytes]:
        for chunk in (b"a", b"b", b"c"):
            await asyncio.sleep(0)
            yield chunk

    async with running() as (_, uri), client(uri) as ws:
        await ws.send(["spam", "ham", "é"])
        assert await ws.recv() == "spamhamé"
        await ws.send(chunk for chunk in [b"1", bytearray(b"2"), memoryview(b"3")])
        assert await ws.recv() == b"123"
        await ws.send(agen())
        assert await ws.recv() == b"abc"
        await ws.send([])  # sends nothing
        await ws.send("after")
        assert await ws.recv() == "after"


@async_test
async def test_fragmented_send_waits_for_other_senders() -> None:
    release = asyncio.Event()

    async def slow() -> AsyncIterator[str]:
        yield "first-"
        await release.wait()
        yield "last"

    async with running() as (_, uri), client(uri) as ws:
        fragmented = asyncio.create_task(ws.send(slow()))
        await asyncio.sleep(0.01)
        other = asyncio.create_task(ws.send("other"))
        await asyncio.sleep(0.01)
        assert not other.done()
        release.set()
        await fragmented
        await other
        assert await ws.recv() == "first-last"
        assert await ws.recv() == "other"


@async_test
async def test_fragmented_send_mixing_types_fails_the_connection() -> None:
    async with running() as (_, uri), client(uri) as ws:
        with pytest.raises(TypeError):
            await ws.send(["text", b"bytes"])
        await ws.wait_closed()
        assert ws.protocol.close_sent is not None
        assert ws.protocol.close_sent.code == 1011
        with pytest.raises(ConnectionClosedError):
            await ws.send("too late")


@async_test
async def test_send_refuses_unsupported_types() -> None:
    async with running() as (_, uri), client(uri) as ws:
        with pytest.raises(TypeError):
            await ws.send({"a": "b"})  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send(42)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send([42])  # type: ignore[list-item]
        assert ws.state is OPEN


@async_test
async def test_recv_streaming() -> None:
    async def stream_back(ws: ServerConnection) -> None:
        fragments = [fragment async for fragment in ws.recv_streaming()]
        await ws.send(repr(fragments))
        fragments = [fragment async for fragment in ws.recv_streaming(decode=False)]
        await ws.send(repr(fragments))

    async with running(stream_back) as (_, uri), client(uri) as ws:
        await ws.send(["é", "x", "yz"])
        # send() ends a fragmented message with an empty final frame.
        assert await ws.recv() == repr(["é", "x", "yz", ""])
        await ws.send("single")
        assert await ws.recv() == repr([b"single"])


@async_test
async def test_two_readers_is_a_concurrency_error() -> None:
    async with running() as (_, uri), client(uri) as ws:
        first = asyncio.create_task(ws.recv())
        await asyncio.sleep(0.01)
        with pytest.raises(ConcurrencyError):
            await ws.recv()
        await ws.send("unblock")
        assert await first == "unblock"


@async_test
async def test_recv_cancellation_loses_nothing() -> None:
    async with running() as (_, uri), client(uri) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.01)
        await ws.send("kept")
        assert await ws.recv() == "kept"


@async_test
async def test_ping_resolves_to_latency() -> None:
    async with running() as (_, uri), client(uri) as ws:
        assert ws.latency == 0
        waiter = await ws.ping()
        latency = await waiter
        assert latency > 0
        assert ws.latency == latency
        waiter = await ws.ping("custom")
        assert await waiter >= 0
        blocked = await ws.ping(b"same")
        with pytest.raises(ConcurrencyError):
            await ws.ping(b"same")
        await blocked
        await ws.pong(b"unsolicited")
        await ws.send("still open")
        assert await ws.recv() == "still open"


@async_test
async def test_pending_ping_fails_when_connection_closes() -> None:
    async def close_fast(ws: ServerConnection) -> None:
        await ws.close()

    async with running(close_fast) as (_, uri):
        ws = await client(uri)
        # The server may close before the ping goes out; either way the
        # waiter must not hang.
        try:
            waiter = await ws.ping()
        except ConnectionClosedOK:
            pass
        else:
            with contextlib.suppress(ConnectionClosedOK):
                await waiter
        await ws.wait_closed()


@async_test
async def test_close_code_and_reason_reach_the_peer() -> None:
    seen: list[Any] = []

    async def record(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosedError as exc:
            seen.append((exc.code, exc.reason, ws.close_code, ws.close_reason))

    async with running(record) as (_, uri):
        ws = await client(uri)
        await ws.close(4000, "bye")
        assert ws.state is CLOSED
        assert ws.close_code == 4000  # echoed by the server
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        assert seen == [(4000, "bye", 4000, "bye")]


@async_test
async def test_iteration_ends_on_clean_close() -> None:
    async def send_three(ws: ServerConnection) -> None:
        for i in range(3):
            await ws.send(str(i))
        # returning closes with 1000

    async with running(send_three) as (_, uri), client(uri) as ws:
        received = [message async for message in ws]
        assert received == ["0", "1", "2"]
        assert ws.close_code == 1000
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        with pytest.raises(ConnectionClosedOK):
            await ws.send("late")
        with pytest.raises(ConnectionClosedOK):
            await ws.ping()


@async_test
async def test_handler_exception_closes_with_1011_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash(ws: ServerConnection) -> None:
        message = await ws.recv()
        if message == "crash":
            raise RuntimeError("boom")
        await ws.send("fine")

    with caplog.at_level(logging.ERROR, logger="sansws.server"):
        async with running(crash) as (_, uri):
            async with client(uri) as ws:
                await ws.send("crash")
                with pytest.raises(ConnectionClosedError) as info:
                    async for _ in ws:
                        pass
                assert info.value.code == 1011
            async with client(uri) as ws:
                await ws.send("hello")
                assert await ws.recv() == "fine"
    assert any("connection handler failed" in r.message for r in caplog.records)
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


@async_test
async def test_graceful_shutdown_closes_with_1001() -> None:
    started = asyncio.Event()

    async def wait_forever(ws: ServerConnection) -> None:
        started.set()
        await ws.wait_closed()

    async with running(wait_forever) as (server, uri):
        ws = await client(uri)
        await started.wait()
        server.close()
        await server.wait_closed()
        assert not server.is_serving()
        with pytest.raises(ConnectionClosedOK) as info:
            await ws.recv()
        assert info.value.code == 1001
        with pytest.raises(OSError):
            await client(uri, open_timeout=2)


@async_test
async def test_shutdown_cancels_a_handler_that_never_returns() -> None:
    cancelled = asyncio.Event()

    async def stubborn(ws: ServerConnection) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with running(stubborn, close_timeout=0.2) as (server, uri):
        ws = await client(uri)
        server.close()
        await server.wait_closed()
        assert cancelled.is_set()
        await ws.wait_closed()
        assert ws.close_code == 1001


@async_test
async def test_serve_forever_returns_when_cancelled() -> None:
    async with running() as (server, uri):
        task = asyncio.create_task(server.serve_forever())
        async with client(uri) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving()


@async_test
async def test_handshake_hooks_and_headers() -> None:
    calls: list[str] = []

    def process_request(ws: ServerConnection, request: Any) -> Any:
        calls.append(request.headers["User-Agent"])
        if request.path == "/forbidden":
            return ws.respond(403, "no\n")
        return None

    async def process_response(ws: ServerConnection, request: Any, response: Any) -> Any:
        response.headers["X-Hook"] = "yes"
        return None

    def select(ws: ServerConnection, offered: Any) -> str | None:
        return "chat" if "chat" in offered else None

    async def subprotocol(ws: ServerConnection) -> None:
        await ws.send(f"{ws.subprotocol} {ws.request.headers['X-Extra']}")

    async with running(
        subprotocol,
        process_request=process_request,
        process_response=process_response,
        subprotocols=["chat", "superchat"],
        select_subprotocol=select,
        server_header="test-server",
    ) as (_, uri):
        async with client(
            uri,
            subprotocols=["superchat", "chat"],
            additional_headers={"X-Extra": "1"},
            user_agent_header="test-agent",
        ) as ws:
            assert await ws.recv() == "chat 1"
            assert ws.subprotocol == "chat"
            assert ws.response.headers["X-Hook"] == "yes"
            assert ws.response.headers["Server"] == "test-server"
            assert ws.request.headers["User-Agent"] == "test-agent"
        with pytest.raises(InvalidStatus) as info:
            await client(uri + "forbidden", user_agent_header="other-agent")
        assert info.value.response.status_code == 403
    assert calls == ["test-agent", "other-agent"]


@async_test
async def test_process_request_crash_gives_500(caplog: pytest.LogCaptureFixture) -> None:
    async def bad_hook(ws: ServerConnection, request: Any) -> None:
        raise RuntimeError("hook")

    async with running(process_request=bad_hook) as (_, uri):
        with pytest.raises(InvalidStatus) as info:
            await client(uri)
        assert info.value.response.status_code == 500


@async_test
async def test_connection_properties() -> None:
    async def report(ws: ServerConnection) -> None:
        await ws.send(f"{ws.remote_address[1]} {ws.id}")
        await ws.recv()

    async with running(report) as (_, uri), client(uri) as ws:
        port, _ = (await ws.recv()).split()  # type: ignore[union-attr]
        assert int(port) == ws.local_address[1]
        assert ws.remote_address[0] == "127.0.0.1"
        assert ws.state is OPEN
        assert ws.close_code is None and ws.close_reason is None
        assert ws.response.status_code == 101
        assert ws.request.path == "/"
        assert ws.subprotocol is None


def test_closed_connections_are_freed_without_the_cyclic_gc() -> None:
    # Connections that end in various ways leave no reference cycle (the
    # queue's callbacks, the select_subprotocol hook, ping waiters, timers),
    # and what users read after close stays readable.
    async def handler(ws: ServerConnection) -> None:
        message = await ws.recv()
        if message == "raise":
            raise RuntimeError("boom")
        if message == "close":
            await ws.close(1001, "bye")
        async for message in ws:
            await ws.send(message)

    def select(ws: ServerConnection, offered: Any) -> str | None:
        return offered[0] if offered else None

    closed: list[tuple[Any, ...]] = []

    async def run() -> None:
        async with running(handler, select_subprotocol=select, ping_interval=0.05) as (_, uri):
            for first in ["raise", "close", "echo"]:
                ws = await client(uri, subprotocols=["chat"], ping_interval=0.05)
                await ws.send(first)
                waiter = await ws.ping()
                if first == "echo":
                    await ws.send(["frag", "ments"])
                    assert await ws.recv() == "fragments"
                    await ws.close()
                with contextlib.suppress(ConnectionClosedOK, ConnectionClosedError):
                    await ws.recv()
                with contextlib.suppress(ConnectionClosedOK, ConnectionClosedError):
                    await waiter
                closed.append((ws.close_code, ws.close_reason, ws.remote_address[0]))
            await asyncio.sleep(0.1)

    gc.collect()
    gc.disable()
    try:
        logging.disable(logging.CRITICAL)
        asyncio.run(asyncio.wait_for(run(), TIMEOUT))
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [
            type(obj).__name__
            for obj in gc.garbage
            if isinstance(obj, (Connection, Protocol, MessageQueue))
        ]
    finally:
        logging.disable(logging.NOTSET)
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
    assert closed == [(1011, "", "127.0.0.1"), (1001, "bye", "127.0.0.1"), (1000, "", "127.0.0.1")]


@async_test
async def test_messages_queued_before_close_are_delivered() -> None:
    async def burst(ws: ServerConnection) -> None:
        for i in range(50):
            await ws.send(f"m{i}")
        await ws.close(1001)

    # Without a bound on the queue, reading goes on while nobody calls recv(),
    # so the Close frame is seen; with one, it would wait behind the messages.
    async with running(burst) as (_, uri), client(uri, max_queue=None) as ws:
        await ws.wait_closed()
        assert [await ws.recv() for _ in range(50)] == [f"m{i}" for i in range(50)]
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()


@async_test
async def test_large_messages_with_a_small_write_limit() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    async with (
        running(max_size=2**21, write_limit=1024) as (_, uri),
        client(uri, max_size=2**21, write_limit=(4096, 1024)) as ws,
    ):
        await ws.send(payload)
        assert await ws.recv() == payload
        await ws.send([payload[:1000], payload[1000:]])
        assert await ws.recv() == payload


@async_test
async def test_message_too_big_fails_with_1009() -> None:
    async with running(max_size=1000) as (_, uri), client(uri) as ws:
        await ws.send(b"x" * 1001)
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.code == 1009


@async_test
async def test_unsupported_compression_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        connect("ws://127.0.0.1:1/", compression="brotli")
    with pytest.raises(ValueError):
        serve(echo, "127.0.0.1", 0, compression="brotli")


@async_test
async def test_open_timeout_against_a_silent_server() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(TimeoutError):
        await client(f"ws://127.0.0.1:{port}/", open_timeout=0.2)
    server.close()


@async_test
async def test_server_drops_a_client_that_never_sends_its_request() -> None:
    async with running(open_timeout=0.2) as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


@async_test
async def test_bad_request_gets_an_http_error() -> None:
    async with running() as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response = await asyncio.wait_for(reader.read(), 5)
        assert response.startswith(b"HTTP/1.1 4")
        writer.close()


@async_test
async def test_unix_socket(tmp_path: Any) -> None:
    path = str(tmp_path / "ws.sock")
    async with unix_serve(echo, path, compression=None), unix_connect(path, compression=None) as ws:
        await ws.send("over unix")
        assert await ws.recv() == "over unix"
        assert ws.local_address == "" or isinstance(ws.local_address, str)


# Write coalescing (Connection._send_message_data).


def record_writes(ws: Connection) -> list[int]:
    """Record the bytes of each write the connection makes to its transport."""
    sizes: list[int] = []
    transport = ws.transport
    writelines = transport.writelines

    def recording(chunks: Any) -> None:
        chunks = list(chunks)
        sizes.append(sum(map(len, chunks)))
        writelines(chunks)

    transport.writelines = recording  # type: ignore[method-assign]
    return sizes


@async_test
async def test_a_lone_message_is_written_at_once() -> None:
    async with running() as (_, uri), client(uri) as ws:
        writes = record_writes(ws)
        for _ in range(3):
            await asyncio.sleep(0.001)  # more than BURST_GAP since the last write
            await ws.send(b"x" * 10)
            # Written inside send(), before any other task or callback ran.
            assert writes[-1] == 2 + 4 + 10
            assert await ws.recv() == b"x" * 10
        assert writes == [16, 16, 16]


@async_test
async def test_a_burst_is_written_in_few_system_calls_and_in_order() -> None:
    async with running() as (_, uri), client(uri) as ws:
        writes = record_writes(ws)
        await asyncio.sleep(0.001)
        for i in range(500):  # one task step: no await yields here
            await ws.send(f"{i:03d}" * 4)
        # The first went out at once; the others follow it within BURST_GAP
        # (unless the machine stalls a send for longer) and are held...
        assert writes[0] == 2 + 4 + 12
        held = 500 * 18 - sum(writes)
        assert held > 0
        await asyncio.sleep(0)
        # ...and written together at the end of the loop iteration.
        assert writes[-1] == held
        assert sum(writes) == 500 * 18
        assert len(writes) < 10
        assert [await ws.recv() for _ in range(500)] == [f"{i:03d}" * 4 for i in range(500)]


@async_test
async def test_held_bytes_are_bounded_by_hold_limit() -> None:
    from sansws.asyncio.connection import HOLD_LIMIT

    async with running() as (_, uri), client(uri) as ws:
        writes = record_writes(ws)
        await asyncio.sleep(0.001)
        for _ in range(64):
            await ws.send(b"y" * 1000)
        await asyncio.sleep(0)
        frame = 2 + 2 + 4 + 1000  # 16-bit length, mask
        assert sum(writes) == 64 * frame
        assert writes[0] == frame
        # Held bytes are written as soon as they reach HOLD_LIMIT: 17 frames.
        per_write = -(-HOLD_LIMIT // frame)
        assert max(writes) == per_write * frame
        assert len(writes) < 10
        assert [len(await ws.recv()) for _ in range(64)] == [1000] * 64


@async_test
async def test_held_messages_go_out_before_a_ping_and_the_close() -> None:
    received: list[object] = []

    async def burst_then_close(ws: ServerConnection) -> None:
        await ws.recv()
        for i in range(20):
            await ws.send(str(i))
        await ws.ping(b"after the burst")
        await ws.close(1000, "done")

    async with running(burst_then_close) as (_, uri), client(uri) as ws:
        await ws.send("go")
        async for message in ws:
            received.append(message)
        assert ws.close_code == 1000
        assert ws.close_reason == "done"
    assert received == [str(i) for i in range(20)]


@async_test
async def test_held_messages_go_out_before_bytes_written_to_the_transport() -> None:
    raw = Protocol(Side.CLIENT)
    raw.send_text(b"raw")
    (frame,) = raw.data_to_send()
    async with running() as (_, uri), client(uri) as ws:
        await asyncio.sleep(0.001)
        for message in "abc":
            await ws.send(message)
        ws.transport.write(frame)  # getting .transport writes the held b, c first
        assert [await ws.recv() for _ in range(4)] == ["a", "b", "c", "raw"]
