"""Profile sansws parsing small frames: ``python -m bench.profile_parse [SIZE]``.

Feeds 64 KiB reads of masked 16-byte Binary frames (or SIZE-byte ones) to a
server ``Protocol`` and fetches the events, under cProfile, sorted by
cumulative time. ``py-spy record -- python -m bench.profile_parse`` gives a
flame graph of the same loop.
"""

from __future__ import annotations

import cProfile
import pstats
import sys

from . import impls, payloads


def main() -> int:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    count = 20_000
    stream = payloads.client_stream([(2, payloads.binary_payload(size), True, False)] * count)
    chunks = payloads.split(stream, 64 * 1024)
    parse = impls.sansws_parser()
    assert not isinstance(parse, str)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        assert parse(chunks) == count
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(14)
    return 0


if __name__ == "__main__":
    sys.exit(main())
