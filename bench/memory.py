"""Memory per connection, server side: ``python -m bench.memory [--quick] [-n N]``.

For sansws.asyncio and websockets.asyncio, one after the other and
alternating round by round, this starts an echo server in a child process
and N client connections of the same library from another child process,
all on 127.0.0.1, and reports the growth of the server's resident set size
(``/proc/self/statm``, sampled by the server itself after ``gc.collect()``
when the parent asks on its stdin) divided by N, in KiB.

Modes:

- ``idle``: no compression; the connections are open and nothing was sent.
- ``echo``: no compression, after each client sent a 40 KiB compressible
  text message and received its echo: what receiving and sending a message
  of that size leaves behind, without zlib.
- ``deflate-idle``: permessage-deflate negotiated (:data:`bench.e2e.DEFLATE`:
  12-bit windows both ways, memLevel 5, level 6), nothing sent yet.
- ``deflate``: the same, after each client sent a 40 KiB compressible text
  message and received its echo, so that the server inflated 40 KiB and
  deflated 40 KiB on every connection: every page of zlib's state was touched.

Both libraries run with their default settings otherwise (keepalive pings
every 20 s, max_size 1 MiB, queues and write limits), as an application
gets them. Before the baseline sample, the server warms up: a few
connections do the same as the measured ones and close, so that lazy imports
and one-time allocations are not counted.

``sansws.asyncio`` makes zlib objects on first use, and so pays nothing for
deflate on an idle connection; websockets makes them at the handshake.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import tracemalloc
from typing import Any

from .e2e import DEFLATE, EXPECTED_EXTENSIONS, HOST, deflate_factories, installed
from .payloads import text_payload

IMPLS = ["sansws", "websockets"]
MODES = ["idle", "echo", "deflate-idle", "deflate"]
DEFLATE_MODES = ("deflate-idle", "deflate")
ECHO_MODES = ("echo", "deflate")
MESSAGE_SIZE = 40 * 1024
WARMUP = 20  # connections opened, used and closed before the baseline
CONCURRENCY = 50  # handshakes in flight at once
TIMEOUT = 300.0


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_bytes() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# Server child ----------------------------------------------------------------


async def serve(impl: str, mode: str) -> None:
    """Run an echo server; print its port, then answer ``sample`` lines on stdin."""
    raise_nofile()
    extensions = deflate_factories(impl, "server") if mode in DEFLATE_MODES else None
    if impl == "sansws":
        from sansws.asyncio import serve as serve_impl
    else:
        from websockets.asyncio.server import serve as serve_impl  # type: ignore[assignment]

    open_connections = 0

    async def echo(ws: Any) -> None:
        nonlocal open_connections
        open_connections += 1
        try:
            async for message in ws:
                await ws.send(message)
                # Else this frame keeps the last message (a 40 KiB text with an
                # emoji is a 160 KiB str) until the next one: not the library's.
                del message
        except Exception:
            pass
        finally:
            open_connections -= 1

    server = await serve_impl(echo, HOST, 0, compression=None, extensions=extensions, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)

    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def command() -> None:
        line = sys.stdin.readline()
        if not line:
            if not done.done():
                done.set_result(None)
            return
        gc.collect()
        sample = {"rss": rss_bytes(), "open": open_connections}
        if tracemalloc.is_tracing():  # PYTHONTRACEMALLOC=1: Python's own share of the RSS
            sample["traced"] = tracemalloc.get_traced_memory()[0]
        print(json.dumps(sample), flush=True)

    loop.add_reader(sys.stdin.fileno(), command)
    await done
    # Closing a thousand connections politely would only cost time.
    os._exit(0)


# Client child ----------------------------------------------------------------


async def clients(impl: str, mode: str, port: int, count: int) -> None:
    """Open ``count`` connections (``mode`` as the server's), print the header, hold them."""
    raise_nofile()
    uri = f"ws://{HOST}:{port}/"
    if impl == "sansws":
        from sansws.asyncio import connect
    else:
        from websockets.asyncio.client import connect  # type: ignore[assignment]
    message = text_payload(MESSAGE_SIZE, seed=7).decode()
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> Any:
        async with semaphore:
            extensions = deflate_factories(impl, "client") if mode in DEFLATE_MODES else None
            ws = await connect(uri, compression=None, extensions=extensions)
            if mode in ECHO_MODES:
                await ws.send(message)
                echo = await ws.recv()
                assert echo == message
            return ws

    connections = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), TIMEOUT)
    header = connections[0].response.headers.get("Sec-WebSocket-Extensions")
    print(json.dumps({"ready": len(connections), "extensions": header}), flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    await done
    os._exit(0)


# Parent ----------------------------------------------------------------------


def _spawn(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.memory", *args]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _read(child: subprocess.Popen[str], timeout: float = TIMEOUT) -> dict[str, Any]:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    line = child.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError(f"child {child.args} did not answer (exit code {child.poll()})")
    return dict(json.loads(line))


def _sample(server: subprocess.Popen[str]) -> dict[str, Any]:
    assert server.stdin is not None
    server.stdin.write("sample\n")
    server.stdin.flush()
    return _read(server)


def _stop(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    try:
        child.stdin.close()
    except BrokenPipeError:
        pass
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _clients_run(impl: str, mode: str, port: int, count: int) -> dict[str, Any]:
    """Open ``count`` connections from a child; stop it; return its report."""
    child = _spawn("--clients", impl, "--mode", mode, "--port", str(port), "-n", str(count))
    try:
        return _read(child)
    finally:
        _stop(child)


def measure(impl: str, mode: str, count: int) -> tuple[float, str | None]:
    """Return the server's RSS growth per connection in bytes, and the negotiated header."""
    server = _spawn("--serve", impl, "--mode", mode)
    client: subprocess.Popen[str] | None = None
    try:
        port = _read(server, 30)["port"]
        _clients_run(impl, mode, port, WARMUP)
        for _ in range(100):  # the server sees the warm-up connections close
            before = _sample(server)
            if before["open"] == 0:
                break
            select.select([], [], [], 0.05)
        client = _spawn("--clients", impl, "--mode", mode, "--port", str(port), "-n", str(count))
        report = _read(client)
        for _ in range(100):  # the server's handlers may start after the client's handshake
            after = _sample(server)
            if after["open"] == count:
                break
            select.select([], [], [], 0.05)
        if after["open"] != count:
            raise RuntimeError(f"{impl} {mode}: {after['open']} connections open, not {count}")
        if "traced" in after:
            traced = (after["traced"] - before["traced"]) / count / 1024
            print(f"  (tracemalloc: {traced:.1f} KiB per connection)", flush=True)
        return (after["rss"] - before["rss"]) / count, report["extensions"]
    finally:
        if client is not None:
            _stop(client)
        _stop(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="connections (default 1000)")
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--impl", action="append", help="only these implementations")
    parser.add_argument("--mode", action="append", choices=MODES, help="only these modes")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--clients", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        asyncio.run(serve(args.serve, args.mode[0]))
        return 0
    if args.clients:
        asyncio.run(clients(args.clients, args.mode[0], args.port, args.n))
        return 0

    raise_nofile()
    impls = [impl for impl in (args.impl or IMPLS) if installed(impl)]
    modes = args.mode or MODES
    rounds = args.rounds or (1 if args.quick else 3)
    print(
        f"server RSS growth per connection, {args.n} connections, {rounds} rounds; "
        f"deflate: {json.dumps(DEFLATE)}, {MESSAGE_SIZE // 1024} KiB each way",
        flush=True,
    )
    results: dict[tuple[str, str], list[float]] = {}
    for round_index in range(rounds):
        for mode in modes:
            shift = round_index % len(impls)
            for impl in impls[shift:] + impls[:shift]:
                per_connection, header = measure(impl, mode, args.n)
                if (mode in DEFLATE_MODES) != (header == EXPECTED_EXTENSIONS):
                    raise RuntimeError(f"{impl} negotiated {header!r}")
                results.setdefault((impl, mode), []).append(per_connection)
                print(
                    f"  round {round_index + 1} {mode:<12} {impl:<10} "
                    f"{per_connection / 1024:7.1f} KiB   Sec-WebSocket-Extensions: {header}",
                    flush=True,
                )

    print()
    width = max(len(mode) for mode in modes)
    print(f"{'KiB per connection (median)':<{width + 2}}")
    print(f"{'mode':<{width}} | " + " | ".join(f"{impl:>10}" for impl in impls) + " | sansws/ws")
    print("-" * (width + 13 * len(impls) + 12))
    for mode in modes:
        medians = {impl: statistics.median(results[impl, mode]) / 1024 for impl in impls}
        line = f"{mode:<{width}} | " + " | ".join(f"{medians[impl]:>10.1f}" for impl in impls)
        if "sansws" in medians and "websockets" in medians and medians["websockets"] > 0:
            line += f" | {medians['sansws'] / medians['websockets']:>9.2f}"
        print(line)
    if args.json:
        with open(args.json, "w") as file:
            rows = [
                {"impl": impl, "mode": mode, "bytes_per_connection": values}
                for (impl, mode), values in results.items()
            ]
            json.dump({"connections": args.n, "deflate": DEFLATE, "rows": rows}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
