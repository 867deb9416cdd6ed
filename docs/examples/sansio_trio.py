"""The Sans-I/O core on trio: an echo server and a client in one nursery.

Needs ``pip install trio``. Trio streams stand in for sockets; the code
that drives the protocol is the same as with blocking sockets, with
``await`` in front of the I/O and trio's cancel scopes for time-outs.
"""

from functools import partial

import trio

from sansws import CLOSED, OP_BINARY, OP_TEXT, OPEN, Protocol
from sansws.client import ClientProtocol
from sansws.http11 import Request
from sansws.server import ServerProtocol

CLOSE_TIMEOUT = 5


async def flush(stream: trio.SocketStream, protocol: Protocol) -> None:
    for chunk in protocol.data_to_send():
        if chunk:
            await stream.send_all(chunk)
        else:
            await stream.send_eof()  # half-close: the core's SEND_EOF


async def receive(stream: trio.SocketStream, protocol: Protocol) -> list:
    data = await stream.receive_some(65536)
    if data:
        protocol.receive_data(data)
    else:
        protocol.receive_eof()
    await flush(stream, protocol)
    return protocol.events_received()


async def run_until_closed(stream: trio.SocketStream, protocol: Protocol, handle) -> None:
    """Feed the protocol until CLOSED; bound the closing handshake in time."""
    while protocol.state is not CLOSED:
        if protocol.close_expected():
            with trio.move_on_after(CLOSE_TIMEOUT):
                while protocol.state is not CLOSED:
                    await receive(stream, protocol)
            break
        for event in await receive(stream, protocol):
            await handle(event)
    await stream.aclose()


async def echo_handler(stream: trio.SocketStream) -> None:
    protocol = ServerProtocol()
    events: list = []
    while not events and protocol.state is not CLOSED:
        events = await receive(stream, protocol)
    if not events:
        return
    request = events[0]
    assert isinstance(request, Request)
    protocol.send_response(protocol.accept(request))
    await flush(stream, protocol)

    async def handle(frame) -> None:
        if protocol.state is not OPEN:
            return
        if frame.opcode is OP_TEXT:
            protocol.send_text(frame.data, fin=frame.fin)
        elif frame.opcode is OP_BINARY:
            protocol.send_binary(frame.data, fin=frame.fin)
        await flush(stream, protocol)

    await run_until_closed(stream, protocol, handle)


async def client(port: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    protocol = ClientProtocol(f"ws://127.0.0.1:{port}/")
    protocol.send_request(protocol.connect())
    await flush(stream, protocol)
    events: list = []
    while not events:
        events = await receive(stream, protocol)
    if protocol.handshake_exc is not None:
        raise protocol.handshake_exc

    for text in ["one", "two", "three"]:
        protocol.send_text(text.encode())
        await flush(stream, protocol)
        (frame,) = await receive(stream, protocol)
        print("echo:", frame.data.decode())

    protocol.send_close(1000)
    await flush(stream, protocol)

    async def ignore(event) -> None:
        pass

    await run_until_closed(stream, protocol, ignore)
    print("closed with", protocol.close_code)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        serve = partial(trio.serve_tcp, echo_handler, 0, host="127.0.0.1")
        (listener,) = await nursery.start(serve)
        port = listener.socket.getsockname()[1]
        await client(port)
        nursery.cancel_scope.cancel()  # stop serving


if __name__ == "__main__":
    trio.run(main)
