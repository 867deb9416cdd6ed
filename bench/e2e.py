"""End-to-end echo over loopback TCP: ``python -m bench.e2e [--quick] [--child]``.

Each implementation's client talks to the same implementation's echo server
on 127.0.0.1: sansws.asyncio, websockets.asyncio, aiohttp, picows. Binary
messages, no compression, no message size limit, TCP_NODELAY and
TCP_QUICKACK on every socket the benchmark can reach.

Workloads, in messages per second shown as µs per message:

- ``pipelined``: the client sends N messages while it receives the N echoes
  (a sending task beside the receiving loop, so that flow control cannot
  deadlock);
- ``req/resp``: the client sends one message and awaits its echo, N times;
- 1 MiB messages, pipelined, whose MB/s count one direction.

By default both ends share one event loop (the least noisy setting: no
second process competes for the two CPUs). With ``--child`` the servers run
in a child process, one event loop there, and the client here.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .harness import Result, Row, render

HOST = "127.0.0.1"
IMPLS = ["sansws", "websockets", "aiohttp", "picows"]
TIMEOUT = 60.0  # bound on any one timed round or setup step


def tune(sock: Any) -> None:
    """Turn Nagle off and ask for immediate ACKs (Linux) on one socket."""
    if sock is None:
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


_MODULES = {
    "sansws": "sansws.asyncio",
    "websockets": "websockets.asyncio.server",
    "aiohttp": "aiohttp",
    "picows": "picows",
}


def installed(impl: str) -> bool:
    try:
        importlib.import_module(_MODULES[impl])
    except ImportError:
        return False
    return True


# Servers ---------------------------------------------------------------------


async def _websockets_like_server(module: Any) -> tuple[int, Callable[[], Awaitable[None]]]:
    async def echo(ws: Any) -> None:
        tune(ws.transport.get_extra_info("socket"))
        async for message in ws:
            await ws.send(message)

    server = await module.serve(
        echo, HOST, 0, compression=None, max_size=None, ping_interval=None, max_queue=64
    )
    port = server.sockets[0].getsockname()[1]

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return port, stop


async def start_server(impl: str) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Start ``impl``'s echo server on 127.0.0.1; return its port and a stopper."""
    if impl == "sansws":
        import sansws.asyncio

        return await _websockets_like_server(sansws.asyncio)
    if impl == "websockets":
        import websockets.asyncio.server

        return await _websockets_like_server(websockets.asyncio.server)
    if impl == "aiohttp":
        from aiohttp import WSMsgType, web

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(compress=False, max_msg_size=0, autoping=True)
            await ws.prepare(request)
            assert request.transport is not None
            tune(request.transport.get_extra_info("socket"))
            async for message in ws:
                if message.type == WSMsgType.BINARY:
                    await ws.send_bytes(message.data)
                elif message.type == WSMsgType.TEXT:
                    await ws.send_str(message.data)
            return ws

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return port, runner.cleanup
    if impl == "picows":
        from picows import WSListener, ws_create_server

        class Echo(WSListener):
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                # picows sets TCP_NODELAY and TCP_QUICKACK itself.
                transport.send(frame.msg_type, frame.get_payload_as_bytes(), frame.fin)

        server = await ws_create_server(lambda request: Echo(), HOST, 0, max_frame_size=2**30)
        port = server.sockets[0].getsockname()[1]

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        return port, stop
    raise ValueError(impl)


# Clients ---------------------------------------------------------------------


class Client:
    """The two operations the workloads need, on one open connection."""

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def recv_n(self, count: int) -> None:
        """Receive ``count`` messages."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class WebsocketsLikeClient(Client):
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        tune(ws.transport.get_extra_info("socket"))
        self.send = ws.send  # type: ignore[method-assign]

    async def recv_n(self, count: int) -> None:
        recv = self.ws.recv
        for _ in range(count):
            await recv()

    async def close(self) -> None:
        await self.ws.close()


class AiohttpClient(Client):
    def __init__(self, session: Any, ws: Any) -> None:
        self.session = session
        self.ws = ws
        tune(ws.get_extra_info("socket"))
        self.send = ws.send_bytes  # type: ignore[method-assign]

    async def recv_n(self, count: int) -> None:
        receive = self.ws.receive
        for _ in range(count):
            await receive()

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


class PicowsClient(Client):
    """picows calls back per frame; a counter and a future stand in for recv()."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.received = 0
        self.wanted = 0
        self.waiter: asyncio.Future[None] | None = None

    def on_frame(self) -> None:
        self.received += 1
        if self.waiter is not None and self.received >= self.wanted:
            self.waiter.set_result(None)
            self.waiter = None

    async def send(self, data: bytes) -> None:
        from picows import WSMsgType

        self.transport.send(WSMsgType.BINARY, data)

    async def recv_n(self, count: int) -> None:
        self.wanted = self.received + count
        if self.received < self.wanted:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter

    async def close(self) -> None:
        self.transport.send_close()
        self.transport.disconnect()
        await self.transport.wait_disconnected()


