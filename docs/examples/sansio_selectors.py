"""An echo server on ``selectors``: many connections, one thread, no asyncio.

Each connection is a non-blocking socket and a
:class:`~sansws.server.ServerProtocol`. Frames are echoed as they arrive, so
a fragmented message comes back fragmented. When the core says
``close_expected()``, a deadline is armed: the core has no clock, so the
loop keeps time. Three asyncio clients exercise the server, then it stops.
"""

import asyncio
import selectors
import socket
import threading
import time

from sansws import CLOSED, OP_BINARY, OP_CONT, OP_TEXT, OPEN
from sansws.asyncio import connect
from sansws.http11 import Request
from sansws.server import ServerProtocol

CLOSE_TIMEOUT = 5.0


class Client:
    """One accepted connection: its socket, its protocol, its deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.protocol = ServerProtocol(max_size=2**16)
        self.outgoing = bytearray()  # what the socket did not take yet
        self.eof_pending = False  # half-close once outgoing is written
        self.deadline: float | None = None

    def handle_events(self) -> None:
        protocol = self.protocol
        for event in protocol.events_received():
            if isinstance(event, Request):
                protocol.send_response(protocol.accept(event))
            elif protocol.state is not OPEN:
                # Closing: a Close frame came after these frames, in the
                # same read, and the core already answered it.
                break
            elif event.opcode is OP_TEXT:
                protocol.send_text(event.data, fin=event.fin)
            elif event.opcode is OP_BINARY:
                protocol.send_binary(event.data, fin=event.fin)
            elif event.opcode is OP_CONT:
                protocol.send_continuation(event.data, fin=event.fin)
            # Pings are answered and Close frames echoed by the core itself.

    def queue_output(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.outgoing += chunk
            else:
                self.eof_pending = True
        if self.deadline is None and self.protocol.close_expected():
            self.deadline = time.monotonic() + CLOSE_TIMEOUT

    def write(self) -> None:
        if self.outgoing:
            try:
                sent = self.sock.send(self.outgoing)
            except BlockingIOError:
                return
            except OSError:  # the peer is gone
                self.outgoing.clear()
                return
            del self.outgoing[:sent]
        if not self.outgoing and self.eof_pending:
            self.eof_pending = False
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def read(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.handle_events()
        self.queue_output()


def run_server(listener: socket.socket, stop: threading.Event) -> None:
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    clients: dict[socket.socket, Client] = {}
    while not stop.is_set():
        for key, mask in selector.select(timeout=0.1):
            if key.data is None:
                sock, _ = listener.accept()
                sock.setblocking(False)
                clients[sock] = Client(sock)
                selector.register(sock, selectors.EVENT_READ, clients[sock])
                continue
            client = key.data
            if mask & selectors.EVENT_READ:
                client.read()
            client.write()
        now = time.monotonic()
        for sock, client in list(clients.items()):
            # Ask for write readiness only while there is something to write.
            wanted = selectors.EVENT_READ
            if client.outgoing or client.eof_pending:
                wanted |= selectors.EVENT_WRITE
            timed_out = client.deadline is not None and now > client.deadline
            if (client.protocol.state is CLOSED and not client.outgoing) or timed_out:
                selector.unregister(sock)
                sock.close()
                del clients[sock]
            else:
                selector.modify(sock, wanted, client)
    for sock in clients:
        sock.close()
    selector.close()


async def talk(port: int, name: str) -> None:
    async with connect(f"ws://127.0.0.1:{port}/") as websocket:
        await websocket.send(f"hello from {name}")
        print(await websocket.recv())
        await websocket.send([b"frag", b"mented"])  # one message, three frames
        print(await websocket.recv())


async def clients(port: int) -> None:
    await asyncio.gather(*(talk(port, f"client {i}") for i in range(3)))


def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    stop = threading.Event()
    server = threading.Thread(target=run_server, args=(listener, stop))
    server.start()
    try:
        asyncio.run(clients(listener.getsockname()[1]))
    finally:
        stop.set()
        server.join()
        listener.close()


if __name__ == "__main__":
    main()
