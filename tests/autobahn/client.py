"""Autobahn|Testsuite client: drives ``wstest -m fuzzingserver``.

Follows the Autobahn client protocol:

1. ``GET /getCaseCount``: the server sends the number of cases as text;
2. for N in 1..count: ``GET /getCaseInfo?case=N`` (to learn the case id,
   which decides whether to offer compression), then
   ``GET /runCase?case=N&agent=AGENT`` and echo every message back with the
   same type until the server closes;
3. ``GET /updateReports?agent=AGENT`` so the server writes its reports.

The WebSocket library is chosen by ``AUTOBAHN_CLIENT_LIB``:

- ``sansws`` (default): ``sansws.asyncio.client.connect`` and
  ``sansws.exceptions.ConnectionClosed``;
- ``websockets``: ``websockets.asyncio.client.connect`` (a stand-in, to
  validate the harness and compare results).

Usage::

    python tests/autobahn/client.py --uri ws://127.0.0.1:9001 --agent sansws

Exit status: 0 when the reports were updated (Autobahn judges the cases),
1 when the protocol with the fuzzing server itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

MAX_SIZE = 2**24
# A case that runs longer than this is abandoned (Autobahn then reports it);
# the slowest cases of section 9 take a few seconds on loopback.
CASE_TIMEOUT = float(os.environ.get("AUTOBAHN_CASE_TIMEOUT", "120"))


def load_library(name: str) -> tuple[Callable[..., Any], type[BaseException]]:
    """Return ``(connect, ConnectionClosed)`` of the chosen library.

    Both libraries have the same layout: ``NAME.asyncio.client.connect`` and
    ``NAME.exceptions.ConnectionClosed``.
    """
    if name not in ("sansws", "websockets"):
        raise SystemExit(f"AUTOBAHN_CLIENT_LIB must be 'sansws' or 'websockets', not {name!r}")
    if name == "websockets":
        # websockets >= 16 fails a message split into more than 4096 frames;
        # cases 9.3.1 and 9.4.1 send 65536. Lift that cap of the stand-in.
        messages = importlib.import_module("websockets.asyncio.messages")
        if hasattr(messages, "MAX_FRAGMENTS"):
            messages.__dict__["MAX_FRAGMENTS"] = 2**24 // 64
    connect = importlib.import_module(f"{name}.asyncio.client").connect
    closed = importlib.import_module(f"{name}.exceptions").ConnectionClosed
    return connect, closed


class AutobahnClient:
    def __init__(self, lib: str, base_uri: str, agent: str, compression: str):
        self.connect, self.closed_exc = load_library(lib)
        self.base_uri = base_uri.rstrip("/")
        self.agent = agent
        self.compression = compression
        self.errors: Counter[str] = Counter()

    def uri(self, path: str) -> str:
        return f"{self.base_uri}{path}"

    async def fetch_text(self, path: str) -> str:
        """Open ``path`` and return the first message the server sends."""
        result: str | None = None
        async with self.connect(self.uri(path), max_size=MAX_SIZE, compression=None) as ws:
            async for message in ws:
                if result is None:
                    result = message if isinstance(message, str) else message.decode()
        if result is None:
            raise RuntimeError(f"no message received from {path}")
        return result

    def compression_for(self, case_id: str) -> str | None:
        if self.compression == "deflate":
            return "deflate"
        if self.compression == "auto" and case_id.split(".")[0] in ("12", "13"):
            return "deflate"
        return None

    async def echo(self, path: str, compression: str | None) -> None:
        try:
            async with self.connect(
                self.uri(path), max_size=MAX_SIZE, compression=compression
            ) as ws:
                async for message in ws:
                    await ws.send(message)
        except self.closed_exc:
            pass

    async def run_case(self, number: int) -> str:
        info = json.loads(await self.fetch_text(f"/getCaseInfo?case={number}"))
        case_id = str(info["id"])
        path = f"/runCase?case={number}&agent={quote(self.agent)}"
        try:
            await asyncio.wait_for(self.echo(path, self.compression_for(case_id)), CASE_TIMEOUT)
        except asyncio.TimeoutError:
            self.errors["timeout"] += 1
            print(f"case {case_id}: timed out after {CASE_TIMEOUT:.0f} s", flush=True)
        except Exception as exc:
            # Not fatal: the fuzzing server records how the case went. Keep going
            # so that one bug does not hide the results of the other cases.
            self.errors[type(exc).__name__] += 1
            print(f"case {case_id}: {type(exc).__name__}: {exc}", flush=True)
        return case_id

    async def run(self) -> int:
        start = time.monotonic()
        count = int(await self.fetch_text("/getCaseCount"))
        print(f"{count} cases, agent {self.agent!r}", flush=True)
        for number in range(1, count + 1):
            case_id = await self.run_case(number)
            if number % 50 == 0 or number == count:
                print(f"  {number}/{count} done (last: {case_id})", flush=True)
        async with self.connect(
            self.uri(f"/updateReports?agent={quote(self.agent)}"),
            max_size=MAX_SIZE,
            compression=None,
        ) as ws:
            try:
                async for _ in ws:
                    pass
            except self.closed_exc:
                pass
        elapsed = time.monotonic() - start
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        print(
            f"ran {count} cases in {elapsed:.1f} s; client-side exceptions: {errors or 'none'}",
            flush=True,
        )
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Autobahn fuzzingserver client")
    parser.add_argument("--uri", required=True, help="ws://127.0.0.1:PORT")
    parser.add_argument("--agent", default="sansws")
    parser.add_argument(
        "--lib",
        default=os.environ.get("AUTOBAHN_CLIENT_LIB", "sansws"),
        help="sansws (default) or websockets; env AUTOBAHN_CLIENT_LIB",
    )
    parser.add_argument(
        "--compression",
        choices=("auto", "none", "deflate"),
        default="auto",
        help="auto: offer permessage-deflate only in sections 12 and 13",
    )
    args = parser.parse_args()
    client = AutobahnClient(args.lib, args.uri, args.agent, args.compression)
    try:
        return asyncio.run(client.run())
    except Exception as exc:
        print(f"autobahn client failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise


if __name__ == "__main__":
    sys.exit(main())
