"""Broadcasting with ``sansws.asyncio.broadcast``: a slow client holds nobody up.

Two clients join a server that publishes 64 KiB updates. One reads them as
they come; the other stops reading for a while. ``broadcast()`` writes each
update at once to every connection that can take it, and returns the ones
it skipped: here, the stalled client, once its write buffer is over
``write_limit``. A skipped connection misses that message, and only that
one: when the client reads again, the next broadcast reaches it.
"""

import asyncio
from collections import Counter

from sansws.asyncio import ServerConnection, broadcast, connect, serve

UPDATE = bytes(64 * 1024)
members: set[ServerConnection] = set()


async def join(connection: ServerConnection) -> None:
    members.add(connection)
    try:
        await connection.wait_closed()
    finally:
        members.discard(connection)


async def main() -> None:
    async with serve(join, "127.0.0.1", 0, compression=None) as server:
        uri = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        # max_queue=1: the stalled client stops reading from its socket as
        # soon as one message waits for recv(), so TCP pushes back.
        async with connect(uri) as reader, connect(uri, max_queue=1) as stalled:
            while len(members) < 2:
                await asyncio.sleep(0.01)
            port = stalled.local_address[1]
            on_server = next(c for c in members if c.remote_address[1] == port)

            read = asyncio.create_task(reader_count(reader))
            delivered: Counter[ServerConnection] = Counter()
            for number in range(1, 1001):
                skipped = broadcast(members, UPDATE)
                delivered.update(c for c in members if c not in skipped)
                if on_server in skipped:
                    print(f"update {number}: the stalled client was skipped")
                    break
                await asyncio.sleep(0)  # let the reader's task run
            print(f"the stalled client has {delivered[on_server]} updates to read")

            for _ in range(delivered[on_server]):  # it reads again
                await stalled.recv()
            print("a last broadcast skips:", broadcast(members, "done"))
            print("the stalled client got:", await stalled.recv())
            print("the reader got", await read, "updates, then 'done'")


async def reader_count(websocket) -> int:
    count = 0
    async for message in websocket:
        if message == "done":
            return count
        count += 1
    return count


if __name__ == "__main__":
    asyncio.run(main())
