"""Where an end-to-end echo spends its time: ``python -m bench.profile_e2e``.

One implementation's client against its own echo server, both in one event
loop on 127.0.0.1, exactly as ``bench.e2e`` runs them (same servers, clients
and workloads), repeated for ``--seconds``:

    python -m bench.profile_e2e [--impl sansws] [--workload pipelined-16]
        [--seconds 3] [--cprofile [--top 30]]
    python -m bench.profile_e2e --floors
    python -m bench.profile_e2e --collapsed FILE [--top 30]

- Without ``--cprofile``, it prints µs per echo: run it under
  ``py-spy record --format raw`` (or ``speedscope``) for a sampled profile.
- ``--cprofile`` profiles the timed loop and prints the top functions by own
  time, then own time summed by layer (see :func:`layer`). cProfile inflates
  Python calls against C ones; use the shares, not the absolute times.
- ``--collapsed FILE`` sums a ``py-spy record --format raw`` output the same
  way (py-spy is a sampler: its shares are the ones to trust).
- ``--floors`` measures what any asyncio implementation pays, and what the
  sansws core alone costs, per echo: a bare ``asyncio.Protocol`` echo (no
  WebSocket framing, the client counting messages in ``data_received`` and
  waking one future per batch, as bench.e2e's picows client does), and the
  Sans-I/O core doing both ends of an echo in memory (client
  ``send_binary``, server ``receive_data`` + ``send_binary``, client
  ``receive_data``, with ``events_received`` and ``data_to_send``).

Workloads: ``pipelined-16``, ``reqresp-16``, ``pipelined-1m`` (bench.e2e's
``echo pipelined 16B``, ``echo req/resp 16B``, ``echo pipelined 1MiB``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import sys
import time
from collections import defaultdict
from typing import Any

from . import e2e

WORKLOADS: dict[str, tuple[Any, int, int]] = {
    # name: (workload, payload size, messages per round)
    "pipelined-16": (e2e.pipelined, 16, 2000),
    "reqresp-16": (e2e.request_response, 16, 300),
    "pipelined-1m": (e2e.pipelined, 2**20, 8),
}


def layer(filename: str, name: str) -> str:
    """The layer a cProfile entry (file, function) belongs to."""
    if filename == "~":  # a C function, named like "<method 'send' of ...>"
        if "_speedups" in name:
            return "core (C)"
        if "_asyncio" in name:
            return "futures/tasks (C)"
        if "socket" in name:
            return "socket syscalls"
        if "poll" in name or "select" in name:
            return "epoll wait"
        return "other builtins"
    path = "/" + filename.replace(os.sep, "/")
    if "/sansws/asyncio/" in path:
        return "sansws.asyncio Connection"
    if "/sansws/" in path:
        return "core (Python)"
    if "/asyncio/selector_events" in path or "/asyncio/transports" in path:
        return "asyncio transport"
    if "/asyncio/" in path or path.endswith("/selectors.py"):
        return "event loop"
    if "/bench/" in path:
        return "bench client/server"
    return "other: " + path.rsplit("/", 1)[-1]


async def run(impl: str, workload: str, seconds: float, profiler: Any | None) -> float:
    """Run ``workload`` for ``seconds``; return µs per echo."""
    job, size, count = WORKLOADS[workload]
    messages = [os.urandom(size)]
    port, stop = await e2e.start_server(impl)
    client = await e2e.connect(impl, port)
    try:
        await job(client, messages, max(1, count // 4))  # warm up
        done = 0
        gc.collect()
        gc.disable()
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            done += await job(client, messages, count)
        elapsed = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
        gc.enable()
    finally:
        await client.close()
        await stop()
    return elapsed / done * 1e6


def report(profiler: cProfile.Profile, top: int) -> None:
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    totals: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, tottime, _, _) in raw.items():
        totals[layer(filename, name)] += tottime
    whole = sum(totals.values())
    print("own time by layer:")
    for name, value in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {name:<32} {value:8.3f} s  {value / whole:6.1%}")


def collapsed(path: str, top: int) -> None:
    """Summarize a ``py-spy record --format raw`` file: own time by layer and by function.

    py-spy sees Python frames only: time in C (a syscall, a Future method,
    the compiled scanner) counts for the Python function that called it.
    """
    by_layer: dict[str, int] = defaultdict(int)
    by_function: dict[str, int] = defaultdict(int)
    with open(path) as file:
        for line in file:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if "_run_once" not in stack or "importlib" in stack:
                continue  # start-up, imports
            leaf = stack.rsplit(";", 1)[-1]
            name, _, where = leaf.rpartition(" (")
            filename = where.rsplit(":", 1)[0]
            by_layer[layer(filename, name)] += int(count)
            function = f"{name} ({where}"
            by_function[function] += int(count)
    whole = sum(by_layer.values())
    print(f"{path}: {whole} samples, own time by layer:")
    for name, value in sorted(by_layer.items(), key=lambda item: -item[1]):
        print(f"  {name:<32} {value / whole:6.1%}")
    print("top functions, own time (their C calls included):")
    for name, value in sorted(by_function.items(), key=lambda item: -item[1])[:top]:
        print(f"  {value / whole:6.1%}  {name}")


# Floors ----------------------------------------------------------------------


class _EchoServer(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        e2e.tune(transport.get_extra_info("socket"))

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class _CountingClient(asyncio.Protocol):
    """Counts echoed bytes; one future per wait, as bench.e2e's picows client."""

    def __init__(self) -> None:
        self.received = 0
        self.wanted = 0
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        e2e.tune(transport.get_extra_info("socket"))

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.waiter is not None and self.received >= self.wanted:
            self.waiter.set_result(None)
            self.waiter = None

    async def wait_until(self, total: int) -> None:
        """Wait until ``total`` bytes have come back since the connection opened."""
        self.wanted = total
        if self.received < total:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


