"""End-to-end echo over loopback TCP: ``python -m bench.e2e [--quick] [--child] [--compression]``.

Each implementation's client talks to the same implementation's echo server
on 127.0.0.1: sansws.asyncio, websockets.asyncio, aiohttp, picows. Binary
messages, no compression, no message size limit, TCP_NODELAY and
TCP_QUICKACK on every socket the benchmark can reach.

With ``--compression``, sansws.asyncio and websockets.asyncio only, with
permessage-deflate negotiated with the same settings on both ends and for
both libraries (:data:`DEFLATE`): 12-bit windows both ways, memLevel 5,
level 6, context takeover. The client offers ``server_max_window_bits=12;
client_max_window_bits=12``; the server answers the same. The negotiated
``Sec-WebSocket-Extensions`` response header of each library is printed and
must be identical. Text messages (``str``), distinct from one message to the
next so that context takeover does not turn them into back-references: 64
JSON-like messages of 1 KiB, 4 text messages of 64 KiB, 2 of 1 MiB
(:func:`bench.payloads.text_payload`). MB/s count uncompressed bytes, one
direction.

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
import random
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from itertools import cycle, islice
from typing import Any

from .harness import Result, Row, render
from .payloads import _WORDS, text_payload

HOST = "127.0.0.1"
IMPLS = ["sansws", "websockets", "aiohttp", "picows"]
TIMEOUT = 60.0  # bound on any one timed round or setup step

#: permessage-deflate settings for ``--compression`` (and bench/memory.py),
#: the same for sansws and websockets: the keyword arguments of both
#: libraries' ``ClientPerMessageDeflateFactory`` and
#: ``ServerPerMessageDeflateFactory``. They are sansws's defaults (see
#: sansws.extensions.permessage_deflate) and websockets' server defaults,
#: spelled out.
DEFLATE: dict[str, Any] = {
    "server_max_window_bits": 12,
    "client_max_window_bits": 12,
    "compress_settings": {"memLevel": 5, "level": 6},
}
#: What the server must answer with :data:`DEFLATE`.
EXPECTED_EXTENSIONS = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
DEFLATE_IMPLS = ["sansws", "websockets"]


def deflate_factories(impl: str, side: str) -> list[Any]:
    """Return ``[factory]`` for ``impl``'s ``side`` ("client" or "server") with DEFLATE."""
    if impl == "sansws":
        from sansws.extensions import permessage_deflate as pmd
    elif impl == "websockets":
        from websockets.extensions import permessage_deflate as pmd  # type: ignore[no-redef]
    else:
        raise ValueError(f"{impl}: no permessage-deflate here")
    settings = dict(DEFLATE, compress_settings=dict(DEFLATE["compress_settings"]))
    if side == "client":
        return [pmd.ClientPerMessageDeflateFactory(**settings)]
    return [pmd.ServerPerMessageDeflateFactory(**settings)]


def negotiated_extensions(client: Any) -> str | None:
    """The ``Sec-WebSocket-Extensions`` header of a websockets-like client's response."""
    return client.ws.response.headers.get("Sec-WebSocket-Extensions")


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


async def _websockets_like_server(
    module: Any, extensions: list[Any] | None
) -> tuple[int, Callable[[], Awaitable[None]]]:
    async def echo(ws: Any) -> None:
        tune(ws.transport.get_extra_info("socket"))
        async for message in ws:
            await ws.send(message)

    server = await module.serve(
        echo,
        HOST,
        0,
        compression=None,
        extensions=extensions,
        max_size=None,
        ping_interval=None,
        max_queue=64,
    )
    port = server.sockets[0].getsockname()[1]

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return port, stop


async def start_server(
    impl: str, deflate: bool = False
) -> tuple[int, Callable[[], Awaitable[None]]]:
    """Start ``impl``'s echo server on 127.0.0.1; return its port and a stopper.

    ``deflate``: accept permessage-deflate with :data:`DEFLATE` (sansws and
    websockets only).
    """
    extensions = deflate_factories(impl, "server") if deflate else None
    if impl == "sansws":
        import sansws.asyncio

        return await _websockets_like_server(sansws.asyncio, extensions)
    if impl == "websockets":
        import websockets.asyncio.server

        return await _websockets_like_server(websockets.asyncio.server, extensions)
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

    async def send(self, data: Any) -> None:
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


