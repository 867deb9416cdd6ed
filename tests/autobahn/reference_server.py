"""Stand-in echo server written with the ``websockets`` library.

Only for validating the Autobahn harness and for comparing results; the real
conformance tests run ``python -m sansws serve``. It takes the same options::

    python tests/autobahn/reference_server.py --host 127.0.0.1 --port 9001 \\
        --max-size 16777216 [--no-compression]

Use it with::

    AUTOBAHN_SERVER_CMD='{python} tests/autobahn/reference_server.py \\
        --host 127.0.0.1 --port {port} --max-size 16777216 {compression}'
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import websockets.asyncio.messages
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

# websockets >= 16 fails a message split into more than 4096 frames (1009,
# "too many fragments"); cases 9.3.1 and 9.4.1 send 4 MiB in 64-byte frames,
# i.e. 65536 frames. Lift the cap so that the stand-in echoes up to
# 16 MiB messages in 64-byte frames. (WEBSOCKETS_MAX_FRAGMENTS does the same.)
MAX_FRAGMENTS = 2**24 // 64
if hasattr(websockets.asyncio.messages, "MAX_FRAGMENTS"):
    websockets.asyncio.messages.MAX_FRAGMENTS = MAX_FRAGMENTS


async def echo(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main(host: str, port: int, max_size: int, compression: bool) -> None:
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with serve(
        echo,
        host,
        port,
        max_size=max_size,
        compression="deflate" if compression else None,
    ):
        print(f"reference server listening on ws://{host}:{port}", flush=True)
        await stop


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-size", type=int, default=2**24)
    parser.add_argument("--no-compression", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(main(args.host, args.port, args.max_size, not args.no_compression))
