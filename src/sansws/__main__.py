"""The ``sansws`` command: an interactive client and a demo echo server.

``sansws URI`` (or ``sansws connect URI``) connects to a WebSocket server,
sends each line read from standard input as a Text message, and prints what
happens with a timestamp: ``>`` for what it sends, ``<`` for what it
receives, and the close code with its reason at the end. Lines that start
with ``/`` are commands (``/help`` lists them); end of input closes the
connection with 1000.

``sansws serve`` runs an asyncio echo server: every message comes back with
its type, and each connection and its close are printed. It is the demo and
the server that the conformance tests run against.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from .exceptions import ConnectionClosed, InvalidHandshake, InvalidURI, ProtocolError
from .frames import Close

if TYPE_CHECKING:
    from .asyncio import ClientConnection, ServerConnection

__all__ = ["main"]

_background: set[asyncio.Future[None]] = set()

COMMANDS_HELP = """\
commands:
  /ping [text]          send a Ping and show the Pong's round trip
  /pong [text]          send an unsolicited Pong
  /close [code [reason]]  close the connection (default 1000)
  /binary text          send the text's UTF-8 bytes as a Binary message
  /help                 show this help
  //text                send a Text message that starts with "/"
end of input (Ctrl-D) closes the connection with 1000"""


def timestamp() -> str:
    """The wall-clock time to the millisecond, for the transcript."""
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"


def describe(message: str | bytes) -> str:
    """One line for a message: text as it is, binary as hex, with its size."""
    if isinstance(message, str):
        if len(message) > 200:
            return f"{message[:200]!r}... [{len(message)} chars]"
        return message
    preview = message[:32].hex(" ")
    more = "..." if len(message) > 32 else ""
    return f"(binary) {preview}{more} [{len(message)} bytes]"


def describe_close(code: int | None, reason: str | None) -> str:
    """The close code with its meaning, and the reason (RFC 6455 §7.4)."""
    if code is None:
        return "unknown"
    return str(Close(code, reason or ""))


# The client ------------------------------------------------------------------


def start_line_reader(loop: asyncio.AbstractEventLoop, source: TextIO) -> asyncio.Queue[str | None]:
    """Read lines from ``source`` on a daemon thread; None marks the end.

    A daemon thread, not the default executor: a blocking ``readline()``
    cannot be cancelled, and the executor would keep the process alive.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in source:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be closed
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="sansws-stdin", daemon=True).start()
    return queue


async def print_messages(connection: ClientConnection, out: TextIO) -> None:
    """Print every message received until the connection closes."""
    try:
        async for message in connection:
            print(f"{timestamp()} < {describe(message)}", file=out, flush=True)
    except ConnectionClosed:
        pass


async def run_command(connection: ClientConnection, line: str, out: TextIO) -> bool:
    """Act on one input line; return False once the connection is closing."""
    if line.startswith("//") or not line.startswith("/"):
        text = line[1:] if line.startswith("//") else line
        await connection.send(text)
        print(f"{timestamp()} > {describe(text)}", file=out, flush=True)
        return True
    command, _, argument = line[1:].partition(" ")
    if command == "ping":
        waiter = await connection.ping(argument.encode() if argument else None)
        print(f"{timestamp()} > ping {argument!r}", file=out, flush=True)

        async def report() -> None:
            with contextlib.suppress(ConnectionClosed):
                latency = await waiter
                print(f"{timestamp()} < pong ({latency * 1000:.1f} ms)", file=out, flush=True)

        # Keep a reference until it finishes: the loop only holds weak ones.
        task = asyncio.ensure_future(report())
        _background.add(task)
        task.add_done_callback(_background.discard)
    elif command == "pong":
        await connection.pong(argument.encode())
        print(f"{timestamp()} > pong {argument!r}", file=out, flush=True)
    elif command == "binary":
        await connection.send(argument.encode())
        print(f"{timestamp()} > {describe(argument.encode())}", file=out, flush=True)
    elif command == "close":
        code_text, _, reason = argument.partition(" ")
        code = int(code_text) if code_text else 1000
        print(f"{timestamp()} > close {describe_close(code, reason)}", file=out, flush=True)
        await connection.close(code, reason)
        return False
    else:
        print(COMMANDS_HELP, file=out, flush=True)
    return True


