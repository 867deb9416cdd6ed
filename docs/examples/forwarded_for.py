"""Behind a reverse proxy: find the client's address, trusting only the proxy.

The proxy adds ``X-Forwarded-For``; anyone else could send that header too,
so it is believed only when the TCP peer is a known proxy. Here the "proxy"
is a client on 127.0.0.1 that sets the header itself.
"""

import asyncio
import ipaddress

from sansws.asyncio import ServerConnection, connect, serve

TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


def client_address(connection: ServerConnection) -> str:
    """The client's IP: the last address the trusted proxy appended."""
    peer = connection.remote_address[0]
    if not any(ipaddress.ip_address(peer) in net for net in TRUSTED_PROXIES):
        return peer  # not from the proxy: ignore any X-Forwarded-For
    forwarded = connection.request.headers.get_all("X-Forwarded-For")
    if not forwarded:
        return peer
    # Each proxy appends the address it saw; the last entry is our proxy's.
    return ",".join(forwarded).split(",")[-1].strip()


async def hello(connection: ServerConnection) -> None:
    await connection.send(f"hello, {client_address(connection)}")


async def main() -> None:
    async with serve(hello, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        headers = {"X-Forwarded-For": "203.0.113.7"}
        async with connect(f"ws://127.0.0.1:{port}/", additional_headers=headers) as ws:
            print(await ws.recv())


if __name__ == "__main__":
    asyncio.run(main())
