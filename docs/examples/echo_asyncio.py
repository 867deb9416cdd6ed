"""Quick start: an echo server and a client on asyncio, in one script.

The server listens on a free port of 127.0.0.1; the client connects, sends
two messages, prints the echoes and closes; then the server stops.
"""

import asyncio

from sansws.asyncio import ServerConnection, connect, serve


async def echo(connection: ServerConnection) -> None:
    # Iterating over a connection yields messages until the peer closes.
    async for message in connection:
        await connection.send(message)


async def main() -> None:
    async with serve(echo, "127.0.0.1", 0) as server:
        host, port = server.sockets[0].getsockname()[:2]
        async with connect(f"ws://{host}:{port}/") as websocket:
            await websocket.send("Hello, world!")  # str: a Text message
            print(await websocket.recv())
            await websocket.send(b"\x00\x01\x02")  # bytes: a Binary message
            print(await websocket.recv())


if __name__ == "__main__":
    asyncio.run(main())
