"""The servers under attack, each running in a thread of its own.

A test asks the ``server`` fixture for a running server with a named
handler and options; hostile peers then connect to ``server.port`` with raw
blocking sockets from the test's thread. The fixture is parametrized over
the server implementations: the asyncio server, and the threaded one when
``sansws.sync.server`` exists.

Handlers, by name (each implementation provides all of them):

- ``echo``: send every message back.
- ``close``: close the connection with 1000 at once.
- ``flood``: send 64 KiB binary messages forever, counting them.
- ``idle``: wait until the connection closes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from sansws.asyncio import ServerConnection, serve

FLOOD_MESSAGE = b"\x00" * 65536
GUARD = 20.0


class ServerUnderTest:
    """What a test sees of a server: its port, its connections, counters."""

    kind: str
    port: int

    def __init__(self) -> None:
        #: Every server-side connection that reached the handler, in order.
        self.connections: list[Any] = []
        #: Messages each connection's ``flood`` handler sent, by index.
        self.sent: dict[int, int] = {}
        #: Connections whose handler returned or raised, by index.
        self.ended: set[int] = set()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` where the server's state may be read safely."""
        raise NotImplementedError

    def write_buffer_size(self, index: int) -> int:
        """Bytes the server has buffered for writing on connection ``index``."""
        raise NotImplementedError

    def is_reading(self, index: int) -> bool:
        raise NotImplementedError

    def wait_for_connections(self, count: int, timeout: float = GUARD) -> None:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if len(self.connections) >= count:
                return
            deadline.wait(0.01)
        raise AssertionError(f"only {len(self.connections)} of {count} connections arrived")

    def index_of(self, port: int) -> int:
        """The index of the connection whose peer uses local ``port``."""
        for index, connection in enumerate(list(self.connections)):
            if connection.remote_address[1] == port:
                return index
        raise AssertionError(f"no connection from port {port}")

    def wait_ended(self, index: int, timeout: float = GUARD) -> None:
        pause = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if index in self.ended:
                return
            pause.wait(0.01)
        raise AssertionError(f"connection {index} never ended")

    def close_info(self, index: int) -> tuple[int | None, int | None]:
        """(code of the Close frame the server sent, code of the one it received)."""

        def read() -> tuple[int | None, int | None]:
            protocol = self.connections[index].protocol
            sent = protocol.close_sent.code if protocol.close_sent is not None else None
            rcvd = protocol.close_rcvd.code if protocol.close_rcvd is not None else None
            return sent, rcvd

        result: tuple[int | None, int | None] = self.call(read)
        return result


class AsyncioServer(ServerUnderTest):
    kind = "asyncio"

    def __init__(self, handler: str, options: dict[str, Any]) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self._run(self._start(handler, options))
        self.port = self.server.sockets[0].getsockname()[1]

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(GUARD)

    async def _start(self, name: str, options: dict[str, Any]) -> Any:
        async def handler(ws: ServerConnection) -> None:
            index = len(self.connections)
            self.connections.append(ws)
            try:
                if name == "echo":
                    async for message in ws:
                        await ws.send(message)
                elif name == "close":
                    await ws.close()
                elif name == "flood":
                    self.sent[index] = 0
                    while True:
                        await ws.send(FLOOD_MESSAGE)
                        self.sent[index] += 1
                elif name == "idle":
                    await ws.wait_closed()
                else:  # pragma: no cover
                    raise ValueError(name)
            finally:
                self.ended.add(index)

        options.setdefault("compression", None)
        return await serve(handler, "127.0.0.1", 0, **options)

    def call(self, fn: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed over to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(GUARD)

    def write_buffer_size(self, index: int) -> int:
        size: int = self.call(lambda: self.connections[index].transport.get_write_buffer_size())
        return size

    def is_reading(self, index: int) -> bool:
        reading: bool = self.call(lambda: self.connections[index].transport.is_reading())
        return reading

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        try:
            self._run(close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(GUARD)
            self.loop.close()


KINDS = ["asyncio"]
if importlib.util.find_spec("sansws.sync") is not None:
    KINDS.append("sync")


@pytest.fixture(params=KINDS)
def server(request: pytest.FixtureRequest) -> Iterator[Callable[..., ServerUnderTest]]:
    """A factory: ``server(handler_name, **options)`` starts a server for the test."""
    started: list[ServerUnderTest] = []

    def start(handler: str = "echo", **options: Any) -> ServerUnderTest:
        if request.param == "asyncio":
            running: ServerUnderTest = AsyncioServer(handler, options)
        else:
            from .sync_server import SyncServer

            running = SyncServer(handler, options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()  # type: ignore[attr-defined]
