"""Measuring the bounds that hostile cases assert: Python memory, RSS, time."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """The resident set size of this process, in bytes (/proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@dataclass
class Measure:
    peak_python: int = 0  # tracemalloc peak above the start, bytes
    peak_rss: int = 0  # highest RSS sample above the start, bytes
    seconds: float = 0.0
    samples: list[int] = field(default_factory=list)


@contextlib.contextmanager
def measured(sample_rss: bool = False) -> Iterator[Measure]:
    """Trace Python allocations (and sample RSS every 5 ms) inside the block.

    ``peak_python`` counts every thread's allocations, the server's included,
    which is what the bound is about; the peer's own reads are small.
    """
    result = Measure()
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base_python = tracemalloc.get_traced_memory()[0]
    base_rss = rss()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            result.samples.append(rss() - base_rss)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_rss:
        sampler.start()
    start = time.monotonic()
    try:
        yield result
    finally:
        result.seconds = time.monotonic() - start
        result.peak_python = tracemalloc.get_traced_memory()[1] - base_python
        if sample_rss:
            stop.set()
            sampler.join()
            result.samples.append(rss() - base_rss)
            result.peak_rss = max(result.samples)
        if started_tracing:
            tracemalloc.stop()


KiB = 1024
MiB = 1024 * 1024
