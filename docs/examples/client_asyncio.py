"""Writing a client: errors, time-outs, ping, streaming, and reconnecting.

A small server in the same script sends a greeting, echoes messages,
answers "count" with a message in three frames, and drops the first
connection without a closing handshake so that the client has to reconnect.
"""

import asyncio
import itertools

from sansws.asyncio import ClientConnection, ServerConnection, connect, serve
from sansws.exceptions import ConnectionClosed, ConnectionClosedError, InvalidHandshake

connections_seen = itertools.count(1)


async def server_handler(connection: ServerConnection) -> None:
    number = next(connections_seen)
    await connection.send(f"welcome, connection {number}")
    if number == 1:
        connection.transport.abort()  # simulate a network failure: no Close frame
        return
    async for message in connection:
        if message == "count":
            await connection.send(["one ", "two ", "three"])  # three frames
        else:
            await connection.send(message)


async def use(websocket: ClientConnection) -> None:
    print(await websocket.recv())

    # recv() has no timeout of its own: wrap it. Cancelling recv() is safe.
    try:
        await asyncio.wait_for(websocket.recv(), timeout=0.1)
    except asyncio.TimeoutError:
        print("nothing within 100 ms")

    # ping() returns once the Ping is sent; await the result for the latency.
    pong = await websocket.ping()
    latency = await pong
    print(f"ping answered in {'under' if latency < 1 else 'over'} a second")

    # An iterable is sent as one fragmented message, one frame per item;
    # recv() returns the whole message.
    await websocket.send(f"part {i} " for i in range(3))
    print("echoed:", await websocket.recv())

    # recv_streaming() hands a message over frame by frame, as frames arrive.
    # send() ends a fragmented message with an empty final frame.
    await websocket.send("count")
    print("streamed:", [fragment async for fragment in websocket.recv_streaming()])

    # decode=False returns the payload of a Text message as bytes.
    await websocket.send("as bytes")
    print(await websocket.recv(decode=False))


async def client(uri: str) -> None:
    """Connect, and reconnect with exponential backoff when the link fails."""
    delay = 0.05
    while True:
        try:
            async with connect(uri, open_timeout=5, close_timeout=2) as websocket:
                delay = 0.05
                await use(websocket)
                return  # leaving the block closes the connection with 1000
        except ConnectionClosedError as exc:
            print(f"connection lost ({exc.code}); reconnecting")
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            print(f"cannot connect: {exc}; retrying")
        except ConnectionClosed:
            return  # closed cleanly by the server: nothing to retry
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10)


async def main() -> None:
    async with serve(server_handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        await client(f"ws://127.0.0.1:{port}/")


if __name__ == "__main__":
    asyncio.run(main())
