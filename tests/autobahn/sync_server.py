"""Echo server on ``sansws.sync``, for Autobahn|Testsuite's fuzzingclient.

Same options as ``python -m sansws serve`` (it reuses that parser)::

    AUTOBAHN_SERVER_CMD='{python} tests/autobahn/sync_server.py \\
        --host 127.0.0.1 --port {port} --max-size 16777216 {compression}'

Every message comes back with its type; each connection runs in a thread.
SIGTERM or SIGINT shuts the server down.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sansws.__main__ import build_parser
from sansws.sync import ServerConnection, serve


def echo(ws: ServerConnection) -> None:
    for message in ws:
        ws.send(message)


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(["serve", *argv])
    compression = None if args.no_compression else "deflate"
    with serve(
        echo, args.host, args.port, compression=compression, max_size=args.max_size
    ) as server:

        def stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() waits for serve_forever(), which runs below this
            # handler in the main thread: run it from another thread.
            threading.Thread(target=server.shutdown).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        host, port = server.socket.getsockname()[:2]
        print(f"listening on ws://{host}:{port}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
