"""The Sans-I/O core over plain blocking sockets, both sides.

A server thread accepts one connection and echoes messages with a
:class:`~sansws.server.ServerProtocol`; the main thread is a client with a
:class:`~sansws.client.ClientProtocol`. Each side runs the same loop: write
what ``data_to_send()`` returns, read, ``receive_data()``, handle
``events_received()``.
"""

import socket
import threading

from sansws import CLOSED, OP_BINARY, OP_CLOSE, OP_TEXT, Protocol
from sansws.client import ClientProtocol
from sansws.http11 import Request, Response
from sansws.server import ServerProtocol


def flush(sock: socket.socket, protocol: Protocol) -> None:
    """Write what the protocol has to send; an empty chunk means half-close."""
    for chunk in protocol.data_to_send():
        if chunk:
            sock.sendall(chunk)
        else:
            sock.shutdown(socket.SHUT_WR)


def receive(sock: socket.socket, protocol: Protocol) -> list:
    """Read once, feed the protocol, answer it, and return its events."""
    data = sock.recv(65536)
    if data:
        protocol.receive_data(data)
    else:
        protocol.receive_eof()
    flush(sock, protocol)  # pongs, echoed Close frames, half-close
    return protocol.events_received()


def serve_one(listener: socket.socket) -> None:
    sock, _ = listener.accept()
    with sock:
        protocol = ServerProtocol()
        request = None
        while request is None:
            for event in receive(sock, protocol):
                assert isinstance(event, Request)
                request = event
        protocol.send_response(protocol.accept(request))  # 101, or an error
        flush(sock, protocol)
        while protocol.state is not CLOSED:
            for frame in receive(sock, protocol):
                # Messages fit in one frame here; see assembly for fragments.
                if frame.opcode is OP_TEXT:
                    protocol.send_text(frame.data)
                elif frame.opcode is OP_BINARY:
                    protocol.send_binary(frame.data)
            flush(sock, protocol)


def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = threading.Thread(target=serve_one, args=(listener,))
    server.start()

    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(5)  # a real client arms timeouts; the core has no clock
    protocol = ClientProtocol(f"ws://127.0.0.1:{port}/echo")
    protocol.send_request(protocol.connect())
    flush(sock, protocol)
    events: list = []
    while not events:
        events = receive(sock, protocol)
    # The Response comes first; frames the server sent right after it in the
    # same read would follow it in this list.
    response = events[0]
    assert isinstance(response, Response)
    if protocol.handshake_exc is not None:
        raise protocol.handshake_exc
    print("handshake:", response.status_code, response.reason_phrase)

    protocol.send_text("Hello, Sans-I/O — ça marche".encode())
    flush(sock, protocol)
    (frame,) = receive(sock, protocol)
    print("echo:", frame.data.decode())

    protocol.send_close(1000, "bye")
    flush(sock, protocol)
    while protocol.state is not CLOSED:
        for event in receive(sock, protocol):
            if event.opcode is OP_CLOSE:
                print("server answered the Close frame")
    print("closed with", protocol.close_code, repr(protocol.close_reason))
    sock.close()
    server.join()
    listener.close()


if __name__ == "__main__":
    main()
