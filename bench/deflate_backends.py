"""Is a faster zlib binding worth using for permessage-deflate?

A script, not a test: ``.venv/bin/python bench/deflate_backends.py``.

It times what :class:`sansws.extensions.permessage_deflate.PerMessageDeflate`
does with each backend that is installed -- stdlib ``zlib``,
``zlib_ng.zlib_ng`` (PyPI ``zlib-ng``) and ``isal.isal_zlib`` (PyPI ``isal``):

- one 1 MiB text-like message: compress with ``Z_SYNC_FLUSH``, then inflate;
- 1000 JSON-like messages of about 100 bytes, each compressed and inflated
  on its own flush, with context takeover, as a chat or ticker stream does.

Both use the settings sansws negotiates by default (raw deflate, window bits
12, memLevel 5, the backend's default level) and report the best of several
runs, the compressed size, and each backend's time as a ratio to stdlib zlib.

With ``--memory`` it also measures the memory that one compressing
connection holds: it builds N extension objects, makes each compress and
inflate one message, and divides the growth of the resident set size
(``/proc/self/statm``) by N. zlib allocates its state with ``malloc``, out of
sight of ``tracemalloc``, which is why RSS is measured.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType

BACKENDS = ["zlib", "zlib_ng.zlib_ng", "isal.isal_zlib"]
WBITS = 12
MEM_LEVEL = 5

_VOCABULARY = (
    "the of and to in is was for on that with by as at from his her an are this which "
    "be or had it not but have were has all their one been its new more than who "
    "first after two other also into time some most when only can over years later "
    "used made under city may between these during through where message socket frame "
    "server client window deflate buffer stream close"
)
WORDS = _VOCABULARY.split()


def text_like(size: int, seed: int = 7) -> bytes:
    """Pseudo-English: words drawn from a short list, with line breaks."""
    rnd = random.Random(seed)
    parts: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(6, 16)))
        parts.append(line)
        length += len(line) + 1
    return "\n".join(parts).encode()[:size]


def json_like(count: int, seed: int = 11) -> list[bytes]:
    """Small JSON events of about 100 bytes, like a ticker or a chat."""
    rnd = random.Random(seed)
    messages = []
    for i in range(count):
        event = {
            "id": i,
            "type": rnd.choice(["trade", "quote", "message", "presence"]),
            "user": f"user{rnd.randrange(500)}",
            "price": round(rnd.uniform(10, 1000), 2),
            "ts": 1_700_000_000 + i * 37,
        }
        messages.append(json.dumps(event, separators=(",", ":")).encode())
    return messages


def large_workload(zmod: ModuleType, data: bytes) -> Callable[[], int]:
    """Compress and inflate one large message; return the compressed size."""

    def run() -> int:
        c = zmod.compressobj(wbits=-WBITS, memLevel=MEM_LEVEL)
        out = c.compress(data) + c.flush(zmod.Z_SYNC_FLUSH)
        d = zmod.decompressobj(wbits=-WBITS)
        assert d.decompress(out) == data
        return len(out)

    return run


def small_workload(zmod: ModuleType, messages: list[bytes]) -> Callable[[], int]:
    """Compress and inflate small messages with context takeover."""
    sync = zmod.Z_SYNC_FLUSH

    def run() -> int:
        c = zmod.compressobj(wbits=-WBITS, memLevel=MEM_LEVEL)
        d = zmod.decompressobj(wbits=-WBITS)
        total = 0
        for message in messages:
            out = c.compress(message) + c.flush(sync)
            total += len(out) - 4
            assert d.decompress(out) == message
        return total

    return run


def best_times(
    workloads: dict[str, Callable[[], int]], rounds: int
) -> dict[str, tuple[float, int]]:
    """Best time and output size of each workload, taking turns each round.

    Taking turns spreads the noise of a busy machine over every backend
    instead of penalizing whichever ran during a burst.
    """
    best = dict.fromkeys(workloads, float("inf"))
    sizes = dict.fromkeys(workloads, 0)
    for _ in range(rounds):
        for name, run in workloads.items():
            start = time.perf_counter()
            sizes[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (best[name], sizes[name]) for name in workloads}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# Larger than a 32 KiB window, so that every page of zlib's state is touched:
# the figures are for a connection that has been busy, not a fresh one.
MEMORY_MESSAGE_SIZE = 41 * 1024


MEMORY_CASES = [
    ("12-bit windows both ways (server default)", 12, 12, False),
    ("12 out, 15 in (client default)", 15, 12, False),
    ("15-bit windows both ways", 15, 15, False),
    ("no context takeover, between messages", 15, 15, True),
]


def measure_memory(case: int, count: int) -> None:
    """Print the RSS growth per PerMessageDeflate, after one message each way."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    from sansws.extensions.permessage_deflate import PerMessageDeflate
    from sansws.frames import Frame, Opcode

    label, remote_bits, local_bits, no_takeover = MEMORY_CASES[case]
    message = text_like(MEMORY_MESSAGE_SIZE)
    # A peer compresses once to feed the inflaters of the measured objects.
    peer = PerMessageDeflate(no_takeover, no_takeover, local_bits, remote_bits)
    incoming = peer.encode(Frame(Opcode.TEXT, message))
    outgoing = Frame(Opcode.TEXT, message)
    gc.collect()
    before = rss_bytes()
    keep = []
    for _ in range(count):
        ext = PerMessageDeflate(no_takeover, no_takeover, remote_bits, local_bits)
        ext.encode(outgoing)
        ext.decode(incoming)
        keep.append(ext)
    gc.collect()
    per = (rss_bytes() - before) / count
    print(f"  {label:42} {per / 1024:6.1f} KiB per connection")


