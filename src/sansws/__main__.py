"""The ``sansws`` command.

``sansws serve --host HOST --port PORT`` runs an echo server for demos and
for Autobahn|Testsuite: every message comes back with its type. The
interactive client (``sansws URI``) will be another subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

__all__ = ["main"]


async def echo(connection: object) -> None:
    """Send every message back as it came: Text as Text, Binary as Binary."""
    from .asyncio import ServerConnection

    assert isinstance(connection, ServerConnection)
    async for message in connection:
        await connection.send(message)


async def run_echo_server(host: str, port: int, compression: str | None, max_size: int) -> None:
    """Serve :func:`echo` until cancelled; print one line once listening."""
    from .asyncio import serve

    async with serve(echo, host, port, compression=compression, max_size=max_size) as server:
        sockname = server.sockets[0].getsockname()
        print(f"listening on ws://{sockname[0]}:{sockname[1]}", flush=True)
        await server.serve_forever()


def build_parser() -> argparse.ArgumentParser:
    """The command line, one subcommand per tool."""
    parser = argparse.ArgumentParser(prog="sansws", description="WebSocket tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run an echo server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks one")
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
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        compression = None if args.no_compression else "deflate"
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_echo_server(args.host, args.port, compression, args.max_size))
        return 0
    raise AssertionError(f"unknown command {args.command}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
