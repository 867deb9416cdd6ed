"""Soak: hundreds of clients exchange random messages with an echo server.

Messages are random in kind (text, binary), size (1 byte to 128 KiB, log
uniform), fragmentation (one in five is sent in 2 to 5 fragments) and
compression (half of the connections negotiate permessage-deflate). Clients
close cleanly or abort at random, then reconnect, until the time is up.

Checks: every message came back intact and in order; the server process
(hub_server.py) ends with the asyncio tasks and file descriptors it started
with, and so does this process; the server's RSS reached a plateau: the
highest sample of the last third of the run is at most PLATEAU above the
highest of the middle third.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from dataclasses import dataclass

import pytest

from sansws.asyncio import connect

from .conftest import FULL, Hub

pytestmark = pytest.mark.timeout(900)

PLATEAU = 0.20  # the last third's max RSS at most 20 % above the middle third's
SEED = int(os.environ.get("SOAK_SEED", "6455"))


@dataclass
class Totals:
    messages: int = 0
    bytes: int = 0
    fragmented: int = 0
    connections: int = 0
    aborted: int = 0


def random_message(rng: random.Random) -> str | bytes:
    size = int(2 ** rng.uniform(0, 17))
    if rng.random() < 0.5:
        return rng.randbytes(size)
    alphabet = "abcdefghij klmnopé€𝄞"
    return "".join(rng.choices(alphabet, k=max(1, size // 2)))


def fragments(message: str | bytes, rng: random.Random) -> list[str] | list[bytes]:
    cuts = sorted(rng.sample(range(1, len(message)), min(len(message) - 1, rng.randint(1, 4))))
    bounds = [0, *cuts, len(message)]
    return [message[a:b] for a, b in itertools.pairwise(bounds)]  # type: ignore[return-value]


async def client_life(uri: str, rng: random.Random, deadline: float, totals: Totals) -> None:
    while time.monotonic() < deadline:
        compression = rng.choice(["deflate", None])
        ws = await connect(uri, compression=compression, ping_interval=None, open_timeout=60)
        totals.connections += 1
        for _ in range(rng.randint(5, 60)):
            burst = [random_message(rng) for _ in range(rng.randint(1, 4))]
            for message in burst:
                if len(message) > 1 and rng.random() < 0.2:
                    await ws.send(fragments(message, rng))
                    totals.fragmented += 1
                else:
                    await ws.send(message)
            for message in burst:
                echo = await ws.recv()
                assert echo == message, f"{len(echo)}/{len(message)} bytes, wrong content"
                totals.messages += 1
                totals.bytes += len(message)
            await asyncio.sleep(rng.uniform(0, 0.05))
            if time.monotonic() >= deadline:
                break
        if rng.random() < 0.2:
            ws.transport.abort()  # a reset, as far as the server can tell
            totals.aborted += 1
        await ws.close()


async def soak(hub: Hub, clients: int, seconds: float) -> tuple[Totals, list[int]]:
    loop = asyncio.get_running_loop()
    uri = f"ws://127.0.0.1:{hub.port}/"
    totals = Totals()
    samples: list[int] = []
    blocks: list[int] = []
    deadline = time.monotonic() + seconds
    rng = random.Random(SEED)
    lives = [
        asyncio.create_task(client_life(uri, random.Random(rng.random()), deadline, totals))
        for _ in range(clients)
    ]
    while time.monotonic() < deadline:
        stats = await loop.run_in_executor(None, hub.stats_and_blocks)
        samples.append(stats[1])
        blocks.append(stats[4])
        await asyncio.sleep(seconds / 60)
    await asyncio.wait_for(asyncio.gather(*lives), 120)
    third = len(blocks) // 3
    print(
        f"\nserver's live Python blocks: middle-third max {max(blocks[third : 2 * third])}, "
        f"last-third max {max(blocks[2 * third :])}"
    )
    return totals, samples


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def idle_stats(hub: Hub) -> tuple[int, ...]:
    """The server's stats once every connection is gone (waits at most 10 s)."""
    stats = hub.stats_and_blocks()
    for _ in range(100):
        if stats[0] == 0 and stats[2] == 1:  # no connection, the main task only
            break
        time.sleep(0.1)
        stats = hub.stats_and_blocks()
    return stats


def run(clients: int, seconds: float) -> None:
    hub = Hub("echo", "deflate")
    try:
        fds_before = fd_count()

        async def main(seconds: float) -> tuple[Totals, list[int], int]:
            tasks_before = len(asyncio.all_tasks())
            totals, samples = await soak(hub, clients, seconds)
            return totals, samples, len(asyncio.all_tasks()) - tasks_before

        # A warm-up fills the caches and pools that live as long as the
        # process (the core's masking keys, h11's, the selector's tables),
        # so that what remains after the soak is what it leaked.
        asyncio.run(main(3))
        _, _, server_tasks, server_fds, blocks_before = idle_stats(hub)
        totals, samples, leaked_tasks = asyncio.run(main(seconds))
        connections, _, tasks, fds, blocks_after = idle_stats(hub)
        third = len(samples) // 3
        middle, last = max(samples[third : 2 * third]), max(samples[2 * third :])
        print(
            f"\nsoak {seconds:.0f} s, {clients} clients: {totals.messages} messages "
            f"({totals.bytes / 2**20:.0f} MiB, {totals.fragmented} fragmented) over "
            f"{totals.connections} connections ({totals.aborted} aborted); server RSS "
            f"min {min(samples) / 2**20:.1f} / middle-third max {middle / 2**20:.1f} / "
            f"last-third max {last / 2**20:.1f} MiB; server tasks {server_tasks} -> {tasks}, "
            f"fds {server_fds} -> {fds}; client fds {fds_before} -> {fd_count()}; "
            f"server's live Python blocks, idle: {blocks_before} -> {blocks_after}"
        )
        assert totals.messages > 0
        assert leaked_tasks == 0
        assert fd_count() == fds_before
        assert (connections, tasks, fds) == (0, server_tasks, server_fds)
        # Nothing per connection outlives it: hundreds or thousands of
        # connections came and went, each made of hundreds of objects.
        assert blocks_after - blocks_before < totals.connections
        assert last <= middle * (1 + PLATEAU)
    finally:
        hub.stop()


def test_soak_short() -> None:
    if FULL:
        pytest.skip("the full-scale soak runs instead")
    run(200, 30)


@pytest.mark.load
def test_soak_full() -> None:
    run(300, float(os.environ.get("SOAK_SECONDS", "300")))
