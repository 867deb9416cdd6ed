"""sansws.asyncio over TLS, with a certificate authority made by trustme."""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

from sansws.asyncio import ServerConnection, connect, serve

TIMEOUT = 20  # guards hangs only


def async_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), TIMEOUT))

    return wrapper


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@async_test
async def test_wss_round_trip_with_sni(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment, func-returns-value]
    try:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            # The URI names the host for SNI and verification; the TCP
            # connection goes to 127.0.0.1.
            async with connect(
                f"wss://localhost:{port}/",
                ssl=client_context,
                host="127.0.0.1",
                compression=None,
            ) as ws:
                await ws.send("secret")
                assert await ws.recv() == "secret"
                await ws.send(b"x" * 200_000)
                assert await ws.recv() == b"x" * 200_000
                assert ws.transport.get_extra_info("ssl_object") is not None
            assert ws.close_code == 1000
    finally:
        server_context.sni_callback = None
    assert names == ["localhost"]


@async_test
async def test_server_hostname_overrides_the_uri(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with serve(echo, "127.0.0.1", 0, ssl=server_context, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(
            f"wss://127.0.0.1:{port}/",
            ssl=client_context,
            server_hostname="localhost",
            compression=None,
        ) as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok"


@async_test
async def test_client_refuses_an_untrusted_certificate(server_context: ssl.SSLContext) -> None:
    async with serve(echo, "127.0.0.1", 0, ssl=server_context, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        # The default context trusts the system's CAs, not the test CA.
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(f"wss://localhost:{port}/", host="127.0.0.1", compression=None)


@async_test
async def test_client_refuses_a_certificate_for_another_name(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with serve(echo, "127.0.0.1", 0, ssl=server_context, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(
                f"wss://127.0.0.1:{port}/",
                ssl=client_context,
                compression=None,
            )


@async_test
async def test_ssl_with_ws_uri_is_an_error(client_context: ssl.SSLContext) -> None:
    with pytest.raises(ValueError):
        await connect("ws://127.0.0.1:1/", ssl=client_context, compression=None)
