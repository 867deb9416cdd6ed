"""Interoperability: our client and our server against peers nobody here wrote.

Every pairing runs the same echo battery (interop_battery.py, or its twin
battery.js for the JavaScript clients) and then checks what the server saw of
the connection: permessage-deflate offered and accepted, and the Close frame
with 1000 and the reason. Peers run on 127.0.0.1 only.

- our client against echo servers: websockets, wsproto, node ws;
- our echo server against clients: websockets, wsproto, node ws, Chromium.

Chromium runs everything a page can: a browser cannot send a Ping nor choose
how a message is fragmented, so those two cases are not run for it.

A missing peer (node, the ws package, chromium) fails the test: CI installs them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import interop_peers as peers
import pytest
from interop_battery import Endpoint, Report, new_report, run_battery
from interop_peers import Implementation, PeerServer

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

PEER_SERVERS: dict[str, Callable[[], contextlib.AbstractAsyncContextManager[PeerServer]]] = {
    "websockets": peers.websockets_server,
    "wsproto": peers.wsproto_server,
    "node-ws": peers.node_ws_server,
}


def peer_server_label(name: str) -> str:
    if name == "node-ws":
        return f"ws {peers.ws_version()} (node) server"
    return f"{name} {peers.version(name)} server"


def check(report: Report) -> None:
    print(report.summary())
    assert not report.failures, report.summary() + "".join(
        f"\n  FAIL {case.name}: {case.detail}" for case in report.failures
    )


@pytest.mark.parametrize("peer", PEER_SERVERS)
def test_our_client_against_peer_server(our: Implementation, peer: str) -> None:
    async def main() -> Report:
        async with PEER_SERVERS[peer]() as server:
            report = new_report(f"{our.name} client -> {peer_server_label(peer)}")
            async with peers.websockets_style_client(our.connect, server.url) as endpoint:
                await run_battery(endpoint, report)
            peers.add_server_view_cases(report, await server.next_view(), f"{peer} server")
        return report

    check(asyncio.run(main()))


PYTHON_CLIENTS: dict[str, Callable[[str], contextlib.AbstractAsyncContextManager[Endpoint]]] = {
    "websockets": peers.websockets_client,
    "wsproto": peers.wsproto_client,
}


@pytest.mark.parametrize("peer", PYTHON_CLIENTS)
def test_python_peer_client_against_our_server(our: Implementation, peer: str) -> None:
    async def main() -> Report:
        async with peers.websockets_style_server(our.serve) as server:
            report = new_report(f"{peer} {peers.version(peer)} client -> {our.name} server")
            async with PYTHON_CLIENTS[peer](server.url) as endpoint:
                await run_battery(endpoint, report)
            peers.add_server_view_cases(report, await server.next_view(), f"{our.name} server")
        return report

    check(asyncio.run(main()))


def test_node_ws_client_against_our_server(our: Implementation) -> None:
    async def main() -> Report:
        async with peers.websockets_style_server(our.serve) as server:
            results = await peers.node_ws_client(server.url)
            report = new_report(f"{results.get('agent')} client -> {our.name} server")
            peers.report_from_js(results, report)
            peers.add_server_view_cases(report, await server.next_view(), f"{our.name} server")
        return report

    check(asyncio.run(main()))


def test_chromium_against_our_server(our: Implementation) -> None:
    # A page cannot send a Ping nor fragment a message: battery.js skips those two
    # cases for Chromium (node ws runs them in the test above).
    async def main() -> Report:
        async with peers.websockets_style_server(our.serve) as server:
            results = await peers.chromium_client(server.url)
            agent = str(results.get("agent", "Chromium"))
            chrome = next((part for part in agent.split() if "Chrome/" in part), agent)
            report = new_report(f"headless {chrome} -> {our.name} server")
            report.notes.append("ping and fragmentation not run: a browser cannot")
            peers.report_from_js(results, report)
            peers.add_server_view_cases(report, await server.next_view(), f"{our.name} server")
        return report

    check(asyncio.run(main()))
