"""A sansws asyncio server in a process of its own, driven by commands on stdin.

Run by the load tests so that its memory is measured alone. It prints its
port, then answers one line per command:

- ``stats``: ``connections rss tasks fds blocks`` (RSS in bytes, /proc/self/statm;
  blocks: ``sys.getallocatedblocks()`` after ``gc.collect()``, the live objects)
- ``snapshot``: with HUB_TRACEMALLOC=1 set, print on stderr what grew since the
  last snapshot (a diagnosis aid); answers ``ok``
- ``broadcast SIZE``: broadcast a SIZE-byte binary message to every
  connection; answers ``skipped seconds`` (the time broadcast() took)
- ``quit``: close the server and exit

Handlers: ``idle`` (stay connected) or ``echo``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sys
import time

from sansws.asyncio import ServerConnection, serve
from sansws.asyncio.broadcast import broadcast

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(kind: str, compression: str | None) -> None:
    connections: set[ServerConnection] = set()

    async def idle(ws: ServerConnection) -> None:
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    async def echo(ws: ServerConnection) -> None:
        connections.add(ws)
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            connections.discard(ws)

    previous: list[object] = []
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with serve(
        idle if kind == "idle" else echo,
        "127.0.0.1",
        0,
        compression=compression,
        ping_interval=None,
        backlog=4096,
    ) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        while line := (await stdin.readline()).decode().split():
            if line[0] == "stats":
                tasks = len(asyncio.all_tasks())
                fds = len(os.listdir("/proc/self/fd"))
                gc.collect()  # count live blocks, not garbage awaiting collection
                print(len(connections), rss(), tasks, fds, sys.getallocatedblocks(), flush=True)
            elif line[0] == "broadcast":
                message = b"b" * int(line[1])
                start = time.perf_counter()
                skipped = broadcast(connections, message)
                print(len(skipped), time.perf_counter() - start, flush=True)
            elif line[0] == "snapshot":  # diagnosis: HUB_TRACEMALLOC=1
                import tracemalloc

                gc.collect()
                snapshot = tracemalloc.take_snapshot()
                if previous:
                    for stat in snapshot.compare_to(previous[-1], "traceback")[:5]:
                        print(stat, *stat.traceback.format()[-8:], sep="\n", file=sys.stderr)
                previous.append(snapshot)
                print("ok", flush=True)
            elif line[0] == "quit":
                break


if __name__ == "__main__":
    if os.environ.get("HUB_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(12)
    raise_nofile()
    asyncio.run(main(sys.argv[1], None if sys.argv[2] == "none" else sys.argv[2]))
