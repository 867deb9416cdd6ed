"""The peers of the interop tests, and adapters that give each the battery's shape.

Servers are async context managers that yield a :class:`PeerServer`: the
port they listen on (127.0.0.1 only) and a queue of :class:`ServerView`, one
per connection, put when that connection has closed. Python clients are
async context managers that yield an :class:`~interop_battery.Endpoint`.
The JavaScript peers (node ``ws`` client, Chromium) run ``battery.js`` and
hand back its JSON results, which :func:`report_from_js` reads.

"Ours" is whatever :func:`ours` returns: ``sansws.asyncio`` by default, or
``websockets.asyncio`` when ``SANSWS_INTEROP_OURS=websockets``, a stand-in
that tells a harness fault from a sansws fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import importlib
import importlib.metadata
import json
import os
import shutil
import signal
import tempfile
import threading
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from interop_battery import CLOSE_CODE, CLOSE_REASON, MAX_SIZE, Message, Report
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

HERE = Path(__file__).resolve().parent
LOCALHOST = "127.0.0.1"
VIEW_GUARD = 30.0  # hang guard while waiting for a server's record of a closed connection

# "Ours": sansws, or the stand-in.


@dataclass(frozen=True)
class Implementation:
    """An asyncio WebSocket library with the ``websockets.asyncio`` API."""

    name: str
    connect: Callable[..., Any]
    serve: Callable[..., Any]


def ours() -> Implementation:
    """The implementation under test, chosen by ``SANSWS_INTEROP_OURS``."""
    choice = os.environ.get("SANSWS_INTEROP_OURS", "sansws")
    if choice == "sansws":
        sansws_asyncio = importlib.import_module("sansws.asyncio")
        return Implementation("sansws", sansws_asyncio.connect, sansws_asyncio.serve)
    if choice == "websockets":
        from websockets.asyncio.client import connect
        from websockets.asyncio.server import serve

        return Implementation("websockets (stand-in for sansws)", connect, serve)
    raise ValueError(f"SANSWS_INTEROP_OURS must be sansws or websockets, not {choice!r}")


def version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


# What a server saw of one connection.


@dataclass(frozen=True)
class ServerView:
    """One connection as the server saw it, recorded once it had closed."""

    offered: str | None  # Sec-WebSocket-Extensions of the request
    accepted: str | None  # Sec-WebSocket-Extensions of the response
    close_code: int | None  # the code of the Close frame the server received
    close_reason: str | None


@dataclass(frozen=True)
class PeerServer:
    port: int
    views: asyncio.Queue[ServerView]

    @property
    def url(self) -> str:
        return f"ws://{LOCALHOST}:{self.port}/"

    async def next_view(self) -> ServerView:
        return await asyncio.wait_for(self.views.get(), VIEW_GUARD)


def add_server_view_cases(report: Report, view: ServerView, server: str) -> None:
    """Append the server's side of the deflate and close cases to ``report``."""
    offered = view.offered or ""
    accepted = view.accepted or ""
    report.add(
        f"{server} saw permessage-deflate offered and accepted",
        "permessage-deflate" in offered and "permessage-deflate" in accepted,
        f"offered {view.offered!r}, accepted {view.accepted!r}",
    )
    seen = (view.close_code, view.close_reason)
    report.add(
        f"{server} saw close {CLOSE_CODE} with reason",
        seen == (CLOSE_CODE, CLOSE_REASON),
        f"{server} received close {seen!r}",
    )


# Servers and clients with the websockets.asyncio API: ours, and websockets itself.


def echo_handler(views: asyncio.Queue[ServerView]) -> Callable[[Any], Any]:
    """A connection handler that echoes every message, then records a ServerView."""

    async def handler(connection: Any) -> None:
        try:
            async for message in connection:
                await connection.send(message)
        finally:
            await connection.wait_closed()
            views.put_nowait(
                ServerView(
                    offered=connection.request.headers.get("Sec-WebSocket-Extensions"),
                    accepted=connection.response.headers.get("Sec-WebSocket-Extensions"),
                    close_code=connection.close_code,
                    close_reason=connection.close_reason,
                )
            )

    return handler


@contextlib.asynccontextmanager
async def websockets_style_server(serve: Callable[..., Any]) -> AsyncIterator[PeerServer]:
    """An echo server on ``serve`` (``sansws.asyncio.serve`` or websockets')."""
    views: asyncio.Queue[ServerView] = asyncio.Queue()
    async with serve(
        echo_handler(views), LOCALHOST, 0, compression="deflate", max_size=MAX_SIZE
    ) as server:
        yield PeerServer(server.sockets[0].getsockname()[1], views)