async def run_client(
    uri: str,
    *,
    headers: list[tuple[str, str]],
    subprotocols: list[str] | None,
    compression: str | None,
    max_size: int | None,
    source: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    """Connect, then send lines from ``source`` and print the transcript.

    Returns:
        The exit status: 0 after a clean close, 1 otherwise.
    """
    from .asyncio import connect

    try:
        connection = await connect(
            uri,
            additional_headers=headers,
            subprotocols=subprotocols,
            compression=compression,
            max_size=max_size,
        )
    except (OSError, InvalidHandshake, InvalidURI, asyncio.TimeoutError) as exc:
        print(f"Failed to connect to {uri}: {exc}", file=out, flush=True)
        return 1
    details = f" (subprotocol {connection.subprotocol})" if connection.subprotocol else ""
    extensions = connection.response.headers.get("Sec-WebSocket-Extensions")
    if extensions:
        details += f" (extensions {extensions})"
    print(f"{timestamp()} Connected to {uri}{details}", file=out, flush=True)

    lines = start_line_reader(asyncio.get_running_loop(), source)
    printer = asyncio.ensure_future(print_messages(connection, out))
    closed = asyncio.ensure_future(connection.wait_closed())
    try:
        while not closed.done():
            next_line = asyncio.ensure_future(lines.get())
            await asyncio.wait({next_line, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not next_line.done():
                next_line.cancel()
                break
            line = next_line.result()
            if line is None:
                await connection.close()
                break
            try:
                if not await run_command(connection, line, out):
                    break
            except ConnectionClosed:
                break
            except (ValueError, ProtocolError) as exc:
                print(f"{timestamp()} ! {exc}", file=out, flush=True)
        await closed
        await printer
    finally:
        printer.cancel()
    code, reason = connection.close_code, connection.close_reason
    print(f"{timestamp()} Connection closed: {describe_close(code, reason)}", file=out, flush=True)
    return 0 if code in (1000, 1001) else 1


# The server ------------------------------------------------------------------


async def echo(connection: ServerConnection) -> None:
    """Send every message back as it came: Text as Text, Binary as Binary."""
    async for message in connection:
        await connection.send(message)


async def run_echo_server(
    host: str,
    port: int,
    compression: str | None,
    max_size: int,
    *,
    echo_messages: bool = True,
    out: TextIO = sys.stdout,
) -> None:
    """Serve until cancelled; print one line once listening, and one per connection."""
    from .asyncio import serve

    async def handler(connection: ServerConnection) -> None:
        peer = connection.remote_address
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        print(f"{timestamp()} connection from {where}", file=out, flush=True)
        try:
            if echo_messages:
                await echo(connection)
            else:
                async for message in connection:
                    print(f"{timestamp()} < {where} {describe(message)}", file=out, flush=True)
        finally:
            await connection.wait_closed()
            closed = describe_close(connection.close_code, connection.close_reason)
            print(f"{timestamp()} closed {where}: {closed}", file=out, flush=True)

    async with serve(handler, host, port, compression=compression, max_size=max_size) as server:
        sockname = server.sockets[0].getsockname()
        print(f"listening on ws://{sockname[0]}:{sockname[1]}", file=out, flush=True)
        await server.serve_forever()


# The command line -----------------------------------------------------------


def parse_header(text: str) -> tuple[str, str]:
    """Parse ``Name: value`` for ``--header``."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    """The command line, one subcommand per tool."""
    parser = argparse.ArgumentParser(
        prog="sansws",
        description="WebSocket tools: 'sansws URI' is an interactive client, "
        "'sansws serve' an echo server.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    connect = commands.add_parser(
        "connect",
        help="interactive client (the default: 'sansws URI')",
        epilog=COMMANDS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    connect.add_argument("uri", help="ws:// or wss:// URI")
    connect.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=parse_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="add a header to the opening handshake (repeatable)",
    )
    connect.add_argument(
        "-s",
        "--subprotocol",
        dest="subprotocols",
        action="append",
        metavar="NAME",
        help="offer a subprotocol (repeatable)",
    )
    connect.add_argument(
        "--no-compression", action="store_true", help="do not offer permessage-deflate"
    )
    connect.add_argument(
        "--max-size",
        type=int,
        default=16 * 2**20,
        help="largest incoming message in bytes (default: 16 MiB)",
    )

    serve = commands.add_parser("serve", help="run an echo server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks one")
    serve.add_argument(
        "--echo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send every message back (the default); --no-echo prints them instead",
    )
    serve.add_argument(
        "--no-compression",
        action="store_true",
        help="refuse permessage-deflate (RFC 7692)",
    )
    serve.add_argument(
        "--max-size",
        type=int,
        default=16 * 2**20,
        help="largest incoming message in bytes (default: 16 MiB)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sansws`` command.

    Returns:
        The exit status.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and not arguments[0].startswith("-") and arguments[0] not in ("connect", "serve"):
        # 'sansws URI' is short for 'sansws connect URI'.
        arguments.insert(0, "connect")
    args = build_parser().parse_args(arguments)
    compression = None if args.no_compression else "deflate"
    if args.command == "serve":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_echo_server(
                    args.host, args.port, compression, args.max_size, echo_messages=args.echo
                )
            )
        return 0
    try:
        return asyncio.run(
            run_client(
                args.uri,
                headers=args.headers,
                subprotocols=args.subprotocols,
                compression=compression,
                max_size=args.max_size,
            )
        )
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