async def connect(impl: str, port: int, deflate: bool = False) -> Client:
    """Connect ``impl``'s client; ``deflate``: offer :data:`DEFLATE`."""
    uri = f"ws://{HOST}:{port}/"
    ws: Any
    extensions = deflate_factories(impl, "client") if deflate else None
    if impl in ("sansws", "websockets"):
        # The two share connect()'s signature and these options.
        if impl == "sansws":
            from sansws.asyncio import connect as connect_ws
        else:
            from websockets.asyncio.client import connect as connect_ws
        ws = await connect_ws(
            uri,
            compression=None,
            extensions=extensions,
            max_size=None,
            ping_interval=None,
            max_queue=64,
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


async def pipelined(client: Client, messages: Sequence[Any], count: int) -> int:
    async def send_all() -> None:
        send = client.send
        for message in islice(cycle(messages), count):
            await send(message)

    await asyncio.gather(send_all(), client.recv_n(count))
    return count


async def request_response(client: Client, messages: Sequence[Any], count: int) -> int:
    send, recv_n = client.send, client.recv_n
    for message in islice(cycle(messages), count):
        await send(message)
        await recv_n(1)
    return count


def json_message(size: int, seed: int) -> str:
    """A JSON document of exactly ``size`` UTF-8 bytes: a batch of chat-like events."""
    rng = random.Random(seed)
    ascii_words = [word for word in _WORDS if word.isascii() and word.isalpha()]
    events: list[dict[str, Any]] = []
    document = ""
    while True:
        events.append(
            {
                "id": rng.randrange(10**9),
                "user": rng.choice(ascii_words) + str(rng.randrange(1000)),
                "text": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))),
                "score": round(rng.random() * 100, 2),
                "read": rng.random() < 0.5,
            }
        )
        candidate = json.dumps({"type": "events", "seq": seed, "events": events})
        if len(candidate.encode()) > size:
            break
        document = candidate
    return document + " " * (size - len(document.encode()))


def json_messages(size: int, count: int) -> list[str]:
    return [json_message(size, seed) for seed in range(count)]


def text_messages(size: int, count: int) -> list[str]:
    return [text_payload(size, seed).decode() for seed in range(count)]


Workload = Callable[[Client, Sequence[Any], int], Awaitable[int]]

# name, payload bytes per message, workload, messages per round, the messages
WORKLOADS: list[tuple[str, int, Workload, int, Callable[[], list[Any]]]] = [
    ("echo pipelined 16B", 16, pipelined, 2000, lambda: [os.urandom(16)]),
    ("echo pipelined 1KiB", 1024, pipelined, 2000, lambda: [os.urandom(1024)]),
    ("echo req/resp 16B", 16, request_response, 300, lambda: [os.urandom(16)]),
    ("echo req/resp 1KiB", 1024, request_response, 300, lambda: [os.urandom(1024)]),
    ("echo pipelined 1MiB", 1024 * 1024, pipelined, 8, lambda: [os.urandom(1024 * 1024)]),
]

DEFLATE_WORKLOADS: list[tuple[str, int, Workload, int, Callable[[], list[Any]]]] = [
    ("deflate pipelined 1KiB json", 1024, pipelined, 2000, lambda: json_messages(1024, 64)),
    ("deflate req/resp 1KiB json", 1024, request_response, 400, lambda: json_messages(1024, 64)),
    ("deflate pipelined 64KiB text", 64 * 1024, pipelined, 160, lambda: text_messages(65536, 4)),
    ("deflate pipelined 1MiB text", 1024 * 1024, pipelined, 8, lambda: text_messages(2**20, 2)),
]


def _job(
    workload: Workload, client: Client, messages: Sequence[Any], count: int
) -> Callable[[], Awaitable[int]]:
    return lambda: workload(client, messages, count)


