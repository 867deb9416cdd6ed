"""The ``sansws`` command: the interactive client, driven in a real terminal, and the server."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from sansws.__main__ import build_parser, describe, describe_close, main, parse_header, run_client


@pytest.fixture
def echo_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``sansws serve`` in a child process; yields its URI and the process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sansws", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on ws://127.0.0.1:"), line
        yield line.split()[-1] + "/", process
    finally:
        process.terminate()
        process.wait(10)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.timeout(60)
def test_interactive_client_in_tmux(echo_server: tuple[str, subprocess.Popen[str]]) -> None:
    """Type into the client in a real terminal (tmux) and read the screen back."""
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.fail("tmux is not installed; .ci/run installs it with apt-get")
    uri, _ = echo_server
    session = f"sansws-cli-{os.getpid()}"
    subprocess.run(
        [
            tmux,
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "160",
            "-y",
            "40",
            f"{sys.executable} -m sansws {uri}",
        ],
        check=True,
    )

    def screen() -> str:
        result = subprocess.run(
            [tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True
        )
        return result.stdout

    def type_line(text: str) -> None:
        subprocess.run([tmux, "send-keys", "-t", session, "-l", text], check=True)
        subprocess.run([tmux, "send-keys", "-t", session, "Enter"], check=True)

    try:
        subprocess.run([tmux, "set-option", "-t", session, "remain-on-exit", "on"], check=True)
        wait_for(lambda: "Connected to " + uri in screen(), "the connection")
        assert "permessage-deflate" in screen()
        type_line("Hello, terminal!")
        wait_for(lambda: "< Hello, terminal!" in screen(), "the echo")
        type_line("héllo wörld ✓")
        wait_for(lambda: "< héllo wörld ✓" in screen(), "the non-ASCII echo")
        type_line("/binary raw")
        wait_for(lambda: "< (binary) 72 61 77 [3 bytes]" in screen(), "the binary echo")
        type_line("/ping abc")
        wait_for(lambda: "< pong (" in screen(), "the pong")
        type_line("/close 1000 bye")
        wait_for(lambda: "Connection closed: 1000 (OK) bye" in screen(), "the close")
        transcript = screen()
        # Each event is on its own line, timestamped.
        lines = [line for line in transcript.splitlines() if line.strip()]
        assert any(line.endswith("> Hello, terminal!") for line in lines)
        assert any(line.endswith("> ping 'abc'") for line in lines)
        assert any(line.endswith("> close 1000 (OK) bye") for line in lines)
        typed = {"Hello, terminal!", "héllo wörld ✓", "/binary raw", "/ping abc", "/close 1000 bye"}
        for line in lines:
            # The terminal echoes what was typed; everything else is timestamped.
            assert line in typed or (line[2] == ":" and line[8] == "."), line
        print("\n" + transcript.rstrip())
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)


@pytest.mark.timeout(60)
def test_scripted_client_and_server_transcript(
    echo_server: tuple[str, subprocess.Popen[str]],
) -> None:
    """Lines on a pipe, as the README's demo does; the server prints the connection."""
    uri, server = echo_server
    client = subprocess.Popen(
        [sys.executable, "-m", "sansws", uri, "--no-compression", "-H", "X-Demo: yes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdin is not None and client.stdout is not None
    assert "Connected to" in client.stdout.readline()
    client.stdin.write("one\n")
    client.stdin.flush()
    assert client.stdout.readline().endswith("> one\n")
    assert client.stdout.readline().endswith("< one\n")
    client.stdin.close()  # end of input closes with 1000
    rest = client.stdout.read()
    assert client.wait(20) == 0
    assert "Connection closed: 1000 (OK)" in rest
    assert server.stdout is not None
    assert "connection from 127.0.0.1:" in server.stdout.readline()
    assert "closed 127.0.0.1:" in server.stdout.readline()


def test_client_reports_a_refused_connection() -> None:
    out = io.StringIO()
    status = asyncio.run(
        run_client(
            "ws://127.0.0.1:9/",
            headers=[],
            subprotocols=None,
            compression=None,
            max_size=None,
            source=io.StringIO(""),
            out=out,
        )
    )
    assert status == 1
    assert out.getvalue().startswith("Failed to connect to ws://127.0.0.1:9/")


def test_uri_alone_means_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    async def fake_run_client(uri: str, **options: object) -> int:
        seen["uri"] = uri
        seen.update(options)
        return 7

    monkeypatch.setattr("sansws.__main__.run_client", fake_run_client)
    assert main(["ws://example/", "-H", "A: b", "-s", "chat", "--no-compression"]) == 7
    assert seen == {
        "uri": "ws://example/",
        "headers": [("A", "b")],
        "subprotocols": ["chat"],
        "compression": None,
        "max_size": 16 * 2**20,
    }


def test_parser() -> None:
    args = build_parser().parse_args(["serve", "--no-echo"])
    assert (args.host, args.port, args.echo) == ("127.0.0.1", 8765, False)
    assert parse_header("Name:  value ") == ("Name", "value")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_header("no colon")


def test_describe() -> None:
    assert describe("text") == "text"
    assert describe(b"\x00\x01") == "(binary) 00 01 [2 bytes]"
    assert describe(bytes(40)).endswith("... [40 bytes]")
    assert describe("x" * 300).endswith("[300 chars]")
    assert describe_close(1000, "bye") == "1000 (OK) bye"
    assert describe_close(4000, "") == "4000 (private use)"
    assert describe_close(None, None) == "unknown"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("example", ["demo.py", "in_memory.py"])
def test_readme_examples_run(example: str) -> None:
    """The README's demo and in-memory example run to the end."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, os.path.join(root, "examples", example)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stderr
    if example == "demo.py":
        assert "< Hello from the sansws CLI!" in result.stdout
        assert "< pong (" in result.stdout
        assert "Connection closed: 1000 (OK) demo over" in result.stdout
        assert "closed 127.0.0.1:" in result.stdout
    else:
        assert "client received: 'Hello, world!'" in result.stdout
        assert "closed: client 1000 'done', server 1000 'done'" in result.stdout
