"""The echo battery, written once, run by the Python side of every interop test.

A test hands :func:`run_battery` an :class:`Endpoint`: one open WebSocket
connection, whatever library holds it, talking to an echo peer. The battery
sends each case, reads the echo back and records a :class:`CaseResult`; it
never stops at the first failure, so one run shows every case that broke.

The JavaScript twin of this battery is ``battery.js`` (for node ``ws`` and
Chromium); both use the same case names so that their counts read alike.

Only the close case touches the connection's end; it runs last.
"""

from __future__ import annotations

import asyncio
import functools
import random
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "BINARY_SIZES",
    "CLOSE_CODE",
    "CLOSE_REASON",
    "MAX_SIZE",
    "PING_PAYLOAD",
    "SUMMARIES",
    "TEXT_CASES",
    "CaseResult",
    "Endpoint",
    "Message",
    "Report",
    "binary_payload",
    "compare",
    "new_report",
    "run_battery",
]

Message = str | bytes

#: Large enough for the 16 MiB case on every side, with room for framing.
MAX_SIZE = 32 * 2**20

#: Per-case hang guard. Not a timed assertion: it only turns a hang into a
#: readable failure before pytest-timeout kills the whole test.
CASE_GUARD = 60.0

TEXT_CASES: dict[str, str] = {
    "text ascii": "Hello, WebSocket! 0123456789 ~!@#$%^&*()",
    "text multi-byte": "Grüße, Ωμέγα, 世界, Привет, ‏עברית",
    "text emoji": "🎉 👩‍💻 🚀 🏳️‍🌈 𝄞",
    "text empty": "",
    "text 256 KiB compressible": ("sansws interop, compressible text. " * 7500)[: 256 * 1024],
}

BINARY_SIZES: dict[str, int] = {
    "binary 0 B": 0,
    "binary 125 B": 125,
    "binary 126 B": 126,
    "binary 65535 B": 65535,
    "binary 65536 B": 65536,
    "binary 1 MiB": 2**20,
    "binary 16 MiB": 16 * 2**20,
}

BURST_COUNT = 1000
PING_PAYLOAD = b"interop ping \x00\x01\xfe\xff"
FRAGMENTS_TEXT: list[str] = ["fragment one, ", "zwei — ", "三, ", "🎉 end"]
FRAGMENTS_BINARY: list[bytes] = [b"\x00\x01\x02", b"", b"\xff" * 300, bytes(range(256))]
CLOSE_CODE = 1000
CLOSE_REASON = "bye, interop"


def binary_payload(size: int) -> bytes:
    """Incompressible, reproducible bytes: a different stream for every size."""
    return random.Random(size).randbytes(size)


class Endpoint(Protocol):
    """One open WebSocket connection, seen through the calls the battery needs.

    ``send`` takes a message, or an iterable of fragments that form one
    message. ``ping`` waits for the matching Pong and returns the payload that
    Pong carried. ``close`` runs the closing handshake; afterwards
    ``close_code`` and ``close_reason`` are what this side received.
    ``extensions`` is the ``Sec-WebSocket-Extensions`` of the handshake
    response, or None.
    """

    @property
    def extensions(self) -> str | None: ...

    @property
    def close_code(self) -> int | None: ...

    @property
    def close_reason(self) -> str | None: ...

    async def send(self, message: Message | Iterable[Message]) -> None: ...

    async def recv(self) -> Message: ...

    async def ping(self, payload: bytes) -> bytes: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class CaseResult:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    """The results of one peer's run, in the order the cases ran."""

    peer: str
    cases: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.cases.append(CaseResult(name, ok, detail))

    @property
    def passed(self) -> int:
        return sum(case.ok for case in self.cases)

    @property
    def failures(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.ok]

    def summary(self) -> str:
        notes = "".join(f"; {note}" for note in self.notes)
        return f"{self.peer}: {self.passed}/{len(self.cases)} cases passed{notes}"

    def explain(self) -> str:
        lines = [self.summary()]
        lines += [f"  FAIL {case.name}: {case.detail}" for case in self.failures]
        return "\n".join(lines)


