"""The README's first command: an echo server and the CLI client talking to it.

It starts ``python -m sansws serve`` on a free port, then runs the
interactive client ``python -m sansws ws://...`` and types a few lines into
it, as a person would, with a short pause after each. Both transcripts are
printed. Everything stays on 127.0.0.1.

Run: python examples/demo.py
"""

from __future__ import annotations

import subprocess
import sys
import time

LINES = [
    "Hello from the sansws CLI!",
    "Καλημέρα κόσμε ✓",
    "/binary some bytes",
    "/ping are you there?",
    "/close 1000 demo over",
]


def main() -> int:
    server = subprocess.Popen(
        [sys.executable, "-m", "sansws", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        listening = server.stdout.readline().strip()
        print(f"server: {listening}", flush=True)
        uri = listening.split()[-1] + "/"
        print(f"client: python -m sansws {uri}", flush=True)
        client = subprocess.Popen(
            [sys.executable, "-m", "sansws", uri], stdin=subprocess.PIPE, text=True
        )
        assert client.stdin is not None
        time.sleep(0.5)
        for line in LINES:
            client.stdin.write(line + "\n")
            client.stdin.flush()
            time.sleep(0.3)
        client.stdin.close()
        status = client.wait(10)
    finally:
        server.terminate()
        server.wait(10)
    print("server transcript:")
    assert server.stdout is not None
    for line in server.stdout.read().splitlines():
        print(f"  {line}")
    return status


if __name__ == "__main__":
    sys.exit(main())