def websockets_server() -> contextlib.AbstractAsyncContextManager[PeerServer]:
    from websockets.asyncio.server import serve

    return websockets_style_server(serve)


class WebsocketsStyleEndpoint:
    """The battery's Endpoint over a connection with the websockets.asyncio API.

    ``ping`` returns the payload it sent once the waiter resolves: in that API
    the waiter of ``ping(payload)`` resolves only when a Pong carrying that
    payload arrives (or a Pong for a later Ping; the battery sends one Ping).
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @property
    def extensions(self) -> str | None:
        header: str | None = self.connection.response.headers.get("Sec-WebSocket-Extensions")
        return header

    @property
    def close_code(self) -> int | None:
        code: int | None = self.connection.close_code
        return code

    @property
    def close_reason(self) -> str | None:
        reason: str | None = self.connection.close_reason
        return reason

    async def send(self, message: Message | Iterable[Message]) -> None:
        await self.connection.send(message)

    async def recv(self) -> Message:
        message: Message = await self.connection.recv()
        return message

    async def ping(self, payload: bytes) -> bytes:
        waiter = await self.connection.ping(payload)
        await waiter
        return payload

    async def close(self, code: int, reason: str) -> None:
        await self.connection.close(code, reason)


@contextlib.asynccontextmanager
async def websockets_style_client(
    connect: Callable[..., Any], url: str
) -> AsyncIterator[WebsocketsStyleEndpoint]:
    async with connect(url, compression="deflate", max_size=MAX_SIZE) as connection:
        yield WebsocketsStyleEndpoint(connection)


def websockets_client(url: str) -> contextlib.AbstractAsyncContextManager[WebsocketsStyleEndpoint]:
    from websockets.asyncio.client import connect

    return websockets_style_client(connect, url)


# wsproto over asyncio streams, both sides.


class ConnectionEnded(Exception):
    """The wsproto connection has closed; no message will come."""


def _header_value(raw_head: bytes, name: bytes) -> str | None:
    """The value of a header in a serialized HTTP head; the values of repeats joined."""
    values = []
    for line in raw_head.split(b"\r\n")[1:]:
        field, _, value = line.partition(b":")
        if field.strip().lower() == name.lower():
            values.append(value.strip().decode("latin-1"))
    return ", ".join(values) if values else None


class WsprotoEndpoint:
    """A WebSocket connection on wsproto and asyncio streams; the battery's Endpoint.

    One task reads: it feeds wsproto, answers Pings, assembles messages from
    their frames and answers a Close. Writes happen in the caller's task,
    right after wsproto produced the bytes, so their order is wsproto's.
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, side: ConnectionType
    ) -> None:
        self.ws = WSConnection(side)
        self.side = side
        self.error: BaseException | None = None
        self._head = b""  # what arrived before the handshake completed
        self.reader = reader
        self.writer = writer
        self.extensions: str | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[Request | AcceptConnection] = loop.create_future()
        self.ended: asyncio.Future[None] = loop.create_future()
        self._messages: asyncio.Queue[Message | None] = asyncio.Queue()
        self._pongs: asyncio.Queue[bytes] = asyncio.Queue()
        self._parts: list[Any] = []
        self._task = asyncio.create_task(self._read())

    async def _write(self, event: Event) -> None:
        self.writer.write(self.ws.send(event))
        await self.writer.drain()

    async def _read(self) -> None:
        try:
            while self.ws.state is not ConnectionState.CLOSED:
                data = await self.reader.read(2**16)
                if not self.handshake.done():
                    self._head += data
                self.ws.receive_data(data or None)
                for event in self.ws.events():
                    await self._handle(event)
                if not data:
                    break
        except (ConnectionError, OSError):
            pass
        except Exception as exc:  # a harness fault or a wsproto error: shown by recv()
            self.error = exc
        finally:
            self._messages.put_nowait(None)
            if not self.handshake.done():
                self.handshake.set_exception(ConnectionEnded("closed during the handshake"))
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
            self.ended.set_result(None)

    async def _handle(self, event: Event) -> None:
        if isinstance(event, Request | AcceptConnection):
            if isinstance(event, AcceptConnection):
                # wsproto keeps this header to itself: read it from the raw response.
                head = self._head.split(b"\r\n\r\n")[0]
                self.extensions = _header_value(head, b"Sec-WebSocket-Extensions")
            self.handshake.set_result(event)
        elif isinstance(event, RejectConnection):
            self.handshake.set_exception(ConnectionEnded(f"rejected: {event.status_code}"))
        elif isinstance(event, TextMessage | BytesMessage):
            self._parts.append(event.data)
            if event.message_finished:
                empty: Message = "" if isinstance(event, TextMessage) else b""
                self._messages.put_nowait(empty.join(self._parts))
                self._parts = []
        elif isinstance(event, Ping):
            if self.ws.state is ConnectionState.OPEN:
                await self._write(event.response())
        elif isinstance(event, Pong):
            self._pongs.put_nowait(bytes(event.payload))
        elif isinstance(event, CloseConnection):
            if self.close_code is None:
                self.close_code, self.close_reason = event.code, event.reason
            if self.ws.state is ConnectionState.REMOTE_CLOSING:
                await self._write(event.response())
            if self.side is ConnectionType.SERVER:
                self.writer.close()  # RFC 6455 §7.1.1: the server closes TCP first

    async def accept(self) -> None:
        """Server side: accept the handshake, with permessage-deflate if offered."""
        data = self.ws.send(AcceptConnection(extensions=[PerMessageDeflate()]))
        self.extensions = _header_value(data.split(b"\r\n\r\n")[0], b"Sec-WebSocket-Extensions")
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, message: Message | Iterable[Message]) -> None:
        fragments = [message] if isinstance(message, str | bytes) else list(message)
        for index, fragment in enumerate(fragments):
            last = index == len(fragments) - 1
            if isinstance(fragment, str):
                await self._write(TextMessage(data=fragment, message_finished=last))
            else:
                await self._write(BytesMessage(data=fragment, message_finished=last))

    async def recv(self) -> Message:
        message = await self._messages.get()
        if message is None:
            self._messages.put_nowait(None)
            why = (
                f"after {self.error!r}"
                if self.error
                else f"{self.close_code} {self.close_reason!r}"
            )
            raise ConnectionEnded(f"connection closed: {why}")
        return message

    async def ping(self, payload: bytes) -> bytes:
        await self._write(Ping(payload=payload))
        return await self._pongs.get()

    async def close(self, code: int, reason: str) -> None:
        if self.ws.state is ConnectionState.OPEN:
            await self._write(CloseConnection(code=code, reason=reason))
        await self.ended


