"""sansws.sync against websockets and wsproto, and over TLS with trustme."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
import websockets.sync.client
import websockets.sync.server
import wsproto
import wsproto.events

from sansws.exceptions import ConnectionClosedError, ConnectionClosedOK
from sansws.sync import ServerConnection, connect
from test_sync_connection import echo, no_leaked_threads, running

pytestmark = pytest.mark.timeout(60)

__all__ = ["no_leaked_threads"]  # the autouse fixture, imported to apply here too


def websockets_echo(ws: Any) -> None:
    for message in ws:
        ws.send(message)


@pytest.fixture
def websockets_server() -> Iterator[str]:
    with websockets.sync.server.serve(websockets_echo, "127.0.0.1", 0, compression=None) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        finally:
            server.shutdown()
            thread.join()


def test_sansws_client_websockets_server(websockets_server: str) -> None:
    with connect(websockets_server, compression=None) as ws:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send([b"ab", b"cd"])
        assert ws.recv() == b"abcd"
        ws.send(b"\xff" * 100_000)
        assert ws.recv() == b"\xff" * 100_000
        assert ws.ping().result(20) >= 0
    assert ws.close_code == 1000


def test_websockets_client_sansws_server() -> None:
    with (
        running() as (_, uri),
        websockets.sync.client.connect(uri, compression=None) as ws,
    ):
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send(b"\x00" * 70_000)
        assert ws.recv() == b"\x00" * 70_000
        assert ws.ping().wait(20)


def test_websockets_client_sees_sansws_shutdown() -> None:
    with running() as (server, uri), websockets.sync.client.connect(uri) as ws:
        ws.send("x")
        assert ws.recv() == "x"
        server.shutdown()
        with pytest.raises(websockets.exceptions.ConnectionClosedOK):
            ws.recv()
        assert ws.protocol.close_code == 1001


@pytest.mark.parametrize("direction", ["sansws-client", "sansws-server"])
def test_permessage_deflate_with_websockets(direction: str) -> None:
    text = "compressible " * 10_000
    if direction == "sansws-client":
        with (
            websockets.sync.server.serve(websockets_echo, "127.0.0.1", 0) as server,
        ):
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
            try:
                port = server.socket.getsockname()[1]
                with connect(f"ws://127.0.0.1:{port}/") as ws:
                    assert ws.protocol.extensions
                    ws.send(text)
                    assert ws.recv() == text
            finally:
                server.shutdown()
                thread.join()
    else:
        with (
            running(compression="deflate") as (_, uri),
            websockets.sync.client.connect(uri) as client,
        ):
            assert client.protocol.extensions
            client.send(text)
            assert client.recv() == text


def wsproto_events(sock: socket.socket, conn: wsproto.WSConnection) -> list[Any]:
    """Read until wsproto yields events; return them."""
    while True:
        events = list(conn.events())
        if events:
            return events
        conn.receive_data(sock.recv(65536) or None)


def test_wsproto_client_sansws_server() -> None:
    with running() as (_, uri):
        port = int(uri.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            sock.sendall(conn.send(wsproto.events.Request(host="127.0.0.1", target="/")))
            assert isinstance(wsproto_events(sock, conn)[0], wsproto.events.AcceptConnection)
            sock.sendall(conn.send(wsproto.events.TextMessage("héllo")))
            sock.sendall(conn.send(wsproto.events.BytesMessage(b"ab", message_finished=False)))
            sock.sendall(conn.send(wsproto.events.BytesMessage(b"cd", message_finished=True)))
            received: list[Any] = []
            while len(received) < 2:
                for event in wsproto_events(sock, conn):
                    received.append((type(event).__name__, event.data, event.message_finished))
            assert received == [("TextMessage", "héllo", True), ("BytesMessage", b"abcd", True)]
            sock.sendall(conn.send(wsproto.events.CloseConnection(code=1000, reason="done")))
            event = wsproto_events(sock, conn)[0]
            assert isinstance(event, wsproto.events.CloseConnection) and event.code == 1000
            # The server closes the TCP connection first (RFC 6455 §7.1.1).
            assert sock.recv(10) == b""


def test_sansws_client_wsproto_server() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one() -> None:
        sock, _ = listener.accept()
        conn = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        with sock:
            while True:
                for event in wsproto_events(sock, conn):
                    if isinstance(event, wsproto.events.Request):
                        sock.sendall(conn.send(wsproto.events.AcceptConnection()))
                    elif isinstance(event, wsproto.events.Message):
                        sock.sendall(conn.send(event))
                    elif isinstance(event, wsproto.events.Ping):
                        sock.sendall(conn.send(event.response()))
                    elif isinstance(event, wsproto.events.CloseConnection):
                        sock.sendall(conn.send(event.response()))
                        return

    thread = threading.Thread(target=serve_one)
    thread.start()
    try:
        with connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/", compression=None) as ws:
            ws.send("héllo")
            assert ws.recv() == "héllo"
            ws.send(b"\xff" * 70_000)
            assert ws.recv() == b"\xff" * 70_000
            assert ws.ping().result(20) >= 0
        assert ws.close_code == 1000
    finally:
        thread.join()
        listener.close()


# TLS.


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_wss_round_trip_and_close(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    closed: list[Any] = []

    def handler(ws: ServerConnection) -> None:
        try:
            echo(ws)
        finally:
            closed.append(ws.close_code)

    with running(handler, ssl=server_context) as (_, uri):
        wss = uri.replace("ws://127.0.0.1", "wss://localhost")
        with connect(wss, ssl=client_context, server_hostname="localhost") as ws:
            assert isinstance(ws.socket, ssl.SSLSocket)
            ws.send("secret")
            assert ws.recv() == "secret"
            ws.send(b"\x01" * 200_000)
            assert ws.recv() == b"\x01" * 200_000
        assert ws.close_code == 1000
    assert closed == [1000]


def test_client_refuses_an_untrusted_certificate(server_context: ssl.SSLContext) -> None:
    with running(ssl=server_context) as (_, uri), pytest.raises(ssl.SSLCertVerificationError):
        connect(uri.replace("ws://", "wss://"), server_hostname="localhost")


def test_ssl_with_ws_uri_is_an_error(client_context: ssl.SSLContext) -> None:
    with pytest.raises(ValueError):
        connect("ws://127.0.0.1:1/", ssl=client_context)


def test_closed_exceptions_are_ok_and_error() -> None:
    def close_with(ws: ServerConnection) -> None:
        ws.close(int(ws.recv()))

    with running(close_with) as (_, uri):
        with connect(uri, compression=None) as ws:
            ws.send("1000")
            with pytest.raises(ConnectionClosedOK):
                ws.recv()
        with connect(uri, compression=None) as ws:
            ws.send("1011")
            with pytest.raises(ConnectionClosedError):
                ws.recv()
