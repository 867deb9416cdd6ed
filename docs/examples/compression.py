"""Compression: what is negotiated by default, how to tune it, what it saves.

Part 1 connects with the defaults and prints the negotiated parameters.
Part 2 runs a server that asks for no context takeover, which keeps no zlib
state between messages. Part 3 measures the bytes on the wire for the same
messages with and without context takeover, with the Sans-I/O core alone.
"""

import asyncio
import json

from sansws import SERVER, Protocol
from sansws.asyncio import ServerConnection, connect, serve
from sansws.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def negotiate(**server_options: object) -> None:
    async with serve(echo, "127.0.0.1", 0, **server_options) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/") as websocket:
            print("  offered: ", websocket.request.headers["Sec-WebSocket-Extensions"])
            print("  answered:", websocket.response.headers.get("Sec-WebSocket-Extensions"))
            print("  in use:  ", websocket.protocol.extensions)


def wire_bytes(extension: PerMessageDeflate | None, messages: list[bytes]) -> int:
    """Bytes a server sends for ``messages``, headers included."""
    protocol = Protocol(SERVER)
    if extension is not None:
        protocol.extensions = [extension]
    for message in messages:
        protocol.send_text(message)
    return sum(len(chunk) for chunk in protocol.data_to_send())


async def main() -> None:
    print("1. defaults on both sides (compression='deflate'):")
    await negotiate()

    print("2. a server that restarts both streams at every message:")
    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
        compress_settings={"level": 1, "memLevel": 4},
    )
    await negotiate(extensions=[factory])

    print("3. 200 JSON events of about 100 bytes each:")
    events = [
        json.dumps({"type": "tick", "symbol": "ACME", "price": 100 + i % 7, "seq": i}).encode()
        for i in range(200)
    ]
    plain = wire_bytes(None, events)
    takeover = wire_bytes(PerMessageDeflate(False, False, 12, 12), events)
    no_takeover = wire_bytes(PerMessageDeflate(True, True, 12, 12), events)
    print(f"  uncompressed:              {plain:6} bytes")
    print(f"  deflate, context takeover: {takeover:6} bytes ({takeover / plain:.0%})")
    print(f"  deflate, no takeover:      {no_takeover:6} bytes ({no_takeover / plain:.0%})")


if __name__ == "__main__":
    asyncio.run(main())