@contextlib.asynccontextmanager
async def wsproto_server() -> AsyncIterator[PeerServer]:
    """A wsproto echo server that accepts permessage-deflate."""
    views: asyncio.Queue[ServerView] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoint = WsprotoEndpoint(reader, writer, ConnectionType.SERVER)
        request = await endpoint.handshake
        assert isinstance(request, Request)
        await endpoint.accept()
        with contextlib.suppress(ConnectionEnded, ConnectionError):
            while True:
                await endpoint.send(await endpoint.recv())
        await endpoint.ended
        offered = [str(extension) for extension in request.extensions]
        views.put_nowait(
            ServerView(
                offered=", ".join(offered) or None,
                accepted=endpoint.extensions,
                close_code=endpoint.close_code,
                close_reason=endpoint.close_reason,
            )
        )

    server = await asyncio.start_server(handle, LOCALHOST, 0)
    async with server:
        yield PeerServer(server.sockets[0].getsockname()[1], views)


@contextlib.asynccontextmanager
async def wsproto_client(url: str) -> AsyncIterator[WsprotoEndpoint]:
    """A wsproto client connection that offers permessage-deflate."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    endpoint = WsprotoEndpoint(reader, writer, ConnectionType.CLIENT)
    request = Request(
        host=f"{parts.hostname}:{parts.port}",
        target=parts.path or "/",
        extensions=[PerMessageDeflate()],
    )
    writer.write(endpoint.ws.send(request))
    await writer.drain()
    try:
        await endpoint.handshake
        yield endpoint
    finally:
        writer.close()
        await endpoint.ended


# node ws, both sides.


def require_node_ws() -> str:
    """The path of ``node``, after checking that ``ws`` is installed; else fail."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the node ws interop tests need node (20 or later)")
    if not (HERE / "node_modules" / "ws" / "package.json").exists():
        pytest.fail(f"the npm package ws is not installed: run `npm ci` in {HERE}")
    return node


def ws_version() -> str:
    package = json.loads((HERE / "node_modules" / "ws" / "package.json").read_text())
    return str(package["version"])


