"""The threaded server (``sansws.sync``) under attack, with the asyncio harness's interface."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sansws.exceptions import ConnectionClosed
from sansws.sync.server import ServerConnection, serve

from .conftest import FLOOD_MESSAGE, GUARD, ServerUnderTest


class SyncServer(ServerUnderTest):
    kind = "sync"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__()
        self._lock = threading.Lock()

        def handler(ws: ServerConnection) -> None:
            with self._lock:
                index = len(self.connections)
                self.connections.append(ws)
            try:
                if name == "echo":
                    for message in ws:
                        ws.send(message)
                elif name == "close":
                    ws.close()
                elif name == "flood":
                    self.sent[index] = 0
                    while True:
                        ws.send(FLOOD_MESSAGE)
                        self.sent[index] += 1
                elif name == "idle":
                    for _ in ws:
                        pass
                else:  # pragma: no cover
                    raise ValueError(name)
            except ConnectionClosed:
                pass  # the peer's doing: the tests check the close codes
            finally:
                self.ended.add(index)

        options.setdefault("compression", None)
        self.server = serve(handler, "127.0.0.1", 0, **options)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def call(self, fn: Callable[[], Any]) -> Any:
        return fn()

    def write_buffer_size(self, index: int) -> int:
        # The threaded layer buffers only what waits for the write lock;
        # the rest is in the kernel's send buffer, which is bounded.
        connection = self.connections[index]
        with connection._mutex:
            return sum(len(chunk) for chunk in connection._pending)

    def is_reading(self, index: int) -> bool:
        raise NotImplementedError("the threaded reader has no paused state to observe")

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(GUARD)
