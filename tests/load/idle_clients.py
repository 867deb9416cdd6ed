"""COUNT idle sansws clients in one process, for the load tests.

Usage: ``idle_clients.py PORT COUNT SIZE``. Prints ``ready`` once every
connection is open, then ``received`` once each got one SIZE-byte message,
then waits for stdin to close and closes them all.
"""

from __future__ import annotations

import asyncio
import resource
import sys

from sansws.asyncio import ClientConnection, connect


async def main(port: int, count: int, size: int) -> None:
    gate = asyncio.Semaphore(100)

    async def open_one() -> ClientConnection:
        async with gate:
            return await connect(
                f"ws://127.0.0.1:{port}/",
                compression=None,
                ping_interval=None,
                open_timeout=60,
            )

    clients = await asyncio.gather(*(open_one() for _ in range(count)))
    print("ready", flush=True)
    messages = await asyncio.gather(*(client.recv() for client in clients))
    assert all(message == b"b" * size for message in messages)
    print("received", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(client.close() for client in clients))


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