async def connect(impl: str, port: int) -> Client:
    uri = f"ws://{HOST}:{port}/"
    ws: Any
    if impl == "sansws":
        import sansws.asyncio

        ws = await sansws.asyncio.connect(
            uri, compression=None, max_size=None, ping_interval=None, max_queue=64
        )
        return WebsocketsLikeClient(ws)
    if impl == "websockets":
        import websockets.asyncio.client

        ws = await websockets.asyncio.client.connect(
            uri, compression=None, max_size=None, ping_interval=None, max_queue=64
        )
        return WebsocketsLikeClient(ws)
    if impl == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession()
        ws = await session.ws_connect(uri, compress=0, max_msg_size=0, autoping=True)
        return AiohttpClient(session, ws)
    if impl == "picows":
        from picows import WSListener, ws_connect

        client = PicowsClient()

        class Listener(WSListener):
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                frame.get_payload_as_bytes()
                client.on_frame()

        transport, _ = await ws_connect(Listener, uri, max_frame_size=2**30)
        client.transport = transport
        return client
    raise ValueError(impl)


# Workloads -------------------------------------------------------------------


async def pipelined(client: Client, message: bytes, count: int) -> int:
    async def send_all() -> None:
        for _ in range(count):
            await client.send(message)

    await asyncio.gather(send_all(), client.recv_n(count))
    return count


async def request_response(client: Client, message: bytes, count: int) -> int:
    for _ in range(count):
        await client.send(message)
        await client.recv_n(1)
    return count


WORKLOADS: list[tuple[str, int, Callable[[Client, bytes, int], Awaitable[int]], int]] = [
    ("echo pipelined 16B", 16, pipelined, 2000),
    ("echo pipelined 1KiB", 1024, pipelined, 2000),
    ("echo req/resp 16B", 16, request_response, 300),
    ("echo req/resp 1KiB", 1024, request_response, 300),
    ("echo pipelined 1MiB", 1024 * 1024, pipelined, 8),
]


def _job(
    workload: Callable[[Client, bytes, int], Awaitable[int]],
    client: Client,
    message: bytes,
    count: int,
) -> Callable[[], Awaitable[int]]:
    return lambda: workload(client, message, count)


async def _timed(job: Callable[[], Awaitable[int]]) -> tuple[int, int]:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        done = await asyncio.wait_for(job(), TIMEOUT)
        return done, time.perf_counter_ns() - start
    finally:
        gc.enable()


async def run_all(
    impls: list[str], ports: dict[str, int], rounds: int, scale: float, only: str | None
) -> list[Row]:
    clients = {impl: await asyncio.wait_for(connect(impl, ports[impl]), TIMEOUT) for impl in impls}
    rows = []
    try:
        for name, size, workload, count in WORKLOADS:
            if only and only not in name:
                continue
            count = max(2, int(count * scale))
            message = os.urandom(size)
            results = {impl: Result(impl) for impl in impls}
            for impl in impls:  # warm up
                await _timed(_job(workload, clients[impl], message, max(1, count // 4)))
            for round_index in range(rounds):
                shift = round_index % len(impls)
                for impl in impls[shift:] + impls[:shift]:
                    client = clients[impl]
                    done, elapsed = await _timed(_job(workload, client, message, count))
                    results[impl].rounds_ns.append(elapsed / done)
            rows.append(Row(name, size, results))
            print(render([rows[-1]], impls).splitlines()[4], flush=True)
    finally:
        for client in clients.values():
            try:
                await asyncio.wait_for(client.close(), 5)
            except Exception as exc:
                print(f"closing a client: {exc!r}", file=sys.stderr)
    return rows


async def in_one_loop(impls: list[str], rounds: int, scale: float, only: str | None) -> list[Row]:
    ports, stoppers = {}, []
    for impl in impls:
        ports[impl], stop = await start_server(impl)
        stoppers.append(stop)
    try:
        return await run_all(impls, ports, rounds, scale, only)
    finally:
        for stop in stoppers:
            await stop()


async def serve_forever(impls: list[str]) -> None:
    """Child mode: start the servers, print their ports, run until stdin closes."""
    ports = {impl: (await start_server(impl))[0] for impl in impls}
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def stdin_readable() -> None:
        if not closed.done():
            closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), stdin_readable)
    await closed


def with_child(impls: list[str], rounds: int, scale: float, only: str | None) -> list[Row]:
    command = [sys.executable, "-m", "bench.e2e", "--serve", ",".join(impls)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], TIMEOUT)
        if not ready:
            raise RuntimeError("the server process did not start in time")
        ports = json.loads(child.stdout.readline())
        return asyncio.run(run_all(impls, ports, rounds, scale, only))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, fewer messages")
    parser.add_argument("--child", action="store_true", help="run the servers in a child process")
    parser.add_argument("--only", help="substring of workload names")
    parser.add_argument("--impl", action="append", help="only these implementations")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    available = [impl for impl in IMPLS if installed(impl)]
    if args.serve:
        asyncio.run(serve_forever(args.serve.split(",")))
        return 0
    impls = [impl for impl in (args.impl or available) if impl in available]
    rounds = args.rounds or (3 if args.quick else 7)
    scale = 0.25 if args.quick else 1.0
    mode = "server in a child process" if args.child else "both ends in one event loop"
    print(f"end-to-end echo over 127.0.0.1, {mode}; {rounds} rounds", flush=True)
    if args.child:
        rows = with_child(impls, rounds, scale, args.only)
    else:
        rows = asyncio.run(in_one_loop(impls, rounds, scale, args.only))
    print()
    print(render(rows, impls, stat="best"))
    print()
    print(render(rows, impls, stat="median"))
    spread = [
        statistics.median(r.rounds_ns) / min(r.rounds_ns)
        for row in rows
        for r in row.results.values()
        if r.rounds_ns
    ]
    if spread:
        print(f"\nmedian/best spread: up to {max(spread):.2f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"mode": mode, "rows": [row.to_json() for row in rows]}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
