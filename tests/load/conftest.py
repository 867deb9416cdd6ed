"""Load and soak tests: ``make load`` runs them at full scale (LOAD_SCALE=full).

Without LOAD_SCALE=full they run at CI scale: 1,000 connections instead of
10,000, a 30-second soak instead of several minutes. The full-scale cases are
marked ``load`` and skipped unless LOAD_SCALE=full.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FULL = os.environ.get("LOAD_SCALE", "small") == "full"
HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "load: full-scale load or soak (LOAD_SCALE=full)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="full-scale load test: set LOAD_SCALE=full (make load)")
    for item in items:
        if item.get_closest_marker("load") is not None and not FULL:
            item.add_marker(skip)


class Hub:
    """The hub_server.py subprocess."""

    def __init__(self, kind: str, compression: str = "none") -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "hub_server.py"), kind, compression],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.readline())

    def readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the server process died"
        return line

    def ask(self, command: str) -> list[str]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.readline().split()

    def stats(self) -> tuple[int, int, int, int]:
        """(connections, RSS in bytes, asyncio tasks, file descriptors)."""
        return self.stats_and_blocks()[:4]  # type: ignore[return-value]

    def stats_and_blocks(self) -> tuple[int, ...]:
        """stats() and the count of blocks live in Python's allocator."""
        return tuple(map(int, self.ask("stats")))

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        assert self.process.wait(60) == 0
