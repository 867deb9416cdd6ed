"""The protocol-level benchmark: workloads, command line, report.

Run ``python -m bench --help`` for the options, and see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from . import impls, payloads
from .harness import Row, Runner, measure, render
from .limits import limit_rows, render_limits
from .payloads import KIB, MIB

SIZES = [16, 125, KIB, 64 * KIB, MIB, 16 * MIB]
READ_SIZE = 64 * KIB
# Streams for parsing hold at least this many bytes (and at most MAX_BATCH
# messages), so that one call parses a realistic run of small frames.
STREAM_BYTES = 512 * KIB
MAX_BATCH = 20_000


@dataclass
class Workload:
    """One line of the table.

    ``cells(impl)`` returns the runner for an implementation, or why it is n/a.
    ``count`` is the number of messages one call of a runner handles.
    """

    name: str
    nbytes: int
    count: int
    cells: Callable[[str], Runner | str]


def size_label(size: int) -> str:
    if size >= MIB:
        return f"{size // MIB}MiB"
    if size >= KIB:
        return f"{size // KIB}KiB"
    return f"{size}B"


def batch(size: int) -> int:
    return max(1, min(MAX_BATCH, STREAM_BYTES // (size + 14)))


def _parse_runner(factory: Callable[..., Any], chunks: list[bytes], **kwargs: Any) -> Runner | str:
    try:
        parser = factory(**kwargs)
    except ImportError as exc:
        return f"not installed ({exc.name})"
    if isinstance(parser, str):
        return parser
    return lambda: parser(chunks)


def _send_runner(
    factory: Callable[..., Any], items: list[Any], *args: Any, **kwargs: Any
) -> Runner | str:
    try:
        sender = factory(*args, **kwargs)
    except ImportError as exc:
        return f"not installed ({exc.name})"
    if isinstance(sender, str):
        return sender
    return lambda: sender(items)


def parse_workloads(sizes: list[int]) -> Iterator[Workload]:
    for size in sizes:
        for kind in ("bin", "text"):
            count = batch(size)
            for feed in ("whole", "64KiB"):

                def cells(
                    impl: str, size: int = size, kind: str = kind, feed: str = feed
                ) -> Runner | str:
                    stream = _stream(size, kind)
                    chunks = [stream] if feed == "whole" else payloads.split(stream, READ_SIZE)
                    return _parse_runner(impls.PARSERS[impl], chunks)

                name = f"parse {kind} {size_label(size)} {feed}"
                yield Workload(name, size, count, cells)


_streams: dict[tuple[int, str], bytes] = {}


def _stream(size: int, kind: str) -> bytes:
    """Masked frames, as a client sends them: ``batch(size)`` messages of ``size`` bytes."""
    key = (size, kind)
    if key not in _streams:
        _streams.clear()  # keep one 16 MiB stream alive at most
        payload = payloads.text_payload(size) if kind == "text" else payloads.binary_payload(size)
        opcode = 1 if kind == "text" else 2
        _streams[key] = payloads.client_stream([(opcode, payload, True, False)] * batch(size))
    return _streams[key]


def send_workloads(sizes: list[int]) -> Iterator[Workload]:
    for side in ("client", "server"):
        for size in sizes:
            for kind in ("bin", "text"):
                count = batch(size)

                def cells(
                    impl: str, side: str = side, size: int = size, kind: str = kind
                ) -> Runner | str:
                    text = kind == "text"
                    payload: Any = (
                        payloads.text_payload(size) if text else payloads.binary_payload(size)
                    )
                    if text:
                        payload = payload.decode()
                    return _send_runner(impls.SENDERS[impl], [payload] * batch(size), side, text)

                yield Workload(f"send {side} {kind} {size_label(size)}", size, count, cells)


def fragmented_workloads() -> Iterator[Workload]:
    fragment = KIB

    def cells(impl: str) -> Runner | str:
        text = payloads.text_payload(MIB)
        parts = payloads.split(text, fragment)
        frames = [
            (1 if i == 0 else 0, part, i == len(parts) - 1, False) for i, part in enumerate(parts)
        ]
        chunks = payloads.split(payloads.client_stream(frames), READ_SIZE)
        return _parse_runner(impls.PARSERS[impl], chunks)

    yield Workload("parse text 1MiB in 1KiB fragments", MIB, 1, cells)


def deflate_workloads() -> Iterator[Workload]:
    for size in (KIB, MIB):
        # Distinct messages, more of them than the 32 KiB window holds, so
        # that context takeover cannot turn a message into one back-reference.
        count = 128 if size == KIB else 2
        texts = [payloads.text_payload(size, seed=i) for i in range(count)]

        def parse_cells(impl: str, texts: list[bytes] = texts) -> Runner | str:
            compressed = payloads.deflate_messages(texts)
            stream = payloads.client_stream([(1, data, True, True) for data in compressed])
            chunks = payloads.split(stream, READ_SIZE)
            return _parse_runner(impls.PARSERS[impl], chunks, deflate=True)

        def send_cells(impl: str, texts: list[bytes] = texts) -> Runner | str:
            items = [text.decode() for text in texts]
            return _send_runner(impls.SENDERS[impl], items, "server", True, deflate=True)

        label = size_label(size)
        yield Workload(f"deflate parse text {label} 64KiB", size, count, parse_cells)
        yield Workload(f"deflate send server text {label}", size, count, send_cells)


def all_workloads(quick: bool = False) -> Iterator[Workload]:
    # --quick leaves out the 16 MiB messages, which take half of a full run.
    sizes = SIZES[:-1] if quick else SIZES
    yield from parse_workloads(sizes)
    yield from fragmented_workloads()
    yield from send_workloads(sizes)
    yield from deflate_workloads()


# Report ----------------------------------------------------------------------


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    """The machine and library versions, for the report."""
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False)
        for line in lscpu.stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import websockets.speedups  # noqa: F401

        ws_speedups = "yes"
    except ImportError:
        ws_speedups = "NO"
    from sansws import frames

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": model or platform.processor(),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {
            name: _version(name)
            for name in ("sansws", "websockets", "wsproto", "aiohttp", "picows")
        },
        "websockets.speedups": ws_speedups,
        "sansws apply_mask": getattr(frames.apply_mask, "__module__", "?"),
        "sansws PerMessageDeflate": "yes" if impls.sansws_deflate() is not None else "not landed",
    }


def describe(env: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return (
        f"{env['date']} | {env['cpu']} x {env['nproc']} | Python {env['python']} | {versions}\n"
        f"websockets.speedups: {env['websockets.speedups']} | "
        f"sansws apply_mask from {env['sansws apply_mask']} | "
        f"sansws PerMessageDeflate: {env['sansws PerMessageDeflate']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter rounds (about a minute)"
    )
    parser.add_argument("--only", metavar="PATTERN", help="regular expression on workload names")
    parser.add_argument("--impl", action="append", help="only these implementations (repeatable)")
    parser.add_argument("--rounds", type=int, help="timed rounds per cell")
    parser.add_argument("--json", metavar="FILE", help="save the results as JSON")
    parser.add_argument(
        "--stat", choices=["best", "median"], default="best", help="statistic in the table"
    )
    parser.add_argument("--no-limits", action="store_true", help="skip the physical-limits table")
    parser.add_argument(
        "--from-json", metavar="FILE", help="render a saved run instead of measuring"
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)

    if args.from_json:
        with open(args.from_json) as file:
            saved = json.load(file)
        print(describe(saved["environment"]))
        saved_rows = [Row.from_json(row) for row in saved["rows"]]
        print(render(saved_rows, impls.IMPLS, stat=args.stat))
        if saved.get("limits"):
            print()
            print(render_limits([Row.from_json(row) for row in saved["limits"]]))
        return 0

    pattern = re.compile(args.only) if args.only else None

    def only(name: str) -> bool:
        return pattern is None or pattern.search(name) is not None

    workloads = [w for w in all_workloads(args.quick) if only(w.name)]
    if args.list:
        for workload in workloads:
            print(workload.name)
        return 0

    rounds = args.rounds or (3 if args.quick else 7)
    target = 0.015 if args.quick else 0.08
    chosen = args.impl or impls.IMPLS
    env = environment()
    print(describe(env), flush=True)

    rows: list[Row] = []
    started = time.perf_counter()
    for workload in workloads:
        cells = {impl: workload.cells(impl) for impl in chosen}
        results = measure(cells, rounds=rounds, target=target, expected=workload.count)
        rows.append(Row(workload.name, workload.nbytes, results))
        lines = render([rows[-1]], chosen, stat=args.stat).splitlines()
        if len(rows) == 1:
            print("\n".join(lines[:4]))
        print(lines[4], flush=True)
    print()
    print(render(rows, chosen, stat=args.stat))

    limits: list[Row] = []
    if not args.no_limits:
        limits = limit_rows(rounds, target, only if args.only else lambda name: True)
        if limits:
            print()
            print(render_limits(limits))
    print(f"\n{len(rows)} workloads in {time.perf_counter() - started:.0f} s")

    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "environment": env,
                    "args": vars(args),
                    "rows": [row.to_json() for row in rows],
                    "limits": [row.to_json() for row in limits],
                },
                file,
                indent=1,
            )
    return 0