def measure_backend_memory(name: str, count: int) -> None:
    """Print the RSS growth per compressor and per decompressor of a backend."""
    zmod = importlib.import_module(name)
    message = text_like(MEMORY_MESSAGE_SIZE)
    compressed = zlib_compress(message)
    before = rss_bytes()
    keep = []
    for _ in range(count):
        c = zmod.compressobj(wbits=-WBITS, memLevel=MEM_LEVEL)
        c.compress(message)
        c.flush(zmod.Z_SYNC_FLUSH)
        keep.append(c)
    middle = rss_bytes()
    for _ in range(count):
        d = zmod.decompressobj(wbits=-WBITS)
        d.decompress(compressed)
        keep.append(d)
    after = rss_bytes()
    print(
        f"  {name:18} deflate {(middle - before) / count / 1024:6.1f} KiB, "
        f"inflate {(after - middle) / count / 1024:6.1f} KiB"
    )


def zlib_compress(data: bytes) -> bytes:
    import zlib

    c = zlib.compressobj(wbits=-WBITS, memLevel=MEM_LEVEL)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--memory", type=int, metavar="N", default=0)
    parser.add_argument("--backend-memory", metavar="MODULE", help=argparse.SUPPRESS)
    parser.add_argument("--memory-case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_case is not None:
        measure_memory(args.memory_case, args.memory)
        return
    if args.backend_memory:
        measure_backend_memory(args.backend_memory, args.memory or 1000)
        return

    large = text_like(1 << 20)
    small = json_like(1000)
    modules: dict[str, ModuleType] = {}
    for name in BACKENDS:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            print(f"{name}: not installed")
    larges = best_times({n: large_workload(z, large) for n, z in modules.items()}, args.rounds)
    smalls = best_times({n: small_workload(z, small) for n, z in modules.items()}, args.rounds)
    results = {name: (*larges[name], *smalls[name]) for name in modules}

    base = results["zlib"]
    print(f"window bits {WBITS}, memLevel {MEM_LEVEL}, default level")
    print(f"{'backend':18} {'1 MiB text':>22} {'1000 x ~100 B JSON':>26}")
    for name, (t_large, s_large, t_small, s_small) in results.items():
        print(
            f"{name:18} {t_large * 1e3:7.2f} ms x{t_large / base[0]:4.2f} "
            f"{s_large:7d} B   {t_small * 1e3:7.2f} ms x{t_small / base[2]:4.2f} "
            f"{s_small:6d} B"
        )
    if args.memory:
        print(f"memory, RSS growth over {args.memory} objects, {MEMORY_MESSAGE_SIZE} B message:")
        # One process per measurement, so that none reuses memory another freed.
        for case in range(len(MEMORY_CASES)):
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--memory-case",
                    str(case),
                    "--memory",
                    str(args.memory),
                ],
                check=True,
            )
        for name in results:
            subprocess.run(
                [sys.executable, __file__, "--backend-memory", name, "--memory", str(args.memory)],
                check=True,
            )


if __name__ == "__main__":
    main()
