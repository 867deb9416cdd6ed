"""sansws.sync: a client and a server in one process, raw peers, limits."""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import logging
import re
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sansws.exceptions import (
    ConcurrencyError,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidMessage,
    InvalidStatus,
)
from sansws.protocol import CLOSED, OPEN
from sansws.sync import (
    ClientConnection,
    Server,
    ServerConnection,
    connect,
    serve,
    unix_connect,
    unix_serve,
)
from sansws.sync.connection import COALESCE_LIMIT, _coalesce

pytestmark = pytest.mark.timeout(60)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test starts has ended shortly after it."""
    baseline = threading.active_count()
    yield
    deadline = time.monotonic() + 10
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == baseline, threading.enumerate()


def echo(ws: ServerConnection) -> None:
    for message in ws:
        ws.send(message)


@contextlib.contextmanager
def running(handler: Callable[[ServerConnection], None] = echo, **kwargs: Any) -> Iterator[Any]:
    """A server in a thread; yields ``(server, uri)``."""
    kwargs.setdefault("compression", None)
    with serve(handler, "127.0.0.1", 0, **kwargs) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield server, f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        finally:
            server.shutdown()
            thread.join()


def client(uri: str, **kwargs: Any) -> ClientConnection:
    kwargs.setdefault("compression", None)
    return connect(uri, **kwargs)


def wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


# Raw peers: handshakes and frames built by hand.


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "peer closed during the handshake"
        head += chunk
    return head


def masked_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = b"\x01\x02\x03\x04"
    assert len(payload) < 126
    header = bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)])
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "peer closed"
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", exactly(8))
    return first & 0x0F, exactly(length)


def raw_client(port: int) -> socket.socket:
    """Open the handshake by hand."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert read_head(sock).startswith(b"HTTP/1.1 101")
    return sock


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A peer that completes the handshake by hand, then never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    peers: list[socket.socket] = []

    def run() -> None:
        sock, _ = listener.accept()
        peers.append(sock)
        match = re.search(rb"(?i)sec-websocket-key: *(\S+)", read_head(sock))
        assert match is not None
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(match.group(1))
            + b"\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass  # swallow everything: pings, close frames

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        for sock in peers:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread.join()
        for sock in peers:
            sock.close()
        listener.close()


# Messages.


def test_text_and_binary_round_trip() -> None:
    with running() as (_, uri), client(uri) as ws:
        assert isinstance(ws, ClientConnection)
        ws.send("café")
        assert ws.recv() == "café"
        ws.send(b"\x00\xff")
        assert ws.recv() == b"\x00\xff"
        ws.send(bytearray(b"ba"))
        assert ws.recv() == b"ba"
        ws.send(memoryview(b"mv"))
        assert ws.recv() == b"mv"
        ws.send("text")
        assert ws.recv(decode=False) == b"text"
        ws.send(b"bytes")
        assert ws.recv(decode=True) == "bytes"
        ws.send(b"forced", text=True)
        assert ws.recv() == "forced"
        ws.send("forced", text=False)
        assert ws.recv() == b"forced"
        ws.send("x" * 200_000)
        assert ws.recv() == "x" * 200_000


def test_fragmented_send_from_iterables() -> None:
    with running() as (_, uri), client(uri) as ws:
        ws.send(["spam", "ham", "é"])
        assert ws.recv() == "spamhamé"
        chunks: list[bytes | bytearray | memoryview] = [b"1", bytearray(b"2"), memoryview(b"3")]
        ws.send(chunk for chunk in chunks)
        assert ws.recv() == b"123"
        ws.send([])  # sends nothing
        ws.send("after")
        assert ws.recv() == "after"


def test_fragmented_send_mixing_types_fails_the_connection() -> None:
    with running() as (_, uri), client(uri) as ws:
        with pytest.raises(TypeError):
            ws.send(["text", b"bytes"])
        with pytest.raises(ConnectionClosedError):
            ws.recv()
        assert ws.protocol.close_sent is not None
        assert ws.protocol.close_sent.code == 1011


