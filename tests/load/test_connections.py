"""Many idle connections to one asyncio server: memory per connection, broadcast time.

The server runs in a subprocess (hub_server.py) so that its RSS is its own;
the clients run in several other processes (idle_clients.py). Figures are
printed (``pytest -s`` or ``-rP``); the assertions are the bounds.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from .conftest import HERE, Hub

pytestmark = pytest.mark.timeout(600)

MESSAGE_SIZE = 1024
GUARD = 300.0  # seconds: hang guard for opening every connection


def run(total: int, processes: int) -> None:
    hub = Hub("idle")
    clients: list[subprocess.Popen[str]] = []
    try:
        time.sleep(0.5)
        _, rss_before, _, _ = hub.stats()
        share = total // processes
        start = time.monotonic()
        for _ in range(processes):
            clients.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(HERE / "idle_clients.py"),
                        str(hub.port),
                        str(share),
                        str(MESSAGE_SIZE),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for client in clients:
            assert client.stdout is not None
            assert client.stdout.readline() == "ready\n"
        opened = time.monotonic() - start
        assert opened < GUARD
        connections, rss_after, _, fds = hub.stats()
        assert connections == total
        per_connection = (rss_after - rss_before) / total
        start = time.monotonic()
        skipped, seconds = hub.ask(f"broadcast {MESSAGE_SIZE}")
        for client in clients:
            assert client.stdout is not None
            assert client.stdout.readline() == "received\n"
        delivered = time.monotonic() - start
        print(
            f"\n{total} idle connections opened in {opened:.1f} s; server RSS "
            f"{rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB: "
            f"{per_connection / 1024:.1f} KiB per connection; {fds} fds\n"
            f"broadcast of {MESSAGE_SIZE} bytes: broadcast() took {float(seconds) * 1000:.1f} ms, "
            f"all {total} clients had it after {delivered * 1000:.0f} ms; skipped {skipped}"
        )
        assert int(skipped) == 0
        # Bound: an idle uncompressed connection costs well under 64 KiB.
        assert per_connection < 64 * 1024
    finally:
        for client in clients:
            if client.stdin is not None:
                client.stdin.close()
        for client in clients:
            client.wait(120)
        hub.stop()
    assert all(client.returncode == 0 for client in clients)


def test_1000_idle_connections_and_a_broadcast() -> None:
    run(1000, 2)


@pytest.mark.load
def test_10000_idle_connections_and_a_broadcast() -> None:
    run(10_000, 4)
