"""Writing a server: routing, authentication, a health check, broadcast.

The server accepts ``/chat`` for clients that send the right token and speak
the ``chat.v1`` subprotocol, answers ``/healthz`` over plain HTTP, and sends
every chat message to every chat client. The end of the script plays the
clients, then the server closes its connections with 1001 (going away).
"""

import asyncio
import http
import http.client

from sansws.asyncio import ServerConnection, connect, serve
from sansws.exceptions import ConnectionClosed, InvalidStatus
from sansws.http11 import Request, Response

TOKEN = "s3cret"
chat_members: set[ServerConnection] = set()


def process_request(connection: ServerConnection, request: Request) -> Response | None:
    """Runs before the handshake: return a Response to refuse or answer it."""
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    if request.path != "/chat":
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found.\n")
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return connection.respond(http.HTTPStatus.UNAUTHORIZED, "Missing or wrong token.\n")
    return None  # go on with the WebSocket handshake


async def broadcast(message: str) -> None:
    """Send to every member at once; a member that left is skipped."""
    members = list(chat_members)
    results = await asyncio.gather(*(m.send(message) for m in members), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, ConnectionClosed):
            raise result


async def chat(connection: ServerConnection) -> None:
    """The handler runs once the handshake succeeded, one task per connection."""
    if connection.subprotocol != "chat.v1":
        await connection.close(1002, "chat.v1 subprotocol required")
        return
    chat_members.add(connection)
    try:
        async for message in connection:
            await broadcast(f"{connection.remote_address[1]}: {message}")
    finally:
        chat_members.discard(connection)
    # Returning closes the connection with 1000; raising closes it with 1011.


def health_check(port: int) -> str:
    """A plain HTTP client, as a load balancer's health check would be."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    client.request("GET", "/healthz")
    response = client.getresponse()
    body = response.read().decode()
    client.close()
    return f"{response.status} {body.strip()}"


async def main() -> None:
    async with serve(
        chat,
        "127.0.0.1",
        0,
        subprotocols=["chat.v1"],
        process_request=process_request,
        max_size=64 * 1024,  # chat messages are small; see "Limits"
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print("health check:", await asyncio.to_thread(health_check, port))

        try:
            await connect(f"ws://127.0.0.1:{port}/chat")
        except InvalidStatus as exc:
            print("without a token:", exc.response.status_code, exc.response.body.decode().strip())

        uri = f"ws://127.0.0.1:{port}/chat"
        options = {
            "subprotocols": ["chat.v1"],
            "additional_headers": {"Authorization": f"Bearer {TOKEN}"},
        }
        async with connect(uri, **options) as alice, connect(uri, **options) as bob:
            while len(chat_members) < 2:  # both handlers are running
                await asyncio.sleep(0.01)
            await alice.send("hello, Bob")
            print("Bob got:", (await bob.recv()).split(": ", 1)[1])
            print("Alice got her own:", (await alice.recv()).split(": ", 1)[1])

            server.close()  # stop listening; close every connection with 1001
            await server.wait_closed()
            try:
                await bob.recv()
            except ConnectionClosed as exc:
                print("Bob was told:", exc.code, type(exc).__name__)


if __name__ == "__main__":
    asyncio.run(main())