def test_send_refuses_unsupported_types() -> None:
    with running() as (_, uri), client(uri) as ws:
        with pytest.raises(TypeError):
            ws.send(42)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            ws.send({"a": "b"})
        ws.send("still open")
        assert ws.recv() == "still open"


def test_recv_streaming() -> None:
    with running() as (_, uri), client(uri) as ws:
        ws.send(["é", "t", "é"])
        assert list(ws.recv_streaming()) == ["été"]  # the echo sends one frame
        ws.send(b"single")
        assert list(ws.recv_streaming()) == [b"single"]


def test_recv_streaming_yields_frames_as_they_come() -> None:
    def fragments(ws: ServerConnection) -> None:
        ws.send(["a", "b"])
        ws.recv()

    with running(fragments) as (_, uri), client(uri) as ws:
        assert list(ws.recv_streaming()) == ["a", "b", ""]


def test_recv_timeout_loses_nothing() -> None:
    release = threading.Event()

    def slow(ws: ServerConnection) -> None:
        ws.send(iter_until(["first-", "last"], release))

    with running(slow) as (_, uri), client(uri) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.05)
        release.set()
        assert ws.recv(timeout=20) == "first-last"


def iter_until(chunks: list[str], release: threading.Event) -> Iterator[str]:
    yield chunks[0]
    assert release.wait(20)
    yield from chunks[1:]


def test_two_readers_is_a_concurrency_error() -> None:
    with running() as (_, uri), client(uri) as ws:
        errors: list[BaseException] = []

        def read() -> None:
            try:
                ws.recv()
            except BaseException as exc:
                errors.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        wait_for(lambda: ws._reading)
        with pytest.raises(ConcurrencyError):
            ws.recv()
        ws.send("unblock")
        reader.join()
        assert not errors


def test_ping_resolves_to_latency() -> None:
    with running() as (_, uri), client(uri) as ws:
        waiter = ws.ping()
        assert waiter.wait(20)
        latency = waiter.result()
        assert latency >= 0 and ws.latency == latency
        assert ws.ping("custom").result(20) >= 0
        ws.pong(b"unsolicited")


def test_pending_ping_fails_when_connection_closes() -> None:
    with silent_server() as uri:
        ws = client(uri, close_timeout=0.1, ping_interval=None)
        waiter = ws.ping()
        ws.close()
        with pytest.raises(ConnectionClosedError):
            waiter.result(20)


def test_close_code_and_reason_reach_the_peer() -> None:
    seen: list[Any] = []

    def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosedOK):
            ws.recv()
        seen.append((ws.close_code, ws.close_reason))

    with running(handler) as (_, uri):
        ws = client(uri)
        ws.close(1001, "bye")
        assert ws.state is CLOSED
        wait_for(lambda: bool(seen))
    assert seen == [(1001, "bye")]
    with pytest.raises(ConnectionClosedOK):
        ws.send("too late")
    with pytest.raises(ConnectionClosedOK):
        ws.recv()