@contextlib.asynccontextmanager
async def node_ws_server() -> AsyncIterator[PeerServer]:
    """``ws_server.js``: a node ws echo server with perMessageDeflate."""
    node = require_node_ws()
    views: asyncio.Queue[ServerView] = asyncio.Queue()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            node, str(HERE / "ws_server.js"), stdout=asyncio.subprocess.PIPE, stderr=stderr
        )

        async def read_stdout() -> None:
            assert process.stdout is not None
            async for line in process.stdout:
                record = json.loads(line)
                if record["event"] == "listening":
                    listening.set_result(record["port"])
                elif record["event"] == "closed":
                    del record["event"]
                    views.put_nowait(ServerView(**record))
            if not listening.done():
                stderr.seek(0)
                error = stderr.read().decode(errors="replace")
                listening.set_exception(RuntimeError(f"ws_server.js exited:\n{error}"))

        reader = asyncio.create_task(read_stdout())
        try:
            port = await asyncio.wait_for(listening, VIEW_GUARD)
            yield PeerServer(port, views)
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()
            await reader


async def node_ws_client(url: str) -> dict[str, Any]:
    """Run ``ws_client.js`` (battery.js on a node ws client) against ``url``."""
    node = require_node_ws()
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "ws_client.js"),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        pytest.fail(f"ws_client.js exited with {process.returncode}:\n{stderr.decode()}")
    results: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return results


# Chromium, headless.

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
]
CHROMIUM_GUARD = 100.0  # hang guard: results must arrive before this, or the test fails

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>sansws interop</title>
<script src="/battery.js"></script>
<script>
(async () => {
  let results;
  try {
    const url = new URLSearchParams(location.search).get("ws");
    results = await runBattery(new WebSocket(url), {agent: navigator.userAgent});
  } catch (error) {
    results = {error: String((error && error.stack) || error)};
  }
  await fetch("/results", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(results),
  });
})();
</script>
"""


class _PageServer(http.server.ThreadingHTTPServer):
    """Serves the page and battery.js; hands the POSTed results to the event loop."""

    daemon_threads = True

    def __init__(self, deliver: Callable[[dict[str, Any]], None]) -> None:
        super().__init__((LOCALHOST, 0), _PageHandler)
        self.deliver = deliver


class _PageHandler(http.server.BaseHTTPRequestHandler):
    server: _PageServer

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            self._reply(200, "text/html; charset=utf-8", PAGE.encode())
        elif path == "/battery.js":
            body = (HERE / "battery.js").read_bytes()
            self._reply(200, "text/javascript; charset=utf-8", body)
        else:
            self._reply(404, "text/plain", b"not found")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._reply(204, "text/plain", b"")
        self.server.deliver(json.loads(body))

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def require_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail("chromium is not installed: run `apt-get install -y chromium` (Debian)")


@contextlib.contextmanager
def page_server(deliver: Callable[[dict[str, Any]], None]) -> Iterator[int]:
    """Serve the battery page from a thread; yield its port."""
    server = _PageServer(deliver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def chromium_client(url: str) -> dict[str, Any]:
    """Open the battery page in headless Chromium against ``url``; return its results."""
    chromium = require_chromium()
    loop = asyncio.get_running_loop()
    results: asyncio.Future[dict[str, Any]] = loop.create_future()

    def settle(body: dict[str, Any]) -> None:
        if not results.done():
            results.set_result(body)

    def deliver(body: dict[str, Any]) -> None:  # called in the page server's thread
        loop.call_soon_threadsafe(settle, body)

    with (
        page_server(deliver) as page_port,
        tempfile.TemporaryDirectory(
            prefix="sansws-chromium-", ignore_cleanup_errors=True
        ) as profile,
        tempfile.TemporaryFile() as log,
    ):
        page = f"http://{LOCALHOST}:{page_port}/?" + urllib.parse.urlencode({"ws": url})
        process = await asyncio.create_subprocess_exec(
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            page,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group, so that all of it can be ended
        )
        try:
            exited: asyncio.Future[Any] = asyncio.ensure_future(process.wait())
            await asyncio.wait(
                {results, exited}, timeout=CHROMIUM_GUARD, return_when=asyncio.FIRST_COMPLETED
            )
            exited.cancel()
            if results.done():
                return results.result()
            log.seek(0)
            tail = log.read().decode(errors="replace")[-4000:]
            if process.returncode is not None:
                state = f"exited with {process.returncode}"
            else:
                state = f"sent no results within {CHROMIUM_GUARD:.0f} s"
            pytest.fail(f"Chromium {state}; its log ends with:\n{tail}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group of the process started above
            await process.wait()


# The JavaScript battery's results.


def report_from_js(results: dict[str, Any], report: Report) -> None:
    """Copy the cases of battery.js's JSON ``results`` into ``report``."""
    if "error" in results:
        report.add("battery.js ran", False, results["error"])
        return
    for case in results["cases"]:
        report.add(case["name"], bool(case["ok"]), case.get("detail", ""))
