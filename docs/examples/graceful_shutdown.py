"""Stop on SIGTERM: close every connection with 1001, then exit.

Process managers (systemd, Kubernetes, supervisord) send SIGTERM before they
kill a process. The script sends SIGTERM to itself once a client is
connected, to show what the client sees. Unix only.
"""

import asyncio
import os
import signal

from sansws.asyncio import ServerConnection, connect, serve
from sansws.exceptions import ConnectionClosed


async def handler(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def run_server(ready: asyncio.Future) -> None:
    async with serve(handler, "127.0.0.1", 0, close_timeout=2) as server:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, server.close)
        ready.set_result(server.sockets[0].getsockname()[1])
        await server.wait_closed()  # returns once server.close() is done
    print("server: stopped")


async def main() -> None:
    ready = asyncio.get_running_loop().create_future()
    server_task = asyncio.create_task(run_server(ready))
    port = await ready
    async with connect(f"ws://127.0.0.1:{port}/") as websocket:
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await websocket.recv()
        except ConnectionClosed as exc:
            print(f"client: the server closed with {exc.rcvd}")
    await server_task


if __name__ == "__main__":
    asyncio.run(main())
