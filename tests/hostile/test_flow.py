"""Hostile flow: peers that flood, never read, stall, vanish or reset.

Time appears only as the bound each case states (open_timeout, close_timeout,
keepalive) checked with generous slack, and as hang guards.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

import pytest

from .bounds import KiB, MiB, measured
from .conftest import FLOOD_MESSAGE, ServerUnderTest
from .peer import Peer, client_frame, frame_header, handshake_request

pytestmark = pytest.mark.timeout(60)

StartServer = Callable[..., ServerUnderTest]

OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 2, 8, 9, 10
WRITE_LIMIT = 32 * KiB


def flood_pings(peer: Peer, count: int, stall: float = 1.0) -> int:
    """Send up to ``count`` Pings with 125-byte payloads; return how many went out.

    Stops early when the server stops reading and the kernel buffers are
    full: a send that makes no progress for ``stall`` seconds.
    """
    ping = client_frame(OP_PING, b"p" * 125)
    batch = 500
    block = ping * batch
    peer.sock.settimeout(stall)
    sent = 0
    try:
        while sent < count:
            peer.sock.sendall(block)
            sent += batch
    except TimeoutError:
        pass  # the server stopped reading: the bound under test
    finally:
        peer.sock.settimeout(10)
    return sent


def test_ping_flood_from_a_peer_that_never_reads(
    server: StartServer, request: pytest.FixtureRequest
) -> None:
    srv = server("echo", write_limit=WRITE_LIMIT)
    peer = Peer(srv.port, rcvbuf=4096)
    peer.open()
    srv.wait_for_connections(1)
    try:
        sent = flood_pings(peer, 100_000)
        time.sleep(0.2)  # let the server handle what it read
        buffered = srv.write_buffer_size(0)
        reading = srv.is_reading(0) if srv.kind == "asyncio" else None
    finally:
        peer.reset()
    measured_ = f"{sent} Pings sent, server write buffer {buffered} bytes, reading: {reading}"
    print(measured_)
    # Bound: over write_limit the server answers only the latest Ping
    # (RFC 6455 §5.5.3), so the Pongs it owes are at most those of the read
    # that crossed the limit (256 KiB of Pings), however long the flood.
    assert buffered < WRITE_LIMIT + 512 * KiB, measured_


def test_peer_that_never_reads_makes_send_wait(server: StartServer) -> None:
    srv = server("flood", write_limit=WRITE_LIMIT)
    peer = Peer(srv.port, rcvbuf=4096)
    peer.open()
    srv.wait_for_connections(1)
    # Wait until the handler is blocked in send(): its count stops moving.
    previous = -1
    for _ in range(100):
        time.sleep(0.1)
        count = srv.call(lambda: srv.sent[0])
        if count == previous:
            break
        previous = count
    else:
        raise AssertionError("send() never blocked")
    with measured() as memory:
        time.sleep(1.0)
        buffered = srv.write_buffer_size(0)
    assert srv.call(lambda: srv.sent[0]) == previous  # still waiting
    print(
        f"messages sent before blocking: {previous}, server write buffer: {buffered}, "
        f"Python memory over 1 s: {memory.peak_python}"
    )
    # Bound: send() writes a whole message, then waits above write_limit.
    assert buffered <= WRITE_LIMIT + len(FLOOD_MESSAGE) + 14
    assert memory.peak_python < 256 * KiB
    assert 0 not in srv.ended
    peer.reset()
    srv.wait_ended(0)


def test_slowloris_handshake_is_dropped_at_open_timeout(server: StartServer) -> None:
    srv = server("echo", open_timeout=1.0)
    peer = Peer(srv.port)
    request, _ = handshake_request()
    start = time.monotonic()
    outcome = None
    for byte in request[:10]:  # one byte per second; the request never completes
        try:
            peer.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            outcome = "send failed"
            break
        readable, _, _ = select.select([peer.sock], [], [], 1.0)
        if readable:
            try:
                data = peer.sock.recv(65536)
            except ConnectionResetError:
                outcome = "reset"
                break
            assert data == b"", f"the server answered a partial request: {data!r}"
            outcome = "eof"
            break
    elapsed = time.monotonic() - start
    print(f"slowloris ended by {outcome} after {elapsed:.2f} s")
    assert outcome is not None, "the server kept the connection for 10 s"
    assert 0.9 <= elapsed < 4.0
    assert srv.connections == []  # never reached the handler
    peer.close()


def test_close_timeout_when_the_peer_never_answers_our_close(server: StartServer) -> None:
    srv = server("close", close_timeout=1.0)
    peer = Peer(srv.port)
    peer.open()
    close = peer.read_frame()
    assert (close.opcode, close.close_code) == (OP_CLOSE, 1000)
    start = time.monotonic()
    end = peer.expect_end()  # no Close frame back, no FIN from us
    elapsed = time.monotonic() - start
    print(f"close_timeout=1: TCP ended by {end} after {elapsed:.2f} s")
    assert 0.9 <= elapsed < 4.0
    srv.wait_ended(0)
    assert srv.close_info(0) == (1000, None)
    assert srv.call(lambda: srv.connections[0].close_code) == 1006
    peer.close()


def test_keepalive_detects_a_half_open_connection(server: StartServer) -> None:
    srv = server("idle", ping_interval=0.5, ping_timeout=0.5, close_timeout=1.0)
    peer = Peer(srv.port)
    peer.open()
    srv.wait_for_connections(1)
    start = time.monotonic()
    srv.wait_ended(0)  # the peer neither reads nor sends
    elapsed = time.monotonic() - start
    print(f"half-open connection ended after {elapsed:.2f} s")
    # Bound: ping_interval + ping_timeout, then close_timeout for TCP.
    assert 0.9 <= elapsed < 6.0
    assert srv.close_info(0) == (1011, None)
    close, before = peer.read_until_close()
    assert [frame.opcode for frame in before] == [OP_PING]
    assert close.close_code == 1011
    peer.close()


def test_reset_in_the_middle_of_a_message_spares_other_connections(
    server: StartServer,
) -> None:
    srv = server("echo")
    others = [Peer(srv.port) for _ in range(3)]
    for other in others:
        other.open()
    victim = Peer(srv.port)
    victim.open()
    srv.wait_for_connections(4)
    index = srv.index_of(victim.sock.getsockname()[1])
    victim.send(frame_header(OP_BINARY, 100 * KiB, mask=b"\x00\x00\x00\x00"))
    victim.send(b"v" * (50 * KiB))
    victim.reset()
    srv.wait_ended(index)
    assert srv.call(lambda: srv.connections[index].close_code) == 1006
    for round_ in range(20):
        for number, other in enumerate(others):
            message = f"{number}:{round_}".encode() * 100
            other.send_frame(OP_BINARY, message)
            echo = other.read_frame()
            assert (echo.opcode, echo.payload) == (OP_BINARY, message)
    assert srv.ended == {index}
    for other in others:
        other.close()


def test_many_resets_under_load_spare_other_connections(server: StartServer) -> None:
    srv = server("echo")
    keeper = Peer(srv.port)
    keeper.open()
    for round_ in range(50):
        victim = Peer(srv.port)
        victim.open()
        victim.send(frame_header(OP_BINARY, 1 * MiB, mask=b"\x00\x00\x00\x00") + b"x" * 1000)
        victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
        victim.close()
        keeper.send_frame(OP_BINARY, b"still here %d" % round_)
        assert keeper.read_frame().payload == b"still here %d" % round_
    keeper.close()