async def _timed(job: Callable[[], Awaitable[int]]) -> tuple[int, int]:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        done = await asyncio.wait_for(job(), TIMEOUT)
        return done, time.perf_counter_ns() - start
    finally:
        gc.enable()


def check_negotiation(clients: dict[str, Client]) -> None:
    """Print each client's negotiated extensions; fail unless all are DEFLATE's."""
    headers = {impl: negotiated_extensions(client) for impl, client in clients.items()}
    for impl, header in headers.items():
        print(f"  {impl:<10} Sec-WebSocket-Extensions: {header}", flush=True)
    if any(header != EXPECTED_EXTENSIONS for header in headers.values()):
        raise RuntimeError(f"negotiation differs from {EXPECTED_EXTENSIONS!r}: {headers}")


async def run_all(
    impls: list[str],
    ports: dict[str, int],
    rounds: int,
    scale: float,
    only: str | None,
    deflate: bool = False,
) -> list[Row]:
    clients = {
        impl: await asyncio.wait_for(connect(impl, ports[impl], deflate), TIMEOUT) for impl in impls
    }
    rows = []
    try:
        if deflate:
            check_negotiation(clients)
        for name, size, workload, count, make in DEFLATE_WORKLOADS if deflate else WORKLOADS:
            if only and only not in name:
                continue
            count = max(2, int(count * scale))
            messages = make()
            results = {impl: Result(impl) for impl in impls}
            for impl in impls:  # warm up
                await _timed(_job(workload, clients[impl], messages, max(1, count // 4)))
            for round_index in range(rounds):
                shift = round_index % len(impls)
                for impl in impls[shift:] + impls[:shift]:
                    client = clients[impl]
                    done, elapsed = await _timed(_job(workload, client, messages, count))
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


async def in_one_loop(
    impls: list[str], rounds: int, scale: float, only: str | None, deflate: bool = False
) -> list[Row]:
    ports, stoppers = {}, []
    for impl in impls:
        ports[impl], stop = await start_server(impl, deflate)
        stoppers.append(stop)
    try:
        return await run_all(impls, ports, rounds, scale, only, deflate)
    finally:
        for stop in stoppers:
            await stop()


async def serve_forever(impls: list[str], deflate: bool = False) -> None:
    """Child mode: start the servers, print their ports, run until stdin closes."""
    ports = {impl: (await start_server(impl, deflate))[0] for impl in impls}
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def stdin_readable() -> None:
        if not closed.done():
            closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), stdin_readable)
    await closed


def with_child(
    impls: list[str], rounds: int, scale: float, only: str | None, deflate: bool = False
) -> list[Row]:
    command = [sys.executable, "-m", "bench.e2e", "--serve", ",".join(impls)]
    if deflate:
        command.append("--compression")
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], TIMEOUT)
        if not ready:
            raise RuntimeError("the server process did not start in time")
        ports = json.loads(child.stdout.readline())
        return asyncio.run(run_all(impls, ports, rounds, scale, only, deflate))
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
    parser.add_argument(
        "--compression",
        action="store_true",
        help="the permessage-deflate workloads, sansws and websockets only",
    )
    parser.add_argument("--only", help="substring of workload names")
    parser.add_argument("--impl", action="append", help="only these implementations")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    available = [impl for impl in IMPLS if installed(impl)]
    if args.serve:
        asyncio.run(serve_forever(args.serve.split(","), args.compression))
        return 0
    impls = [impl for impl in (args.impl or available) if impl in available]
    if args.compression:
        impls = [impl for impl in impls if impl in DEFLATE_IMPLS]
    rounds = args.rounds or (3 if args.quick else 7)
    scale = 0.25 if args.quick else 1.0
    mode = "server in a child process" if args.child else "both ends in one event loop"
    if args.compression:
        mode += "; permessage-deflate " + json.dumps(DEFLATE)
    print(f"end-to-end echo over 127.0.0.1, {mode}; {rounds} rounds", flush=True)
    if args.child:
        rows = with_child(impls, rounds, scale, args.only, args.compression)
    else:
        rows = asyncio.run(in_one_loop(impls, rounds, scale, args.only, args.compression))
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