#: Every report of the session, for the terminal summary (see conftest.py).
SUMMARIES: list[Report] = []


def compare(expected: Message, received: object) -> str:
    """Return "" if ``received`` is ``expected`` (type and content), else why not."""
    if type(received) is not type(expected):
        return f"expected {type(expected).__name__}, received {type(received).__name__}"
    if received == expected:
        return ""
    assert isinstance(received, str | bytes)
    if len(received) != len(expected):
        return f"expected length {len(expected)}, received length {len(received)}"
    offset = next(i for i, (a, b) in enumerate(zip(expected, received, strict=True)) if a != b)
    return f"first difference at offset {offset} of {len(expected)}"


async def _echo(endpoint: Endpoint, message: Message) -> str:
    await endpoint.send(message)
    return compare(message, await endpoint.recv())


async def _burst(endpoint: Endpoint) -> str:
    messages = [f"burst {i:04d}" for i in range(BURST_COUNT)]
    for message in messages:
        await endpoint.send(message)
    received = [await endpoint.recv() for _ in messages]
    for index, (sent, got) in enumerate(zip(messages, received, strict=True)):
        if sent != got:
            return f"message {index}: sent {sent!r}, received {got!r}"
    return ""


async def _ping(endpoint: Endpoint) -> str:
    pong = await endpoint.ping(PING_PAYLOAD)
    return "" if pong == PING_PAYLOAD else f"pong carried {pong!r}, not {PING_PAYLOAD!r}"


async def _fragments(endpoint: Endpoint, fragments: Sequence[Message], whole: Message) -> str:
    await endpoint.send(iter(fragments))
    return compare(whole, await endpoint.recv())


def _deflate(endpoint: Endpoint) -> str:
    header = endpoint.extensions
    if header is not None and "permessage-deflate" in header:
        return ""
    return f"Sec-WebSocket-Extensions of the response: {header!r}"


async def _close(endpoint: Endpoint) -> str:
    await endpoint.close(CLOSE_CODE, CLOSE_REASON)
    seen = (endpoint.close_code, endpoint.close_reason)
    return "" if seen == (CLOSE_CODE, CLOSE_REASON) else f"this side saw close {seen!r}"


def new_report(peer: str) -> Report:
    """An empty report for ``peer``, listed in the session's summary."""
    report = Report(peer)
    SUMMARIES.append(report)
    return report


async def run_battery(endpoint: Endpoint, report: Report) -> None:
    """Run every case against an echo peer through ``endpoint``, into ``report``.

    The close case runs last and closes the connection.
    """

    async def case(name: str, check: Callable[[], Awaitable[str]]) -> None:
        try:
            detail = await asyncio.wait_for(check(), CASE_GUARD)
        except Exception as exc:  # the case failed; later cases still run
            detail = "".join(traceback.format_exception_only(exc)).strip()
        report.add(name, not detail, detail)

    for name, text in TEXT_CASES.items():
        await case(name, functools.partial(_echo, endpoint, text))
    for name, size in BINARY_SIZES.items():
        await case(name, functools.partial(_echo, endpoint, binary_payload(size)))
    await case(f"burst of {BURST_COUNT} in order", lambda: _burst(endpoint))
    await case("ping with payload", lambda: _ping(endpoint))
    text, binary = "".join(FRAGMENTS_TEXT), b"".join(FRAGMENTS_BINARY)
    await case("fragmented text", functools.partial(_fragments, endpoint, FRAGMENTS_TEXT, text))
    await case(
        "fragmented binary", functools.partial(_fragments, endpoint, FRAGMENTS_BINARY, binary)
    )
    report.add("permessage-deflate negotiated", not _deflate(endpoint), _deflate(endpoint))
    await case(f"close {CLOSE_CODE} with reason", lambda: _close(endpoint))
