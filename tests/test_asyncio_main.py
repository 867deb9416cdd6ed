"""``python -m sansws serve``: the echo server for demos and Autobahn."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sansws.__main__ import build_parser
from sansws.asyncio import connect

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["serve", "--port", "0"])
    assert (args.host, args.port, args.no_compression, args.max_size) == (
        "127.0.0.1",
        0,
        False,
        16 * 2**20,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_echo_server_subprocess() -> None:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "sansws", "serve", "--port", "0", "--no-compression"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        if not line:
            process.wait(10)
            pytest.fail(f"server exited with {process.returncode}: {process.stderr.read()}")
        assert line.startswith("listening on ws://127.0.0.1:")
        uri = line.split()[-1] + "/"

        async def talk() -> None:
            async with connect(uri, compression=None, max_size=2**22) as ws:
                await ws.send("text")
                assert await ws.recv() == "text"
                await ws.send(b"binary")
                assert await ws.recv() == b"binary"
                await ws.send(b"x" * 2**21)  # over the library default of 1 MiB
                assert await ws.recv() == b"x" * 2**21

        asyncio.run(asyncio.wait_for(talk(), 20))
    finally:
        process.terminate()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
