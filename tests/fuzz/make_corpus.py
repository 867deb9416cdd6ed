"""Write the seed corpus of the fuzzers into ``tests/fuzz/corpus/<target>/``.

Run it from anywhere with ``python tests/fuzz/make_corpus.py``. It makes
valid frames and handshakes with sansws itself, plus a few near misses, and
writes each input to a file named by its SHA-1, as libFuzzer does. The
output is deterministic: masking keys are fixed while it runs.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from chunking import make_input  # noqa: E402

import sansws.protocol  # noqa: E402
from sansws.client import ClientProtocol  # noqa: E402
from sansws.extensions.permessage_deflate import (  # noqa: E402
    PerMessageDeflate,
    enable_client_permessage_deflate,
)
from sansws.handshake import accept_key  # noqa: E402
from sansws.protocol import CLIENT, SERVER, Protocol, Side  # noqa: E402

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

# Chunking seeds: whole, 1 byte at a time, 7 at a time, random sizes.
SEEDS = [0, 1, 7, 4242]


def fixed_mask_key() -> bytes:
    return b"\x37\xfa\x21\x3d"


def frames(sender_side: Side, deflate: bool, script: Callable[[Protocol], None]) -> bytes:
    """The bytes that a Protocol on ``sender_side`` writes while running ``script``."""
    sender = Protocol(sender_side)
    if deflate:
        sender.extensions = [PerMessageDeflate(False, False, 15, 15)]
    script(sender)
    return b"".join(sender.data_to_send())


def chat(p: Protocol) -> None:
    p.send_text(b"Hello")
    p.send_text("ünïcödé ✓ 🎉".encode())
    p.send_binary(bytes(range(256)))
    p.send_ping(b"ping")
    p.send_pong(b"")
    p.send_close(1000, "bye")


def fragmented(p: Protocol) -> None:
    text = "fragments ✓ across frames".encode()
    p.send_text(text[:12], fin=False)
    p.send_ping(b"between")
    p.send_continuation(text[12:13], fin=False)
    p.send_continuation(text[13:], fin=True)
    p.send_binary(b"", fin=False)
    p.send_continuation(b"\x00" * 300, fin=True)
    p.send_close()


def long_ones(p: Protocol) -> None:
    p.send_binary(b"A" * 2000)  # a 16-bit length, past the (1000, 100) limits
    p.send_text(b"x" * 125)
    p.send_text(b"y" * 126)
    p.fail(1009, "too big")


def invalid_text(p: Protocol) -> None:
    p.send_text(b"ok \xed\xa0\x80 surrogate", fin=False)
    p.send_continuation(b"", fin=True)


def protocol_corpus() -> list[bytes]:
    streams: list[tuple[int, bytes]] = []
    sides: list[tuple[int, Side]] = [(0, CLIENT), (1, SERVER)]
    for receiver_flag, sender_side in sides:
        for deflate in (False, True):
            for script in (chat, fragmented, long_ones, invalid_text):
                flags = receiver_flag | (2 if deflate else 0)
                streams.append((flags, frames(sender_side, deflate, script)))
    # Hand-made headers: a 64-bit length with its top bit set, a
    # non-minimal 16-bit length, a reserved opcode, a fragmented ping.
    streams += [
        (1, b"\x82\x7f\x80" + b"\x00" * 7),
        (1, b"\x82\x7e\x00\x05hello"),
        (1, b"\x83\x00"),
        (1, b"\x09\x00"),
        (1, b"\x82\x7f" + struct.pack("!Q", 2**16) + b"partial"),
        (1 | 2, b"\xc1\x05\xf2\x48\xcd\xc9\xc9"),  # "Hello" deflated, no sync tail
    ]
    inputs = []
    for index, (flags, stream) in enumerate(streams):
        # Vary hold_failures and max_size across the corpus.
        flags |= (index % 2) << 2 | (index % 4) << 3
        inputs.append(make_input(flags, SEEDS[index % len(SEEDS)], stream))
    return inputs


def request_bytes(deflate: bool, subprotocols: bool) -> bytes:
    client = ClientProtocol(
        "ws://example.com/chat?room=1",
        origin="https://example.com",
        extensions=enable_client_permessage_deflate(None) if deflate else None,
        subprotocols=["chat"] if subprotocols else None,
    )
    client.key = RFC_KEY
    return client.connect().serialize()


def response_bytes(extra: str = "") -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(RFC_KEY)}\r\n"
        f"{extra}\r\n"
    ).encode()


def handshake_corpus() -> list[bytes]:
    client_frames = frames(CLIENT, False, chat)
    server_frames = frames(SERVER, False, chat)
    plain = request_bytes(False, False)
    server_inputs: list[tuple[int, bytes]] = [
        (0, plain),
        (0, plain + client_frames),  # an eager client
        (2 | 4, request_bytes(True, True)),
        (2, request_bytes(True, False)),
        (0, plain.replace(b"GET", b"POST")),
        (0, plain.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8")),
        (0, plain.replace(b"HTTP/1.1", b"HTTP/1.0")),
        (0, plain.replace(b"Upgrade: websocket\r\n", b"")),
        (0, plain[:40]),
        (0, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 20 + b"\r\n"),
    ]
    client_inputs: list[tuple[int, bytes]] = [
        (1, response_bytes()),
        (1, response_bytes() + server_frames),
        (1 | 2, response_bytes("Sec-WebSocket-Extensions: permessage-deflate\r\n")),
        (
            1 | 2,
            response_bytes(
                "Sec-WebSocket-Extensions: permessage-deflate; "
                "server_no_context_takeover; client_max_window_bits=10\r\n"
            ),
        ),
        (1 | 4, response_bytes("Sec-WebSocket-Protocol: chat\r\n")),
        (1 | 4, response_bytes("Sec-WebSocket-Protocol: other\r\n")),
        (1, response_bytes().replace(b"101 Switching Protocols", b"200 OK")),
        (1, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"),
        (1, b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nbody to the end"),
        (1, b"HTTP/1.1 302 Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ]
    inputs = []
    for index, (flags, stream) in enumerate(server_inputs + client_inputs):
        inputs.append(make_input(flags, SEEDS[index % len(SEEDS)], stream))
    return inputs


def headers_corpus() -> list[bytes]:
    values = [
        (0, "Upgrade"),
        (0, "keep-alive, Upgrade"),
        (1, "websocket"),
        (1, "HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11"),
        (2, "permessage-deflate; client_max_window_bits"),
        (2, 'permessage-deflate; server_max_window_bits="10", x-webkit-deflate-frame'),
        (2, ', foo ;a=1; b ,, bar; c="d"'),
        (3, "chat, superchat"),
        (3, "v2.json.example.com,,v1"),
        (4, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        (4, "basic   dXNlcjpww6Fzcw=="),
        (4, "Bearer abc"),
    ]
    inputs = [bytes([selector]) + value.encode("latin-1") for selector, value in values]
    # The same values again, read as UTF-8, plus one with non-Latin-1 text.
    inputs += [bytes([128 + selector]) + value.encode() for selector, value in values[::3]]
    inputs.append(bytes([128 + 3]) + "chat, ✓".encode())
    return inputs


def write(target: str, inputs: list[bytes]) -> None:
    directory = HERE / "corpus" / target
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{directory}: {len(inputs)} inputs, {sum(map(len, inputs))} bytes")


def main() -> None:
    sansws.protocol._next_mask_key = fixed_mask_key
    write("protocol", protocol_corpus())
    write("handshake", handshake_corpus())
    write("headers", headers_corpus())


if __name__ == "__main__":
    main()