async def tcp_floor(workload: str, seconds: float) -> float:
    """µs per echo of a bare asyncio TCP echo (frame-sized writes, no framing)."""
    _, size, count = WORKLOADS[workload]
    # The size of the frame on the wire, client to server (masked).
    message = os.urandom(size + (6 if size < 126 else 14))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_EchoServer, e2e.HOST, 0)
    port = server.sockets[0].getsockname()[1]
    transport, client = await loop.create_connection(_CountingClient, e2e.HOST, port)
    pipelined = workload.startswith("pipelined")

    async def one_round() -> None:
        total = client.received
        if pipelined:
            for _ in range(count):
                # sansws's and picows's send() don't yield unless paused.
                transport.write(message)
            await client.wait_until(total + count * len(message))
        else:
            for _ in range(count):
                transport.write(message)
                total += len(message)
                await client.wait_until(total)

    try:
        await one_round()
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            await one_round()
            done += count
        return (time.perf_counter() - start) / done * 1e6
    finally:
        transport.close()
        server.close()
        await server.wait_closed()


def core_floor(size: int, seconds: float) -> float:
    """µs per echo of the sansws core alone, both ends, in memory."""
    from sansws.protocol import Protocol, Side

    client = Protocol(Side.CLIENT, max_size=None)
    server = Protocol(Side.SERVER, max_size=None)
    payload = os.urandom(size)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            client.send_binary(payload)
            for chunk in client.data_to_send():
                server.receive_data(chunk)
            for frame in server.events_received():
                server.send_binary(frame.data)
            for chunk in server.data_to_send():
                client.receive_data(chunk)
            client.events_received()
        done += 100
    return (time.perf_counter() - start) / done * 1e6


def floors(seconds: float) -> None:
    for workload in WORKLOADS:
        µs = asyncio.run(tcp_floor(workload, seconds))
        print(f"bare asyncio TCP echo, {workload:<13} {µs:9.2f} µs/echo", flush=True)
    for size in (16, 2**20):
        print(f"sansws core alone, {size:>7} B echo     {core_floor(size, seconds):9.2f} µs/echo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_e2e", description=__doc__)
    parser.add_argument("--impl", default="sansws", choices=e2e.IMPLS)
    parser.add_argument("--workload", default="pipelined-16", choices=list(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--floors", action="store_true")
    parser.add_argument("--collapsed", metavar="FILE", help="summarize py-spy --format raw")
    args = parser.parse_args(argv)
    if args.collapsed:
        collapsed(args.collapsed, args.top)
        return 0
    if args.floors:
        floors(args.seconds)
        return 0
    profiler = cProfile.Profile() if args.cprofile else None
    µs = asyncio.run(run(args.impl, args.workload, args.seconds, profiler))
    print(f"{args.impl} {args.workload}: {µs:.2f} µs/echo", flush=True)
    if profiler is not None:
        report(profiler, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
