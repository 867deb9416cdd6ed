"""Limits in action: max_size, handshake bounds, open_timeout, keepalive.

Each part provokes one limit and prints how it shows.
"""

import asyncio

from sansws.asyncio import ServerConnection, connect, serve
from sansws.exceptions import ConnectionClosedError
from sansws.server import ServerProtocol


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def message_too_big() -> None:
    async with serve(echo, "127.0.0.1", 0, max_size=1024) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/") as websocket:
            await websocket.send("x" * 1000)
            print("  1000 bytes: echoed", len(await websocket.recv()))
            await websocket.send("x" * 2000)
            try:
                await websocket.recv()
            except ConnectionClosedError as exc:
                print(f"  2000 bytes: closed by the server with {exc.rcvd}")


def oversized_handshake() -> None:
    # The same bounds apply in every I/O layer; the Sans-I/O core shows them.
    for what, extra in [
        ("a 9000-byte header line", "X-Big: " + "a" * 9000 + "\r\n"),
        ("129 header fields", "".join(f"X-{i}: {i}\r\n" for i in range(129))),
    ]:
        protocol = ServerProtocol()  # max_line=8192, max_headers=128
        request = "GET / HTTP/1.1\r\nHost: example.com\r\n" + extra + "\r\n"
        protocol.receive_data(request.encode())
        (response,) = protocol.data_to_send()[:1]
        status_line = response.split(b"\r\n", 1)[0].decode()
        print(f"  {what}: {status_line} ({protocol.handshake_exc})")


async def silent_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept TCP connections and never answer; wait for the client to leave."""
    await reader.read()
    writer.close()


async def handshake_timeout() -> None:
    server = await asyncio.start_server(silent_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await connect(f"ws://127.0.0.1:{port}/", open_timeout=0.2)
    except TimeoutError as exc:
        print(f"  no answer within 0.2 s: {exc}")
    server.close()
    await server.wait_closed()


async def deaf_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Complete the handshake, then read and ignore everything: no Pong ever."""
    protocol = ServerProtocol()
    while not protocol.events_received():
        protocol.receive_data(await reader.read(4096))
    protocol.send_response(protocol.accept(protocol.request))
    writer.writelines(protocol.data_to_send())
    while await reader.read(4096):  # until the client gives up and aborts
        pass
    writer.close()


async def keepalive_timeout() -> None:
    server = await asyncio.start_server(deaf_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with connect(
        f"ws://127.0.0.1:{port}/", ping_interval=0.1, ping_timeout=0.2, close_timeout=0.2
    ) as websocket:
        try:
            await websocket.recv()
        except ConnectionClosedError as exc:
            print(f"  no Pong within 0.2 s: sent {exc.sent}, received code {exc.code}")
    server.close()
    await server.wait_closed()


async def main() -> None:
    print("max_size:")
    await message_too_big()
    print("handshake bounds:")
    oversized_handshake()
    print("open_timeout:")
    await handshake_timeout()
    print("keepalive:")
    await keepalive_timeout()


if __name__ == "__main__":
    asyncio.run(main())