def test_iteration_ends_on_clean_close_and_raises_on_error() -> None:
    def two_then_close(ws: ServerConnection) -> None:
        ws.send("a")
        ws.send("b")
        ws.close(1000)

    with running(two_then_close) as (_, uri), client(uri) as ws:
        assert list(ws) == ["a", "b"]
        assert ws.close_code == 1000

    def error(ws: ServerConnection) -> None:
        ws.close(1011, "oops")

    with running(error) as (_, uri), client(uri) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            list(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011


def test_messages_queued_before_close_are_delivered() -> None:
    def burst(ws: ServerConnection) -> None:
        for i in range(5):
            ws.send(str(i))

    with running(burst) as (_, uri), client(uri) as ws:
        wait_for(lambda: ws.state is CLOSED)
        assert [ws.recv() for _ in range(5)] == ["0", "1", "2", "3", "4"]
        with pytest.raises(ConnectionClosedOK):
            ws.recv()


def test_handler_exception_closes_with_1011_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash(ws: ServerConnection) -> None:
        if ws.recv() == "crash":
            raise RuntimeError("boom")
        ws.send("alive")

    with running(crash) as (_, uri):
        with caplog.at_level(logging.ERROR, "sansws.server"), client(uri) as ws:
            ws.send("crash")
            with pytest.raises(ConnectionClosedError):
                ws.recv()
            assert ws.close_code == 1011
        assert "connection handler failed" in caplog.text
        with client(uri) as ws:
            ws.send("hello")
            assert ws.recv() == "alive"


def test_shutdown_closes_with_1001() -> None:
    with running() as (server, uri), client(uri) as ws:
        ws.send("before")
        assert ws.recv() == "before"
        server.shutdown()
        with pytest.raises(ConnectionClosedOK):
            ws.recv()
        assert ws.close_code == 1001
        assert not server.connections


def test_handshake_hooks_and_headers() -> None:
    def process_request(ws: ServerConnection, request: Any) -> Any:
        if request.path == "/forbidden":
            return ws.respond(403, "no\n")
        return None

    def process_response(ws: ServerConnection, request: Any, response: Any) -> Any:
        if "X-Hello" in request.headers:
            response.headers["X-Seen"] = request.headers["X-Hello"]
        return None

    def select(ws: ServerConnection, offered: Any) -> str | None:
        assert isinstance(ws, ServerConnection)
        return "chat" if "chat" in offered else None

    def handler(ws: ServerConnection) -> None:
        ws.send(f"{ws.subprotocol} {ws.request.headers['User-Agent']}")

    with running(
        handler,
        process_request=process_request,
        process_response=process_response,
        select_subprotocol=select,
        server_header="test-server",
    ) as (_, uri):
        with client(
            uri,
            additional_headers={"X-Hello": "hi"},
            user_agent_header="test-agent",
            subprotocols=["chat"],
        ) as ws:
            assert ws.subprotocol == "chat"
            assert ws.response.headers["X-Seen"] == "hi"
            assert ws.response.headers["Server"] == "test-server"
            assert ws.recv() == "chat test-agent"
        with pytest.raises(InvalidStatus) as info:
            client(uri + "forbidden")
        assert info.value.response.status_code == 403


def test_process_request_crash_gives_500(caplog: pytest.LogCaptureFixture) -> None:
    def process_request(ws: ServerConnection, request: Any) -> Any:
        raise RuntimeError("boom")

    with running(process_request=process_request) as (_, uri):
        with caplog.at_level(logging.ERROR, "sansws.server"), pytest.raises(InvalidStatus) as info:
            client(uri)
        assert info.value.response.status_code == 500
        assert "opening handshake failed" in caplog.text


def test_connection_properties() -> None:
    with running() as (server, uri), client(uri) as ws:
        assert ws.state is OPEN
        assert ws.local_address[0] == "127.0.0.1"
        assert ws.remote_address == server.socket.getsockname()
        assert ws.id is not None and ws.close_code is None and ws.close_reason is None
        sock = ws.socket
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_message_too_big_fails_with_1009() -> None:
    with running(max_size=1000) as (_, uri), client(uri) as ws:
        # The server may fail the connection while send() is still writing:
        # then send() raises, else recv() does.
        with pytest.raises(ConnectionClosedError):
            ws.send(b"x" * 2000)
            ws.recv()
        assert ws.close_code == 1009


def test_unsupported_compression_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        connect("ws://127.0.0.1:1/", compression="zstd")
    with pytest.raises(ValueError):
        serve(echo, "127.0.0.1", 0, compression="zstd")


def test_compression_round_trip() -> None:
    text = "compressible " * 10_000
    with running(compression="deflate") as (_, uri), client(uri, compression="deflate") as ws:
        assert ws.protocol.extensions
        ws.send(text)
        assert ws.recv() == text


def test_open_timeout_against_a_silent_server() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(TimeoutError):
            connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/", open_timeout=0.2)
    finally:
        listener.close()


def test_server_drops_a_client_that_never_sends_its_request() -> None:
    with running(open_timeout=0.2) as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            assert sock.recv(10) == b""


def test_server_answers_a_request_it_cannot_read_at_once() -> None:
    # The core refuses a header flood by itself (431), with no Request event:
    # the answer goes out at once, not at open_timeout, and the server reads
    # on until the client's end of stream.
    with running(open_timeout=30) as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            start = time.monotonic()
            sock.sendall(b"GET / HTTP/1.1\r\n" + b"X-H: v\r\n" * 10_000)
            assert read_head(sock).startswith(b"HTTP/1.1 431 ")
            assert time.monotonic() - start < 5
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass


def test_client_raises_at_once_on_a_response_it_cannot_read() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    peers: list[socket.socket] = []

    def run() -> None:
        sock, _ = listener.accept()
        peers.append(sock)
        read_head(sock)
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.recv(1)  # the client's end of stream

    thread = threading.Thread(target=run)
    thread.start()
    try:
        start = time.monotonic()
        with pytest.raises(InvalidMessage):
            connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/", open_timeout=30)
        assert time.monotonic() - start < 5
    finally:
        thread.join()
        for sock in peers:
            sock.close()
        listener.close()


def test_unix_socket(tmp_path: Any) -> None:
    path = str(tmp_path / "ws.sock")
    with unix_serve(echo, path, compression=None) as server:
        assert isinstance(server, Server)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        with unix_connect(path, compression=None) as ws:
            ws.send("over unix")
            assert ws.recv() == "over unix"
        server.shutdown()
        thread.join()


def test_closed_connections_are_freed_without_the_cyclic_gc() -> None:
    refs: list[weakref.ref[Any]] = []

    def handler(ws: ServerConnection) -> None:
        refs.extend([weakref.ref(ws), weakref.ref(ws.protocol)])
        if ws.recv() == "raise":
            raise RuntimeError("boom")
        for message in ws:
            ws.send(message)

    def select(ws: ServerConnection, offered: Any) -> str | None:
        return offered[0] if offered else None

    closed: list[tuple[Any, ...]] = []
    gc.disable()
    # A log record of the handler's crash would keep its traceback's frames.
    logging.disable(logging.CRITICAL)
    try:
        with running(handler, select_subprotocol=select, ping_interval=0.05) as (_, uri):
            for first in ["raise", "echo"]:
                ws = client(uri, subprotocols=["chat"], ping_interval=0.05)
                refs.extend([weakref.ref(ws), weakref.ref(ws.protocol)])
                ws.send(first)
                waiter = ws.ping()
                if first == "echo":
                    ws.send(["frag", "ments"])
                    assert ws.recv() == "fragments"
                    ws.close()
                with contextlib.suppress(ConnectionClosedOK, ConnectionClosedError):
                    ws.recv()
                waiter.wait(20)
                closed.append((ws.close_code, ws.remote_address[0]))
                del ws, waiter
        alive = [type(ref()).__name__ for ref in refs if ref() is not None]
    finally:
        logging.disable(logging.NOTSET)
        gc.enable()
    assert len(refs) == 8
    assert alive == []
    assert closed == [(1011, "127.0.0.1"), (1000, "127.0.0.1")]


# Limits: backpressure, keepalive, time-outs, held failures.


def test_backpressure_pauses_reading() -> None:
    release = threading.Event()
    connections: list[ServerConnection] = []

    def lazy(ws: ServerConnection) -> None:
        connections.append(ws)
        assert release.wait(30)
        count = 0
        for message in ws:
            if message == "stop":
                ws.send(str(count))
            else:
                count += 1

    message = b"x" * 16384
    with running(lazy, max_queue=16) as (_, uri), client(uri) as ws:
        sent = 0

        def flood() -> None:
            nonlocal sent
            while not release.is_set():
                ws.send(message)
                sent += 1
            ws.send("stop")

        flooding = threading.Thread(target=flood)
        flooding.start()
        try:
            wait_for(lambda: bool(connections) and connections[0]._assembler.paused)
            server_ws = connections[0]
            # The reader stops at the mark: what it parsed from the last
            # read (at most RECV_SIZE bytes) is the only excess.
            queued = server_ws._assembler.queued
            time.sleep(0.2)
            assert server_ws._assembler.queued == queued
            assert 16 < queued <= 16 + 65536 // len(message) + 1
            # The flood stops too: the client blocks in send().
            before = sent
            time.sleep(0.2)
            assert sent - before <= 64
        finally:
            release.set()
        flooding.join()
        assert ws.recv(timeout=20) == str(sent)
        assert not server_ws._assembler.paused


def test_ping_flood_while_a_send_is_blocked_stays_bounded() -> None:
    # The handler is stuck in send() on a peer that never reads, so the
    # reader cannot write its Pongs; that peer floods Pings. The output owed
    # to it must stay bounded: only the latest Ping is answered meanwhile.
    connections: list[ServerConnection] = []
    sends = [0]

    def flood(ws: ServerConnection) -> None:
        connections.append(ws)
        with contextlib.suppress(ConnectionClosedError):
            while True:
                ws.send(b"\x00" * 65536)
                sends[0] += 1

    def owed(ws: ServerConnection) -> int:
        with ws._mutex:
            chunks = ws._pending + ws.protocol._output
            return sum(len(chunk) for chunk in chunks)

    with running(flood, ping_interval=None) as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(20)
        sock.connect(("127.0.0.1", port))
        try:
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            assert read_head(sock).startswith(b"HTTP/1.1 101")
            # Wait until send() blocks: its count stops moving.
            previous = -1
            while sends[0] != previous:
                previous = sends[0]
                time.sleep(0.5)
            server_ws = connections[0]
            pings = masked_frame(0x9, b"p" * 125) * 1000
            for _ in range(100):  # 100,000 Pings, 13 MB
                sock.sendall(pings)
            time.sleep(0.2)  # let the reader handle what it read
            assert server_ws._write_lock.locked()  # send() is still blocked
            # At most the Pongs of the read that found the writer busy.
            assert owed(server_ws) <= 2 * 65536, owed(server_ws)
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


@pytest.mark.parametrize("side", ["client", "server"])
def test_keepalive_detects_a_dead_peer(side: str) -> None:
    options: dict[str, Any] = {"ping_interval": 0.1, "ping_timeout": 0.1, "close_timeout": 0.2}
    if side == "client":
        with silent_server() as uri:
            ws: Any = client(uri, **options)
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv()
            assert info.value.sent is not None
    else:
        closed: list[ServerConnection] = []

        def handler(ws: ServerConnection) -> None:
            with contextlib.suppress(ConnectionClosedError):
                ws.recv()
            closed.append(ws)

        with running(handler, **options) as (_, uri):
            port = int(uri.rsplit(":", 1)[1].strip("/"))
            sock = raw_client(port)
            wait_for(lambda: bool(closed))
            sock.close()
        ws = closed[0]
    assert ws.state is CLOSED
    sent = ws.protocol.close_sent
    assert sent is not None and (sent.code, sent.reason) == (1011, "keepalive ping timeout")


def test_close_timeout_ends_a_connection_whose_peer_never_answers() -> None:
    with silent_server() as uri:
        ws = client(uri, close_timeout=0.2, ping_interval=None)
        ws.close()
        assert ws.state is CLOSED
        assert ws.close_code == 1006
        with pytest.raises(ConnectionClosedError):
            ws.recv()


def test_held_failure_lets_the_echo_out_before_1002() -> None:
    with running() as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        sock = raw_client(port)
        try:
            # A valid Text message, then a frame with a reserved bit set.
            sock.sendall(masked_frame(0x1, b"hello") + b"\xf1\x80" + b"\x00" * 4)
            assert read_frame(sock) == (0x1, b"hello")
            opcode, payload = read_frame(sock)
            assert opcode == 0x8 and payload[:2] == struct.pack("!H", 1002)
        finally:
            sock.close()


def test_small_chunks_are_joined_into_one_write() -> None:
    big = b"b" * COALESCE_LIMIT
    assert _coalesce([]) == []
    assert _coalesce([b"x"]) == [b"x"]
    # A header and its payload, then a burst of small frames.
    assert _coalesce([b"h", b"p" * 5000, b"s", b"t"]) == [b"h" + b"p" * 5000 + b"st"]
    # A large chunk is written as it is, between the runs around it.
    assert _coalesce([b"h", big, b"s", b"t"]) == [b"h", big, b"st"]
    # A run never goes over the limit.
    half = b"c" * (COALESCE_LIMIT // 2 + 1)
    assert _coalesce([half, half, b"x"]) == [half, half + b"x"]
